"""Typed rows of a compiled read: the map `dibx.graph.compile` returns, decoded once per row.

The compiler writes a node or an edge as a map with these keys, and `decode_node` reads
them; nothing outside this package knows them:

    __key   the node's key (released with the record)
    __m     the record's (or edge's) marking in force
    __f     {field: [value] | null}: a one-element list when released, null when withheld
    __mf    {field: the field's marking in force}
    __fm    {field: [marking, released]} for every field, when `fieldMarkings` is selected
    __r     {result key: relation}: {items: [{edge, node, at}], first, back, other, total}
            for a to-many relation (`at` each link's place in the order, `back` when read
            backwards, `other` whether a link lies on the cursor's other side), {edge, node}
            or null for a to-one

Decoding checks the whole row at once: a row with a node or edge anywhere without its
marking (or a node without its key) is refused (deny by default): nothing decodes as
released that does not say under what. Objects are then built as they are looked up: a
field becomes `Released` or `Withheld`, and a relation its `RelationRow` or `Link`, only
when a resolver reads it. Each node keeps the map it came from (`NodeRow.raw`): the compiled
response writer (`dibx.schema.fastpath.writer`) reads the checked maps directly, through the
names below, instead of building these objects.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

KEY = "__key"
MARKING = "__m"
VALUES = "__f"
FIELD_MARKING = "__mf"
ALL_FIELD_MARKINGS = "__fm"
RELATIONS = "__r"
RESERVED = (KEY, MARKING, VALUES, FIELD_MARKING, ALL_FIELD_MARKINGS, RELATIONS)
# A relation's map: a page of links (to-many), or one link (to-one, without ITEMS).
ITEMS, FIRST, TOTAL, BACK, OTHER = "items", "first", "total", "back", "other"
EDGE, NODE, AT = "edge", "node", "at"

_NONE: Mapping[str, Any] = {}


class UndecodableRow(ValueError):
    """A row the compiler did not write: a missing key or marking. Never shown as data."""


@dataclass(frozen=True, slots=True)
class Released:
    value: Any
    marking: str | None


@dataclass(frozen=True, slots=True)
class Withheld:
    marking: str | None


@dataclass(frozen=True, slots=True)
class FieldMark:
    """One entry of `fieldMarkings`: a field's marking and whether it was released."""

    field: str
    marking: str | None
    released: bool


class Fields(Mapping[str, Released | Withheld]):
    """The selected fields of a row, each `Released` or `Withheld`, built on lookup."""

    __slots__ = ("_markings", "_values")

    def __init__(self, values: Mapping[str, Any], markings: Mapping[str, Any]) -> None:
        self._values = values
        self._markings = markings

    def __getitem__(self, name: str) -> Released | Withheld:
        marking = self._markings[name]  # every fetched field has its marking
        value = self._values.get(name)
        return Withheld(marking) if value is None else Released(value[0], marking)

    def __iter__(self) -> Iterator[str]:
        return iter(self._markings)

    def __len__(self) -> int:
        return len(self._markings)


class Relations(Mapping[str, "RelationRow | Link | None"]):
    """A node's relations, each decoded when first looked up (from a checked row)."""

    __slots__ = ("_decoded", "_raw")

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self._raw = raw
        self._decoded: dict[str, RelationRow | Link | None] = {}

    def __getitem__(self, key: str) -> RelationRow | Link | None:
        try:
            return self._decoded[key]
        except KeyError:
            found = self._decoded[key] = _relation(self._raw[key])
            return found

    def __iter__(self) -> Iterator[str]:
        return iter(self._raw)

    def __len__(self) -> int:
        return len(self._raw)


@dataclass(frozen=True, slots=True)
class EdgeRow:
    marking: str
    fields: Fields
    field_markings: tuple[FieldMark, ...]


@dataclass(frozen=True, slots=True)
class NodeRow:
    key: str
    marking: str
    fields: Fields
    field_markings: tuple[FieldMark, ...]
    # By result key (`dibx.graph.selection.result_key`); a to-one relation with nothing
    # visible at its end is None.
    relations: Mapping[str, RelationRow | Link | None]
    raw: Mapping[str, Any]  # the checked map this row was decoded from


