"""Bulk writes of a validated Dataset: UNWIND batches of MERGE by key, managed transactions.

Every query is derived from the model (`dibx.graph.model`): labels, relationship types and
property names come only from it, data travels only as parameters. Each node and edge is
written with `SET x = row.props`, so a re-import replaces stale fields and markings instead of
leaving them behind. Every field's marking is stored, with a value or without: "no value" is
released or withheld exactly like a value. `release` lists are derived here from the canonical
markings by `dibx.auth.markings`, the one place that knows the rules.

Each batch is its own transaction, sent through `Graph` (counted, tagged with the request id):
a failed import leaves earlier batches written, and since every write is a MERGE by key,
running the import again converges. Bulk loads run without the server-side transaction
timeout by default (`tx_timeout`); a batch is bounded by `batch_size` instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, LiteralString

from dibx.auth import markings
from dibx.graph import generation, outbox, tallies
from dibx.graph.driver import NO_TIMEOUT, Graph, Rows, TxRunner, compiled
from dibx.graph.model import MODEL, EdgeType, Field, Model, NodeType
from dibx.graph.outbox import PENDING
from dibx.graph.records import Dataset, EdgeRecord, Markings, NodeRecord
from dibx.graph.stewardship import EPOCH, PREVIOUS, STATE_FROM, STATE_TO, state_label

__all__ = [
    "MissingEndpointError",
    "WriteError",
    "clear_database",
    "edge_query",
    "node_query",
    "write_dataset",
]

Progress = Callable[[str, int], None]
Row = dict[str, Any]

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class WriteError(RuntimeError):
    """A batch wrote fewer rows than it was given (an endpoint vanished mid-import), or a
    record cannot be written as the model says (a supplier without its BASED_IN)."""


class MissingEndpointError(WriteError):
    """Edges reference keys that are neither in the dataset nor in the database."""


# --- queries, from the model -----------------------------------------------------------------


def _n(name: str) -> str:
    """An identifier from the model, checked again before it goes into query text."""
    if not _NAME.match(name):
        raise ValueError(f"not an identifier: {name!r}")
    return name


def node_query(model: Model, node: NodeType) -> LiteralString:
    """MERGE nodes by key; each owned edge (a supplier's BASED_IN) is written in the same
    statement, its end matched first so the node never exists without it, and an edge of
    that type to another end is removed (the supplier moved). Writes no history state, so
    it clears the release tallies its rows may change itself (`dibx.graph.tallies`)."""
    label, key = _n(node.label), _n(node.key)
    lines = ["UNWIND $rows AS row"]
    owned = model.owned(node.name)
    for i, edge in enumerate(owned):
        end = model.nodes[edge.end]
        lines.append(f"MATCH (o{i}:{_n(end.label)} {{{_n(end.key)}: row.links[{i}].end}})")
    # The release tallies of every owner the record links to, before and after: its
    # marking may change their counts, and so may an owned edge moving (`dibx.graph.tallies`).
    invalidate = tallies.far_invalidation(model, node, "n")
    lines += [f"MERGE (n:{label} {{{key}: row.key}})", invalidate + "SET n = row.props"]
    for i, edge in enumerate(owned):
        end = model.nodes[edge.end]
        rel, end_label, end_key = _n(edge.rel), _n(end.label), _n(end.key)
        lines += [
            f"FOREACH (old IN [(n)-[x:{rel}]->(o:{end_label}) "
            f"WHERE o.{end_key} <> row.links[{i}].end | x] | DELETE old)",
            f"MERGE (n)-[l{i}:{rel}]->(o{i})",
            f"SET l{i} = row.links[{i}].props",
            tallies.edge_invalidation(model, edge.rel, "n", f"o{i}"),
        ]
    lines.append("RETURN count(*) AS written")
    return compiled("\n".join(lines))


def edge_query(model: Model, edge: EdgeType) -> LiteralString:
    """MERGE edges between existing endpoints, keyed by the endpoints and `key_fields` (a
    nation may leave an agreement and rejoin it: MEMBER_OF is keyed by `since`)."""
    start, end = model.nodes[edge.start], model.nodes[edge.end]
    keyed = ", ".join(f"{_n(k)}: row.props.{_n(k)}" for k in edge.key_fields)
    return compiled(
        "\n".join(
            [
                "UNWIND $rows AS row",
                f"MATCH (a:{_n(start.label)} {{{_n(start.key)}: row.a}})",
                f"MATCH (b:{_n(end.label)} {{{_n(end.key)}: row.b}})",
                f"MERGE (a)-[r:{_n(edge.rel)}{f' {{{keyed}}}' if keyed else ''}]->(b)",
                "SET r = row.props",
                # The owner end's release tallies (`dibx.graph.tallies`), in this statement.
                tallies.edge_invalidation(model, edge.rel, "a", "b"),
                "RETURN count(*) AS written",
            ]
        )
    )


# Edge types whose (re)loads are changes in the feed (docs/changes.md): a membership that
# starts or ends changes what a nation sees.
FEED_EDGES = ("MEMBER_OF",)


def feed_edge_query(model: Model, edge: EdgeType) -> LiteralString:
    """`edge_query` that also keeps the edge's history: a row that creates the edge or
    changes its properties closes the edge's current state (keyed by its ends and key
    fields; a baseline from the old properties if it had none) and opens a new one, marked
    pending for the feed (`dibx.graph.outbox`). A row that changes nothing writes no state."""
    start, end = model.nodes[edge.start], model.nodes[edge.end]
    label = _n(state_label(edge.rel))
    keyed = ", ".join(f"{_n(k)}: row.props.{_n(k)}" for k in edge.key_fields)
    same_key = " AND ".join(f"x.{_n(k)} = r.{_n(k)}" for k in edge.key_fields) or "true"
    rel = _n(edge.rel)
    return compiled(
        "\n".join(
            [
                "UNWIND $rows AS row",
                f"MATCH (a:{_n(start.label)} {{{_n(start.key)}: row.a}})",
                f"MATCH (b:{_n(end.label)} {{{_n(end.key)}: row.b}})",
                f"OPTIONAL MATCH (a)-[old:{rel}{f' {{{keyed}}}' if keyed else ''}]->(b)",
                "WITH a, b, row,",
                "  CASE WHEN old IS NULL THEN null ELSE properties(old) END AS before",
                f"MERGE (a)-[r:{rel}{f' {{{keyed}}}' if keyed else ''}]->(b)",
                "SET r = row.props",
                "WITH a, b, r, before",
                "CALL (a, b, r, before) {",
                "  WITH * WHERE before IS NULL OR before <> properties(r)",
                f"  OPTIONAL MATCH (a)<-[:{STATE_FROM}]-(x:{label})-[:{STATE_TO}]->(b)",
                f"  WHERE x.validTo IS NULL AND {same_key}",
                "  WITH a, b, r, before, head(collect(x)) AS cur",
                "  CALL (a, b, before, cur) {",
                "    WITH * WHERE cur IS NULL AND before IS NOT NULL",
                f"    CREATE (a)<-[:{STATE_FROM}]-(base:{label})-[:{STATE_TO}]->(b)",
                "    SET base = before, base.kind = 'baseline', base.validFrom = $epoch,",
                "      base.version = 1, base.changed = [],",
                f"      base.from = a.{_n(start.key)}, base.to = b.{_n(end.key)}",
                "    RETURN base",
                "    UNION",
                "    WITH * WHERE cur IS NOT NULL OR before IS NULL",
                "    RETURN cur AS base",
                "  }",
                "  FOREACH (p IN CASE WHEN base IS NULL THEN [] ELSE [base] END |",
                "    SET p.validTo = datetime())",
                f"  CREATE (a)<-[:{STATE_FROM}]-(st:{label}:{PENDING})-[:{STATE_TO}]->(b)",
                "  SET st = properties(r), st.validFrom = datetime(),",
                "    st.kind = CASE WHEN before IS NULL THEN 'created' ELSE 'updated' END,",
                "    st.version = coalesce(base.version, 0) + 1,",
                "    st.reason = 'reference data load',",
                f"    st.from = a.{_n(start.key)}, st.to = b.{_n(end.key)},",
                "    st.changed = [k IN $fields WHERE before IS NULL",
                "      OR NOT coalesce(before[k] = r[k], before[k] IS NULL AND r[k] IS NULL)]",
                "  FOREACH (p IN CASE WHEN base IS NULL THEN [] ELSE [base] END |",
                f"    CREATE (st)-[:{PREVIOUS}]->(p))",
                "}",
                tallies.edge_invalidation(model, edge.rel, "a", "b"),
                "RETURN count(*) AS written",
            ]
        )
    )


def _missing_query(node: NodeType) -> LiteralString:
    return compiled(
        f"UNWIND $keys AS k WITH k WHERE NOT EXISTS {{ MATCH (:{_n(node.label)} "
        f"{{{_n(node.key)}: k}}) }} RETURN collect(k) AS missing"
    )


# Relationships first, in bounded batches, so no transaction holds a hub's whole neighbourhood.
# Migration bookkeeping nodes are kept: the schema (constraints, indexes) outlives a clear too.
_DELETE_RELATIONSHIPS: LiteralString = (
    "MATCH ()-[r]->() WITH r LIMIT $limit DELETE r RETURN count(*) AS n"
)
_DELETE_NODES: LiteralString = (
    "MATCH (n) WHERE NOT n:Migration WITH n LIMIT $limit DETACH DELETE n RETURN count(*) AS n"
)


# --- rows ------------------------------------------------------------------------------------


class _Props:
    """Builds property maps; caches release lists per marking text and per Markings object."""

    def __init__(self) -> None:
        self._release: dict[str, list[str]] = {}
        self._fields: dict[int, tuple[Markings, dict[str, tuple[str, list[str]]]]] = {}

    def release(self, text: str) -> list[str]:
        cached = self._release.get(text)
        if cached is None:
            # Records hold canonical text already; parsing again is the fail-closed check.
            cached = list(markings.release_clauses(markings.parse(text)))
            self._release[text] = cached
        return cached

    def _resolved(self, m: Markings) -> dict[str, tuple[str, list[str]]]:
        # Keyed by id(): many records share one Markings; the tuple keeps it alive meanwhile.
        hit = self._fields.get(id(m))
        if hit is None or hit[0] is not m:
            hit = (m, {name: (text, self.release(text)) for name, text in m.fields})
            self._fields[id(m)] = hit
        return hit[1]

    def of(
        self, what: str, fields: Sequence[Field], values: Sequence[Any], m: Markings, **extra: Any
    ) -> Row:
        props: Row = {**extra, "marking": m.record, "release": self.release(m.record)}
        resolved = self._resolved(m)
        for f, value in zip(fields, values, strict=True):
            marked = resolved.get(f.name)
            if marked is None:
                raise WriteError(f"{what}: no marking for field {f.name!r}")
            if value is not None:
                props[f.name] = value
            # Marked even without a value: a withheld null must read like a withheld value.
            props[f"marking_{f.name}"], props[f"release_{f.name}"] = marked
        return props


def _values(record: NodeRecord | EdgeRecord, fields: tuple[Field, ...]) -> tuple[Any, ...]:
    """The record's values in the order of the model's fields."""
    if record.type.fields is fields or record.type.fields == fields:
        return record.values
    have = record.as_dict()
    unknown = set(have) - {f.name for f in fields}
    if unknown:
        raise WriteError(f"the model has no field(s) {', '.join(sorted(unknown))}")
    return tuple(have.get(f.name, f.default) for f in fields)


def _node_rows(
    p: _Props, model: Model, node: NodeType, records: Sequence[NodeRecord]
) -> Iterator[Row]:
    owned = model.owned(node.name)
    for r in records:
        props = p.of(
            f"{node.name} {r.key!r}", node.fields, _values(r, node.fields), r.markings,
            **{node.key: r.key},
        )  # fmt: skip
        links = []
        for edge in owned:
            link = r.link(edge.rel)
            links.append(
                {
                    "end": link.end,
                    "props": p.of(
                        f"{edge.rel} of {r.key!r}",
                        edge.fields,
                        _values(link, edge.fields),
                        link.markings,
                    ),
                }
            )
        yield {"key": r.key, "props": props, "links": links}


def _edge_rows(p: _Props, edge: EdgeType, records: Sequence[EdgeRecord]) -> Iterator[Row]:
    for r in records:
        what = f"{edge.rel} {r.start!r} -> {r.end!r}"
        yield {
            "a": r.start,
            "b": r.end,
            "props": p.of(what, edge.fields, _values(r, edge.fields), r.markings),
        }


# --- execution -------------------------------------------------------------------------------


async def _count(graph: Graph, query: LiteralString, tx_timeout: float, **params: Any) -> int:
    rows = await graph.write(query, params, tx_timeout=tx_timeout)
    return int(next(iter(rows[0].values())))


async def _nothing(_: Rows) -> None:
    return None


async def _count_loaded(
    graph: Graph, query: LiteralString, tx_timeout: float, *, events: bool, **params: Any
) -> int:
    """`_count` for a batch of a load: it moves the data generation in the same transaction
    (`dibx.graph.generation`: no cached read is served past it). With `events`, the batch
    writes history states, numbered in the same transaction as its last statement
    (`dibx.graph.outbox`)."""

    async def work(tx: TxRunner) -> Rows:
        rows = await tx.run(query, params)
        await generation.bump(tx)
        if events:
            await outbox.append_pending(tx)
        return rows

    rows = await graph.transaction(work, before_commit=_nothing, tx_timeout=tx_timeout)
    return int(next(iter(rows[0].values())))


async def _write(
    graph: Graph,
    kind: str,
    query: LiteralString,
    rows: Iterator[Row],
    total: int,
    batch_size: int,
    progress: Progress | None,
    tx_timeout: float,
    events: dict[str, Any] | None = None,
) -> int:
    """Write `rows` in batches; with `events` (the feed query's extra parameters), each batch
    numbers the states it writes as events in its own transaction."""
    written = 0
    while written < total:
        batch = list(islice(rows, batch_size))
        if not batch:
            raise WriteError(f"{kind}: expected {total} rows, got {written}")
        n = await _count_loaded(
            graph, query, tx_timeout, events=events is not None, rows=batch, **(events or {})
        )
        if n != len(batch):
            raise WriteError(f"{kind}: a batch of {len(batch)} rows wrote {n}")
        written += n
        if progress is not None:
            progress(kind, written)
    return written


def _check_shape(model: Model, dataset: Dataset) -> None:
    """Every type is the model's, and every node carries exactly its owned edges."""
    unknown = sorted(set(dataset.nodes) - set(model.nodes)) + sorted(
        set(dataset.edges) - set(model.edges)
    )
    if unknown:
        raise WriteError(f"the model has no type(s) {', '.join(unknown)}")
    for name, records in dataset.nodes.items():
        owned = [e.rel for e in model.owned(name)]
        for r in records:
            if [e.type.rel for e in r.links] != owned:
                want = ", ".join(owned) or "none"
                raise WriteError(f"{name} {r.key!r}: its edges written with it must be {want}")
    for rel in dataset.edges:
        if any(rel == e.rel for name in model.nodes for e in model.owned(name)):
            raise WriteError(f"{rel} edges are written with their start node, not alone")


async def _check_endpoints(graph: Graph, model: Model, dataset: Dataset, tx_timeout: float) -> None:
    """Refuse to start when an edge points at a key neither here nor in the database."""
    wanted: dict[str, set[str]] = {name: set() for name in model.nodes}
    for rs in dataset.nodes.values():
        for r in rs:
            for link in r.links:
                wanted[link.type.end].add(link.end)
    for rel, es in dataset.edges.items():
        edge = model.edges[rel]
        wanted[edge.start].update(e.start for e in es)
        wanted[edge.end].update(e.end for e in es)
    problems = []
    for name, keys in wanted.items():
        outside = sorted(keys - {r.key for r in dataset.nodes.get(name, ())})
        if not outside:
            continue
        query = _missing_query(model.nodes[name])
        row = await graph.read_one(query, {"keys": outside}, tx_timeout=tx_timeout)
        missing = [] if row is None else list(row["missing"])
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            problems.append(f"{len(missing)} {name} key(s) not found: {shown}")
    if problems:
        raise MissingEndpointError("; ".join(problems))


def _node_order(model: Model) -> list[NodeType]:
    """Node types with the ends of their owned edges first (nations before suppliers)."""
    order: list[str] = []

    def visit(name: str) -> None:
        if name in order:
            return
        for edge in model.owned(name):
            if edge.end != name:
                visit(edge.end)
        order.append(name)

    for name in model.nodes:
        visit(name)
    return [model.nodes[n] for n in order]


async def write_dataset(
    graph: Graph,
    dataset: Dataset,
    *,
    model: Model = MODEL,
    batch_size: int = 5000,
    progress: Progress | None = None,
    tx_timeout: float = NO_TIMEOUT,
) -> dict[str, int]:
    """Write (MERGE) every record of `dataset` as `model` says; returns rows written per node
    type / relationship type.

    Nodes go first, then edges, each in batches of `batch_size` rows. Edge endpoints may
    come from the database (e.g. a demo dataset written after the reference data); if one
    exists in neither, nothing is written and MissingEndpointError names it. `tx_timeout` is
    each batch's server-side transaction timeout in seconds (`NO_TIMEOUT`: none).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    _check_shape(model, dataset)
    await _check_endpoints(graph, model, dataset, tx_timeout)
    p = _Props()
    counts: dict[str, int] = {}
    for node in _node_order(model):
        records = dataset.nodes.get(node.name, [])
        rows = _node_rows(p, model, node, records)
        counts[node.name] = await _write(
            graph,
            node.name,
            node_query(model, node),
            rows,
            len(records),
            batch_size,
            progress,
            tx_timeout,
        )
        for edge in model.owned(node.name):
            counts[edge.rel] = counts[node.name]
    owned = {e.rel for name in model.nodes for e in model.owned(name)}
    for edge in model.edges.values():
        if edge.rel in owned:
            continue
        es = dataset.edges.get(edge.rel, [])
        feed = edge.rel in FEED_EDGES
        counts[edge.rel] = await _write(
            graph,
            edge.rel,
            feed_edge_query(model, edge) if feed else edge_query(model, edge),
            _edge_rows(p, edge, es),
            len(es),
            batch_size,
            progress,
            tx_timeout,
            {"epoch": EPOCH, "fields": list(edge.names)} if feed else None,
        )
    return counts


async def clear_database(
    graph: Graph, *, batch_size: int = 10_000, tx_timeout: float = NO_TIMEOUT
) -> int:
    """Delete every relationship and node (but not :Migration records) in batches.

    Returns the number of nodes deleted. For tests and reseeding: the schema stays.
    """
    deleted = 0
    while await _count(graph, _DELETE_RELATIONSHIPS, tx_timeout, limit=batch_size):
        pass
    while n := await _count(graph, _DELETE_NODES, tx_timeout, limit=batch_size):
        deleted += n
    return deleted
