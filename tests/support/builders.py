"""Small hand-built graphs for tests: records with explicit markings, written for real."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from dibx.graph.model import CAPABILITY, EDGE_FIELDS, SUPPLIER
from dibx.graph.records import (
    AgreementRecord,
    CapabilityRecord,
    Dataset,
    Markings,
    MembershipRecord,
    NationRecord,
    ProvidesRecord,
    RequiresRecord,
    SourcesFromRecord,
    SubsidiaryRecord,
    SupplierRecord,
)

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
        NationRecord(code=c, name=f"Nation {c}", markings=Markings.public(["name"]))
        for c in NATIONS
    ]
    agreements = [
        AgreementRecord(
            code=a,
            name=f"Agreement {a}",
            kind="test",
            source="test fixture",
            markings=Markings.public(["name", "kind", "source"]),
        )
        for a in TEST_MEMBERSHIPS
    ]
    memberships = [
        membership(n, a, since=since) for a, members in TEST_MEMBERSHIPS.items() for n in members
    ]
    return Dataset(nations=nations, agreements=agreements, memberships=memberships)


def membership(
    nation: str,
    agreement: str,
    *,
    since: date = date(2000, 1, 1),
    until: date | None = None,
    record: str = PUBLIC,
    fields: Mapping[str, str] | None = None,
    source: str = "test fixture",
) -> MembershipRecord:
    """A membership whose edge and fields are PUBLIC unless marked (`precision` follows
    `since`, as the reference loader marks it)."""
    marks = _public(EDGE_FIELDS["MEMBER_OF"], fields)
    marks["precision"] = marks["since"]
    return MembershipRecord(
        nation=nation,
        agreement=agreement,
        since=since,
        until=until,
        precision="day",
        source=source,
        markings=Markings.build(record, marks),
    )


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
) -> SupplierRecord:
    """A supplier whose fields are PUBLIC unless `fields` says otherwise."""
    marks = _public(SUPPLIER.names, fields)
    return SupplierRecord(
        id=key,
        name=name or f"Supplier {key}",
        nation=nation,
        markings=Markings.build(record, marks),
        based_in_marking=based_in,
        cage=cage,
        city=city,
        description=description,
        employees=employees,
    )


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
) -> CapabilityRecord:
    marks = _public(CAPABILITY.names, fields)
    return CapabilityRecord(
        id=key,
        name=name or f"Capability {key}",
        area=area,
        jurisdiction=jurisdiction,
        markings=Markings.build(record, marks),
        usml=usml,
        etl=etl,
        sme=sme,
    )


def provides(
    s: str,
    c: str,
    *,
    record: str = PUBLIC,
    capacity: float = 10.0,
    fields: Mapping[str, str] | None = None,
) -> ProvidesRecord:
    marks = _public(EDGE_FIELDS["PROVIDES"], fields)
    return ProvidesRecord(
        supplier=s,
        capability=c,
        markings=Markings.build(record, marks),
        capacity=capacity,
        unit="units/yr",
        trl=7,
        lead_time_days=90,
    )


def sources(
    buyer: str,
    seller: str,
    *,
    record: str = PUBLIC,
    share: float = 1.0,
    sole: bool = False,
    item: str = "part",
    fields: Mapping[str, str] | None = None,
) -> SourcesFromRecord:
    marks = _public(EDGE_FIELDS["SOURCES_FROM"], fields)
    return SourcesFromRecord(
        buyer=buyer,
        supplier=seller,
        markings=Markings.build(record, marks),
        item=item,
        share=share,
        sole=sole,
    )


def owns(child: str, parent: str, share: float = 1.0, *, record: str = PUBLIC) -> SubsidiaryRecord:
    return SubsidiaryRecord(
        child=child, parent=parent, share=share, markings=Markings.build(record, {"share": PUBLIC})
    )


def requires(c: str, needs: str, *, record: str = PUBLIC) -> RequiresRecord:
    return RequiresRecord(capability=c, requires=needs, markings=Markings.build(record, {}))


def dataset(**parts: list) -> Dataset:  # type: ignore[type-arg]
    return reference().merged(Dataset(**parts))
