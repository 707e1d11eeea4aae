"""The graph model as data: node types, their marked fields and their relations.

The selection compiler reads this registry to write Cypher. Labels, relationship types and
property names can only come from here (they cannot be query parameters), so no identifier
in a compiled query ever comes from a caller.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Direction = Literal["out", "in"]


@dataclass(frozen=True, slots=True)
class Relation:
    rel: str
    direction: Direction
    target: str
    edge_fields: tuple[str, ...] = ()
    many: bool = True
    # Relations dated by `since`/`until` (memberships) are filtered "as of" a date.
    dated: bool = False

    @property
    def edge_type(self) -> str:
        """Name under which the edge's default markings are looked up in the policy."""
        return self.rel


@dataclass(frozen=True, slots=True)
class NodeType:
    name: str
    label: str
    key: str
    fields: tuple[str, ...]
    relations: dict[str, Relation] = field(default_factory=dict)


SUPPLIER = NodeType(
    name="Supplier",
    label="Supplier",
    key="id",
    fields=("name", "cage", "city", "description", "employees"),
    relations={
        "nation": Relation("BASED_IN", "out", "Nation", many=False),
        "capabilities": Relation(
            "PROVIDES", "out", "Capability", ("capacity", "unit", "trl", "leadTimeDays")
        ),
        "suppliers": Relation("SOURCES_FROM", "out", "Supplier", ("item", "share", "sole")),
        "customers": Relation("SOURCES_FROM", "in", "Supplier", ("item", "share", "sole")),
        "owners": Relation("SUBSIDIARY_OF", "out", "Supplier", ("share",)),
        "subsidiaries": Relation("SUBSIDIARY_OF", "in", "Supplier", ("share",)),
    },
)

CAPABILITY = NodeType(
    name="Capability",
    label="Capability",
    key="id",
    fields=(
        "name",
        "area",
        "description",
        "jurisdiction",
        "usml",
        "eccn",
        "sme",
        "etl",
        "classified",
        "cdnExcluded",
    ),
    relations={
        "providers": Relation(
            "PROVIDES", "in", "Supplier", ("capacity", "unit", "trl", "leadTimeDays")
        ),
        "requires": Relation("REQUIRES", "out", "Capability"),
        "requiredBy": Relation("REQUIRES", "in", "Capability"),
    },
)

NATION = NodeType(
    name="Nation",
    label="Nation",
    key="code",
    fields=("name",),
    relations={
        "agreements": Relation(
            "MEMBER_OF", "out", "Agreement", ("since", "until", "source"), dated=True
        ),
        "suppliers": Relation("BASED_IN", "in", "Supplier"),
    },
)

AGREEMENT = NodeType(
    name="Agreement",
    label="Agreement",
    key="code",
    fields=("name", "kind"),
    relations={
        "members": Relation("MEMBER_OF", "in", "Nation", ("since", "until", "source"), dated=True),
    },
)

TYPES: dict[str, NodeType] = {t.name: t for t in (SUPPLIER, CAPABILITY, NATION, AGREEMENT)}

# Every relationship type with the fields it carries, for default markings and validation.
EDGE_FIELDS: dict[str, tuple[str, ...]] = {
    rel.rel: rel.edge_fields for t in TYPES.values() for rel in t.relations.values()
}
