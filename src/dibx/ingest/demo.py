"""Demo data (YAML): suppliers and capabilities with their edges, checked before any write.

Every bad row is rejected with a reason a data steward can act on, and everything that
depends on a rejected row (the edges of a rejected supplier, a purchase from it) is rejected
too, saying which row it depended on. Nothing is guessed: a malformed marking rejects its row
with the marking parser's own message.

The shape follows the model: a section lists nodes of one type (`suppliers`: Supplier); a row
has the type's key and fields, the end of each edge the node has exactly one of (`nation`:
BASED_IN), and nests the edges that start at it under the relationship type in lower case
(`provides`, `sources_from`, `subsidiary_of`, `requires`), each naming its end by the edge's
end role (`capability`, `supplier`, `parent`, `requires`; a bare key is short for that).
`defaults` gives the marking per type and field; a row states only what differs, with
`marking:` (the record's existence) and `markings: {field or end role: ...}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pydantic
import yaml

from dibx.graph.model import MODEL, EdgeType, Model, NodeType
from dibx.graph.records import Dataset, EdgeRecord, Markings, NodeRecord
from dibx.ingest.reference import NATION_CODES
from dibx.ingest.report import Context, ImportResult, RowError, kind_name
from dibx.ingest.rows import key_coercer, row_model, validate

__all__ = ["FALLBACK_MARKING", "load_demo"]

# What a type's field takes when neither the row nor the file's defaults mark it: deny by
# default (US only), and the file is reported for the gap.
FALLBACK_MARKING: Final = "CUI//NOFORN"
# Sections of a demo file and the node type each lists (the plural is the file format's).
SECTIONS: Final = {"capabilities": "Capability", "suppliers": "Supplier"}
_TOP_KEYS: Final = frozenset({"notice", "defaults", *SECTIONS})
_MARK_KEYS: Final = ("marking", "markings")
# Edges whose field, summed over the edges leaving one node, may not pass 1 (owners of a
# company hold at most all of it).
_AT_MOST_WHOLE: Final = {"SUBSIDIARY_OF": "share"}
# Endpoints of types no demo section lists: known from the reference data.
_KNOWN: Final = {"Nation": NATION_CODES}

_Defaults = dict[str, tuple[str, dict[str, str]]]


def nested_key(edge: EdgeType) -> str:
    return edge.rel.lower()


@dataclass(frozen=True, slots=True)
class _Shape:
    """What a section's rows hold, derived from the model once per load."""

    node: NodeType
    owned: tuple[EdgeType, ...]
    nested: tuple[EdgeType, ...]
    row: type[pydantic.BaseModel]
    edge_rows: dict[str, type[pydantic.BaseModel]]

    @property
    def types(self) -> tuple[str, ...]:
        """Types a file's defaults must mark when it has this section."""
        return (self.node.name, *(e.rel for e in (*self.owned, *self.nested)))


def _shapes(model: Model) -> dict[str, _Shape]:
    shapes = {}
    for section, name in SECTIONS.items():
        node = model.nodes[name]
        owned = model.owned(name)
        nested = tuple(e for e in model.edges.values() if e.start == name and e not in owned)
        keys = {node.key: key_coercer(node, node.key)}
        keys |= {e.end_role: key_coercer(model.nodes[e.end], e.end_role) for e in owned}
        row = row_model(
            f"{name}Row",
            node.fields,
            keys=keys,
            passthrough=(*_MARK_KEYS, *(nested_key(e) for e in nested)),
            check=node.check,
        )
        edge_rows = {
            e.rel: row_model(
                f"{e.rel}Row",
                e.fields,
                keys={e.end_role: key_coercer(model.nodes[e.end], e.end_role)},
                passthrough=_MARK_KEYS,
                check=e.check,
            )
            for e in nested
        }
        shapes[section] = _Shape(node, owned, nested, row, edge_rows)
    return shapes


def _fields(model: Model, shapes: Mapping[str, _Shape]) -> dict[str, tuple[str, ...]]:
    """Marked fields per type that demo files mark, by graph property name."""
    out: dict[str, tuple[str, ...]] = {}
    for shape in shapes.values():
        out[shape.node.name] = shape.node.names
        out |= {e.rel: e.names for e in (*shape.owned, *shape.nested)}
    return out


