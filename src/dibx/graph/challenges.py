"""Marking challenges (32 CFR 2002.50) in the graph: the only Cypher that touches them.

A challenge is a `(:MarkingChallenge)` node linked `-[:CHALLENGES]->` to the Supplier or
Capability whose marking (of the record, or of one field) it disputes. Every read and write
here carries the caller's release predicates, so a challenge on a record the caller may not
see is never matched: it is absent from lookups, lists and counts, exactly like a missing one.

Identifiers: labels, keys and property names come from `dibx.graph.model` (the target) or
from the constants below (the challenge); a field name is looked up in the model's allow-list
by `model_field` before any text is built with it, and what goes into the text is the model's
own string. Every value travels as a $parameter. Values of the target's fields are never read:
only markings and whether they are released to the caller.

Writes take a `before_commit` hook (the write's audit record): it runs inside the write's
transaction, and nothing commits if it fails. Deciding matches only if the target's
designating nation (`originNation` on the target record, else the policy's default designator)
is the adjudicator's, the caller did not file the challenge (`challengerTag`, a keyed HMAC of
the challenger's subject that never leaves Neo4j), and the marking is still the one checked.

The challenge stores its history as a list of JSON strings, one per step, so a step is
appended atomically (`history + [$step]`) in the same statement that changes the state.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dibx.auth.release import ReleaseScope
from dibx.graph import outbox, tallies
from dibx.graph.cursors import Key, Part, Window, beyond, order_by
from dibx.graph.driver import BeforeCommit, Graph, Rows, TxRunner, compiled
from dibx.graph.model import MODEL, TYPES
from dibx.graph.release import clauses_in_force, marking_in_force, met, released, visible
from dibx.graph.review import decision_clauses
from dibx.graph.stewardship import EPOCH, STEWARDED_NODES

LABEL = "MarkingChallenge"  # constraint and index in migrations/0002_challenges.cypher
REL = "CHALLENGES"
CHALLENGEABLE: tuple[str, ...] = ("Supplier", "Capability")

PENDING = "PENDING"
UPHELD = "UPHELD"
CHANGED = "CHANGED"
ESCALATED = "ESCALATED"
STATES: tuple[str, ...] = (PENDING, UPHELD, CHANGED, ESCALATED)
DECIDED: tuple[str, ...] = (UPHELD, CHANGED)

# The challenge's own properties, written from a parameter map (never from caller keys).
_CREATE_PROPS = (
    "id",
    "state",
    "targetType",
    "targetKey",
    "field",
    "currentMarking",
    "proposedMarking",
    "justification",
    "anonymous",
    "challengerNation",
    "challengerSubject",
    "challengerTag",
    "createdAt",
    "dueAt",
    "history",
)
_TIMES = ("createdAt", "dueAt", "decidedAt", "escalatedAt")

# The target record's designating nation, once stewarded writes store an originator.
ORIGIN_NATION = "originNation"

# Challenge and target variables. Not `c`: the release predicate's own list variable is `c`.
CH, TG = "ch", "tg"


def model_field(type_name: str, field: str | None) -> str | None:
    """The model's name of `field` of a challengeable type (None: the record's own marking).

    Raises ValueError for a type that cannot be challenged or a field it does not have: the
    service turns that into an error naming the input; here it is the last guard before text.
    """
    if type_name not in CHALLENGEABLE:
        raise ValueError(f"{type_name!r} records cannot be challenged")
    if field is None:
        return None
    for name in TYPES[type_name].names:
        if name == field:
            return name
    raise ValueError(f"{type_name} has no marked field {field!r}")


# -- expressions ------------------------------------------------------------------------------


def _per_field(
    type_name: str, expr: Callable[[str | None], str], selector: str = f"{CH}.field"
) -> str:
    """`expr` for the field `selector` names (null: the record), among the model's fields only.

    A field name outside the allow-list selects nothing (null): fail closed. The selector is
    the challenge's stored field, or `$field` so one query text serves every field of a type.
    """
    whens = " ".join(f"WHEN '{f}' THEN {expr(f)}" for f in TYPES[type_name].names)
    return f"CASE WHEN {selector} IS NULL THEN {expr(None)} ELSE CASE {selector} {whens} END END"


def _per_type(expr: Callable[[str], str]) -> str:
    """`expr` for the target's type; a target of any other label gives null (fail closed)."""
    whens = " ".join(
        f"WHEN {TG}:{TYPES[t].label} AND {CH}.targetType = '{t}' THEN {expr(t)}"
        for t in CHALLENGEABLE
    )
    return f"CASE {whens} END"


