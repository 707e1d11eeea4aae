"""Validated rows ready to write: one frozen dataclass per node or edge type, and a Dataset.

Pure data, no I/O and no validation: loaders (`dibx.services.datasets`) and the synthetic
generator build these only from checked input, and `dibx.graph.writes` turns them into Cypher
parameters. Every record carries `markings`: the canonical marking text of the record itself
(governs its existence) and of each marked field, keyed by the *graph property name*
(`leadTimeDays`, `cdnExcluded`), so the writer needs no name mapping for markings.

`PROPERTIES` on each class maps graph property name -> Python attribute for the marked fields;
keys (`id`, `code`) and edge endpoints are not marked: they are released with the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import ClassVar

PUBLIC_TEXT = "PUBLIC"


@dataclass(frozen=True, slots=True)
class Markings:
    """Canonical marking text of a record and of each of its marked fields.

    Records with the same markings may share one instance (the synthetic generator does, to
    keep a million edges small).
    """

    record: str
    fields: tuple[tuple[str, str], ...] = ()

    def of(self, name: str) -> str:
        for field_name, marking in self.fields:
            if field_name == name:
                return marking
        raise KeyError(f"no marking for field {name!r}")

    def as_dict(self) -> dict[str, str]:
        return dict(self.fields)

    @classmethod
    def build(cls, record: str, fields: Mapping[str, str]) -> Markings:
        return cls(record, tuple(sorted(fields.items())))

    @classmethod
    def public(cls, names: Iterable[str]) -> Markings:
        """Public reference data: the record and every field PUBLIC."""
        return cls(PUBLIC_TEXT, tuple(sorted((n, PUBLIC_TEXT) for n in names)))


@dataclass(frozen=True, slots=True)
class NationRecord:
    PROPERTIES: ClassVar[tuple[tuple[str, str], ...]] = (("name", "name"),)
    code: str
    name: str
    markings: Markings


@dataclass(frozen=True, slots=True)
class AgreementRecord:
    PROPERTIES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("name", "name"),
        ("kind", "kind"),
        ("source", "source"),
    )
    code: str
    name: str
    kind: str
    source: str
    markings: Markings


@dataclass(frozen=True, slots=True)
class MembershipRecord:
    """(:Nation)-[:MEMBER_OF]->(:Agreement); keyed by (nation, agreement, since).

    A null `until` says "still a member", so its marking is stored even then: a withheld
    open end must read exactly like a withheld end date.
    """

    MARKED_WHEN_NULL: ClassVar[tuple[str, ...]] = ("until",)
    PROPERTIES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("since", "since"),
        ("until", "until"),
        ("precision", "precision"),
        ("source", "source"),
    )
    nation: str
    agreement: str
    since: date
    until: date | None
    precision: str  # "year" (since is Jan 1 of a known year) or "day"
    source: str
    markings: Markings


@dataclass(frozen=True, slots=True)
class SupplierRecord:
    """A supplier and its (:Supplier)-[:BASED_IN]->(:Nation) edge.

    `based_in_marking` marks the BASED_IN edge (the policy's `BASED_IN` type); it is also
    what a loader's `markings: {nation: ...}` override sets.
    """

    PROPERTIES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("name", "name"),
        ("cage", "cage"),
        ("city", "city"),
        ("description", "description"),
        ("employees", "employees"),
    )
    id: str
    name: str
    nation: str
    markings: Markings
    based_in_marking: str
    cage: str | None = None
    city: str | None = None
    description: str | None = None
    employees: int | None = None


@dataclass(frozen=True, slots=True)
class CapabilityRecord:
    PROPERTIES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("name", "name"),
        ("area", "area"),
        ("description", "description"),
        ("jurisdiction", "jurisdiction"),
        ("usml", "usml"),
        ("eccn", "eccn"),
        ("sme", "sme"),
        ("etl", "etl"),
        ("classified", "classified"),
        ("cdnExcluded", "cdn_excluded"),
    )
    id: str
    name: str
    area: str
    jurisdiction: str  # "ITAR" | "EAR" | "NONE"
    markings: Markings
    description: str | None = None
    usml: str | None = None  # USML category, Roman numeral I..XXI
    eccn: str | None = None  # Commerce Control List entry or EAR99
    sme: bool = False  # significant military equipment
    etl: bool = False  # on the AUKUS Excluded Technology List (ITAR 126 Supp. 2)
    classified: bool = False
    cdn_excluded: bool = False  # ITAR 126.5 Supplement No. 1 exclusion


@dataclass(frozen=True, slots=True)
class RequiresRecord:
    """(:Capability)-[:REQUIRES]->(:Capability): what a capability is built from."""

    PROPERTIES: ClassVar[tuple[tuple[str, str], ...]] = ()
    capability: str
    requires: str
    markings: Markings


@dataclass(frozen=True, slots=True)
class ProvidesRecord:
    PROPERTIES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("capacity", "capacity"),
        ("unit", "unit"),
        ("trl", "trl"),
        ("leadTimeDays", "lead_time_days"),
    )
    supplier: str
    capability: str
    markings: Markings
    capacity: float | None = None
    unit: str | None = None
    trl: int | None = None
    lead_time_days: int | None = None


@dataclass(frozen=True, slots=True)
class SourcesFromRecord:
    """(buyer:Supplier)-[:SOURCES_FROM]->(supplier:Supplier): one tier of supply."""

    PROPERTIES: ClassVar[tuple[tuple[str, str], ...]] = (
        ("item", "item"),
        ("share", "share"),
        ("sole", "sole"),
    )
    buyer: str
    supplier: str
    markings: Markings
    item: str | None = None
    share: float | None = None  # of the buyer's need for the item, 0..1
    sole: bool | None = None  # None: not known


@dataclass(frozen=True, slots=True)
class SubsidiaryRecord:
    """(child:Supplier)-[:SUBSIDIARY_OF {share}]->(parent:Supplier): ownership."""

    PROPERTIES: ClassVar[tuple[tuple[str, str], ...]] = (("share", "share"),)
    child: str
    parent: str
    share: float
    markings: Markings


@dataclass(frozen=True, slots=True)
class Dataset:
    nations: list[NationRecord] = field(default_factory=list)
    agreements: list[AgreementRecord] = field(default_factory=list)
    memberships: list[MembershipRecord] = field(default_factory=list)
    suppliers: list[SupplierRecord] = field(default_factory=list)
    capabilities: list[CapabilityRecord] = field(default_factory=list)
    requires: list[RequiresRecord] = field(default_factory=list)
    provides: list[ProvidesRecord] = field(default_factory=list)
    sources_from: list[SourcesFromRecord] = field(default_factory=list)
    subsidiaries: list[SubsidiaryRecord] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        """Records per graph label / relationship type (BASED_IN: one per supplier)."""
        return {
            "Nation": len(self.nations),
            "Agreement": len(self.agreements),
            "MEMBER_OF": len(self.memberships),
            "Supplier": len(self.suppliers),
            "BASED_IN": len(self.suppliers),
            "Capability": len(self.capabilities),
            "REQUIRES": len(self.requires),
            "PROVIDES": len(self.provides),
            "SOURCES_FROM": len(self.sources_from),
            "SUBSIDIARY_OF": len(self.subsidiaries),
        }

    def merged(self, other: Dataset) -> Dataset:
        """Both datasets in one (e.g. reference + demo), this one's records first."""
        return Dataset(
            nations=[*self.nations, *other.nations],
            agreements=[*self.agreements, *other.agreements],
            memberships=[*self.memberships, *other.memberships],
            suppliers=[*self.suppliers, *other.suppliers],
            capabilities=[*self.capabilities, *other.capabilities],
            requires=[*self.requires, *other.requires],
            provides=[*self.provides, *other.provides],
            sources_from=[*self.sources_from, *other.sources_from],
            subsidiaries=[*self.subsidiaries, *other.subsidiaries],
        )
