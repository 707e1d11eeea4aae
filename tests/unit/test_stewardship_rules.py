"""The stewardship validator on plain dicts, with no database: the one validator that the
GraphQL mutations and bulk import share. Every error names the input path and a code."""

from __future__ import annotations

from datetime import date
from typing import Any, cast

import pytest

from dibx import data as shipped
from dibx.app import startup
from dibx.auth import markings, policy
from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.graph.driver import Graph
from dibx.graph.model import TEXT_MAX
from dibx.services.stewardship import StewardshipService, UserError, at_least, operations

SHIPPED = shipped.policy_file()


@pytest.fixture(scope="module")
def loaded() -> policy.Policy:
    return policy.load(SHIPPED, startup.vocabulary(shipped.reference_dir()))


def principal(nation: str = "GBR", scopes: tuple[str, ...] = ("data:write",)) -> Principal:
    return Principal(
        subject="s",
        client_id="c",
        nation=nation,
        org="o",
        scopes=frozenset(scopes),
        attributes=frozenset(),
        token_id="j",
    )


def scope(p: policy.Policy, nation: str = "GBR") -> ReleaseScope:
    member = ["FVEY", "NATO"] if nation in ("GBR", "USA") else []
    return p.scope_for(principal(nation), member, date(2026, 1, 1))


def errors(
    p: policy.Policy, *changes: dict[str, Any], nation: str = "GBR", **kw: Any
) -> list[tuple[tuple[str, ...], str]]:
    service = StewardshipService(cast(Graph, None), p)
    found: list[UserError] = service.validate(principal(nation, **kw), scope(p, nation), changes)
    return [(e.field, e.code) for e in found]


def create(**fields: Any) -> dict[str, Any]:
    return {
        "op": "createSupplier",
        "input": {
            "key": "acme",
            "marking": "CUI",
            "fields": {"name": {"value": "Acme", "marking": "CUI"}, **fields},
            "nation": {"key": "GBR", "marking": "CUI"},
        },
    }


def test_operations_are_derived_from_the_model() -> None:
    assert sorted(operations()) == sorted(
        [
            "createSupplier", "updateSupplier", "retireSupplier",
            "createCapability", "updateCapability", "retireCapability",
            "setProvides", "removeProvides", "setSourcesFrom", "removeSourcesFrom",
            "setSubsidiaryOf", "removeSubsidiaryOf", "setRequires", "removeRequires",
        ]
    )  # fmt: skip


def test_a_valid_create_has_no_errors(loaded: policy.Policy) -> None:
    assert errors(loaded, create(employees={"value": 3, "marking": "CUI"})) == []


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (
            {"employees": {"value": "many", "marking": "CUI"}},
            (("0", "fields", "employees", "value"), "INVALID"),
        ),
        (
            {"employees": {"value": -1, "marking": "CUI"}},
            (("0", "fields", "employees", "value"), "INVALID"),
        ),
        (
            {"employees": {"value": 1.5, "marking": "CUI"}},
            (("0", "fields", "employees", "value"), "INVALID"),
        ),
        (
            {"cage": {"value": "bad cage", "marking": "CUI"}},
            (("0", "fields", "cage", "value"), "INVALID"),
        ),
        (
            {"city": {"value": "x" * (TEXT_MAX + 1), "marking": "CUI"}},
            (("0", "fields", "city", "value"), "INVALID"),
        ),
        (
            {"city": {"value": "Leeds", "marking": "SECRET-ish"}},
            (("0", "fields", "city", "marking"), "MARKING_INVALID"),
        ),
        (
            {"city": {"value": "Leeds", "marking": "CUI//NOFORN"}},
            (("0", "fields", "city", "marking"), "MARKING_NOT_READABLE"),
        ),
        (
            {"colour": {"value": "red", "marking": "CUI"}},
            (("0", "fields", "colour"), "UNKNOWN_FIELD"),
        ),
        (
            {"city": {"value": "Leeds", "marking": "CUI", "extra": 1}},
            (("0", "fields", "city", "extra"), "UNKNOWN_FIELD"),
        ),
    ],
)
def test_bad_fields_are_named(
    loaded: policy.Policy, fields: dict[str, Any], expected: tuple[tuple[str, ...], str]
) -> None:
    assert errors(loaded, create(**fields), create()) == [expected]


