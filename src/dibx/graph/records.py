"""Validated records ready to write, one generic shape per node and per edge, and a Dataset.

Pure data, no I/O and no validation: loaders (`dibx.ingest`) and the synthetic generator
build these only from checked input, and `dibx.graph.writes` turns them into Cypher
parameters. A record names its type from `dibx.graph.model`; its values follow that type's
fields in order (a tuple, not a dict: a million synthetic edges stay small). Every record
carries `markings`: the canonical marking of the record itself (governs its existence) and of
each field, keyed by graph property name; keys and edge endpoints are not marked: they are
released with the record.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from dibx.graph.model import EdgeType, Field, NodeType

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


def _aligned(fields: tuple[Field, ...], values: Mapping[str, Any], owner: str) -> tuple[Any, ...]:
    """Values in field order; an absent field takes its default (None unless not nullable)."""
    unknown = set(values) - {f.name for f in fields}
    if unknown:
        raise KeyError(f"{owner} has no field(s) {', '.join(sorted(unknown))}")
    return tuple(values.get(f.name, f.default) for f in fields)


def _index(fields: tuple[Field, ...], name: str, owner: str) -> int:
    for i, f in enumerate(fields):
        if f.name == name:
            return i
    raise KeyError(f"{owner} has no field {name!r}")


@dataclass(frozen=True, slots=True)
class EdgeRecord:
    """(start)-[:type {values}]->(end), endpoints by their node type's key."""

    type: EdgeType
    start: str
    end: str
    values: tuple[Any, ...]
    markings: Markings

    @classmethod
    def of(
        cls,
        type_: EdgeType,
        start: str,
        end: str,
        markings: Markings,
        values: Mapping[str, Any] | None = None,
    ) -> EdgeRecord:
        return cls(type_, start, end, _aligned(type_.fields, values or {}, type_.rel), markings)

    def __getitem__(self, name: str) -> Any:
        return self.values[_index(self.type.fields, name, self.type.rel)]

    def as_dict(self) -> dict[str, Any]:
        return {f.name: v for f, v in zip(self.type.fields, self.values, strict=True)}

    def with_values(self, **values: Any) -> EdgeRecord:
        return replace(
            self, values=_aligned(self.type.fields, self.as_dict() | values, self.type.rel)
        )


@dataclass(frozen=True, slots=True)
class NodeRecord:
    """A node by its key, with the edges it has exactly one of (`Model.owned`: a supplier's
    BASED_IN), which are written with it."""

    type: NodeType
    key: str
    values: tuple[Any, ...]
    markings: Markings
    links: tuple[EdgeRecord, ...] = ()

    @classmethod
    def of(
        cls,
        type_: NodeType,
        key: str,
        markings: Markings,
        values: Mapping[str, Any] | None = None,
        links: tuple[EdgeRecord, ...] = (),
    ) -> NodeRecord:
        return cls(type_, key, _aligned(type_.fields, values or {}, type_.name), markings, links)

    def __getitem__(self, name: str) -> Any:
        return self.values[_index(self.type.fields, name, self.type.name)]

    def as_dict(self) -> dict[str, Any]:
        return {f.name: v for f, v in zip(self.type.fields, self.values, strict=True)}

    def with_values(self, **values: Any) -> NodeRecord:
        return replace(
            self, values=_aligned(self.type.fields, self.as_dict() | values, self.type.name)
        )

    def link(self, rel: str) -> EdgeRecord:
        for edge in self.links:
            if edge.type.rel == rel:
                return edge
        raise KeyError(f"{self.type.name} {self.key!r} has no {rel} edge")


Record = NodeRecord | EdgeRecord


@dataclass(frozen=True, slots=True)
class Dataset:
    """Records by node type name and by relationship type (owned edges ride on their node)."""

    nodes: Mapping[str, list[NodeRecord]] = field(default_factory=dict)
    edges: Mapping[str, list[EdgeRecord]] = field(default_factory=dict)

    @classmethod
    def of(cls, records: Iterable[Record]) -> Dataset:
        nodes: dict[str, list[NodeRecord]] = {}
        edges: dict[str, list[EdgeRecord]] = {}
        for r in records:
            if isinstance(r, NodeRecord):
                nodes.setdefault(r.type.name, []).append(r)
            else:
                edges.setdefault(r.type.rel, []).append(r)
        return cls(nodes, edges)

    def nodes_of(self, name: str) -> list[NodeRecord]:
        return list(self.nodes.get(name, ()))

    def edges_of(self, rel: str) -> list[EdgeRecord]:
        """Edges of `rel`, owned ones (carried by their start node) included."""
        carried = [
            e for rs in self.nodes.values() for r in rs for e in r.links if e.type.rel == rel
        ]
        return [*carried, *self.edges.get(rel, ())]

    def counts(self) -> dict[str, int]:
        """Records per node type and relationship type (owned edges counted too)."""
        out = {name: len(rs) for name, rs in self.nodes.items()}
        for rs in self.nodes.values():
            for r in rs:
                for e in r.links:
                    out[e.type.rel] = out.get(e.type.rel, 0) + 1
        for rel, es in self.edges.items():
            out[rel] = out.get(rel, 0) + len(es)
        return out

    def merged(self, other: Dataset) -> Dataset:
        """Both datasets in one (e.g. reference + demo), this one's records first."""
        nodes = {k: list(v) for k, v in self.nodes.items()}
        for k, v in other.nodes.items():
            nodes.setdefault(k, []).extend(v)
        edges = {k: list(v) for k, v in self.edges.items()}
        for k, e in other.edges.items():
            edges.setdefault(k, []).extend(e)
        return Dataset(nodes, edges)

    def replaced(
        self,
        nodes: Mapping[str, list[NodeRecord]] | None = None,
        edges: Mapping[str, list[EdgeRecord]] | None = None,
    ) -> Dataset:
        """This dataset with the records of some types replaced."""
        return Dataset({**self.nodes, **(nodes or {})}, {**self.edges, **(edges or {})})