# Per challenge row: the target's record marking and visibility, and the challenged portion's
# marking and whether it is released to the caller. The clause lists are picked per type and
# field (cheap lookups), then checked once each; null (unknown type or field) is not released.
_PORTION = (
    f"WITH {CH}, {TG}, "
    f"{_per_type(lambda t: clauses_in_force(TG, t, None))} AS recordClauses, "
    f"{_per_type(lambda t: _per_field(t, lambda f: clauses_in_force(TG, t, f)))} "
    "AS portionClauses, "
    f"{_per_type(lambda t: marking_in_force(TG, t, None))} AS recordMarking, "
    f"{_per_type(lambda t: _per_field(t, lambda f: marking_in_force(TG, t, f)))} AS liveMarking "
    f"WITH {CH}, {TG}, recordMarking, liveMarking, "
    f"coalesce({met('recordClauses')}, false) AS recordVisible, "
    f"coalesce({met('portionClauses')}, false) AS portionReleased "
)

# Who sees a challenge: only callers who see its target record, and of those only the
# challenger's nation, or adjudicators the challenged portion itself is released to.
_VIEWER = (
    f"recordVisible AND ({CH}.challengerNation = $nation OR ($adjudicator AND portionReleased))"
)


def _projection() -> str:
    subject = f"CASE WHEN {CH}.anonymous THEN null ELSE {CH}.challengerSubject END"
    hidden = ("challengerSubject", "challengerTag")
    parts = [
        *(f"{p}: {CH}.{p}" for p in _CREATE_PROPS if p not in hidden),
        f"challengerSubject: {subject}",
        # Whether the caller filed it: the tag itself never leaves the database.
        f"filedByCaller: coalesce({CH}.challengerTag = $callerTag, false)",
        f"targetOrigin: {TG}.{ORIGIN_NATION}",
        f"decision: {CH}.decision",
        f"decidedAt: {CH}.decidedAt",
        f"escalatedAt: {CH}.escalatedAt",
        "recordMarking: recordMarking",
        "liveMarking: liveMarking",
        "portionReleased: portionReleased",
    ]
    return "{" + ", ".join(parts) + "}"


_RETURN = f"WITH {CH}, {TG} {_PORTION} RETURN {_projection()} AS item"


def _params(scope: ReleaseScope, **extra: Any) -> dict[str, Any]:
    return {**scope.cypher_params(), "callerTag": None, **extra}


