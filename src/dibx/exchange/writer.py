"""The bulk writer: checked rows of one entity, one batch per audited transaction.

Storage is the stewarded writes' (docs/history.md): a created record or edge carries
`originNation`, `originOrg`, `version` 1, its markings with their metadata and a `created`
state node, exactly as `createSupplier` / `setProvides` write them, but for a whole batch in
one `UNWIND` statement. A row equal to what is stored writes nothing. A changed row goes
through the mutation's own update plan (`StewardshipService.plan`, with the version just
read), so updates keep every rule and the history of a mutation; they are rare in a bulk
load. Labels, types and property names come from the model; values are parameters.

Each batch is one transaction: it reads what is stored for its keys, writes, and makes its
audit record durable (`WriteAudit`) before COMMIT; a failed audit record rolls it back. A
process killed half-way leaves whole batches only, and a re-run finds those unchanged. When
the database refuses one row of a batch (an update the plan rejects, a REQUIRES that would
close a cycle), the batch is rolled back and run again without it.
Acyclic edges (REQUIRES) are written as a whole batch and checked for a cycle once; only a
batch where one closes a cycle is run again one edge at a time, which refuses exactly the rows
that checking each edge against the ones before it refuses.

Change events (docs/changes.md): every state a batch writes (`new_state` for created rows,
the update plan's for changed ones) is `:PendingChange`, and the batch's last statement,
`outbox.append_pending`, numbers them from the feed's counter before the audit hook and
COMMIT. A batch that writes nothing takes no number; one that rolls back gives its numbers back.

Batches of one entity may be written at once (the importer's `parallel`): their keys are
distinct, so they never write the same record or edge, but they share end nodes. A batch's
create statement first locks every end it links (a PROVIDES batch's suppliers and
capabilities, a supplier batch's nations) in element id order (`dibx.graph.locks`), so two
batches sharing ends queue there, and no lock either takes later (the release-tally flag
clears of `outbox.append_pending`, the relationship locks Neo4j takes at commit) can cross
the other's (tests/integration/test_import_parallel.py). Batches still overlap in their
reads, checks and audit. A deadlock elsewhere (an update's own locks, a concurrent mutation)
is retried by `Graph.transaction` and counted by its code (`QueryStats.retried`).

`new_state` is the one Cypher fragment that writes a bulk-created state node: the place to
stamp anything every state carries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, LiteralString

import structlog

from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.errors import MemoryLimit
from dibx.exchange.format import Entity
from dibx.exchange.validate import RETIRED, Item, Reject, column_of
from dibx.graph import locks, outbox
from dibx.graph import stewardship as store
from dibx.graph.driver import Graph, Rows, TxRunner, compiled, listed
from dibx.graph.model import EdgeType, Model, NodeType
from dibx.graph.release import visible
from dibx.graph.review import META as MARKING_META
from dibx.services.audit import WriteAudit
from dibx.services.stewardship import (
    FORBIDDEN,
    NOT_FOUND,
    NOT_FOUND_MESSAGE,
    REASON_REQUIRED,
    Rejected,
    StewardshipService,
    UserError,
    not_steward,
    not_steward_message,
    release_of,
)

log = structlog.get_logger("dibx.import")

CREATED: Final = "created"
UPDATED: Final = "updated"
UNCHANGED: Final = "unchanged"
ACTION: Final = "import"


def new_state(
    owner: str,
    var: str,
    state: str,
    *,
    model: Model,
    edge: EdgeType | None = None,
    carried: str = "row.props, $common",
) -> str:
    """Cypher creating the `created` state of record (or edge) `var`: what it carries (the
    maps `carried`, the ones its own SET wrote) plus `$revision` (who, `changed`) and the
    row's reason, as `Store.create_node` / `create_edge` do, pending in the change feed until
    the batch's `append_pending`. Written from the row's maps rather than copied back with
    `properties(var)`: no read of what the statement just wrote (half the statement's work,
    and no eager step). Records copy each owned edge (`row.links[i]`) as `<REL>` with
    `marking_<REL>` / `release_<REL>`; edges need `a` and `b` (the ends) bound."""
    label = f"{store.state_label(owner)}:{outbox.PENDING}"
    first, *more = (m.strip() for m in carried.split(","))
    copied = f"{state} = {first}" + "".join(f", {state} += {m}" for m in more)
    stamp = f"{state} += $revision, {state}.reason = row.reason, {state}.validFrom = $now"
    if edge is None:
        owned = "".join(
            f", {state}.{e.rel} = row.links[{i}].end, "
            f"{state}.marking_{e.rel} = row.links[{i}].props.marking, "
            f"{state}.release_{e.rel} = row.links[{i}].props.release"
            for i, e in enumerate(model.owned(owner))
        )
        return (
            f"CREATE ({state}:{label})-[:{store.STATE_OF}]->({var}) SET {copied}, {stamp}{owned} "
        )
    return (
        f"CREATE (a)<-[:{store.STATE_FROM}]-({state}:{label})-[:{store.STATE_TO}]->(b) "
        f"SET {copied}, {stamp}, {state}.from = row.a, {state}.to = row.b "
    )


@dataclass
class BatchResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejects: list[Reject] = field(default_factory=list)
    rejected_keys: dict[str, str] = field(default_factory=dict)  # stored key -> file:line

    def merge(self, other: BatchResult) -> None:
        """Adds the result of a part of this batch (written in its own transaction)."""
        self.created += other.created
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.rejects += other.rejects
        self.rejected_keys.update(other.rejected_keys)


@dataclass
class _Plan:
    """What a batch transaction does, decided after its read."""

    creates: list[tuple[Item, dict[str, Any]]] = field(default_factory=list)
    updates: list[tuple[Item, dict[str, Any]]] = field(default_factory=list)
    unchanged: int = 0
    rejects: list[tuple[Item, Reject]] = field(default_factory=list)


class _CycleInBatch(Exception):
    """A batch of acyclic edges closes a cycle somewhere: write it one edge at a time."""


class _RowRefused(Exception):
    def __init__(self, item: Item, reject: Reject) -> None:
        super().__init__(str(reject))
        self.item, self.reject = item, reject


def _reject(item: Item, column: str, code: str, reason: str) -> Reject:
    return Reject(item.source, item.line, column, code, reason)


def _unreasoned_marking_change(
    item: Item, diff: Iterable[str], reason: str | None
) -> Reject | None:
    """A row that changes a stored marking needs its reason, as a mutation does."""
    moved = any(d == "marking" or d.startswith("marking_") for d in diff)
    if not moved or reason is not None:
        return None
    return _reject(
        item,
        "reason",
        REASON_REQUIRED,
        "this row changes a stored marking: give the change's reason",
    )


def _props_map(var: str, names: Iterable[str]) -> str:
    return var + "{" + ", ".join(f".`{n}`" for n in names) + "}"


def stored_edges_query(model: Model, edge: EdgeType) -> LiteralString:
    """The importing nation's own stored edges of `edge`'s type between each pair of
    `$pairs` (`{i, a, b}`), with what a row is compared with, newest version first, as one
    list `rows` (`driver.listed`).

    Both ends are bound before the edge is matched (`CALL (a, b)`), so Neo4j checks for it
    from whichever end has fewer links (Expand(Into)). Left to choose, it planned from
    statistics: on a database without PROVIDES yet (an import's first batch) it sometimes
    started at the capability and read every one of its providers for each row, seconds a
    batch for the rest of the plan's life."""
    a_type, b_type = model.nodes[edge.start], model.nodes[edge.end]
    compared = ["marking", *(p for n in edge.names for p in (n, f"marking_{n}"))]
    return compiled(
        f"UNWIND $pairs AS p MATCH (a:{a_type.label} {{{a_type.key}: p.a}}) "
        f"MATCH (b:{b_type.label} {{{b_type.key}: p.b}}) "
        f"CALL (a, b) {{ MATCH (a)-[r:{edge.rel}]->(b) RETURN r }} "
        f"WITH p, a, r WHERE {visible('r', edge.rel)} "
        f"AND coalesce(r.originNation, {store.origin_of(model, a_type, 'a')}) = $nation "
        "WITH p.i AS i, coalesce(r.version, 1) AS version, "
        f"{_props_map('r', compared)} AS props "
        "ORDER BY i, version DESC "
        "RETURN collect({i: i, version: version, props: props}) AS rows"
    )


class BatchWriter:
    """Writes batches for one importer; `clock` gives each transaction its time."""

    def __init__(
        self,
        graph: Graph,
        service: StewardshipService,
        principal: Principal,
        scope: ReleaseScope,
        audit: WriteAudit,
        *,
        nations: frozenset[str],
        clock: Any = None,
    ) -> None:
        self.graph = graph
        self.service = service
        self.model = service.model
        self.principal = principal
        self.scope = scope
        self.audit = audit
        self.nation = principal.nation
        self.nations = nations
        self.steward = service.policy.stewardship.steward
        self.clock = clock or (lambda: datetime.now(UTC))
        self.params = {
            **scope.cypher_params(),
            "catalogueSteward": service.policy.stewardship.catalogue_steward,
            "nation": self.nation,
        }

    # -- the batch transaction ----------------------------------------------------------

    async def write(self, entity: Entity, items: list[Item]) -> BatchResult:
        """Write one batch (all of one entity); rows the database refuses are reported.

        A batch the database refuses the memory for (`MemoryLimit`: its transactions at once
        passed the transaction memory limit) is written as two halves, each its own
        transaction, down to one row; a single row refused is raised (the import stops).
        How many rows fit depends on the rows, the limit and what else runs, so the limit
        is found by trying rather than guessed from `batch_size`."""
        result = BatchResult()
        pending = list(items)
        one_by_one = False
        while True:
            try:
                plan = await self._attempt(entity, pending, one_by_one=one_by_one)
            except _CycleInBatch:
                one_by_one = True
                continue
            except _RowRefused as refused:
                result.rejects.append(refused.reject)
                self._note_rejected(result, refused.item)
                pending = [i for i in pending if i is not refused.item]
                continue
            except MemoryLimit as exc:
                if len(pending) < 2:
                    raise
                log.warning(
                    "import batch split",
                    entity=entity.name,
                    rows=len(pending),
                    error=str(exc.__cause__ or exc),
                )
                half = len(pending) // 2
                for part in (pending[:half], pending[half:]):
                    result.merge(await self.write(entity, part))
                return result
            break
        for item, reject in plan.rejects:
            result.rejects.append(reject)
            self._note_rejected(result, item)
        result.created = len(plan.creates)
        result.updated = len(plan.updates)
        result.unchanged = plan.unchanged
        return result

    def _note_rejected(self, result: BatchResult, item: Item) -> None:
        if item.checked.key is not None:
            result.rejected_keys[item.checked.key] = item.where

    async def _attempt(
        self, entity: Entity, items: list[Item], *, one_by_one: bool = False
    ) -> _Plan:
        holder: list[_Plan] = []

        async def work(tx: TxRunner) -> Rows:
            holder.clear()
            now = self.clock()
            if entity.node is not None:
                plan = await self._plan_nodes(tx, entity.node, items, now)
            else:
                assert entity.edge is not None
                plan = await self._plan_edges(tx, entity.edge, items, now)
            holder.append(plan)
            changes: list[dict[str, Any]] = []
            if plan.creates:
                changes += await self._create(tx, entity, plan.creates, now, one_by_one=one_by_one)
            for item, change in plan.updates:
                changes.append(await self._update(tx, item, change, now))
            if changes:
                await outbox.append_pending(tx)  # last: numbers this batch's events
            return [{"changes": changes, "source": items[0].source if items else None}]

        def describe(rows: Rows) -> dict[str, Any] | None:
            if not rows or not rows[0]["changes"]:
                return None  # nothing written: nothing to record
            return {"source": rows[0]["source"], "changes": rows[0]["changes"]}

        await self.audit.run(
            self.principal,
            ACTION,
            describe,
            lambda hook: self.graph.transaction(work, before_commit=hook),
        )
        return holder[0]

    # -- records ------------------------------------------------------------------------

    def _content(self, names: tuple[str, ...], item: Item) -> dict[str, Any]:
        """What a row says, under the stored property names (compared with the record)."""
        c = item.checked
        out: dict[str, Any] = {"marking": self.service.text_of(c.record)}
        for name in names:
            if name not in c.fields.markings:
                continue  # withheld: the row says nothing of it, it stays as stored
            out[name] = c.fields.values.get(name)
            out[f"marking_{name}"] = c.fields.markings.get(name)
        return out

    async def _plan_nodes(
        self, tx: TxRunner, node: NodeType, items: list[Item], now: datetime
    ) -> _Plan:
        plan = _Plan()
        owned = self.model.owned(node.name)
        names = node.names
        compared = ["marking", *(p for n in names for p in (n, f"marking_{n}"))]
        ends = [(e, self.model.nodes[e.end]) for e in owned]
        owned_parts = ", ".join(
            f"`{e.rel}`: head(COLLECT {{ MATCH (n)-[o:{e.rel}]->(x:{end.label}) "
            f"RETURN [x.{end.key}, o.marking] }})"
            for e, end in ends
        )
        q = compiled(
            f"UNWIND $keys AS k OPTIONAL MATCH (n:{node.label} {{{node.key}: k}}) "
            "RETURN collect({key: k, "
            f"retired: EXISTS {{ MATCH (r:{store.retired_label(node)} {{{node.key}: k}}) }}, "
            "cur: CASE WHEN n IS NULL THEN null ELSE { "
            f"visible: {visible('n', node.name)}, "
            f"origin: {store.origin_of(self.model, node, 'n')}, "
            "org: n.originOrg, version: coalesce(n.version, 1), "
            f"props: {_props_map('n', compared)}, owned: {{{owned_parts}}} }} END}}) AS rows"
        )
        rows = listed(await tx.run(q, {**self.params, "keys": [i.checked.key for i in items]}))
        for item, row in zip(items, rows, strict=True):
            c = item.checked
            cur = row["cur"]
            missing = [
                (e, end) for e, end, _ in c.owned if e.end == "Nation" and end not in self.nations
            ]
            if missing:
                e, end = missing[0]
                plan.rejects.append(
                    (item, _reject(item, e.end_role, NOT_FOUND, f"no such {e.end} {end!r}"))
                )
                continue
            if cur is None:
                if row["retired"]:
                    plan.rejects.append(
                        (
                            item,
                            _reject(
                                item,
                                "key",
                                RETIRED,
                                f"{c.key} was retired; a retired {node.name}'s key is not reused",
                            ),
                        )
                    )
                    continue
                plan.creates.append((item, self._node_row(node, item, now)))
                continue
            if not cur["visible"]:
                plan.rejects.append((item, _reject(item, "key", NOT_FOUND, NOT_FOUND_MESSAGE)))
                continue
            rule = self._not_steward(cur["origin"], cur["org"])
            if rule is not None:
                forbidden = _reject(item, "key", FORBIDDEN, not_steward_message(rule))
                plan.rejects.append((item, forbidden))
                continue
            stored = cur["props"]
            wanted = self._content(names, item)
            diff = [k for k, v in wanted.items() if stored.get(k) != v]
            owned_now = cur["owned"] or {}
            moved = [
                (e, end, mark)
                for e, end, mark in c.owned
                if list(owned_now.get(e.rel) or []) != [end, mark]
            ]
            if not diff and not moved:
                plan.unchanged += 1
                continue
            changed = {d.removeprefix("marking_") for d in diff if d != "marking"}
            change: dict[str, Any] = {
                "key": c.key,
                "expectedVersion": cur["version"],
                "fields": {
                    n: {"value": c.fields.values.get(n), "marking": c.fields.markings[n]}
                    for n in sorted(changed)
                },
            }
            if "marking" in diff:
                change["marking"] = str(c.record)
            for e, end, mark in moved:
                change[e.end_role] = {"key": end, "marking": mark}
            if c.reason is not None:
                change["reason"] = c.reason
            unreasoned = _unreasoned_marking_change(item, diff, c.reason)
            if unreasoned is not None:
                plan.rejects.append((item, unreasoned))
                continue
            plan.updates.append((item, {"op": f"update{node.name}", "input": change}))
        return plan

    def _props(self, names: tuple[str, ...], item: Item) -> dict[str, Any]:
        """A created row's own properties: values, markings and their release clauses, and
        the reason where it gives one. What every row of a batch shares is in `_common`;
        together they are what `StewardshipService` writes for a created record or edge
        (`test_import_stores_what_a_mutation_stores`)."""
        c = item.checked
        record = self.service.text_of(c.record)
        props: dict[str, Any] = {"marking": record, "release": release_of(record)}
        values, marks = c.fields.values, c.fields.markings
        for name in names:
            value = values.get(name)
            if value is not None:
                props[name] = value
            mark = marks.get(name)
            if mark is None:
                continue  # withheld: no value, no marking of its own (the policy's default)
            props[f"marking_{name}"] = mark
            props[f"release_{name}"] = release_of(mark)
        if c.reason is not None:
            for portion in (None, *(n for n in names if n in marks)):
                props[store.marked(portion, "markingReason")] = c.reason
        return props

    def _unmarked(self, names: tuple[str, ...], item: Item) -> dict[str, None]:
        """The marking metadata `$common` gives every field, set back to null for the row's
        fields without a marking (withheld): nobody designated a marking that is not there."""
        marks = item.checked.fields.markings
        return {
            store.marked(name, meta): None
            for name in names
            if name not in marks
            for meta in MARKING_META
        }

    def _common(self, names: tuple[str, ...], now: datetime) -> dict[str, Any]:
        """What every created row of a batch carries: originator, version, and the marking
        metadata (designator, when, review date) of the record's and every field's marking."""
        who = self.principal
        out: dict[str, Any] = {}
        for name in (None, *names):
            out.update(self.service.marking_meta(who, None, now, name))
        out.update(originNation=who.nation, originOrg=who.org, version=1)
        return {k: v for k, v in out.items() if v is not None}

    def _node_row(self, node: NodeType, item: Item, now: datetime) -> dict[str, Any]:
        c = item.checked
        props = self._props(node.names, item)
        props[node.key] = c.key
        links = [
            {
                "end": end,
                "props": {"marking": mark, "release": release_of(mark)}
                | ({"markingReason": c.reason} if c.reason is not None else {}),
            }
            for _, end, mark in c.owned
        ]
        return {
            "key": c.key,
            "props": props,
            "unmarked": self._unmarked(node.names, item),
            "links": links,
            "reason": c.reason,
        }

    def _not_steward(self, origin: str | None, org: str | None) -> str | None:
        return not_steward(self.steward, self.principal, origin, org)

    # -- edges --------------------------------------------------------------------------

    def candidates(self, raw: str) -> list[str]:
        """Where a given endpoint key may point: the importer's own record first, then the
        key as stored (`USA:cap.x`, a seeded `cap.y`)."""
        own = f"{self.nation}:"
        return [raw] if raw.startswith(own) else [own + raw, raw]

    async def _resolve(
        self, tx: TxRunner, node: NodeType, keys: set[str]
    ) -> dict[str, dict[str, Any]]:
        """Stored key -> {origin, org} of each candidate the importer may see."""
        q = compiled(
            f"UNWIND $keys AS k MATCH (n:{node.label} {{{node.key}: k}}) "
            f"WHERE {visible('n', node.name)} "
            f"RETURN collect({{key: k, origin: {store.origin_of(self.model, node, 'n')}, "
            "org: n.originOrg}) AS rows"
        )
        rows = listed(await tx.run(q, {**self.params, "keys": sorted(keys)}))
        return {r["key"]: r for r in rows}

    async def _plan_edges(
        self, tx: TxRunner, edge: EdgeType, items: list[Item], now: datetime
    ) -> _Plan:
        plan = _Plan()
        a_type, b_type = self.model.nodes[edge.start], self.model.nodes[edge.end]
        a_keys = {k for i in items for k in self.candidates(str(i.checked.start))}
        b_keys = {k for i in items for k in self.candidates(str(i.checked.end))}
        if a_type is b_type:
            found_a = found_b = await self._resolve(tx, a_type, a_keys | b_keys)
        else:
            found_a = await self._resolve(tx, a_type, a_keys)
            found_b = await self._resolve(tx, b_type, b_keys)
        resolved: list[tuple[Item, str, str]] = []
        for item in items:
            c = item.checked
            a = next((k for k in self.candidates(str(c.start)) if k in found_a), None)
            b = next((k for k in self.candidates(str(c.end)) if k in found_b), None)
            if a is None:
                plan.rejects.append(
                    (
                        item,
                        _reject(
                            item, edge.start_role, NOT_FOUND, f"no such {edge.start} {c.start!r}"
                        ),
                    )
                )
                continue
            if b is None:
                plan.rejects.append(
                    (item, _reject(item, edge.end_role, NOT_FOUND, f"no such {edge.end} {c.end!r}"))
                )
                continue
            owner = found_a[a]
            rule = self._not_steward(owner["origin"], owner["org"])
            if rule is not None:
                message = not_steward_message(rule, edge.start_role)
                plan.rejects.append((item, _reject(item, edge.start_role, FORBIDDEN, message)))
                continue
            if a == b and edge.start == edge.end:
                plan.rejects.append(
                    (
                        item,
                        _reject(
                            item,
                            edge.end_role,
                            "INVALID",
                            f"a {edge.rel} cannot point at its own start",
                        ),
                    )
                )
                continue
            resolved.append((item, a, b))
        names = edge.names
        q = stored_edges_query(self.model, edge)
        pairs = [{"i": n, "a": a, "b": b} for n, (_, a, b) in enumerate(resolved)]
        stored: dict[int, dict[str, Any]] = {}
        for row in listed(await tx.run(q, {**self.params, "pairs": pairs})):
            stored.setdefault(row["i"], row)  # the newest of the nation's own edges
        for n, (item, a, b) in enumerate(resolved):
            c = item.checked
            cur = stored.get(n)
            if cur is None:
                plan.creates.append((item, self._edge_row(edge, item, a, b, now)))
                continue
            wanted = self._content(names, item)
            diff = [k for k, v in wanted.items() if cur["props"].get(k) != v]
            if not diff:
                plan.unchanged += 1
                continue
            changed = {d.removeprefix("marking_") for d in diff if d != "marking"}
            change: dict[str, Any] = {
                edge.start_role: a,
                edge.end_role: b,
                "expectedVersion": cur["version"],
                "fields": {
                    f: {"value": c.fields.values.get(f), "marking": c.fields.markings[f]}
                    for f in sorted(changed)
                },
            }
            if "marking" in diff:
                change["marking"] = str(c.record)
            if c.reason is not None:
                change["reason"] = c.reason
            unreasoned = _unreasoned_marking_change(item, diff, c.reason)
            if unreasoned is not None:
                plan.rejects.append((item, unreasoned))
                continue
            op = "set" + "".join(p.title() for p in edge.rel.split("_"))
            plan.updates.append((item, {"op": op, "input": change}))
        return plan

    def _edge_row(
        self, edge: EdgeType, item: Item, a: str, b: str, now: datetime
    ) -> dict[str, Any]:
        return {
            "a": a,
            "b": b,
            "props": self._props(edge.names, item),
            "unmarked": self._unmarked(edge.names, item),
            "reason": item.checked.reason,
        }

    # -- writing ------------------------------------------------------------------------

    def _create_query(self, entity: Entity) -> LiteralString:
        """One statement per batch: each row's record (or edge), its owned edges and its
        `created` state, every property written by one SET per element from the row's maps
        and the batch's `$common`."""
        if entity.node is not None:
            node = entity.node
            owned = self.model.owned(node.name)
            matches = ["UNWIND $rows AS row"]
            for i, edge in enumerate(owned):
                end = self.model.nodes[edge.end]
                matches.append(f"MATCH (o{i}:{end.label} {{{end.key}: row.links[{i}].end}})")
            lines = list(matches)
            if owned:
                # Batches written at once link to the same ends (nations, parents) in their
                # own row orders: lock them in one order first (`dibx.graph.locks`).
                ends = [f"o{i}" for i in range(len(owned))]
                lines.insert(0, locks.in_order(" ".join(matches), ends))
            lines.append(
                f"CREATE (n:{node.label}) SET n = row.props, n += $common, n += row.unmarked"
            )
            for i, edge in enumerate(owned):
                lines.append(
                    f"CREATE (n)-[l{i}:{edge.rel}]->(o{i}) SET l{i} = row.links[{i}].props, "
                    f"l{i} += $linkCommon"
                )
            lines.append(
                new_state(
                    node.name,
                    "n",
                    "st",
                    model=self.model,
                    carried="row.props, $common, row.unmarked",
                )
            )
            lines.append("RETURN count(*) AS n")
            return compiled(" ".join(lines))
        rel = entity.edge
        assert rel is not None
        edge = rel
        a_type, b_type = self.model.nodes[edge.start], self.model.nodes[edge.end]
        match = (
            f"UNWIND $rows AS row MATCH (a:{a_type.label} {{{a_type.key}: row.a}}) "
            f"MATCH (b:{b_type.label} {{{b_type.key}: row.b}}) "
        )
        # Batches written at once share ends (every PROVIDES batch reaches the same few
        # capabilities) in their own row orders: lock them in one order first.
        return compiled(
            locks.in_order(match, ["a", "b"])
            + match
            + "WITH a, b, row, {uid: randomUUID()} AS own "
            f"CREATE (a)-[r:{edge.rel}]->(b) SET r = row.props, r += $common, r += own, "
            "r += row.unmarked "
            + new_state(
                edge.rel,
                "r",
                "st",
                model=self.model,
                edge=edge,
                carried="row.props, $common, own, row.unmarked",
            )
            + "RETURN count(*) AS n"
        )

    async def _create(
        self,
        tx: TxRunner,
        entity: Entity,
        creates: list[tuple[Item, dict[str, Any]]],
        now: datetime,
        *,
        one_by_one: bool = False,
    ) -> list[dict[str, Any]]:
        edge = entity.edge
        rows = [r for _, r in creates]
        q = self._create_query(entity)
        names = entity.field_names
        who = self.principal
        shared = {
            "now": now,
            "common": self._common(names, now),
            "linkCommon": {
                k: v for k, v in self.service.marking_meta(who, None, now).items() if v is not None
            },
            "revision": self.service.revision(who, store.CREATED, None, list(names)),
        }
        if edge is not None and edge.acyclic and not one_by_one:
            # All at once, then one question: does any new edge close a cycle? Almost never;
            # when one does, the batch is rolled back and written one edge at a time below.
            out = await tx.run(q, {**shared, "rows": rows})
            if not out or out[0]["n"] != len(rows):
                raise RuntimeError("an end of a created row vanished during the batch")
            if await self._closes_cycle(tx, edge, rows):
                raise _CycleInBatch
        elif edge is not None and edge.acyclic:
            # One at a time: each new edge is checked against the ones before it.
            for item, row in creates:
                if await self.service.store.reaches(tx, self.scope, edge, row["b"], row["a"]):
                    raise _RowRefused(
                        item,
                        _reject(
                            item, edge.end_role, "INVALID", f"this {edge.rel} would close a cycle"
                        ),
                    )
                await tx.run(q, {**shared, "rows": [row]})
        else:
            out = await tx.run(q, {**shared, "rows": rows})
            if not out or out[0]["n"] != len(rows):
                raise RuntimeError("an end of a created row vanished during the batch")
        if entity.node is not None:
            return [
                {"type": entity.owner, "key": r["key"], "kind": CREATED, "version": 1} for r in rows
            ]
        return [
            {"type": entity.owner, "start": r["a"], "end": r["b"], "kind": CREATED, "version": 1}
            for r in rows
        ]

    async def _closes_cycle(self, tx: TxRunner, edge: EdgeType, rows: list[dict[str, Any]]) -> bool:
        """Whether, with the batch written, some new edge's end reaches its start over edges
        the importer may see (as `Store.reaches` asks of one edge). No such edge means no edge
        closed a cycle over the ones before it either, which is what one-by-one checks."""
        node = self.model.nodes[edge.start]
        q = compiled(
            f"UNWIND $rows AS row MATCH (x:{node.label} {{{node.key}: row.b}}), "
            f"(y:{node.label} {{{node.key}: row.a}}) "
            f"WITH x, y WHERE EXISTS {{ MATCH p = (x)-[:{edge.rel}*0..]->(y) "
            f"WHERE all(r IN relationships(p) WHERE {visible('r', edge.rel)}) "
            f"AND all(m IN nodes(p) WHERE m:{node.label} AND {visible('m', node.name)}) }} "
            "RETURN count(*) AS n"
        )
        pairs = [{"a": r["a"], "b": r["b"]} for r in rows]
        out = await tx.run(q, {**self.params, "rows": pairs})
        return bool(out and out[0]["n"])

    async def _update(
        self, tx: TxRunner, item: Item, change: Mapping[str, Any], now: datetime
    ) -> dict[str, Any]:
        errors: list[UserError] = []
        plan = self.service.plan(self.principal, self.scope, change, errors)
        if plan is None:
            raise _RowRefused(item, _first(item, errors))
        try:
            done = await plan(tx, now)
        except Rejected as exc:
            raise _RowRefused(item, _first(item, exc.errors)) from None
        audit: dict[str, Any] = done["audit"]
        return audit


def _first(item: Item, errors: list[UserError]) -> Reject:
    if not errors:
        return _reject(item, "", "INVALID", "the change was refused")
    e = errors[0]
    return _reject(item, column_of(item.entity, e.field), e.code, e.message)