@dataclass(slots=True)
class _Pending:
    """An edge parsed from a row, waiting for its endpoints to be checked."""

    file: str
    where: str
    record: EdgeRecord


@dataclass(slots=True)
class _Demo:
    model: Model
    shapes: dict[str, _Shape]
    fields: dict[str, tuple[str, ...]]
    nodes: dict[str, dict[str, NodeRecord]] = field(default_factory=dict)
    first: dict[str, str] = field(default_factory=dict)  # "kind:key" -> where first defined
    rejected: dict[str, str] = field(default_factory=dict)  # "kind:key" -> why
    pending: dict[str, list[_Pending]] = field(default_factory=dict)


def _defaults(
    ctx: Context, demo: _Demo, file: str, raw: object, sections: Sequence[str]
) -> _Defaults:
    """Per type: (record marking, field markings). A gap or a bad marking is reported and
    takes FALLBACK_MARKING, so nothing becomes more releasable by mistake."""
    table: _Defaults = {}
    if not isinstance(raw, dict):
        ctx.reject(file, "defaults", f"missing or not a mapping; {FALLBACK_MARKING} applies")
        raw = {}
    needed = {t for s in sections for t in demo.shapes[s].types}
    for type_name in sorted(str(t) for t in set(raw) - set(demo.fields)):
        ctx.reject(
            file, f"defaults.{type_name}", f"unknown type; expected {', '.join(demo.fields)}"
        )
    for type_name, names in demo.fields.items():
        entry = raw.get(type_name)
        record, fields = FALLBACK_MARKING, dict.fromkeys(names, FALLBACK_MARKING)
        table[type_name] = (record, fields)
        if entry is None:
            if type_name in needed:
                ctx.reject(file, f"defaults.{type_name}", f"missing; {FALLBACK_MARKING} applies")
            continue
        problems: list[str] = []
        if not isinstance(entry, dict):
            problems.append(f"defaults.{type_name} must be a mapping, got {kind_name(entry)}")
            entry = {}
        unknown = sorted(str(k) for k in set(entry) - {"marking", "fields"})
        if unknown:
            problems.append(f"unknown field(s) {', '.join(unknown)}; expected fields, marking")
        try:
            record = ctx.marking(entry.get("marking"), f"{type_name} records")
        except RowError as err:
            problems.append(str(err))
        given = entry.get("fields")
        if not isinstance(given, dict):
            given = {}
            if names:
                problems.append("fields must be a mapping of field to marking")
        problems += [
            f"unknown field {k!r}" for k in sorted(str(k) for k in set(given) - set(names))
        ]
        for name in names:
            if name not in given:
                problems.append(f"no default marking for {name}")
                continue
            try:
                fields[name] = ctx.marking(given[name], f"{type_name}.{name}")
            except RowError as err:
                problems.append(str(err))
        if problems:
            reason = "; ".join(problems)
            ctx.reject(file, f"defaults.{type_name}", f"{reason} ({FALLBACK_MARKING} applies)")
        table[type_name] = (record, fields)
    return table


def _markings(
    ctx: Context,
    row: Mapping[str, Any],
    type_name: str,
    defaults: _Defaults,
    extra: Sequence[str] = (),
) -> tuple[Markings, dict[str, str]]:
    """The row's markings over its type's defaults; `extra` names edge overrides (nation)."""
    record, fields = defaults[type_name]
    if row.get("marking") is not None:
        record = ctx.marking(row["marking"], f"the {type_name} record")
    given = row.get("markings") or {}
    if not isinstance(given, dict):
        raise RowError("markings must be a mapping of field to marking")
    unknown = sorted(str(k) for k in set(given) - set(fields) - set(extra))
    if unknown:
        raise RowError(f"markings for unknown field(s) {', '.join(unknown)}")
    resolved = {n: ctx.marking(given[n], n) if n in given else m for n, m in fields.items()}
    others = {n: ctx.marking(given[n], n) for n in extra if n in given}
    return Markings.build(record, resolved), others


