"""Releasable export: a nation's slice of the graph, in the import format.

`rows` turns what `dibx.graph.export` reads (released values and markings only, decided in
Cypher) into rows of the exchange format (`dibx.exchange.format`): records before the edges
that need them, each value with its `<field>.marking`, withheld fields left out (no value, no
marking), stored keys and `origin`. The writers stream those rows as JSON Lines (one stream,
rows say their `type`), CSV (one file per entity in a directory) or GraphML (nodes and edges
with the same columns as attributes). Nothing here decides release: it only shapes rows.
"""

from __future__ import annotations

import asyncio
import csv
import io
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final, TextIO
from xml.sax.saxutils import escape, quoteattr

import orjson

from dibx.auth.policy import Policy
from dibx.auth.principal import SUPPLIER_READ, Principal
from dibx.auth.release import ReleaseScope
from dibx.errors import Invalid
from dibx.exchange.format import (
    ENTITIES,
    KEY,
    MARKING,
    ORIGIN,
    SUFFIX,
    TYPE,
    WITHHELD,
    Entity,
    escape_cell,
)
from dibx.graph.driver import Graph
from dibx.graph.export import PAGE, Exported, Reader
from dibx.graph.model import MODEL, Field, Model
from dibx.services.directory import as_of_time

EXPORT_FORMATS: Final = ("jsonl", "csv", "graphml")
STREAMED_FORMATS: Final = ("jsonl", "graphml")  # one stream (CSV is a directory of files)
MEDIA_TYPES: Final = {"jsonl": "application/x-ndjson", "graphml": "application/graphml+xml"}
Row = dict[str, Any]
# Per entity name, the fields (and owned relations, by role) an export carries.
Selection = Mapping[str, tuple[str, ...]]


class ExportError(Invalid):
    """A bad export request (format, field list, date), naming the parameter at fault."""


# -- what is asked ----------------------------------------------------------------------------


def _selectable(entity: Entity) -> tuple[str, ...]:
    return (*entity.field_names, *(e.end_role for e in entity.owned))


def everything(entities: Mapping[str, Entity] = ENTITIES) -> Selection:
    return {name: _selectable(e) for name, e in entities.items()}


def select(attrs: Iterable[str], entities: Mapping[str, Entity] = ENTITIES) -> Selection:
    """The fields named by `--attr` items (`name`, or `entity.field` for one entity; commas
    separate several): every entity keeps its keys, marking and origin, and only these of
    its fields. No item: every field."""
    names = [a.strip() for item in attrs for a in item.split(",") if a.strip()]
    if not names:
        return everything(entities)
    chosen: dict[str, set[str]] = {name: set() for name in entities}
    for name in names:
        owner, _, bare = name.rpartition(".")
        targets = [owner] if owner else list(entities)
        if owner and owner not in entities:
            raise ExportError(
                f"unknown entity {owner!r} in {name!r}; known: {', '.join(entities)}",
                field="attr",
            )
        hits = [t for t in targets if bare in _selectable(entities[t])]
        if not hits:
            known = sorted({f for t in targets for f in _selectable(entities[t])})
            raise ExportError(f"unknown field {name!r}; known: {', '.join(known)}", field="attr")
        for t in hits:
            chosen[t].add(bare)
    return {t: tuple(f for f in _selectable(entities[t]) if f in chosen[t]) for t in entities}


def parse_as_of(text: str) -> datetime:
    """`YYYY-MM-DD` (that day at 00:00 UTC) or an ISO 8601 date-time with its UTC offset."""
    raw = text.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            at = datetime.combine(date.fromisoformat(raw), datetime.min.time(), UTC)
        else:
            at = datetime.fromisoformat(raw)
    except ValueError:
        at = None
    if at is None or at.tzinfo is None:
        raise ExportError(
            f"bad date {text!r}: give YYYY-MM-DD or a date-time with its UTC offset "
            "(2026-12-01T10:00:00Z)",
            field="asOf",
        )
    # As the `asOf` reads take a time: in UTC (the driver sends whole-minute offsets only),
    # and before the epoch, where history starts, as the epoch.
    return as_of_time(at) or at


def check_format(fmt: str, allowed: Sequence[str] = EXPORT_FORMATS) -> str:
    if fmt not in allowed:
        raise ExportError(f"unknown format {fmt!r}; use {', '.join(allowed)}", field="format")
    return fmt


def operator_scope(
    policy: Policy, nation: str, member_of: Iterable[str], today: date
) -> ReleaseScope:
    """What an operator's export for `nation` may release: that nation's groups (as a token
    of that nation with no attributes would have them), no more."""
    principal = Principal(
        subject=f"export-{nation.lower()}",
        client_id="dibx-cli",
        nation=nation,
        org=None,
        scopes=frozenset({SUPPLIER_READ}),
        attributes=frozenset(),
        token_id=None,
    )
    return policy.scope_for(principal, member_of, today)


# -- rows -------------------------------------------------------------------------------------


