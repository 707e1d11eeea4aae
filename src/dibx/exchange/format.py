"""The bulk file format: one entity per row shape, its columns derived from the model.

An *entity* is a stewarded node type (`suppliers`, `capabilities`) or edge type (`provides`,
`sources_from`, `subsidiary_of`, `requires`). Its columns, in order:

* a node: `key`, `marking` (the record's own marking: whether it exists for a reader), then
  each field `<f>` followed by `<f>.marking`, then each relation the record has exactly one of
  (a supplier's `nation`, its BASED_IN) with `<role>.marking`;
* an edge: `<start role>`, `<end role>` (the endpoints' keys), `marking`, then each field and
  its `.marking`;
* both, optionally: `withheld` (fields the row does not carry because they were withheld from
  the nation it was exported for: no value, no marking; written by export), `origin` (the
  originating nation, written by export) and `reason` (why the marking is what it is, stored
  like a mutation's reason).

CSV and JSON Lines share the names: a CSV header row names the columns (any order, any subset
of the optional ones); a JSON Lines row is an object with the same names, typed JSON values,
and may say its entity in `type` (so one stream can carry every entity). An empty cell, a
missing name or `null` is "no value"; an empty marking takes the policy's default for it.
`docs/exchange-format.md` is the reference for stewards; everything here follows the model,
so a field added to the model is a column without a change to this module.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePath
from typing import Final

from dibx.graph.model import MODEL, EdgeType, Model, NodeType
from dibx.graph.stewardship import STEWARDED_EDGES, STEWARDED_NODES

MARKING: Final = "marking"
SUFFIX: Final = ".marking"
KEY: Final = "key"
ORIGIN: Final = "origin"
REASON: Final = "reason"
WITHHELD: Final = "withheld"  # fields the row deliberately does not carry (export writes it)
TYPE: Final = "type"  # JSON Lines only: the row's entity
OPTIONAL: Final = (WITHHELD, ORIGIN, REASON)
FORMATS: Final = ("csv", "jsonl")


@dataclass(frozen=True, slots=True)
class Entity:
    """One row shape: a node type or an edge type, by its file name."""

    name: str
    node: NodeType | None = None
    edge: EdgeType | None = None
    owned: tuple[EdgeType, ...] = ()  # a node's exactly-one relations (Supplier: BASED_IN)

    @property
    def owner(self) -> str:
        """The model name: node type name or relationship type."""
        if self.node is not None:
            return self.node.name
        assert self.edge is not None
        return self.edge.rel

    @property
    def ends(self) -> tuple[str, str] | None:
        """An edge's endpoint columns (start role, end role); None for a node."""
        return None if self.edge is None else (self.edge.start_role, self.edge.end_role)

    @property
    def field_names(self) -> tuple[str, ...]:
        if self.node is not None:
            return self.node.names
        assert self.edge is not None
        return self.edge.names

    @property
    def columns(self) -> tuple[str, ...]:
        """Every column, in the order export writes them."""
        head: tuple[str, ...]
        if self.node is not None:
            head = (KEY, MARKING)
        else:
            assert self.edge is not None
            head = (self.edge.start_role, self.edge.end_role, MARKING)
        body: list[str] = []
        for name in self.field_names:
            body += [name, name + SUFFIX]
        for edge in self.owned:
            body += [edge.end_role, edge.end_role + SUFFIX]
        return (*head, *body, *OPTIONAL)

    @property
    def required(self) -> tuple[str, ...]:
        """Columns a file of this entity must have (values may still be empty where the model
        allows): the keys, and a node's owned relations."""
        if self.node is not None:
            return (KEY, *(e.end_role for e in self.owned))
        assert self.ends is not None
        return self.ends


def _plural(name: str) -> str:
    lower = name.lower()
    return lower[:-1] + "ies" if lower.endswith("y") else lower + "s"


def entities(model: Model = MODEL) -> dict[str, Entity]:
    """Every entity by file name, nodes before the edges that need them (the write order)."""
    out: dict[str, Entity] = {}
    for name in STEWARDED_NODES:
        node = model.nodes[name]
        out[_plural(name)] = Entity(_plural(name), node=node, owned=model.owned(name))
    for rel in STEWARDED_EDGES:
        out[rel.lower()] = Entity(rel.lower(), edge=model.edges[rel])
    return out


ENTITIES: Final = entities()

# A CSV cell starting with one of these opens as a formula in a spreadsheet (OWASP, CSV
# injection): `=HYPERLINK(...)`, `+cmd|...`, `@SUM(...)`.
FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def _formula_like(text: str) -> bool:
    return text.lstrip("'").startswith(FORMULA_START)


def escape_cell(text: str) -> str:
    """A text as a CSV cell: with one apostrophe more in front where the text, after any
    apostrophes it starts with, starts like a formula (`=x` is `'=x`, `'=x` is `''=x`), so a
    spreadsheet opens it as text; any other text as it is. `unescape_cell` undoes it."""
    return "'" + text if _formula_like(text) else text


def unescape_cell(cell: str) -> str:
    """The text a CSV text cell stands for: without the one apostrophe `escape_cell` put in
    front of a formula-like text; any other cell as it is (`'plain` stays `'plain`)."""
    return cell[1:] if cell.startswith("'") and _formula_like(cell) else cell


def text_columns(entity: Entity) -> frozenset[str]:
    """The columns that hold text (escaped in CSV): all but the values of number, flag and
    date fields."""
    owner = entity.node if entity.node is not None else entity.edge
    assert owner is not None
    valued = {f.name for f in owner.fields if f.kind is not str}
    return frozenset(c for c in entity.columns if c not in valued)


class FormatError(ValueError):
    """A file whose shape (not a row) cannot be read: unknown entity, format or header."""


def format_of(path: PurePath | str) -> str:
    """`csv` or `jsonl` from the file's suffix (`.csv`, `.jsonl`, `.ndjson`)."""
    suffix = PurePath(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    raise FormatError(f"{PurePath(path).name}: unknown format {suffix!r}; use .csv or .jsonl")


def entity_of(path: PurePath | str, known: dict[str, Entity] = ENTITIES) -> Entity | None:
    """The entity a file holds by its name: the last part of the stem (`suppliers.csv`,
    `gbr-2026.provides.csv`); None if the name does not say (JSON Lines rows may say `type`)."""
    stem = PurePath(path).name.split(".")
    for part in reversed(stem[:-1]):
        if part in known:
            return known[part]
    return None


def check_header(entity: Entity, header: Iterable[str], where: str) -> None:
    """Refuses a header with an unknown or repeated column, or without a required one."""
    seen: list[str] = list(header)
    known = set(entity.columns)
    unknown = [c for c in seen if c not in known]
    if unknown:
        raise FormatError(
            f"{where}: unknown column(s) {', '.join(map(repr, unknown))} for {entity.name}; "
            f"known: {', '.join(entity.columns)}"
        )
    repeated = sorted({c for c in seen if seen.count(c) > 1})
    if repeated:
        raise FormatError(f"{where}: repeated column(s) {', '.join(map(repr, repeated))}")
    missing = [c for c in entity.required if c not in seen]
    if missing:
        raise FormatError(
            f"{where}: missing column(s) {', '.join(map(repr, missing))} for {entity.name}"
        )