def test_missing_required_and_floor_and_scope(loaded: policy.Policy) -> None:
    change = create()
    del change["input"]["fields"]["name"]
    change["input"]["marking"] = "PUBLIC"
    assert errors(loaded, change) == [
        (("0", "marking"), "MARKING_BELOW_FLOOR"),
        (("0", "fields", "name", "value"), "INVALID"),
    ]
    cap = {"op": "createCapability", "input": {}}
    assert errors(loaded, cap) == [(("0",), "FORBIDDEN")]  # data:write is not catalogue:write
    assert errors(loaded, {"op": "dropSupplier", "input": {}}) == [(("0", "op"), "UNKNOWN_FIELD")]


def test_edge_fields_validate_on_their_own(loaded: policy.Policy) -> None:
    given: dict[str, Any] = {
        "supplier": "s",
        "capability": "c",
        "marking": "CUI",
        "fields": {"capacity": {"value": 5.0, "marking": "CUI"}},
    }
    provides = {"op": "setProvides", "input": given}
    # The capacity-needs-unit rule runs in the transaction (it merges the stored values);
    # here the fields validate on their own.
    assert errors(loaded, provides) == []
    given["expectedVersion"] = 0
    assert errors(loaded, provides) == [(("0", "expectedVersion"), "INVALID")]


def test_at_least_follows_the_algebra() -> None:
    p = markings.parse
    assert at_least(p("CUI//NOFORN"), p("CUI"))
    assert at_least(p("CUI"), p("CUI"))
    assert not at_least(p("PUBLIC"), p("CUI"))
    fvey = {"FVEY": frozenset({"USA", "GBR", "CAN", "AUS", "NZL"})}
    assert at_least(p("CUI//REL TO USA, GBR"), p("CUI"), fvey, frozenset({"FVEY"}))
    assert not at_least(p("CUI//REL TO USA, GBR"), p("CUI"))  # memberships unknown: refuse
    assert not at_least(p("CUI//REL TO USA, JPN"), p("CUI"), fvey, frozenset({"FVEY"}))
    assert at_least(p("CUI//REL TO USA, FVEY"), p("CUI"), fvey, frozenset({"FVEY"}))
    assert not at_least(p("CUI"), p("CUI//NOFORN"))
    assert at_least(p("CUI//PROPIN//NOFORN"), p("CUI//PROPIN"))
    assert not at_least(p("CUI//NOFORN"), p("CUI//PROPIN"))  # loses the category
    assert at_least(p("CUI//SP-EXPT//NOFORN"), p("CUI//SP-EXPT"))
    assert not at_least(p("CUI//NOFORN"), p("CUI//SP-EXPT"))


def test_the_stewardship_section_is_validated(loaded: policy.Policy) -> None:
    assert loaded.stewardship.scope_for("Capability") == "catalogue:write"
    assert loaded.stewardship.scope_for("MEMBER_OF") is None  # written by nobody
    assert loaded.stewardship.review_days == 365
    base = {"version": "1"}
    vocab = startup.vocabulary(shipped.reference_dir())
    with pytest.raises(policy.PolicyError, match=r"stewardship.scopes.Widget"):
        policy.parse({**base, "stewardship": {"scopes": {"Widget": "data:write"}}}, vocab)
    with pytest.raises(policy.PolicyError, match=r"stewardship.floors.Supplier_colour"):
        policy.parse({**base, "stewardship": {"floors": {"Supplier_colour": "CUI"}}}, vocab)
    with pytest.raises(policy.PolicyError, match=r"stewardship.floors.Supplier"):
        policy.parse({**base, "stewardship": {"floors": {"Supplier": "CUI//BOGUS"}}}, vocab)
    with pytest.raises(policy.PolicyError, match="stewardship: unknown key"):
        policy.parse({**base, "stewardship": {"reviewdays": 3}}, vocab)
    with pytest.raises(policy.PolicyError, match="steward must be"):
        policy.parse({**base, "stewardship": {"steward": "team"}}, vocab)
