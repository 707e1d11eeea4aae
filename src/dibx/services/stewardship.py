"""Stewarded writes: validation of plain-dict changes and their one-transaction application.

This is the one validator for writes: the GraphQL mutations (`dibx.schema.stewardship`) and
the bulk import hand it the same plain dicts. A change is `{"op": <name>, "input": {...}}`:

    create<Type>   {key, marking, fields: {<f>: {value, marking}}, <owned role>: {key, marking},
                    reason?}                                   (Supplier: nation: {key, marking})
    update<Type>   {key, expectedVersion, marking?, fields?, <owned role>?, reason?}
    retire<Type>   {key, expectedVersion, reason?}
    set<Edge>      {<start role>, <end role>, expectedVersion?, marking?, fields?, reason?}
    remove<Edge>   {<start role>, <end role>, expectedVersion, reason?}

with <Type> Supplier or Capability and <Edge> Provides, SourcesFrom, SubsidiaryOf or Requires
(names derived from `dibx.graph.model`). Keys are record keys (a created record's key is
namespaced by its originating nation: `GBR:<key>`, so keys are unique per originator and a
create never meets another nation's record).

Rules: the caller needs the policy's scope for each type written (`[stewardship.scopes]`); every
value goes through its model `Field.coerce`, every cross-field rule through the model's
checks; every marking is parsed by the algebra, must be one the caller's own groups may read,
and at least as restrictive as the policy floor for the portion (`[stewardship.floors]`).
A marking change needs a `reason`. Only the originator (nation, or org under
`steward = "org"`) updates or retires a record or edge; a record the caller may not see answers
exactly as a missing one (NOT_FOUND, same message). `expectedVersion` that is not the current
version answers CONFLICT with the current version. Any error means nothing is written: the
whole batch runs in one transaction, its audit record is durable before it commits, and a
failed audit record rolls it back (`WriteAudit`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from dibx.auth import markings
from dibx.auth.policy import Policy
from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.graph import outbox
from dibx.graph import stewardship as store
from dibx.graph.driver import Graph, Rows, TxRunner
from dibx.graph.model import MODEL, EdgeType, Field, FieldError, Model, NodeType, check_text
from dibx.services.audit import WriteAudit

MAX_REASON = 4000
MAX_CHANGES = 100
Path = tuple[str, ...]

# userError codes
INVALID = "INVALID"
UNKNOWN_FIELD = "UNKNOWN_FIELD"
MARKING_INVALID = "MARKING_INVALID"
MARKING_NOT_READABLE = "MARKING_NOT_READABLE"
MARKING_BELOW_FLOOR = "MARKING_BELOW_FLOOR"
REASON_REQUIRED = "REASON_REQUIRED"
NOT_FOUND = "NOT_FOUND"
FORBIDDEN = "FORBIDDEN"
CONFLICT = "CONFLICT"
DUPLICATE = "DUPLICATE"
NOT_FOUND_MESSAGE = "no such record"
STEWARDED_NODES = store.STEWARDED_NODES
STEWARDED_EDGES = store.STEWARDED_EDGES


@dataclass(frozen=True, slots=True)
class UserError:
    field: Path
    code: str
    message: str
    current_version: int | None = None  # CONFLICT on a record the caller may see


@dataclass(frozen=True, slots=True)
class Applied:
    type: str
    key: str
    kind: str  # created, updated, retired
    version: int
    start: str | None = None  # edges: the end keys
    end: str | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    applied: list[Applied] = field(default_factory=list)
    errors: list[UserError] = field(default_factory=list)


class _Abort(Exception):
    def __init__(self, errors: list[UserError]) -> None:
        super().__init__(errors[0].message if errors else "aborted")
        self.errors = errors


def _camel(rel: str) -> str:
    return "".join(p.title() for p in rel.split("_"))


@dataclass(frozen=True, slots=True)
class Op:
    verb: str  # create, update, retire, set, remove
    node: NodeType | None = None
    edge: EdgeType | None = None

    @property
    def owner(self) -> str:
        if self.node is not None:
            return self.node.name
        assert self.edge is not None
        return self.edge.rel


def operations(model: Model = MODEL) -> dict[str, Op]:
    """Every change a writer can make, by name, derived from the model."""
    ops: dict[str, Op] = {}
    for name in store.STEWARDED_NODES:
        node = model.nodes[name]
        for verb in ("create", "update", "retire"):
            ops[f"{verb}{name}"] = Op(verb, node=node)
    for rel in store.STEWARDED_EDGES:
        edge = model.edges[rel]
        for verb in ("set", "remove"):
            ops[f"{verb}{_camel(rel)}"] = Op(verb, edge=edge)
    return ops


def at_least(
    m: markings.Marking,
    floor: markings.Marking,
    tetragraphs: Mapping[str, frozenset[str]] | None = None,
    cui_release_groups: frozenset[str] = frozenset(),
) -> bool:
    """Whether `m` is at least as restrictive as `floor`: everyone `m` releases to, `floor`
    releases to too, and `m` keeps the floor's categories and controls.

    Release is compared clause by clause (each of the floor's clauses must be implied by one
    of `m`'s): a clause's groups are expanded to the nations they stand for (an agreement by
    its members in `tetragraphs`, `@CUI_REL` by the members of the policy's CUI release
    groups); an agreement missing from `tetragraphs` stays itself, so a list naming nations
    does not meet a floor naming it: refusing is the safe side.
    """
    table = tetragraphs or {}
    cui_nations: set[str] = set()
    for g in cui_release_groups:
        cui_nations |= table.get(g, frozenset({g}))

    def expand(clause: str) -> set[str]:
        out: set[str] = set()
        for g in clause.split("|"):
            if g == "@CUI_REL" and cui_nations:
                out |= cui_nations
            else:
                out |= table.get(g, frozenset({g}))
        return out

    mine = [expand(c) for c in markings.release_clauses(m)]
    for clause in markings.release_clauses(floor):
        allowed = expand(clause)
        if not any(c <= allowed for c in mine):
            return False
    return floor.categories <= m.categories and floor.controls <= m.controls


@lru_cache(maxsize=4096)
def _release(mark: str) -> tuple[str, ...]:
    return markings.release_clauses(markings.parse(mark))


def release_of(mark: str) -> list[str]:
    """The release clauses stored beside a canonical marking (cached: a pure function)."""
    return list(_release(mark))


def not_steward(
    steward: str,
    principal: Principal,
    origin_nation: str | None,
    origin_org: str | None,
) -> str | None:
    """None if the caller stewards a record of that origin; else the rule that refuses it:
    "org" under per-org stewardship (`steward`) for a record written with an org, "nation"
    otherwise (a record written without an org is its nation's)."""
    rule = "org" if steward == "org" and origin_org is not None else "nation"
    if origin_nation != principal.nation or (rule == "org" and origin_org != principal.org):
        return rule
    return None


def not_steward_message(rule: str, role: str | None = None) -> str:
    """What FORBIDDEN says: the rule that applied, for a record or (`role`) its links."""
    if role is None:
        return f"only the originating {rule} may change this record"
    return f"only the originating {rule} of the {role} may change its links"


def digest(state: Mapping[str, Any]) -> str:
    text = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass
class _Fields:
    """A validated field set: graph properties to set, names changed, values for checks."""

    props: dict[str, Any] = field(default_factory=dict)
    values: dict[str, Any] = field(default_factory=dict)
    markings: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Checked:
    """A record's or edge's full input after every check that needs no database: the
    coerced values and canonical markings a create (or a bulk import row) writes."""

    record: markings.Marking
    fields: _Fields
    reason: str | None
    key: str | None = None  # records: the stored key (`<NATION>:<key>`)
    owned: list[tuple[EdgeType, str, str]] = field(default_factory=list)  # (edge, end, marking)
    start: str | None = None  # edges: the end keys as given
    end: str | None = None


class StewardshipService:
    def __init__(
        self,
        graph: Graph,
        policy: Policy,
        *,
        model: Model = MODEL,
        audit: WriteAudit | None = None,
        clock: Callable[[], datetime] = _now,
        history_limit: int = 100,
    ) -> None:
        self.graph = graph
        self.policy = policy
        self.model = model
        self.audit = audit
        self.clock = clock
        self.history_limit = history_limit
        self.ops = operations(model)
        # Agreement -> member nations for the call at hand (floors compare by them).
        self._tetragraphs: Mapping[str, frozenset[str]] = {}
        self.store = store.Store(
            graph, model, catalogue_steward=policy.stewardship.catalogue_steward
        )
        # Marking decisions by (text, floor key): a bulk import checks a few distinct markings
        # a million times over; None for mutations (one call, nothing to share).
        self._memo: dict[tuple[str, str], markings.Marking | tuple[str, str]] | None = None
        self._texts: dict[int, str] = {}

    def for_request(self, audit: WriteAudit) -> StewardshipService:
        bound = StewardshipService.__new__(StewardshipService)
        bound.__dict__.update(self.__dict__)
        bound.audit = audit
        return bound

    def for_import(
        self, audit: WriteAudit, tetragraphs: Mapping[str, frozenset[str]] | None = None
    ) -> StewardshipService:
        """A copy for one bulk import by one caller: its audit, the tetragraphs the floors
        compare by, and a memo of marking decisions (valid for that caller only)."""
        bound = self.for_request(audit)
        bound._tetragraphs = tetragraphs or {}
        bound._memo = {}
        bound._texts = {}
        return bound

    # -- validation (no I/O) ------------------------------------------------------------

    def _marking(
        self, raw: object, path: Path, scope: ReleaseScope, floor_key: str, errors: list[UserError]
    ) -> markings.Marking | None:
        if self._memo is not None and isinstance(raw, str):
            known = self._memo.get((raw, floor_key))
            if known is None:
                errs: list[UserError] = []
                known = self._decide_marking(raw, path, scope, floor_key, errs)
                if known is None:
                    known = (errs[0].code, errs[0].message)
                self._memo[(raw, floor_key)] = known
            if isinstance(known, tuple):
                errors.append(UserError(path, known[0], known[1]))
                return None
            return known
        return self._decide_marking(raw, path, scope, floor_key, errors)

    def text_of(self, parsed: markings.Marking) -> str:
        """The canonical text of a marking; remembered in a bulk import, where every marking
        comes from the memo (alive as long as this service, so its id stays its own)."""
        if self._memo is None:
            return str(parsed)
        text = self._texts.get(id(parsed))
        if text is None:
            text = self._texts[id(parsed)] = str(parsed)
        return text

    def _decide_marking(
        self, raw: object, path: Path, scope: ReleaseScope, floor_key: str, errors: list[UserError]
    ) -> markings.Marking | None:
        if not isinstance(raw, str):
            errors.append(UserError(path, MARKING_INVALID, "a marking is text, e.g. CUI"))
            return None
        try:
            parsed = markings.parse(raw)
        except markings.MarkingError as exc:
            errors.append(UserError(path, MARKING_INVALID, str(exc)))
            return None
        if not markings.is_released(parsed, scope.groups):
            errors.append(
                UserError(
                    path,
                    MARKING_NOT_READABLE,
                    f"{parsed} would not be released to your own nation: you may not set it",
                )
            )
            return None
        floor = self.policy.stewardship.floors.get(floor_key)
        if floor is not None and not at_least(
            parsed, floor, self._tetragraphs, self.policy.cui_release_groups
        ):
            errors.append(
                UserError(
                    path,
                    MARKING_BELOW_FLOOR,
                    f"{parsed} is less restrictive than the policy floor {floor} for this field",
                )
            )
            return None
        return parsed

    def _meta(
        self, principal: Principal, prop_field: str | None, reason: str | None, now: datetime
    ) -> dict[str, Any]:
        review = now + timedelta(days=self.policy.stewardship.review_days)
        m = store.marked
        return {
            m(prop_field, "markedByNation"): principal.nation,
            m(prop_field, "markedByOrg"): principal.org,
            m(prop_field, "markedBySubject"): principal.subject,
            m(prop_field, "markingReason"): reason,
            m(prop_field, "markedAt"): now,
            m(prop_field, "reviewBy"): review,
        }

    def _fields(
        self,
        raw: object,
        owner: str,
        fields: tuple[Field, ...],
        scope: ReleaseScope,
        errors: list[UserError],
        *,
        complete: bool,
    ) -> _Fields:
        """Coerce and mark the given fields; with `complete`, every model field (a missing
        one gets no value and its policy default marking)."""
        out = _Fields()
        given: Mapping[str, Any] = {}
        if raw is None:
            given = {}
        elif not isinstance(raw, Mapping):
            errors.append(UserError(("fields",), INVALID, "fields is a map of field inputs"))
            return out
        else:
            given = raw
        known = {f.name: f for f in fields}
        for name in given:
            if name not in known:
                errors.append(
                    UserError(
                        ("fields", str(name)),
                        UNKNOWN_FIELD,
                        f"{owner} has no field {name!r}; known: {', '.join(known)}",
                    )
                )
        for f in fields:
            entry = given.get(f.name)
            path = ("fields", f.name)
            if entry is None:
                if not complete:
                    continue
                try:
                    value = f.coerce(None)
                except FieldError as exc:
                    errors.append(UserError((*path, "value"), INVALID, str(exc)))
                    continue
                default = scope.default_marking.get(f"{owner}_{f.name}")
                if default is None:
                    errors.append(UserError((*path, "marking"), INVALID, "a marking is needed"))
                    continue
                out.values[f.name] = value
                out.markings[f.name] = default
                continue
            if not isinstance(entry, Mapping):
                errors.append(UserError(path, INVALID, "a field input is {value, marking}"))
                continue
            for extra in set(entry) - {"value", "marking"}:
                errors.append(
                    UserError(
                        (*path, str(extra)),
                        UNKNOWN_FIELD,
                        "a field input has value and marking only",
                    )
                )
            try:
                value = f.coerce(entry.get("value"))
            except FieldError as exc:
                errors.append(UserError((*path, "value"), INVALID, str(exc)))
                value = None
            parsed = self._marking(
                entry.get("marking"), (*path, "marking"), scope, f"{owner}_{f.name}", errors
            )
            if parsed is not None:
                out.values[f.name] = value
                out.markings[f.name] = self.text_of(parsed)
        return out

    @staticmethod
    def _reason(raw: object, errors: list[UserError]) -> str | None:
        if raw is None:
            return None
        if not isinstance(raw, str) or not raw.strip():
            errors.append(UserError(("reason",), INVALID, "reason is non-empty text"))
            return None
        if len(raw) > MAX_REASON:
            errors.append(
                UserError(("reason",), INVALID, f"reason is at most {MAX_REASON} characters")
            )
            return None
        try:
            check_text("reason", raw.strip(), multiline=True)
        except FieldError as exc:
            errors.append(UserError(("reason",), INVALID, str(exc)))
            return None
        return raw.strip()

    @staticmethod
    def _version(raw: object, errors: list[UserError], *, required: bool) -> int | None:
        if raw is None:
            if required:
                errors.append(
                    UserError(("expectedVersion",), INVALID, "expectedVersion is required")
                )
            return None
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < 1:
            errors.append(
                UserError(
                    ("expectedVersion",), INVALID, "expectedVersion is a whole number, 1 or more"
                )
            )
            return None
        return raw

    @staticmethod
    def _key(raw: object, path: Path, node: NodeType, errors: list[UserError]) -> str | None:
        try:
            return node.coerce_key(raw)
        except FieldError as exc:
            errors.append(UserError(path, INVALID, str(exc)))
            return None

    def validate(
        self,
        principal: Principal,
        scope: ReleaseScope,
        changes: Sequence[Mapping[str, Any]],
        *,
        tetragraphs: Mapping[str, frozenset[str]] | None = None,
    ) -> list[UserError]:
        """The errors of `changes` that need no database (types, values, markings, policy,
        scopes), paths prefixed by the change's index: what a bulk import's dry run checks."""
        errors: list[UserError] = []
        for i, change in enumerate(changes):
            errs: list[UserError] = []
            self._plan(principal, scope, change, errs)
            errors += [UserError((str(i), *e.field), e.code, e.message) for e in errs]
        return errors

    def check(
        self, principal: Principal, scope: ReleaseScope, op: str, raw: Mapping[str, Any]
    ) -> tuple[Checked | None, list[UserError]]:
        """A whole record (`create<Type>`) or edge (`set<Edge>` without expectedVersion),
        checked without the database exactly as the mutation checks it (scope, values,
        cross-field rules, markings, floors): what a bulk import row goes through. An edge's
        end keys are checked in form only; where they point is the writer's to find."""
        errors: list[UserError] = []
        spec = self.ops.get(op)
        if spec is None or spec.verb not in ("create", "set"):
            return None, [UserError(("op",), UNKNOWN_FIELD, f"no whole-record change {op!r}")]
        needed = self.policy.stewardship.scope_for(spec.owner)
        if needed is None or not principal.has_scope(needed):
            msg = f"writing {spec.owner} needs the scope {needed or '(none)'}"
            return None, [UserError((), FORBIDDEN, msg)]
        if spec.node is not None:
            return self._check_create(principal, scope, spec.node, raw, errors), errors
        assert spec.edge is not None
        return self._check_edge(scope, spec.edge, raw, errors), errors

    def _check_edge(
        self, scope: ReleaseScope, edge: EdgeType, raw: Mapping[str, Any], errors: list[UserError]
    ) -> Checked | None:
        start = self._key(
            raw.get(edge.start_role), (edge.start_role,), self.model.nodes[edge.start], errors
        )
        end = self._key(
            raw.get(edge.end_role), (edge.end_role,), self.model.nodes[edge.end], errors
        )
        reason = self._reason(raw.get("reason"), errors)
        record = None
        if raw.get("marking") is None:
            errors.append(UserError(("marking",), INVALID, "a new edge needs its marking"))
        else:
            record = self._marking(raw.get("marking"), ("marking",), scope, edge.rel, errors)
        fields = self._fields(
            raw.get("fields"), edge.rel, edge.fields, scope, errors, complete=True
        )
        if start is not None and start == end and edge.start == edge.end:
            errors.append(
                UserError((edge.end_role,), INVALID, f"a {edge.rel} cannot point at its own start")
            )
        if edge.check is not None and not errors:
            try:
                edge.check(fields.values)
            except FieldError as exc:
                errors.append(UserError(("fields",), INVALID, str(exc)))
        if errors or record is None:
            return None
        return Checked(record=record, fields=fields, reason=reason, start=start, end=end)

    # Building blocks of the write, shared with the bulk writer (same storage as mutations).

    def field_props(
        self, principal: Principal, fields: _Fields, reason: str | None, now: datetime
    ) -> dict[str, Any]:
        """A new record's (edge's) field properties with their marking metadata."""
        props, _, _ = self._field_props(principal, fields, {}, reason, now)
        return {k: v for k, v in props.items() if v is not None}

    def marking_meta(
        self, principal: Principal, reason: str | None, now: datetime, name: str | None = None
    ) -> dict[str, Any]:
        """The marking metadata of a record's (edge's) own marking, or of field `name`'s."""
        return self._meta(principal, name, reason, now)

    def revision(
        self, principal: Principal, kind: str, reason: str | None, changed: list[str]
    ) -> dict[str, Any]:
        return self._revision(principal, kind, reason, changed)

    def plan(
        self,
        principal: Principal,
        scope: ReleaseScope,
        change: Mapping[str, Any],
        errors: list[UserError],
    ) -> Callable[[TxRunner, datetime], Any] | None:
        """One change's checked plan, to run inside a caller's transaction (the bulk writer's
        updates); it raises `Rejected` with the change's errors."""
        return self._plan(principal, scope, change, errors)

    # -- running ------------------------------------------------------------------------

    async def apply(
        self,
        principal: Principal,
        scope: ReleaseScope,
        changes: Sequence[Mapping[str, Any]],
        *,
        operation: str = "applyChanges",
        tetragraphs: Mapping[str, frozenset[str]] | None = None,
    ) -> Outcome:
        """Validate every change, then apply them all in one audited transaction (or none).

        Error paths are relative to the change list: (<index>, ...) for several changes;
        a single change's errors carry its own input path (the caller prefixes it)."""
        if self.audit is None:  # no write goes unaudited
            raise RuntimeError("the stewardship service has no write audit")
        self._tetragraphs = tetragraphs or {}
        if not changes:
            return Outcome(errors=[UserError((), INVALID, "no changes given")])
        if len(changes) > MAX_CHANGES:
            return Outcome(
                errors=[UserError((), INVALID, f"at most {MAX_CHANGES} changes at once")]
            )
        single = len(changes) == 1
        plans: list[Callable[[TxRunner, datetime], Any]] = []
        errors: list[UserError] = []
        for i, change in enumerate(changes):
            prefix: Path = () if single else (str(i),)
            errs: list[UserError] = []
            plan = self._plan(principal, scope, change, errs)
            errors += [UserError((*prefix, *e.field), e.code, e.message) for e in errs]
            if plan is not None:
                plans.append(self._prefixed(plan, prefix))
        if errors:
            return Outcome(errors=errors)

        summary: list[dict[str, Any]] = []

        async def work(tx: TxRunner) -> Rows:
            summary.clear()
            now = self.clock()
            for plan in plans:
                summary.append(await plan(tx, now))
            await outbox.append_pending(tx)  # last: numbers this write's events (graph.outbox)
            return [{"changes": list(summary)}]

        def describe(rows: Rows) -> dict[str, Any] | None:
            return {"changes": [s["audit"] for s in rows[0]["changes"]]} if rows else None

        try:
            rows = await self.audit.run(
                principal,
                operation,
                describe,
                lambda hook: self.graph.transaction(work, before_commit=hook),
            )
        except _Abort as abort:
            return Outcome(errors=abort.errors)
        return Outcome(applied=[s["applied"] for s in rows[0]["changes"]])

    @staticmethod
    def _prefixed(
        plan: Callable[[TxRunner, datetime], Any], prefix: Path
    ) -> Callable[[TxRunner, datetime], Any]:
        async def run(tx: TxRunner, now: datetime) -> Any:
            try:
                return await plan(tx, now)
            except _Abort as abort:
                raise _Abort(
                    [
                        UserError((*prefix, *e.field), e.code, e.message, e.current_version)
                        for e in abort.errors
                    ]
                ) from None

        return run

    def _plan(
        self,
        principal: Principal,
        scope: ReleaseScope,
        change: Mapping[str, Any],
        errors: list[UserError],
    ) -> Callable[[TxRunner, datetime], Any] | None:
        if not isinstance(change, Mapping) or set(change) - {"op", "input"}:
            errors.append(UserError((), INVALID, "a change is {op, input}"))
            return None
        op = self.ops.get(str(change.get("op")))
        if op is None:
            errors.append(
                UserError(("op",), UNKNOWN_FIELD, f"no such change; one of: {', '.join(self.ops)}")
            )
            return None
        raw = change.get("input")
        if not isinstance(raw, Mapping):
            errors.append(UserError((), INVALID, "the change's input is a map"))
            return None
        needed = self.policy.stewardship.scope_for(op.owner)
        if needed is None or not principal.has_scope(needed):
            errors.append(
                UserError((), FORBIDDEN, f"writing {op.owner} needs the scope {needed or '(none)'}")
            )
            return None
        if op.node is not None:
            return self._plan_node(principal, scope, op.verb, op.node, raw, errors)
        assert op.edge is not None
        return self._plan_edge(principal, scope, op.verb, op.edge, raw, errors)

    # -- records ------------------------------------------------------------------------

    def _owned_input(
        self,
        node: NodeType,
        raw: Mapping[str, Any],
        scope: ReleaseScope,
        errors: list[UserError],
        *,
        required: bool,
    ) -> list[tuple[EdgeType, str, str]] | None:
        """(edge, end key, canonical marking) per owned edge given; None if one is missing."""
        out: list[tuple[EdgeType, str, str]] = []
        for edge in self.model.owned(node.name):
            role = edge.end_role
            entry = raw.get(role)
            if entry is None:
                if required:
                    errors.append(UserError((role,), INVALID, f"{role} is required"))
                continue
            if not isinstance(entry, Mapping) or set(entry) - {"key", "marking"}:
                errors.append(UserError((role,), INVALID, f"{role} is {{key, marking}}"))
                continue
            end = self._key(entry.get("key"), (role, "key"), self.model.nodes[edge.end], errors)
            parsed = self._marking(entry.get("marking"), (role, "marking"), scope, edge.rel, errors)
            if end is not None and parsed is not None:
                out.append((edge, end, self.text_of(parsed)))
        return out

    def _plan_node(
        self,
        principal: Principal,
        scope: ReleaseScope,
        verb: str,
        node: NodeType,
        raw: Mapping[str, Any],
        errors: list[UserError],
    ) -> Callable[[TxRunner, datetime], Any] | None:
        owned_roles = {e.end_role for e in self.model.owned(node.name)}
        allowed = {
            "create": {"key", "marking", "fields", "reason", *owned_roles},
            "update": {"key", "expectedVersion", "marking", "fields", "reason", *owned_roles},
            "retire": {"key", "expectedVersion", "reason"},
        }[verb]
        for extra in sorted(set(raw) - allowed):
            errors.append(
                UserError(
                    (str(extra),), UNKNOWN_FIELD, f"{verb} takes {', '.join(sorted(allowed))}"
                )
            )
        if verb == "create":
            made = self._check_create(principal, scope, node, raw, errors)
            if made is None:
                return None
            assert made.key is not None
            return self._create_node(
                principal, scope, node, made.key, made.record, made.fields, made.owned, made.reason
            )
        reason = self._reason(raw.get("reason"), errors)
        key = self._key(raw.get("key"), ("key",), node, errors)
        expected = self._version(raw.get("expectedVersion"), errors, required=True)
        if verb == "retire":
            if errors or key is None or expected is None:
                return None
            return self._change_node(
                principal, scope, node, key, expected, None, _Fields(), [], reason, retire=True
            )
        record = None
        if raw.get("marking") is not None:
            record = self._marking(raw.get("marking"), ("marking",), scope, node.name, errors)
        fields = self._fields(
            raw.get("fields"), node.name, node.fields, scope, errors, complete=False
        )
        owned = self._owned_input(node, raw, scope, errors, required=False)
        if errors or key is None or expected is None or owned is None:
            return None
        return self._change_node(
            principal, scope, node, key, expected, record, fields, owned, reason
        )

    def _check_create(
        self,
        principal: Principal,
        scope: ReleaseScope,
        node: NodeType,
        raw: Mapping[str, Any],
        errors: list[UserError],
    ) -> Checked | None:
        """A new record's input, checked without the database (what create and import share)."""
        reason = self._reason(raw.get("reason"), errors)
        key_in = self._key(raw.get("key"), ("key",), node, errors)
        key = (
            None
            if key_in is None
            else self._key(f"{principal.nation}:{key_in}", ("key",), node, errors)
        )
        if raw.get("marking") is None:
            errors.append(UserError(("marking",), INVALID, "the record's marking is required"))
            record = None
        else:
            record = self._marking(raw.get("marking"), ("marking",), scope, node.name, errors)
        fields = self._fields(
            raw.get("fields"), node.name, node.fields, scope, errors, complete=True
        )
        owned = self._owned_input(node, raw, scope, errors, required=True)
        if node.check is not None and not errors:
            try:
                node.check(fields.values)
            except FieldError as exc:
                errors.append(UserError(("fields",), INVALID, str(exc)))
        if errors or key is None or record is None or owned is None:
            return None
        return Checked(key=key, record=record, fields=fields, owned=owned, reason=reason)

    def _field_props(
        self,
        principal: Principal,
        fields: _Fields,
        current: Mapping[str, str | None],
        reason: str | None,
        now: datetime,
    ) -> tuple[dict[str, Any], list[str], bool]:
        """Graph properties for the given fields; the names changed; whether a marking did."""
        props: dict[str, Any] = {}
        changed: list[str] = []
        marking_changed = False
        for name, value in fields.values.items():
            mark = fields.markings[name]
            props[name] = value
            props[f"marking_{name}"] = mark
            props[f"release_{name}"] = release_of(mark)
            if current.get(name) != mark:
                marking_changed = marking_changed or name in current
                props.update(self._meta(principal, name, reason, now))
            changed.append(name)
        return props, changed, marking_changed

    def _revision(
        self, principal: Principal, kind: str, reason: str | None, changed: list[str]
    ) -> dict[str, Any]:
        return {
            "kind": kind,
            "actorSubject": principal.subject,
            "actorOrg": principal.org,
            "actorNation": principal.nation,
            "actorClient": principal.client_id,
            "reason": reason,
            "changed": changed,
        }

    def _create_node(
        self,
        principal: Principal,
        scope: ReleaseScope,
        node: NodeType,
        key: str,
        record: markings.Marking,
        fields: _Fields,
        owned: list[tuple[EdgeType, str, str]],
        reason: str | None,
    ) -> Callable[[TxRunner, datetime], Any]:
        async def run(tx: TxRunner, now: datetime) -> dict[str, Any]:
            if await self.store.key_taken(tx, node, key):
                raise _Abort(
                    [UserError(("key",), DUPLICATE, f"your nation already has a {node.name} {key}")]
                )
            props, _, _ = self._field_props(principal, fields, {}, reason, now)
            props = {k: v for k, v in props.items() if v is not None}
            props.update(
                marking=str(record),
                release=list(markings.release_clauses(record)),
                originNation=principal.nation,
                originOrg=principal.org,
                version=1,
                **self._meta(principal, None, reason, now),
            )
            links = []
            for edge, end, mark in owned:
                links.append(
                    {
                        "end": end,
                        "props": {
                            "marking": mark,
                            "release": list(markings.release_clauses(markings.parse(mark))),
                            **self._meta(principal, None, reason, now),
                        },
                    }
                )
                end_type = self.model.nodes[edge.end]
                if not await self.store.end_exists(tx, scope, end_type, end):
                    raise _Abort(
                        [UserError((edge.end_role, "key"), NOT_FOUND, f"no such {end_type.name}")]
                    )
            revision = self._revision(principal, store.CREATED, reason, list(node.names))
            try:
                version = await self.store.create_node(tx, node, key, props, links, revision, now)
            except LookupError:
                raise _Abort(
                    [UserError((), CONFLICT, "the record's ends changed meanwhile")]
                ) from None
            after = {
                "version": version,
                "marking": str(record),
                "values": fields.values,
                "markings": fields.markings,
            }
            return {
                "applied": Applied(node.name, key, store.CREATED, version),
                "audit": {
                    "type": node.name,
                    "key": key,
                    "kind": store.CREATED,
                    "before": None,
                    "after": digest(after),
                    "version": version,
                },
            }

        return run

    def _not_steward(self, principal: Principal, cur: store.Current) -> str | None:
        steward = self.policy.stewardship.steward
        return not_steward(steward, principal, cur.origin_nation, cur.origin_org)

    def _change_node(
        self,
        principal: Principal,
        scope: ReleaseScope,
        node: NodeType,
        key: str,
        expected: int,
        record: markings.Marking | None,
        fields: _Fields,
        owned: list[tuple[EdgeType, str, str]],
        reason: str | None,
        *,
        retire: bool = False,
    ) -> Callable[[TxRunner, datetime], Any]:
        async def run(tx: TxRunner, now: datetime) -> dict[str, Any]:
            missing = _Abort([UserError(("key",), NOT_FOUND, NOT_FOUND_MESSAGE)])
            if not await self.store.lock_node(tx, scope, node, key):
                raise missing
            cur = await self.store.fetch_node(tx, scope, node, key)
            if cur is None:
                raise missing
            rule = self._not_steward(principal, cur)
            if rule is not None:
                raise _Abort([UserError(("key",), FORBIDDEN, not_steward_message(rule))])
            if cur.version != expected:
                raise _Abort(
                    [
                        UserError(
                            ("expectedVersion",),
                            CONFLICT,
                            f"the record is at version {cur.version}",
                            cur.version,
                        )
                    ]
                )
            props, changed, marking_changed = self._field_props(
                principal, fields, cur.markings, reason, now
            )
            if record is not None and str(record) != cur.marking:
                marking_changed = True
                changed.append("marking")
                props.update(marking=str(record), release=list(markings.release_clauses(record)))
                props.update(self._meta(principal, None, reason, now))
            merged = {**cur.values, **fields.values}
            if node.check is not None and not retire:
                try:
                    node.check(merged)
                except FieldError as exc:
                    raise _Abort([UserError(("fields",), INVALID, str(exc))]) from None
            for edge, end, mark in owned:
                if (cur.owned or {}).get(edge.rel) != end:
                    changed.append(edge.rel)
                link_props = {
                    "marking": mark,
                    "release": list(markings.release_clauses(markings.parse(mark))),
                    **self._meta(principal, None, reason, now),
                }
                if not await self.store.set_owned(tx, node, key, edge, end, link_props):
                    raise _Abort(
                        [UserError((edge.end_role, "key"), NOT_FOUND, f"no such {edge.end}")]
                    )
            if marking_changed and reason is None:
                raise _Abort(
                    [UserError(("reason",), REASON_REQUIRED, "a marking change needs a reason")]
                )
            kind = store.RETIRED if retire else store.UPDATED
            if retire:
                await self._retire_edges(principal, tx, node, key, reason, now)
            version = await self.store.update_node(
                tx,
                node,
                key,
                expected=expected,
                changes=props,
                revision=self._revision(principal, kind, reason, changed),
                now=now,
                retire=retire,
            )
            if version is None:  # cannot happen under the lock; refuse rather than guess
                raise _Abort(
                    [UserError(("expectedVersion",), CONFLICT, "the record changed meanwhile")]
                )
            before = {
                "version": cur.version,
                "marking": cur.marking,
                "values": cur.values,
                "markings": cur.markings,
            }
            after = {
                "version": version,
                "marking": str(record) if record is not None else cur.marking,
                "values": {} if retire else merged,
                "markings": {**cur.markings, **fields.markings},
                "retired": retire,
            }
            return {
                "applied": Applied(node.name, key, kind, version),
                "audit": {
                    "type": node.name,
                    "key": key,
                    "kind": kind,
                    "before": digest(before),
                    "after": digest(after),
                    "version": version,
                },
            }

        return run

    async def _retire_edges(
        self,
        principal: Principal,
        tx: TxRunner,
        node: NodeType,
        key: str,
        reason: str | None,
        now: datetime,
    ) -> None:
        """Every edge at a retired record goes with it (each leaves its `retired` state)."""
        for edge, role in await self.store.attached_edges(tx, node):
            for _a, _b, eid in await self.store.edges_of(tx, node, key, edge, role):
                version = await self.store.edge_version(tx, eid)
                await self.store.update_edge(
                    tx,
                    edge,
                    eid,
                    expected=version,
                    changes={},
                    revision=self._revision(
                        principal, store.RETIRED, reason or f"{node.name} retired", []
                    ),
                    now=now,
                    remove=True,
                )

    # -- edges --------------------------------------------------------------------------

    def _plan_edge(
        self,
        principal: Principal,
        scope: ReleaseScope,
        verb: str,
        edge: EdgeType,
        raw: Mapping[str, Any],
        errors: list[UserError],
    ) -> Callable[[TxRunner, datetime], Any] | None:
        roles = {edge.start_role, edge.end_role}
        allowed = (
            {*roles, "expectedVersion", "marking", "fields", "reason"}
            if verb == "set"
            else {*roles, "expectedVersion", "reason"}
        )
        for extra in sorted(set(raw) - allowed):
            errors.append(
                UserError(
                    (str(extra),), UNKNOWN_FIELD, f"{verb} takes {', '.join(sorted(allowed))}"
                )
            )
        start = self._key(
            raw.get(edge.start_role), (edge.start_role,), self.model.nodes[edge.start], errors
        )
        end = self._key(
            raw.get(edge.end_role), (edge.end_role,), self.model.nodes[edge.end], errors
        )
        reason = self._reason(raw.get("reason"), errors)
        expected = self._version(raw.get("expectedVersion"), errors, required=verb == "remove")
        record = None
        fields = _Fields()
        if verb == "set":
            if raw.get("marking") is not None:
                record = self._marking(raw.get("marking"), ("marking",), scope, edge.rel, errors)
            fields = self._fields(
                raw.get("fields"), edge.rel, edge.fields, scope, errors, complete=expected is None
            )
            if expected is None and raw.get("marking") is None:
                errors.append(UserError(("marking",), INVALID, "a new edge needs its marking"))
        if errors or start is None or end is None:
            return None
        if start == end and edge.start == edge.end:
            errors.append(
                UserError((edge.end_role,), INVALID, f"a {edge.rel} cannot point at its own start")
            )
            return None

        async def run(tx: TxRunner, now: datetime) -> dict[str, Any]:
            a_type, b_type = self.model.nodes[edge.start], self.model.nodes[edge.end]
            if not await self.store.lock_node(tx, scope, a_type, start):
                raise _Abort([UserError((edge.start_role,), NOT_FOUND, NOT_FOUND_MESSAGE)])
            owner = await self.store.fetch_node(tx, scope, a_type, start)
            if owner is None:
                raise _Abort([UserError((edge.start_role,), NOT_FOUND, NOT_FOUND_MESSAGE)])
            if not await self.store.end_exists(tx, scope, b_type, end):
                raise _Abort([UserError((edge.end_role,), NOT_FOUND, NOT_FOUND_MESSAGE)])
            rule = self._not_steward(principal, owner)
            if rule is not None:
                message = not_steward_message(rule, edge.start_role)
                raise _Abort([UserError((edge.start_role,), FORBIDDEN, message)])
            cur = await self.store.fetch_edge(tx, scope, edge, start, end, principal.nation)
            where = {"start": start, "end": end}
            if cur is None:
                if verb == "remove" or expected is not None:
                    raise _Abort([UserError((), NOT_FOUND, f"no such {edge.rel} of yours")])
                if edge.acyclic and await self._closes_cycle(tx, scope, edge, start, end):
                    raise _Abort(
                        [
                            UserError(
                                (edge.end_role,), INVALID, f"this {edge.rel} would close a cycle"
                            )
                        ]
                    )
                if edge.check is not None:
                    try:
                        edge.check(fields.values)
                    except FieldError as exc:
                        raise _Abort([UserError(("fields",), INVALID, str(exc))]) from None
                assert record is not None
                props, _, _ = self._field_props(principal, fields, {}, reason, now)
                props = {k: v for k, v in props.items() if v is not None}
                props.update(
                    marking=str(record),
                    release=list(markings.release_clauses(record)),
                    originNation=principal.nation,
                    originOrg=principal.org,
                    version=1,
                    **self._meta(principal, None, reason, now),
                )
                revision = self._revision(principal, store.CREATED, reason, list(edge.names))
                try:
                    version = await self.store.create_edge(
                        tx, edge, start, end, props, revision, now
                    )
                except LookupError:
                    raise _Abort([UserError((), CONFLICT, "an end changed meanwhile")]) from None
                after = {
                    "version": version,
                    "marking": str(record),
                    "values": fields.values,
                    "markings": fields.markings,
                }
                return {
                    "applied": Applied(
                        edge.rel, f"{start}->{end}", store.CREATED, version, start, end
                    ),
                    "audit": {
                        "type": edge.rel,
                        **where,
                        "kind": store.CREATED,
                        "before": None,
                        "after": digest(after),
                        "version": version,
                    },
                }
            if expected is None:
                raise _Abort(
                    [
                        UserError(
                            ("expectedVersion",),
                            CONFLICT,
                            f"the {edge.rel} exists at version {cur.version}: give expectedVersion",
                            cur.version,
                        )
                    ]
                )
            if cur.version != expected:
                raise _Abort(
                    [
                        UserError(
                            ("expectedVersion",),
                            CONFLICT,
                            f"the {edge.rel} is at version {cur.version}",
                            cur.version,
                        )
                    ]
                )
            props, changed, marking_changed = self._field_props(
                principal, fields, cur.markings, reason, now
            )
            if record is not None and str(record) != cur.marking:
                marking_changed = True
                changed.append("marking")
                props.update(marking=str(record), release=list(markings.release_clauses(record)))
                props.update(self._meta(principal, None, reason, now))
            if marking_changed and reason is None:
                raise _Abort(
                    [UserError(("reason",), REASON_REQUIRED, "a marking change needs a reason")]
                )
            merged = {**cur.values, **fields.values}
            remove = verb == "remove"
            if edge.check is not None and not remove:
                try:
                    edge.check(merged)
                except FieldError as exc:
                    raise _Abort([UserError(("fields",), INVALID, str(exc))]) from None
            kind = store.RETIRED if remove else store.UPDATED
            assert cur.element_id is not None
            updated = await self.store.update_edge(
                tx,
                edge,
                cur.element_id,
                expected=expected,
                changes=props,
                revision=self._revision(principal, kind, reason, changed),
                now=now,
                remove=remove,
            )
            if updated is None:
                raise _Abort(
                    [UserError(("expectedVersion",), CONFLICT, "the edge changed meanwhile")]
                )
            version = updated
            before = {
                "version": cur.version,
                "marking": cur.marking,
                "values": cur.values,
                "markings": cur.markings,
            }
            after = {"version": version, "values": {} if remove else merged, "removed": remove}
            return {
                "applied": Applied(edge.rel, f"{start}->{end}", kind, version, start, end),
                "audit": {
                    "type": edge.rel,
                    **where,
                    "kind": kind,
                    "before": digest(before),
                    "after": digest(after),
                    "version": version,
                },
            }

        return run

    async def _closes_cycle(
        self, tx: TxRunner, scope: ReleaseScope, edge: EdgeType, start: str, end: str
    ) -> bool:
        return await self.store.reaches(tx, scope, edge, end, start)

    # -- history ------------------------------------------------------------------------

    async def history(
        self, scope: ReleaseScope, type_name: str, key: str, first: int | None = None
    ) -> list[dict[str, Any]]:
        node = self.model.nodes[type_name]
        limit = self.history_limit if first is None else max(0, min(first, self.history_limit))
        return await self.store.history(scope, node, key, limit)


Rejected = _Abort  # what a plan raises when the database refuses the change (`.errors`)