def _node(ctx: Context, shape: _Shape, raw: object, where: str, defaults: _Defaults) -> NodeRecord:
    values = validate(shape.row, raw, where)
    node = shape.node
    for edge in shape.owned:
        end = values[edge.end_role]
        if edge.end in _KNOWN and end not in _KNOWN[edge.end]:
            raise RowError(
                f"unknown {edge.end_role} code {end!r} (not an ISO 3166-1 alpha-3 code)"
                if edge.end == "Nation"
                else f"unknown {edge.end_role} {end!r}"
            )
    roles = [e.end_role for e in shape.owned]
    marks, overrides = _markings(ctx, values, node.name, defaults, extra=roles)
    links = tuple(
        EdgeRecord.of(
            e,
            values[node.key],
            values[e.end_role],
            Markings.build(overrides.get(e.end_role, defaults[e.rel][0]), defaults[e.rel][1]),
        )
        for e in shape.owned
    )
    fields = {n: values[n] for n in node.names}
    return NodeRecord.of(node, values[node.key], marks, fields, links)


def _read_file(ctx: Context, demo: _Demo, path: Path) -> None:
    file = ctx.name(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        ctx.reject(file, "-", f"not valid YAML: {err}")
        return
    if not isinstance(doc, dict):
        ctx.reject(file, "-", f"expected a mapping with {', '.join(sorted(_TOP_KEYS))}")
        return
    for key in sorted(str(k) for k in set(doc) - _TOP_KEYS):
        ctx.reject(file, key, f"unknown top-level key; expected {', '.join(sorted(_TOP_KEYS))}")
    notice = doc.get("notice")
    if not isinstance(notice, str) or not notice.strip():
        ctx.reject(file, "notice", "missing: say that company facts are illustrative")
    sections = [s for s in SECTIONS if doc.get(s) is not None]
    defaults = _defaults(ctx, demo, file, doc.get("defaults"), sections)
    for section in SECTIONS:
        for i, raw in enumerate(_section(ctx, file, doc, section)):
            _read_row(ctx, demo, demo.shapes[section], defaults, file, f"{section}[{i}]", raw)


def _read_row(
    ctx: Context,
    demo: _Demo,
    shape: _Shape,
    defaults: _Defaults,
    file: str,
    at: str,
    raw: object,
) -> None:
    kind = shape.node.name.lower()
    where, ident = _identify(raw, shape.node.key, at)
    keys = [nested_key(e) for e in shape.nested]
    try:
        record = _node(ctx, shape, raw, where, defaults)
        _claim(demo, kind, shape.node.key, record.key, f"{file} {where}")
        assert isinstance(raw, dict)  # checked by _node
        nested = {k: _items(raw, k) for k in keys}
    except RowError as err:
        ctx.reject(file, where, str(err))
        if ident is not None:
            demo.rejected.setdefault(f"{kind}:{ident}", f"{file} {where}: {err}")
        _reject_children(ctx, file, where, raw, str(err), keys)
        return
    demo.nodes.setdefault(shape.node.name, {})[record.key] = record
    for edge in shape.nested:
        key = nested_key(edge)
        for j, item in enumerate(nested[key]):
            at_edge = f"{where} {key}[{j}]"
            if isinstance(item, str):
                item = {edge.end_role: item}  # `requires: [cap-a, cap-b]`
            try:
                pending = _edge(ctx, demo, shape, edge, record.key, item, at_edge, defaults)
            except RowError as err:
                ctx.reject(file, at_edge, str(err))
                continue
            demo.pending.setdefault(edge.rel, []).append(_Pending(file, at_edge, pending))


def _edge(
    ctx: Context,
    demo: _Demo,
    shape: _Shape,
    edge: EdgeType,
    start: str,
    raw: object,
    where: str,
    defaults: _Defaults,
) -> EdgeRecord:
    values = validate(shape.edge_rows[edge.rel], raw, where)
    marks, _ = _markings(ctx, values, edge.rel, defaults)
    fields = {n: values[n] for n in edge.names}
    return EdgeRecord.of(edge, start, values[edge.end_role], marks, fields)


def _section(ctx: Context, file: str, doc: Mapping[str, Any], key: str) -> list[Any]:
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        ctx.reject(file, key, f"must be a list, got {kind_name(value)}")
        return []
    return value


def _items(raw: Mapping[str, Any], key: str) -> list[Any]:
    value = raw.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise RowError(f"{key!r} must be a list, got {kind_name(value)}")
    return value


def _identify(raw: object, key: str, where: str) -> tuple[str, str | None]:
    """The row's location, with its key when it has a usable one."""
    ident = raw.get(key) if isinstance(raw, dict) else None
    if isinstance(ident, str) and ident.strip():
        return f"{where} ({ident.strip()})", ident.strip()
    return where, None


def _claim(demo: _Demo, kind: str, key: str, ident: str, where: str) -> None:
    claim = f"{kind}:{ident}"
    if claim in demo.first:
        raise RowError(f"duplicate {kind} {key} {ident!r} (first at {demo.first[claim]})")
    demo.first[claim] = where


def _reject_children(
    ctx: Context, file: str, where: str, raw: object, why: str, keys: Sequence[str]
) -> None:
    """The nested edges of a rejected row go with it, each reported."""
    if not isinstance(raw, dict):
        return
    for key in keys:
        children = raw.get(key)
        for j in range(len(children) if isinstance(children, list) else 0):
            ctx.reject(file, f"{where} {key}[{j}]", f"its row was rejected: {why}")


def _endpoint(demo: _Demo, type_name: str, ident: str) -> None:
    if ident in demo.nodes.get(type_name, {}) or ident in _KNOWN.get(type_name, ()):
        return
    kind = type_name.lower()
    why = demo.rejected.get(f"{kind}:{ident}")
    if why is not None:
        raise RowError(f"depends on {kind} {ident!r}, which was rejected ({why})")
    raise RowError(f"unknown {kind} {ident!r}")


def _reaches(graph: Mapping[str, list[str]], start: str, goal: str) -> bool:
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        for nxt in graph.get(node, ()):
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return False


def _resolve_edges(ctx: Context, demo: _Demo, edge: EdgeType) -> list[EdgeRecord]:
    """Edges whose endpoints exist, not duplicated, acyclic where the model says so."""
    seen: dict[tuple[Any, ...], str] = {}
    graph: dict[str, list[str]] = {}
    total: dict[str, float] = {}
    whole = _AT_MOST_WHOLE.get(edge.rel)
    out = []
    for p in demo.pending.get(edge.rel, []):
        r = p.record
        key = (r.start, r.end, *(r[k] for k in edge.key_fields))
        try:
            _endpoint(demo, edge.start, r.start)
            _endpoint(demo, edge.end, r.end)
            if edge.start == edge.end and r.start == r.end:
                raise RowError(f"{r.start!r} cannot point at itself")
            if key in seen:
                raise RowError(f"duplicate edge {r.start} -> {r.end} (first at {seen[key]})")
            if edge.acyclic and _reaches(graph, r.end, r.start):
                raise RowError(f"{r.start} -> {r.end} would close a {edge.rel} cycle")
            if whole is not None:
                share = float(r[whole] or 0) + total.get(r.start, 0.0)
                if share > 1 + 1e-9:
                    raise RowError(
                        f"owners of {r.start!r} would hold {share:g} (more than all of it)"
                    )
                total[r.start] = share
        except RowError as err:
            ctx.reject(p.file, p.where, str(err))
            continue
        graph.setdefault(r.start, []).append(r.end)
        seen[key] = f"{p.file} {p.where}"
        out.append(r)
    return out


def _resolve(data_dir: Path) -> Path:
    return data_dir if any(data_dir.glob("*.yaml")) else data_dir / "demo"


def load_demo(data_dir: Path, model: Model = MODEL) -> ImportResult:
    """Every `*.yaml` demo file, checked together (rows may reference other files' rows)."""
    demo_dir = _resolve(data_dir)
    ctx = Context(demo_dir.parent)
    files = sorted(demo_dir.glob("*.yaml"))
    if not files:
        ctx.reject(ctx.name(demo_dir), "-", "no *.yaml demo files")
    shapes = _shapes(model)
    demo = _Demo(model, shapes, _fields(model, shapes))
    for path in files:
        _read_file(ctx, demo, path)
    nested = [e for s in shapes.values() for e in s.nested]
    dataset = Dataset(
        nodes={name: list(records.values()) for name, records in demo.nodes.items()},
        edges={e.rel: _resolve_edges(ctx, demo, e) for e in nested},
    )
    return ctx.result(dataset)