@dataclass(frozen=True, slots=True)
class Link:
    """One step of a relation: the edge and the node at its far end."""

    edge: EdgeRow
    node: NodeRow
    # In a page of a to-many relation: the far key and edge id, its place in the page's order.
    at: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class RelationRow:
    """A page of a to-many relation: its links, whether more follow, and the total when
    `totalCount` was selected (None otherwise)."""

    items: tuple[Link, ...]
    has_next: bool
    total: int | None
    has_previous: bool = False


EMPTY_RELATION = RelationRow(items=(), has_next=False, total=None)


def _marking(d: Mapping[str, Any]) -> str:
    marking = d.get(MARKING)
    if marking is None:
        raise UndecodableRow("a row without its marking cannot be released")
    return str(marking)


def _field_markings(found: Mapping[str, Any] | None) -> tuple[FieldMark, ...]:
    if not found:
        return ()
    return tuple(FieldMark(n, m, bool(ok)) for n, (m, ok) in sorted(found.items()))


def decode_edge(d: Mapping[str, Any]) -> EdgeRow:
    return EdgeRow(
        _marking(d),
        Fields(d.get(VALUES) or _NONE, d.get(FIELD_MARKING) or _NONE),
        _field_markings(d.get(ALL_FIELD_MARKINGS)),
    )


def _link(d: Mapping[str, Any]) -> Link:
    at = d.get(AT)
    return Link(
        edge=decode_edge(d[EDGE]),
        node=_node(d[NODE]),
        at=None if at is None else (str(at[0]), str(at[1])),
    )


def _relation(d: Mapping[str, Any] | None) -> RelationRow | Link | None:
    if d is None:
        return None
    if ITEMS not in d:
        return _link(d)
    # The query fetched one link past the page to tell whether more follow: that link and
    # everything below it are not decoded. A backward page was read from its end.
    items, first, total = d[ITEMS], d[FIRST], d.get(TOTAL)
    back, other = bool(d.get(BACK)), bool(d.get(OTHER))
    links = [_link(i) for i in items[:first]]
    more = len(items) > first
    if back:
        links.reverse()
    return RelationRow(
        tuple(links),
        has_next=other if back else more,
        total=None if total is None else int(total),
        has_previous=more if back else other,
    )


def _check_node(d: dict[str, Any], renames: Mapping[str, str]) -> None:
    """Refuses a node, or anything decoded below it, without its key or marking; in the
    order decoding reads them, so the same fault is named. Renames its relations from their
    places in the query to their result keys (`Compiler.renames`) on the way."""
    if d.get(KEY) is None:
        raise UndecodableRow("a row without its key")
    _marking(d)
    relations = d.get(RELATIONS)
    if relations:
        if renames:
            d[RELATIONS] = relations = {renames.get(k, k): v for k, v in relations.items()}
        for relation in relations.values():
            if relation is None:
                continue
            if ITEMS not in relation:
                _check_link(relation, renames)
                continue
            for item in relation[ITEMS][: relation[FIRST]]:
                _check_link(item, renames)


def _check_link(d: Mapping[str, Any], renames: Mapping[str, str]) -> None:
    _marking(d[EDGE])
    _check_node(d[NODE], renames)


def _node(d: Mapping[str, Any]) -> NodeRow:
    """A node of a checked row."""
    relations = d.get(RELATIONS)
    return NodeRow(
        str(d[KEY]),
        str(d[MARKING]),
        Fields(d.get(VALUES) or _NONE, d.get(FIELD_MARKING) or _NONE),
        _field_markings(d.get(ALL_FIELD_MARKINGS)),
        Relations(relations) if relations else _NONE,
        d,
    )


def decode_node(d: dict[str, Any], renames: Mapping[str, str] = _NONE) -> NodeRow:
    """One node of a compiled read, with everything fetched below it: all of it checked
    now (its relations renamed by `renames`, the compiler's), its objects built as they
    are looked up."""
    _check_node(d, renames)
    return _node(d)