def _native(item: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(item)
    for key in _TIMES:
        value = out.get(key)
        if value is not None and hasattr(value, "to_native"):
            out[key] = value.to_native()
    out["history"] = list(out.get("history") or [])
    return out


# -- target (for filing) ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TargetMarking:
    """What a caller filing a challenge may know of its target: never a field's value."""

    marking: str | None  # in force: stored, else policy default; None if neither exists
    released: bool  # whether the challenged portion is released to the caller
    record_marking: str | None
    pending_id: str | None  # a pending challenge of the same portion by the caller's nation


def _target_match(type_name: str) -> str:
    node = TYPES[type_name]
    return f"MATCH ({TG}:{node.label} {{{node.key}: $key}}) WHERE {visible(TG, type_name)} "


def _same_portion(var: str) -> str:
    return f"({var}.field = $field OR ({var}.field IS NULL AND $field IS NULL))"


async def target_marking(
    graph: Graph, scope: ReleaseScope, type_name: str, key: str, field: str | None
) -> TargetMarking | None:
    """The challenged portion's marking, or None when the record is absent or hidden."""
    f = model_field(type_name, field)
    marking = _per_field(type_name, lambda x: marking_in_force(TG, type_name, x), "$field")
    clauses = _per_field(type_name, lambda x: clauses_in_force(TG, type_name, x), "$field")
    query = (
        _target_match(type_name) + f"RETURN {marking} AS marking, "
        f"coalesce({met(clauses)}, false) AS released, "
        f"{marking_in_force(TG, type_name, None)} AS recordMarking, "
        f"head(COLLECT {{ MATCH (x:{LABEL} {{state: '{PENDING}'}})-[:{REL}]->({TG}) "
        f"WHERE x.challengerNation = $nation AND {_same_portion('x')} RETURN x.id }}) AS pending"
    )
    row = await graph.read_one(
        compiled(query), _params(scope, key=key, field=f, nation=scope.nation)
    )
    if row is None:
        return None
    return TargetMarking(
        marking=row["marking"],
        released=bool(row["released"]),
        record_marking=row["recordMarking"],
        pending_id=row["pending"],
    )


# -- writes -----------------------------------------------------------------------------------


async def create(
    graph: Graph,
    scope: ReleaseScope,
    *,
    type_name: str,
    key: str,
    field: str | None,
    expected_marking: str,
    props: Mapping[str, Any],
    before_commit: BeforeCommit,
) -> dict[str, Any] | None:
    """Create the challenge and its CHALLENGES edge in one write transaction.

    Matches only if the target is still visible to the caller and its marking is still
    `expected_marking` (the one validated against); otherwise writes nothing, returns None.
    """
    f = model_field(type_name, field)
    unknown = set(props) - set(_CREATE_PROPS)
    if unknown:
        raise ValueError(f"not a challenge property: {', '.join(sorted(unknown))}")
    values = {k: v for k, v in props.items() if v is not None}
    marking = _per_field(type_name, lambda x: marking_in_force(TG, type_name, x), "$field")
    query = (
        _target_match(type_name) + f"WITH {TG} WHERE coalesce({marking}, 'UNMARKED') = $expected "
        f"CREATE ({CH}:{LABEL} $props)-[:{REL}]->({TG}) " + _RETURN
    )
    rows = await graph.write(
        compiled(query),
        _params(scope, key=key, field=f, expected=expected_marking, props=values),
        before_commit=before_commit,
    )
    return _native(rows[0]["item"]) if rows else None


async def decide(
    graph: Graph,
    scope: ReleaseScope,
    *,
    challenge_id: str,
    type_name: str,
    field: str | None,
    state: str,
    decision: str,
    decided_at: datetime,
    decider_subject: str,
    decider_nation: str,
    rationale: str,
    step: str,
    new_marking: str | None,
    new_release: list[str] | None,
    expected_marking: str,
    default_designator: str | None,
    caller_tag: str,
    before_commit: BeforeCommit,
    review: Mapping[str, Any] | None = None,
) -> dict[str, Any] | None:
    """Record the decision and, on CHANGE, rewrite the target's marking and release clauses,
    in one statement (one transaction). Matches only a PENDING challenge whose target (record
    and challenged portion) the adjudicator may see, whose designating nation is the
    adjudicator's, which the caller did not file, and whose challenged marking is still
    `expected_marking`; otherwise writes nothing, returns None.
    """
    if state not in DECIDED:
        raise ValueError(f"not a decision state: {state}")
    f = model_field(type_name, field)
    node = TYPES[type_name]
    sets = [
        f"{CH}.state = $state",
        f"{CH}.decision = $decision",
        f"{CH}.decidedAt = $decidedAt",
        f"{CH}.decidedBy = $decider",
        f"{CH}.decidedByNation = $deciderNation",
        f"{CH}.rationale = $rationale",
        f"{CH}.history = {CH}.history + [$step]",
    ]
    if new_marking is not None:
        if new_release is None:
            raise ValueError("a new marking needs its release clauses")
        marking_prop, release_prop = (
            ("marking", "release") if f is None else (f"marking_{f}", f"release_{f}")
        )
        sets += [f"{TG}.{marking_prop} = $newMarking", f"{TG}.{release_prop} = $newRelease"]
    # With `review` ({reviewBy, catalogueSteward, deciderOrg, revision}) on a stewarded type,
    # the decision counts as a review of the marking (`dibx.graph.review.decision_clauses`).
    pre = post = ""
    extra: dict[str, Any] = {}
    if review is not None and type_name in STEWARDED_NODES:
        pre, review_sets, post = decision_clauses(node, MODEL, TG, f)
        sets.append(review_sets)
        extra = {**review, "epoch": EPOCH}
    query = (
        f"MATCH ({CH}:{LABEL} {{id: $id}})-[:{REL}]->({TG}:{node.label}) "
        f"WHERE {CH}.state = '{PENDING}' AND {CH}.targetType = '{type_name}' "
        f"AND {_same_portion(CH)} AND {visible(TG, type_name)} "
        f"AND {released(TG, type_name, f)} "
        f"AND coalesce({TG}.{ORIGIN_NATION}, $designator) = $nation "
        f"AND coalesce({CH}.challengerTag <> $callerTag, true) "
        f"AND coalesce({marking_in_force(TG, type_name, f)}, 'UNMARKED') = $expected "
        + pre
        + f"SET {', '.join(sets)} "
        # A changed record marking changes its owners' visible counts (`graph.tallies`).
        + (tallies.far_invalidation(MODEL, node, TG) if new_marking is not None else "")
        + post
        + _RETURN
    )
    params = _params(
        scope,
        id=challenge_id,
        field=f,
        state=state,
        decision=decision,
        decidedAt=decided_at,
        decider=decider_subject,
        deciderNation=decider_nation,
        rationale=rationale,
        step=step,
        newMarking=new_marking,
        newRelease=new_release,
        expected=expected_marking,
        designator=default_designator,
        nation=scope.nation,
        callerTag=caller_tag,
        **extra,
    )

    async def work(tx: TxRunner) -> Rows:
        decided = await tx.run(compiled(query), params)
        await outbox.append_pending(tx)  # last: the decision's new state is an event
        return decided

    rows = await graph.transaction(work, before_commit=before_commit)
    return _native(rows[0]["item"]) if rows else None


async def escalate(
    graph: Graph,
    scope: ReleaseScope,
    *,
    challenge_id: str,
    escalated_at: datetime,
    due_at: datetime,
    step: str,
    before_commit: BeforeCommit,
) -> dict[str, Any] | None:
    """Move a decided challenge to ESCALATED, for the challenger's nation only, if it still
    sees the target; a new deadline runs for the arbiter. None when nothing matched."""
    query = (
        f"MATCH ({CH}:{LABEL} {{id: $id}})-[:{REL}]->({TG}) "
        f"WHERE {CH}.state IN $decided AND {CH}.challengerNation = $nation "
        f"{_PORTION} WHERE recordVisible "
        f"SET {CH}.state = '{ESCALATED}', {CH}.escalatedAt = $at, {CH}.dueAt = $due, "
        f"{CH}.history = {CH}.history + [$step] "
        f"RETURN {_projection()} AS item"
    )
    rows = await graph.write(
        compiled(query),
        _params(
            scope,
            id=challenge_id,
            decided=list(DECIDED),
            nation=scope.nation,
            at=escalated_at,
            due=due_at,
            step=step,
        ),
        before_commit=before_commit,
    )
    return _native(rows[0]["item"]) if rows else None


# -- reads ------------------------------------------------------------------------------------


async def get(
    graph: Graph,
    scope: ReleaseScope,
    challenge_id: str,
    *,
    adjudicator: bool,
    caller_tag: str | None = None,
) -> dict[str, Any] | None:
    """One challenge the caller may see, or None (absent and not visible look the same)."""
    query = (
        f"MATCH ({CH}:{LABEL} {{id: $id}})-[:{REL}]->({TG}) {_PORTION} WHERE {_VIEWER} "
        f"RETURN {_projection()} AS item"
    )
    row = await graph.read_one(
        compiled(query),
        _params(
            scope,
            id=challenge_id,
            nation=scope.nation,
            adjudicator=adjudicator,
            callerTag=caller_tag,
        ),
    )
    return None if row is None else _native(row["item"])


@dataclass(frozen=True, slots=True)
class ChallengeRows:
    total: int | None
    items: list[dict[str, Any]]
    positions: list[tuple[Part, ...]]  # each item's place in the order: its cursor
    has_next: bool
    has_previous: bool


# Newest first, then by id: the creation time in nanoseconds, exact, so a cursor holds it.
ORDER = (
    Key(f"({CH}.createdAt.epochSeconds * 1000000000 + {CH}.createdAt.nanosecond)", True),
    Key(f"{CH}.id"),
)


async def page(
    graph: Graph,
    scope: ReleaseScope,
    *,
    adjudicator: bool,
    state: str | None,
    window: Window,
    want_total: bool,
) -> ChallengeRows:
    """Challenges the caller may see, newest first; the total counts only those."""
    if state is not None and state not in STATES:
        raise ValueError(f"not a challenge state: {state}")
    params: dict[str, Any] = {}

    def param(value: Any) -> str:
        params[f"k{len(params)}"] = value
        return f"$k{len(params) - 1}"

    match = (
        f"MATCH ({CH}:{LABEL})-[:{REL}]->({TG}) WHERE $state IS NULL OR {CH}.state = $state "
        f"{_PORTION} WHERE ({_VIEWER})"
    )
    at, forward = window.at, window.forward
    page_match, other = match, "false AS other"
    if at is not None:
        page_match += f" AND {beyond(ORDER, at, param, forward=forward)}"
        back = beyond(ORDER, at, param, forward=not forward, inclusive=True)
        other = f"EXISTS {{ {match} AND {back} }} AS other"
    position = "[" + ", ".join(k.expr for k in ORDER) + "]"
    query = (
        f"CALL () {{ {page_match} WITH * ORDER BY {order_by(ORDER, reverse=not forward)} "
        f"LIMIT $limit RETURN collect({{n: {_projection()}, s: {position}}}) AS items }} "
        f"WITH items, {other} "
    )
    if want_total:
        query += f"CALL () {{ {match} RETURN count({CH}) AS total }} RETURN items, other, total"
    else:
        query += "RETURN items, other, null AS total"
    row = await graph.read_one(
        compiled(query),
        _params(
            scope,
            nation=scope.nation,
            adjudicator=adjudicator,
            state=state,
            limit=window.size + 1,
            **params,
        ),
    )
    assert row is not None  # aggregates always return one row
    found = row["items"]
    more, beyond_cursor = len(found) > window.size, bool(row["other"])
    found = found[: window.size]
    if not forward:
        found.reverse()
    return ChallengeRows(
        total=row["total"],
        items=[_native(i["n"]) for i in found],
        positions=[tuple(i["s"]) for i in found],
        has_next=more if forward else beyond_cursor,
        has_previous=beyond_cursor if forward else more,
    )
