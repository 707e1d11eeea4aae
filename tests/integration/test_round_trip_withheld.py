"""The round trip's three failure shapes, one example each (docs/exchange-format.md, "Round
trip"). All three had one cause: a field withheld from the exporting nation was left out of
the export, so the import could not tell it from a field not given, and stored the policy's
default in its place (the default's marking, and a flag's default value). The export now
lists such fields in `withheld`, and the import stores them with neither value nor marking.
"""

from __future__ import annotations

import pytest

from dibx.graph.records import Dataset, NodeRecord
from tests.integration.test_export_round_trip import round_trip, withheld
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

FVEY = "CUI//REL TO USA, FVEY"
NOFORN = "CUI//NOFORN"
SHARED = {"name": FVEY, "area": FVEY, "jurisdiction": FVEY, "usml": FVEY}


def _supplier(key: str, nation: str, **fields: str) -> NodeRecord:
    return b.supplier(
        key, nation, record=FVEY, based_in=FVEY, name=key, fields={"name": FVEY, **fields}
    )


def _offer_with_trl_withheld_from_aus() -> Dataset:
    """One USA offer whose `trl` is NOFORN (withheld from AUS) among FVEY fields."""
    return b.dataset(
        suppliers=[_supplier("USA:s0", "USA")],
        capabilities=[b.capability("USA:c0", record=FVEY, fields=SHARED)],
        provides=[
            b.provides(
                "USA:s0",
                "USA:c0",
                record=FVEY,
                fields={"unit": FVEY, "capacity": FVEY, "trl": NOFORN, "leadTimeDays": FVEY},
            )
        ],
    )


def _row(rows: list[dict[str, object]], kind: str) -> dict[str, object]:
    (found,) = [r for r in rows if r["type"] == kind]
    return found


async def test_a_withheld_field_is_exported_withheld_again_not_as_its_default_marking(
    api: Api,
) -> None:
    """An offer's `trl`, withheld from AUS: re-exported as the policy default's marking
    alone (`trl.marking: CUI`) before the fix."""
    trip = await round_trip(api, _offer_with_trl_withheld_from_aus(), "AUS")
    offer = _row(trip.rows, "provides")
    assert _row(trip.again, "provides") == offer
    assert offer["withheld"] == ["trl"]
    assert "trl.marking" not in offer
    assert [a["data"] for a in trip.after] == [a["data"] for a in trip.before]


async def test_a_withheld_field_stays_withheld_under_the_policy_default(api: Api) -> None:
    """A supply link's `share`, withheld from AUS under REL TO USA, GBR: after the import it
    is withheld at the same path, under the policy default (CUI//NOFORN); the marking it was
    withheld under never leaves in an export. A released field without a value keeps its
    marking (`employees.marking` alone)."""
    data = b.dataset(
        suppliers=[
            _supplier("USA:s0", "USA", employees=FVEY),
            _supplier("USA:s1", "USA"),
        ],
        sources_from=[
            b.sources(
                "USA:s0",
                "USA:s1",
                record=FVEY,
                share=0.5,
                fields={"item": FVEY, "share": "CUI//REL TO USA, GBR", "sole": FVEY},
            )
        ],
    )
    trip = await round_trip(api, data, "AUS")
    link = _row(trip.rows, "sources_from")
    assert link["withheld"] == ["share"]
    assert link["sole"] is False
    supplier = next(r for r in trip.rows if r.get("key") == "USA:s0")
    assert supplier["employees.marking"] == FVEY
    assert "employees" not in supplier
    assert sorted(trip.again, key=str) == sorted(trip.rows, key=str)
    path = "suppliers.nodes.0.suppliers.edges.0.share"
    assert path in withheld(trip.before[1])
    assert path in withheld(trip.after[1])
    listed = trip.after[1]["extensions"]["releasability"]["withheld"]
    assert {w["marking"] for w in listed if w["path"] == path} == {NOFORN}
    assert [a["data"] for a in trip.after] == [a["data"] for a in trip.before]


async def test_a_withheld_flag_reads_null_after_the_round_trip(api: Api) -> None:
    """A capability's `sme`, withheld from GBR: read `false` (the flag's default value, under
    the default CUI marking) after the import, before the fix."""
    data = b.dataset(
        capabilities=[
            b.capability("USA:c0", record=FVEY, fields={**SHARED, "sme": NOFORN, "etl": FVEY})
        ],
    )
    trip = await round_trip(api, data, "GBR")
    (before,) = trip.before[2]["data"]["capabilities"]["nodes"]
    (after,) = trip.after[2]["data"]["capabilities"]["nodes"]
    assert (before["sme"], before["etl"]) == (None, False)
    assert after == before
    assert sorted(trip.again, key=str) == sorted(trip.rows, key=str)


async def test_a_withheld_field_gets_no_marking_metadata(api: Api) -> None:
    """Nobody designated a marking for a field imported withheld, so neither the record nor
    its created state says who did, when, or when it is due for review; its released
    neighbours do. Before the fix every field got the batch's designation (`markedAt_trl`)."""
    trip = await round_trip(api, _offer_with_trl_withheld_from_aus(), "AUS")
    assert _row(trip.rows, "provides")["withheld"] == ["trl"]
    rows = await api.graph.read(
        "MATCH (:Supplier)-[r:PROVIDES]->(:Capability) "
        "MATCH (st:ProvidesState {uid: r.uid}) "
        "RETURN [k IN keys(r) WHERE k ENDS WITH '_trl'] AS record, "
        "[k IN keys(st) WHERE k ENDS WITH '_trl'] AS state, "
        "r.markedAt_capacity IS NOT NULL AND st.markedAt_capacity IS NOT NULL AS released"
    )
    assert rows == [{"record": [], "state": [], "released": True}]
