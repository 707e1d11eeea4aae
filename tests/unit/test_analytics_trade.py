"""Trade pathway rules: exemptions, licence, and undetermined when an attribute is withheld."""

from __future__ import annotations

from typing import Any

import pytest

from dibx.graph.supply import TRADE_FIELDS, ControlAttributes, Val
from dibx.services.analytics import trade
from tests.support.analytics import TETRAS, cap

ITAR_OK: dict[str, Any] = {
    "jurisdiction": "ITAR",
    "usml": "IV",
    "eccn": None,
    "sme": False,
    "etl": False,
    "classified": False,
    "cdnExcluded": False,
}


def _attrs(withheld: tuple[str, ...] = (), **values: Any) -> ControlAttributes:
    merged = ITAR_OK | values
    return ControlAttributes(
        capability=cap("c1"),
        values={
            f: None if f in withheld or merged[f] is None else Val(merged[f], ("PUBLIC",))
            for f in TRADE_FIELDS
        },
        withheld=tuple((f, "CUI//NOFORN") for f in withheld),
    )


@pytest.mark.parametrize("destination", ["AUS", "GBR"])
def test_aukus_exemption_may_apply(destination: str) -> None:
    r = trade.assess(_attrs(), destination, TETRAS)
    assert r.outcome == trade.EXEMPT
    assert r.exemption == "ITAR 126.7 (AUKUS)"
    assert r.advisory
    assert "not a licensing decision" in r.notice
    assert {a.name for a in r.relied_on} == {"jurisdiction", "etl", "sme", "classified"}


@pytest.mark.parametrize(
    ("field", "value"),
    [("etl", True), ("sme", True), ("classified", True), ("jurisdiction", "EAR")],
)
def test_aukus_exemption_fails_on_any_condition(field: str, value: Any) -> None:
    r = trade.assess(_attrs(**{field: value}), "GBR", TETRAS)
    assert r.outcome == trade.LICENCE
    assert any(field in reason for reason in r.reasons)


def test_withheld_attribute_makes_it_undetermined_and_is_named() -> None:
    r = trade.assess(_attrs(withheld=("sme",)), "AUS", TETRAS)
    assert r.outcome == trade.UNDETERMINED
    assert r.undetermined == ("sme",)
    assert "sme is withheld from you (CUI//NOFORN)" in r.reasons[0]
    assert "sme" not in {a.name for a in r.relied_on}


def test_concealed_marking_reads_like_an_unrecorded_attribute() -> None:
    concealed = trade.assess(_attrs(withheld=("sme",)), "AUS", TETRAS, lambda _: False)
    unrecorded = trade.assess(_attrs(sme=None), "AUS", TETRAS, lambda _: False)
    assert concealed.outcome == unrecorded.outcome == trade.UNDETERMINED
    assert concealed.reasons == unrecorded.reasons
    assert "CUI//NOFORN" not in concealed.reasons[0]


def test_released_failure_decides_even_when_another_attribute_is_withheld() -> None:
    r = trade.assess(_attrs(withheld=("sme",), etl=True), "AUS", TETRAS)
    assert r.outcome == trade.LICENCE
    assert r.undetermined == ()


def test_not_recorded_attribute_is_undetermined_too() -> None:
    r = trade.assess(_attrs(classified=None), "GBR", TETRAS)
    assert r.outcome == trade.UNDETERMINED
    assert "classified is not recorded" in r.reasons[0]
    assert r.undetermined == ("classified",)


def test_canadian_exemption() -> None:
    assert trade.assess(_attrs(), "CAN", TETRAS).outcome == trade.EXEMPT
    excluded = trade.assess(_attrs(cdnExcluded=True), "CAN", TETRAS)
    assert excluded.outcome == trade.LICENCE
    # The ETL does not matter for Canada.
    assert trade.assess(_attrs(etl=True), "CAN", TETRAS).outcome == trade.EXEMPT


def test_other_destinations_need_a_licence_and_the_usa_is_not_an_export() -> None:
    assert trade.assess(_attrs(), "JPN", TETRAS).outcome == trade.LICENCE
    assert trade.assess(_attrs(), "USA", TETRAS).outcome == trade.DOMESTIC
