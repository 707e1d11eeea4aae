"""Bulk writes of a validated Dataset: UNWIND batches of MERGE by key, managed transactions.

Every query text is a constant (labels and property names are written in it); data travels
only as parameters. Each node and edge is written with `SET x = row.props`, so a re-import
replaces stale fields and markings instead of leaving them behind. `release` lists are derived
here from the canonical markings by `dibx.auth.markings`, the one place that knows the rules.

Each batch is its own transaction, sent through `Graph` (counted, tagged with the request id):
a failed import leaves earlier batches written, and since every write is a MERGE by key,
running the import again converges. Bulk loads run without the server-side transaction
timeout by default (`tx_timeout`); a batch is bounded by `batch_size` instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import islice
from typing import Any, LiteralString, Protocol

from dibx.auth import markings
from dibx.graph.driver import NO_TIMEOUT, Graph
from dibx.graph.records import Dataset, Markings

__all__ = ["MissingEndpointError", "WriteError", "clear_database", "write_dataset"]

Progress = Callable[[str, int], None]
Row = dict[str, Any]


class WriteError(RuntimeError):
    """A batch wrote fewer rows than it was given (an endpoint vanished mid-import)."""


class MissingEndpointError(WriteError):
    """Edges reference keys that are neither in the dataset nor in the database."""


class _Record(Protocol):
    @property
    def markings(self) -> Markings: ...


# --- queries ---------------------------------------------------------------------------------

_NATIONS: LiteralString = """
UNWIND $rows AS row
MERGE (n:Nation {code: row.key})
SET n = row.props
RETURN count(*) AS written
"""

_AGREEMENTS: LiteralString = """
UNWIND $rows AS row
MERGE (a:Agreement {code: row.key})
SET a = row.props
RETURN count(*) AS written
"""

_CAPABILITIES: LiteralString = """
UNWIND $rows AS row
MERGE (c:Capability {id: row.key})
SET c = row.props
RETURN count(*) AS written
"""

# The nation is matched first so a supplier is never written without its BASED_IN edge;
# a BASED_IN to another nation (the supplier moved) is removed.
_SUPPLIERS: LiteralString = """
UNWIND $rows AS row
MATCH (n:Nation {code: row.nation})
MERGE (s:Supplier {id: row.key})
SET s = row.props
FOREACH (old IN [(s)-[x:BASED_IN]->(o:Nation) WHERE o.code <> row.nation | x] | DELETE old)
MERGE (s)-[b:BASED_IN]->(n)
SET b = row.edge
RETURN count(*) AS written
"""

# Memberships are keyed by their start: a nation may leave and rejoin an agreement.
_MEMBER_OF: LiteralString = """
UNWIND $rows AS row
MATCH (n:Nation {code: row.a})
MATCH (a:Agreement {code: row.b})
MERGE (n)-[m:MEMBER_OF {since: row.props.since}]->(a)
SET m = row.props
RETURN count(*) AS written
"""

_REQUIRES: LiteralString = """
UNWIND $rows AS row
MATCH (a:Capability {id: row.a})
MATCH (b:Capability {id: row.b})
MERGE (a)-[r:REQUIRES]->(b)
SET r = row.props
RETURN count(*) AS written
"""

_PROVIDES: LiteralString = """
UNWIND $rows AS row
MATCH (s:Supplier {id: row.a})
MATCH (c:Capability {id: row.b})
MERGE (s)-[p:PROVIDES]->(c)
SET p = row.props
RETURN count(*) AS written
"""

_SOURCES_FROM: LiteralString = """
UNWIND $rows AS row
MATCH (buyer:Supplier {id: row.a})
MATCH (seller:Supplier {id: row.b})
MERGE (buyer)-[r:SOURCES_FROM]->(seller)
SET r = row.props
RETURN count(*) AS written
"""

_SUBSIDIARY_OF: LiteralString = """
UNWIND $rows AS row
MATCH (child:Supplier {id: row.a})
MATCH (parent:Supplier {id: row.b})
MERGE (child)-[r:SUBSIDIARY_OF]->(parent)
SET r = row.props
RETURN count(*) AS written
"""

_MISSING: dict[str, LiteralString] = {
    "Nation": "UNWIND $keys AS k WITH k WHERE NOT EXISTS { MATCH (:Nation {code: k}) } "
    "RETURN collect(k) AS missing",
    "Agreement": "UNWIND $keys AS k WITH k WHERE NOT EXISTS { MATCH (:Agreement {code: k}) } "
    "RETURN collect(k) AS missing",
    "Supplier": "UNWIND $keys AS k WITH k WHERE NOT EXISTS { MATCH (:Supplier {id: k}) } "
    "RETURN collect(k) AS missing",
    "Capability": "UNWIND $keys AS k WITH k WHERE NOT EXISTS { MATCH (:Capability {id: k}) } "
    "RETURN collect(k) AS missing",
}

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

    def of(self, record: _Record, properties: Sequence[tuple[str, str]], **extra: Any) -> Row:
        m = record.markings
        props: Row = {**extra, "marking": m.record, "release": self.release(m.record)}
        resolved = self._resolved(m)
        meaningful_null = getattr(record, "MARKED_WHEN_NULL", ())
        for prop, attr in properties:
            value = getattr(record, attr)
            if value is None and prop not in meaningful_null:
                continue  # absent field: no value and no marking to disclose
            text, release = resolved[prop]
            if value is not None:
                props[prop] = value
            props[f"marking_{prop}"] = text
            props[f"release_{prop}"] = release
        return props


def _node_rows(p: _Props, records: Sequence[Any], key: str) -> Iterator[Row]:
    for r in records:
        value = getattr(r, key)
        yield {"key": value, "props": p.of(r, r.PROPERTIES, **{key: value})}


def _supplier_rows(p: _Props, records: Sequence[Any]) -> Iterator[Row]:
    for r in records:
        edge = {"marking": r.based_in_marking, "release": p.release(r.based_in_marking)}
        yield {
            "key": r.id,
            "nation": r.nation,
            "props": p.of(r, r.PROPERTIES, id=r.id),
            "edge": edge,
        }


def _edge_rows(p: _Props, records: Sequence[Any], a: str, b: str) -> Iterator[Row]:
    for r in records:
        yield {"a": getattr(r, a), "b": getattr(r, b), "props": p.of(r, r.PROPERTIES)}


# --- execution -------------------------------------------------------------------------------


async def _count(graph: Graph, query: LiteralString, tx_timeout: float, **params: Any) -> int:
    rows = await graph.write(query, params, tx_timeout=tx_timeout)
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
) -> int:
    written = 0
    while written < total:
        batch = list(islice(rows, batch_size))
        if not batch:
            raise WriteError(f"{kind}: expected {total} rows, got {written}")
        n = await _count(graph, query, tx_timeout, rows=batch)
        if n != len(batch):
            raise WriteError(f"{kind}: a batch of {len(batch)} rows wrote {n}")
        written += n
        if progress is not None:
            progress(kind, written)
    return written


async def _check_endpoints(graph: Graph, dataset: Dataset, tx_timeout: float) -> None:
    """Refuse to start when an edge points at a key neither here nor in the database."""
    wanted: dict[str, set[str]] = {
        "Nation": {s.nation for s in dataset.suppliers} | {m.nation for m in dataset.memberships},
        "Agreement": {m.agreement for m in dataset.memberships},
        "Supplier": {r.buyer for r in dataset.sources_from}
        | {r.supplier for r in dataset.sources_from}
        | {r.child for r in dataset.subsidiaries}
        | {r.parent for r in dataset.subsidiaries}
        | {r.supplier for r in dataset.provides},
        "Capability": {r.capability for r in dataset.provides}
        | {r.capability for r in dataset.requires}
        | {r.requires for r in dataset.requires},
    }
    present = {
        "Nation": {r.code for r in dataset.nations},
        "Agreement": {r.code for r in dataset.agreements},
        "Supplier": {r.id for r in dataset.suppliers},
        "Capability": {r.id for r in dataset.capabilities},
    }
    problems = []
    for label, keys in wanted.items():
        outside = sorted(keys - present[label])
        if not outside:
            continue
        row = await graph.read_one(_MISSING[label], {"keys": outside}, tx_timeout=tx_timeout)
        missing = [] if row is None else list(row["missing"])
        if missing:
            shown = ", ".join(missing[:10]) + (" ..." if len(missing) > 10 else "")
            problems.append(f"{len(missing)} {label} key(s) not found: {shown}")
    if problems:
        raise MissingEndpointError("; ".join(problems))


async def write_dataset(
    graph: Graph,
    dataset: Dataset,
    *,
    batch_size: int = 5000,
    progress: Progress | None = None,
    tx_timeout: float = NO_TIMEOUT,
) -> dict[str, int]:
    """Write (MERGE) every record of `dataset`; returns rows written per label / type.

    Nodes go first, then edges, each in batches of `batch_size` rows. Edge endpoints may
    come from the database (e.g. a demo dataset written after the reference data); if one
    exists in neither, nothing is written and MissingEndpointError names it. `tx_timeout` is
    each batch's server-side transaction timeout in seconds (`NO_TIMEOUT`: none).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    p = _Props()
    d = dataset
    plan: list[tuple[str, LiteralString, Iterator[Row], int]] = [
        ("Nation", _NATIONS, _node_rows(p, d.nations, "code"), len(d.nations)),
        ("Agreement", _AGREEMENTS, _node_rows(p, d.agreements, "code"), len(d.agreements)),
        ("Capability", _CAPABILITIES, _node_rows(p, d.capabilities, "id"), len(d.capabilities)),
        ("Supplier", _SUPPLIERS, _supplier_rows(p, d.suppliers), len(d.suppliers)),
        (
            "MEMBER_OF",
            _MEMBER_OF,
            _edge_rows(p, d.memberships, "nation", "agreement"),
            len(d.memberships),
        ),
        (
            "REQUIRES",
            _REQUIRES,
            _edge_rows(p, d.requires, "capability", "requires"),
            len(d.requires),
        ),
        (
            "PROVIDES",
            _PROVIDES,
            _edge_rows(p, d.provides, "supplier", "capability"),
            len(d.provides),
        ),
        (
            "SUBSIDIARY_OF",
            _SUBSIDIARY_OF,
            _edge_rows(p, d.subsidiaries, "child", "parent"),
            len(d.subsidiaries),
        ),
        (
            "SOURCES_FROM",
            _SOURCES_FROM,
            _edge_rows(p, d.sources_from, "buyer", "supplier"),
            len(d.sources_from),
        ),
    ]
    counts: dict[str, int] = {}
    await _check_endpoints(graph, dataset, tx_timeout)
    for kind, query, rows, total in plan:
        counts[kind] = await _write(
            graph, kind, query, rows, total, batch_size, progress, tx_timeout
        )
    counts["BASED_IN"] = counts["Supplier"]
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
