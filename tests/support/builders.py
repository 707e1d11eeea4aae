"""Small hand-built graphs for tests: records with explicit markings, written for real.

Records are the model's (`dibx.graph.records`), built from `dibx.graph.model`: every field is
PUBLIC unless a test marks it otherwise.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from dibx.graph.model import (
    AGREEMENT,
    BASED_IN,
    CAPABILITY,
    MEMBER_OF,
    NATION,
    PROVIDES,
    REQUIRES,
    SOURCES_FROM,
    SUBSIDIARY_OF,
    SUPPLIER,
)
from dibx.graph.records import Dataset, EdgeRecord, Markings, NodeRecord

PUBLIC = "PUBLIC"

# Memberships the tests rely on, as of 2026 (see data/reference for the full set).
TEST_MEMBERSHIPS: Mapping[str, tuple[str, ...]] = {
    "FVEY": ("USA", "GBR", "AUS", "CAN", "NZL"),
    "ACGU": ("USA", "GBR", "AUS", "CAN"),
    "AUKUS": ("USA", "GBR", "AUS"),
    "NTIB": ("USA", "CAN", "GBR", "AUS", "NZL"),
    "NATO": ("USA", "GBR", "CAN", "POL", "DEU", "FRA"),
    "RDP_MOU": ("GBR", "AUS", "CAN", "JPN", "POL", "DEU", "FRA"),
    "MNNA": ("AUS", "JPN", "KOR", "NZL"),
}
NATIONS = ("USA", "GBR", "AUS", "CAN", "NZL", "JPN", "KOR", "POL", "DEU", "FRA", "CHN", "RUS")


def reference(since: date = date(2000, 1, 1)) -> Dataset:
    nations = [
        NodeRecord.of(NATION, c, Markings.public(NATION.names), {"name": f"Nation {c}"})
        for c in NATIONS
    ]
    agreements = [
        NodeRecord.of(
            AGREEMENT,
            a,
            Markings.public(AGREEMENT.names),
            {"name": f"Agreement {a}", "kind": "test", "source": "test fixture"},
        )
        for a in TEST_MEMBERSHIPS
    ]
    memberships = [
        membership(n, a, since=since) for a, members in TEST_MEMBERSHIPS.items() for n in members
    ]
    return Dataset.of([*nations, *agreements, *memberships])


def membership(
    nation: str,
    agreement: str,
    *,
    since: date = date(2000, 1, 1),
    until: date | None = None,
    record: str = PUBLIC,
    fields: Mapping[str, str] | None = None,
    source: str = "test fixture",
) -> EdgeRecord:
    """A membership whose edge and fields are PUBLIC unless marked (`precision` follows
    `since`, as the reference loader marks it)."""
    marks = _public(MEMBER_OF.names, fields)
    marks["precision"] = marks["since"]
    values = {"since": since, "until": until, "precision": "day", "source": source}
    return EdgeRecord.of(MEMBER_OF, nation, agreement, Markings.build(record, marks), values)


def _public(names: tuple[str, ...], overrides: Mapping[str, str] | None) -> dict[str, str]:
    """Every field of the model PUBLIC, except those the test marks otherwise."""
    return dict.fromkeys(names, PUBLIC) | dict(overrides or {})


def supplier(
    key: str,
    nation: str = "USA",
    *,
    record: str = PUBLIC,
    based_in: str = PUBLIC,
    name: str | None = None,
    fields: Mapping[str, str] | None = None,
    cage: str | None = None,
    city: str | None = None,
    employees: int | None = None,
    description: str | None = None,
) -> NodeRecord:
    """A supplier whose fields are PUBLIC unless `fields` says otherwise."""
    values = {
        "name": name or f"Supplier {key}",
        "cage": cage,
        "city": city,
        "description": description,
        "employees": employees,
    }
    link = EdgeRecord.of(BASED_IN, key, nation, Markings(based_in))
    marks = Markings.build(record, _public(SUPPLIER.names, fields))
    return NodeRecord.of(SUPPLIER, key, marks, values, (link,))


def capability(
    key: str,
    *,
    record: str = PUBLIC,
    fields: Mapping[str, str] | None = None,
    name: str | None = None,
    area: str = "test",
    jurisdiction: str = "ITAR",
    etl: bool = False,
    sme: bool = False,
    usml: str | None = "IV",
) -> NodeRecord:
    values = {
        "name": name or f"Capability {key}",
        "area": area,
        "jurisdiction": jurisdiction,
        "usml": usml,
        "etl": etl,
        "sme": sme,
    }
    marks = Markings.build(record, _public(CAPABILITY.names, fields))
    return NodeRecord.of(CAPABILITY, key, marks, values)


def provides(
    s: str,
    c: str,
    *,
    record: str = PUBLIC,
    capacity: float = 10.0,
    fields: Mapping[str, str] | None = None,
) -> EdgeRecord:
    values = {"capacity": capacity, "unit": "units/yr", "trl": 7, "leadTimeDays": 90}
    marks = Markings.build(record, _public(PROVIDES.names, fields))
    return EdgeRecord.of(PROVIDES, s, c, marks, values)


def sources(
    buyer: str,
    seller: str,
    *,
    record: str = PUBLIC,
    share: float = 1.0,
    sole: bool = False,
    item: str = "part",
    fields: Mapping[str, str] | None = None,
) -> EdgeRecord:
    marks = Markings.build(record, _public(SOURCES_FROM.names, fields))
    values = {"item": item, "share": share, "sole": sole}
    return EdgeRecord.of(SOURCES_FROM, buyer, seller, marks, values)


def owns(
    child: str,
    parent: str,
    share: float = 1.0,
    *,
    record: str = PUBLIC,
    fields: Mapping[str, str] | None = None,
) -> EdgeRecord:
    marks = Markings.build(record, _public(SUBSIDIARY_OF.names, fields))
    return EdgeRecord.of(SUBSIDIARY_OF, child, parent, marks, {"share": share})


def requires(c: str, needs: str, *, record: str = PUBLIC) -> EdgeRecord:
    return EdgeRecord.of(REQUIRES, c, needs, Markings.build(record, {}))


def dataset(**parts: Iterable[Any]) -> Dataset:
    """The test reference data plus the given records (`suppliers=[...]`, `provides=[...]`:
    the keyword only groups them for the reader)."""
    return reference().merged(Dataset.of(r for records in parts.values() for r in records))