def _columns(entity: Entity, item: Exported, chosen: tuple[str, ...]) -> Row:
    row: Row = {}
    if entity.node is not None:
        row[KEY] = item.key
    else:
        assert entity.ends is not None
        row[entity.ends[0]], row[entity.ends[1]] = item.start, item.end
    row[MARKING] = item.marking
    for name in entity.field_names:
        if item.values.get(name) is not None:  # "no value" is an absent column
            row[name] = item.values[name]
        if name in item.markings:
            row[name + SUFFIX] = item.markings[name]
    for edge in entity.owned:
        if edge.end_role in chosen and edge.rel in item.owned:
            end, marking = item.owned[edge.rel]
            row[edge.end_role], row[edge.end_role + SUFFIX] = end, marking
    if item.withheld:
        # Said, not only left out: the importer must not fill these with its defaults. It
        # tells nothing the row does not: every chosen field released is written.
        row[WITHHELD] = list(item.withheld)
    if item.origin is not None:
        row[ORIGIN] = item.origin
    return row


@dataclass
class Tally:
    """Rows written per entity, and the markings they carried (for the audit record)."""

    rows: dict[str, int] = field(default_factory=dict)
    markings: set[str] = field(default_factory=set)

    def add(self, entity: Entity, row: Row) -> None:
        self.rows[entity.name] = self.rows.get(entity.name, 0) + 1
        self.markings.update(v for k, v in row.items() if k == MARKING or k.endswith(SUFFIX))

    @property
    def total(self) -> int:
        return sum(self.rows.values())


async def rows(
    reader: Reader,
    selection: Selection,
    tally: Tally | None = None,
    entities: Mapping[str, Entity] = ENTITIES,
) -> AsyncIterator[tuple[Entity, Row]]:
    """Every releasable row, entity by entity: records before the edges that need them."""
    for name, entity in entities.items():
        chosen = selection.get(name, ())
        names = tuple(f for f in chosen if f in entity.field_names)
        if entity.node is not None:
            items = reader.nodes(entity.node, names)
        else:
            assert entity.edge is not None
            items = reader.edges(entity.edge, names)
        async for item in items:
            row = _columns(entity, item, chosen)
            if tally is not None:
                tally.add(entity, row)
            yield entity, row


# -- writers ----------------------------------------------------------------------------------


async def jsonl(source: AsyncIterator[tuple[Entity, Row]]) -> AsyncIterator[bytes]:
    """One JSON object a line, `type` first; batched into chunks of about a page."""
    chunk: list[bytes] = []
    async for entity, row in source:
        chunk.append(orjson.dumps({TYPE: entity.name, **row}) + b"\n")
        if len(chunk) >= PAGE:
            yield b"".join(chunk)
            chunk = []
    if chunk:
        yield b"".join(chunk)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):  # `withheld`: field names, comma-separated in a cell
        return ",".join(map(str, value))
    if isinstance(value, str):  # never as a formula in a spreadsheet; the importer undoes it
        return escape_cell(value)
    return str(value)


def _header(entity: Entity, selection: Selection) -> list[str]:
    chosen = set(selection.get(entity.name, ()))
    keep = {c for c in entity.columns if c.removesuffix(SUFFIX) in chosen}
    fixed = {KEY, MARKING, WITHHELD, ORIGIN, *(entity.ends or ())}
    return [c for c in entity.columns if c in fixed or c in keep]


async def write_csv(
    source: AsyncIterator[tuple[Entity, Row]],
    directory: Path,
    selection: Selection,
    entities: Mapping[str, Entity] = ENTITIES,
) -> list[Path]:
    """`<entity>.csv` per entity in `directory` (created), each with its header even when
    empty; returns the files written."""
    await asyncio.to_thread(directory.mkdir, parents=True, exist_ok=True)
    written: list[Path] = []
    handles: dict[str, tuple[TextIO, csv.DictWriter[str]]] = {}

    def open_entity(entity: Entity) -> csv.DictWriter[str]:
        if entity.name not in handles:
            path = directory / f"{entity.name}.csv"
            handle = path.open("w", encoding="utf-8", newline="")
            writer = csv.DictWriter(handle, fieldnames=_header(entity, selection))
            writer.writeheader()
            handles[entity.name] = (handle, writer)
            written.append(path)
        return handles[entity.name][1]

    try:
        async for entity, row in source:
            open_entity(entity).writerow({k: _cell(v) for k, v in row.items()})
        for entity in entities.values():
            open_entity(entity)
    finally:
        for handle, _ in handles.values():
            handle.close()
    return written


_GRAPHML_TYPES: Final[dict[type, str]] = {
    str: "string",
    int: "long",
    float: "double",
    bool: "boolean",
}


@dataclass(frozen=True, slots=True)
class _Key:
    id: str
    domain: str  # node | edge
    name: str
    type: str


def _graphml_keys(entities: Mapping[str, Entity]) -> dict[tuple[str, str], _Key]:
    """One <key> per attribute name and domain, typed by the model's field kind."""
    kinds: dict[tuple[str, str], str] = {}
    for entity in entities.values():
        domain = "node" if entity.node is not None else "edge"
        fields: tuple[Field, ...] = ()
        if entity.node is not None:
            fields = entity.node.fields
        elif entity.edge is not None:
            fields = entity.edge.fields
        names = [TYPE, MARKING, WITHHELD, ORIGIN] + ([KEY] if domain == "node" else [])
        for name in names:
            kinds[(domain, name)] = "string"
        for f in fields:
            kind = _GRAPHML_TYPES.get(f.kind, "string")
            seen = kinds.setdefault((domain, f.name), kind)
            if seen != kind:
                raise ValueError(f"GraphML attribute {f.name!r} has two kinds: {seen}, {kind}")
            kinds[(domain, f.name + SUFFIX)] = "string"
        for edge in entity.owned:
            kinds[(domain, edge.end_role)] = "string"
            kinds[(domain, edge.end_role + SUFFIX)] = "string"
    return {k: _Key(f"d{i}", k[0], k[1], kind) for i, (k, kind) in enumerate(sorted(kinds.items()))}


def _node_id(entity_name: str, key: object) -> str:
    return f"{entity_name}/{key}"


# Characters XML 1.0 cannot carry, even as a reference: C0 controls but tab, LF and CR,
# surrogates, U+FFFE and U+FFFF. Text fields take them; in GraphML each is U+FFFD.
_NOT_XML: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _xml_text(text: str) -> str:
    return escape(_NOT_XML.sub("\ufffd", text))


def _graphml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return _xml_text(",".join(map(str, value)))
    return _xml_text(str(value))


async def graphml(
    source: AsyncIterator[tuple[Entity, Row]],
    entities: Mapping[str, Entity] = ENTITIES,
) -> AsyncIterator[bytes]:
    """A GraphML document: records as nodes (id `<entity>/<key>`), edges between them, every
    column of the row as a `<data>` attribute (the entity as `type`)."""
    keys = _graphml_keys(entities)
    by_node_type = {e.node.name: n for n, e in entities.items() if e.node is not None}
    head = io.StringIO()
    head.write('<?xml version="1.0" encoding="UTF-8"?>\n')
    head.write('<graphml xmlns="http://graphml.graphdrawing.org/xmlns">\n')
    for k in keys.values():
        head.write(
            f"<key id={quoteattr(k.id)} for={quoteattr(k.domain)} "
            f"attr.name={quoteattr(k.name)} attr.type={quoteattr(k.type)}/>\n"
        )
    head.write('<graph id="dibx" edgedefault="directed">\n')
    yield head.getvalue().encode()
    chunk: list[str] = []
    async for entity, row in source:
        domain = "node" if entity.node is not None else "edge"
        data = "".join(
            f"<data key={quoteattr(keys[(domain, name)].id)}>{_graphml_value(value)}</data>"
            for name, value in ((TYPE, entity.name), *row.items())
            if value is not None and name not in (entity.ends or ())
        )
        if entity.node is not None:
            ident = quoteattr(_node_id(entity.name, row[KEY]))
            chunk.append(f"<node id={ident}>{data}</node>\n")
        else:
            assert entity.edge is not None
            assert entity.ends is not None
            start = _node_id(by_node_type[entity.edge.start], row[entity.ends[0]])
            end = _node_id(by_node_type[entity.edge.end], row[entity.ends[1]])
            chunk.append(f"<edge source={quoteattr(start)} target={quoteattr(end)}>{data}</edge>\n")
        if len(chunk) >= PAGE:
            yield "".join(chunk).encode()
            chunk = []
    chunk.append("</graph>\n</graphml>\n")
    yield "".join(chunk).encode()


# -- the operator's command -------------------------------------------------------------------


async def run_export(
    graph: Graph,
    scope: ReleaseScope,
    *,
    fmt: str,
    out: Path | None,
    stdout: Any,
    attrs: Iterable[str] = (),
    at: datetime | None = None,
    catalogue_steward: str | None = None,
    model: Model = MODEL,
    page: int = PAGE,
) -> Tally:
    """Write `scope`'s slice in `fmt` to `out` (a file; a directory for CSV) or `stdout`
    (a binary stream; not for CSV). Returns what was written."""
    check_format(fmt)
    selection = select(attrs)
    if fmt == "csv" and out is None:
        raise ExportError("CSV is one file per entity: give a directory with --out", field="out")
    reader = Reader(graph, scope, model, catalogue_steward=catalogue_steward, at=at, page=page)
    tally = Tally()
    source = rows(reader, selection, tally)
    if fmt == "csv":
        assert out is not None
        await write_csv(source, out, selection)
        return tally
    chunks = jsonl(source) if fmt == "jsonl" else graphml(source)
    if out is None:
        async for data in chunks:
            stdout.write(data)
        stdout.flush()
        return tally
    with out.open("wb") as handle:
        async for data in chunks:
            handle.write(data)
    return tally
