"""Marking challenges (32 CFR 2002.50, 2002.52): filing, deciding, escalating, reading.

Rules as implemented:

* Filing. A caller who sees a Supplier or Capability record may challenge its marking or the
  marking of one of its fields, including a field withheld from them (they know its path and
  marking from `extensions.releasability.withheld`); they never learn its value. Input is
  validated before anything is written, and each error names the input at fault. A record
  the caller may not see answers exactly like a missing one (NotFound). The challenge starts
  PENDING with a deadline `due_days` after filing (a configuration choice, default 30 days:
  32 CFR 2002.50 leaves the timetable to the agency's challenge procedure); the marking stays
  in force while it is pending.
* Anonymity. An anonymous challenge stores no challenger subject in readable form; its nation
  is kept, since visibility and escalation rest on it. The per-request and per-write audit
  records still name the caller: anonymity is towards the challenge's readers, not the audit.
* Challenger tag. Every challenge (anonymous or not) stores `challengerTag`, an HMAC-SHA256
  of the challenger's subject under a server secret (`Settings.challenge_key_file`), so that
  deciding can refuse the challenger without the challenge revealing who that is. Keyed, not
  a plain hash: subjects are guessable, and anyone reading the graph could hash candidates
  and compare; without the key they cannot. The tag is compared inside Neo4j (`filedByCaller`)
  and is never returned by any query or API field. It matches only the same subject: other
  callers of the challenger's nation and org are not barred by it.
* Reading. A challenge is visible only to callers who see its target record, and among them
  to the challenger's nation, or to adjudicators the challenged portion (record or field) is
  itself released to. Everyone else finds nothing: not in lookups, lists or counts.
* Deciding. Only the designating nation decides, never the challenger (DESIGN, promise 7).
  The designating nation of the challenged portion is the target record's stored originator
  nation (`originNation`), else the policy's `[adjudication] default_designator`; the
  adjudicator must act for that nation, hold scope marking:adjudicate, carry a token `org`
  that the policy's `[adjudication.orgs]` lists for that nation, and see the target record
  and the challenged portion. The challenger (by challenger tag, anonymous or not) may not
  decide it. Denials follow "not found before forbidden": a challenge the caller cannot see
  is NotFound; only one it can see is Forbidden. UPHOLD keeps the marking, CHANGE rewrites it
  (canonical text and release clauses) in the same transaction as the state change; the
  write re-checks the designator, the tag and the marking it was decided against.
* Escalation. The challenger's nation may escalate a decided challenge to an impartial
  arbiter (state ESCALATED, a new deadline of `due_days`); escalating an anonymous challenge
  records no subject either.
* Audit. Each write (filing, deciding, escalating) goes through `WriteAudit.run`: its record
  (who, what, target, old and new marking and state) is durable before the transaction
  commits, and a failed record rolls the write back.
* Concealment. Where the policy conceals a marking from callers it withholds a field from,
  a challenge never shows them that marking, and filing does not compare the proposal with
  it (that comparison would tell them the marking).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import Any

from dibx.auth import markings
from dibx.auth.policy import Policy
from dibx.auth.principal import MARKING_ADJUDICATE, Principal
from dibx.auth.release import ReleaseScope
from dibx.errors import Conflict, Forbidden, Invalid, NotFound
from dibx.graph import challenges as store
from dibx.graph.cursors import Part, Sealer, open_window, viewer
from dibx.graph.driver import Graph, Rows
from dibx.graph.model import TYPES, FieldError, check_text
from dibx.services.audit import WriteAudit
from dibx.services.budget import RequestBudget

DEFAULT_DUE_DAYS = 30
MAX_TEXT = 4000
DECIDING_AUTHORITY = (
    "Marking adjudicator of the designating agency (CUI program office), acting with the "
    "dibx scope marking:adjudicate; escalation goes to an impartial arbiter"
)
IN_FORCE = "The marking stays in force while the challenge is pending."
CHALLENGEABLE = store.CHALLENGEABLE
STATES = store.STATES
_CHALLENGER_STEPS = ("FILED", store.ESCALATED)  # steps an anonymous challenger takes
MIN_KEY_BYTES = 32


class Decision(Enum):
    UPHOLD = "UPHOLD"
    CHANGE = "CHANGE"


@dataclass(frozen=True, slots=True)
class Step:
    action: str  # FILED, UPHELD, CHANGED, ESCALATED
    at: datetime
    nation: str
    subject: str | None  # None for an anonymous filing
    note: str | None  # rationale or escalation reason
    marking: str | None  # the marking a CHANGE set (None if concealed from this viewer)


@dataclass(frozen=True, slots=True)
class Challenge:
    """One challenge as the current caller may see it."""

    id: str
    state: str
    target_type: str
    target_key: str
    field: str | None
    current_marking: str | None  # at filing; None if the policy conceals it from this caller
    marking_in_force: str | None  # now; None if concealed
    proposed_marking: str
    justification: str
    anonymous: bool
    challenger_nation: str
    challenger_subject: str | None
    created_at: datetime
    due_at: datetime
    overdue: bool
    decision: str | None
    decided_at: datetime | None
    record_marking: str  # the target record's marking: joins the response banner
    history: tuple[Step, ...]


@dataclass(frozen=True, slots=True)
class ChallengePage:
    total: int | None
    items: list[Challenge]
    positions: list[tuple[Part, ...]]  # each item's place in the order: its cursor
    has_next: bool
    has_previous: bool
    connection: str  # what the page's cursors are bound to


def _now() -> datetime:
    return datetime.now(UTC)


def _text(value: str, field: str) -> str:
    """Free text (justification, rationale, reason), checked as any other free text: tab and
    line breaks are kept, any other control character is refused (`check_text`)."""
    text = value.strip()
    if not text:
        raise Invalid("must not be empty", field=field)
    if len(text) > MAX_TEXT:
        raise Invalid(f"must be at most {MAX_TEXT} characters", field=field)
    try:
        check_text(field.rsplit(".", 1)[-1], text, multiline=True)
    except FieldError as exc:
        raise Invalid(str(exc), field=field) from None
    return text


def _marking(value: str, field: str) -> markings.Marking:
    try:
        return markings.parse(value)
    except markings.MarkingError as exc:
        raise Invalid(str(exc), field=field) from None


def check_id(value: str, field: str = "id") -> str:
    try:
        return str(uuid.UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise Invalid("is not a valid challenge id", field=field) from None


def _step(
    action: str,
    at: datetime,
    nation: str,
    subject: str | None,
    note: str | None = None,
    marking: str | None = None,
) -> str:
    return json.dumps(
        {
            "action": action,
            "at": at.isoformat(),
            "nation": nation,
            "subject": subject,
            "note": note,
            "marking": marking,
        },
        sort_keys=True,
    )


def challenger_tag(key: bytes, subject: str) -> str:
    """The keyed hash of a challenger's subject stored on a challenge (see the module doc)."""
    return hmac.new(key, b"dibx-challenger\x00" + subject.encode(), hashlib.sha256).hexdigest()


def _target(row: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": row["targetType"], "key": row["targetKey"], "field": row.get("field")}


def _item(rows: Rows) -> Mapping[str, Any] | None:
    return rows[0]["item"] if rows else None


class ChallengeService:
    def __init__(
        self,
        graph: Graph,
        policy: Policy,
        *,
        audit: WriteAudit | None = None,
        challenger_key: bytes,
        due_days: int = DEFAULT_DUE_DAYS,
        max_page_size: int = 100,
        clock: Callable[[], datetime] = _now,
        budget: RequestBudget | None = None,
        cursors: Sealer | None = None,
    ) -> None:
        if due_days < 1:
            raise ValueError("due_days must be at least 1")
        if len(challenger_key) < MIN_KEY_BYTES:
            raise ValueError(f"the challenger key must be at least {MIN_KEY_BYTES} bytes")
        self.graph = graph
        self.policy = policy
        self.audit = audit
        self._key = challenger_key
        self.due_days = due_days
        self.max_page_size = max_page_size
        self.clock = clock
        self.budget = budget
        self.cursors = cursors or Sealer.ephemeral()

    def for_request(self, audit: WriteAudit, budget: RequestBudget) -> ChallengeService:
        """This service (built once) bound to one request's write audit and budget."""
        bound = copy.copy(self)
        bound.audit, bound.budget = audit, budget
        return bound

    def _audit(self) -> WriteAudit:
        if self.audit is None:  # no write goes unaudited
            raise RuntimeError("the challenge service has no write audit")
        return self.audit

    # -- filing -------------------------------------------------------------------------

    async def file(
        self,
        principal: Principal,
        scope: ReleaseScope,
        *,
        target_type: str,
        target_key: str,
        field: str | None,
        proposed_marking: str,
        justification: str,
        anonymous: bool = False,
    ) -> Challenge:
        # 1. The input on its own, before any read or write.
        if target_type not in CHALLENGEABLE:
            raise Invalid(
                f"is a {target_type} id; challenges apply to {' or '.join(CHALLENGEABLE)} records",
                field="input.target",
            )
        if field is not None and field not in TYPES[target_type].names:
            known = ", ".join(TYPES[target_type].names)
            raise Invalid(
                f"{target_type} has no field {field!r}; one of: {known} "
                "(or null for the record's own marking)",
                field="input.field",
            )
        proposed = str(_marking(proposed_marking, "input.proposedMarking"))
        reason = _text(justification, "input.justification")

        # 2. The target, as the caller may see it: hidden answers like missing.
        target = await store.target_marking(self.graph, scope, target_type, target_key, field)
        if target is None:
            raise NotFound("no such record", field="input.target")
        current = target.marking or "UNMARKED"
        if self._disclosed(target.released, [current]) and proposed == current:
            raise Invalid(
                f"is the marking already in force ({current}): propose a different one",
                field="input.proposedMarking",
            )
        if target.pending_id is not None:
            raise Conflict(
                f"your nation already has a pending challenge of this marking: {target.pending_id}"
            )

        # 3. One write: the challenge, its edge and its first history step.
        now = self.clock()
        subject = None if anonymous else principal.subject
        props: dict[str, Any] = {
            "id": str(uuid.uuid4()),
            "state": store.PENDING,
            "targetType": target_type,
            "targetKey": target_key,
            "field": field,
            "currentMarking": current,
            "proposedMarking": proposed,
            "justification": reason,
            "anonymous": anonymous,
            "challengerNation": principal.nation,
            "challengerSubject": subject,
            "challengerTag": challenger_tag(self._key, principal.subject),
            "createdAt": now,
            "dueAt": now + timedelta(days=self.due_days),
            "history": [_step("FILED", now, principal.nation, subject)],
        }

        def describe(rows: Rows) -> dict[str, Any] | None:
            item = _item(rows)
            if item is None:
                return None
            return {
                "challenge": item["id"],
                "target": _target(item),
                "anonymous": anonymous,
                "proposed_marking": proposed,
                "state_before": None,
                "state_after": item["state"],
                "marking_before": current,
                "marking_after": current,  # filing changes no marking
            }

        row = await self._audit().run(
            principal,
            "challengeMarking",
            describe,
            lambda hook: store.create(
                self.graph,
                scope,
                type_name=target_type,
                key=target_key,
                field=field,
                expected_marking=current,
                props=props,
                before_commit=hook,
            ),
        )
        if row is None:
            raise Conflict("the marking changed while the challenge was being filed; try again")
        return self._view(row)

    # -- deciding -----------------------------------------------------------------------

    def _review(
        self, principal: Principal, state: str, note: str, now: datetime, *, changed: str | None
    ) -> dict[str, Any]:
        """A decision counts as a review of the marking (see `dibx.services.review`): the
        adjudicator designates it for the decision's reason until the next review date, as
        a revision of the record."""
        return {
            "reviewBy": now + timedelta(days=self.policy.stewardship.review_days),
            "catalogueSteward": self.policy.stewardship.catalogue_steward,
            "deciderOrg": principal.org,
            "revision": {
                "kind": "updated",
                "actorSubject": principal.subject,
                "actorOrg": principal.org,
                "actorNation": principal.nation,
                "actorClient": principal.client_id,
                "reason": note,
                # The portion whose marking changed (`marking`: the record's), if it did.
                "changed": [] if changed is None else [changed],
                "review": f"challenge {state.lower()}",
            },
        }

    async def decide(
        self,
        principal: Principal,
        scope: ReleaseScope,
        *,
        challenge_id: str,
        decision: Decision,
        new_marking: str | None,
        rationale: str,
    ) -> Challenge:
        cid = check_id(challenge_id, "input.id")
        parsed: markings.Marking | None = None
        if decision is Decision.CHANGE:
            if new_marking is None or not new_marking.strip():
                raise Invalid("is required when the decision is CHANGE", field="input.newMarking")
            parsed = _marking(new_marking, "input.newMarking")
        elif new_marking is not None:
            raise Invalid("is only given when the decision is CHANGE", field="input.newMarking")
        note = _text(rationale, "input.rationale")

        tag = challenger_tag(self._key, principal.subject)
        row = await store.get(self.graph, scope, cid, adjudicator=True, caller_tag=tag)
        # Not found before forbidden: a challenge the caller cannot see does not exist for
        # them. One they see (as of the challenger's nation, or as an adjudicator the portion
        # is released to) is refused with the reason.
        if row is None:
            raise NotFound("no such challenge", field="input.id")
        if not row["portionReleased"]:
            raise Forbidden(
                "the challenged portion is not released to you: an adjudicator who may see "
                "it decides this challenge"
            )
        adjudication = self.policy.adjudication
        designator = row.get("targetOrigin") or adjudication.default_designator
        if not adjudication.may_decide(principal, designator):
            raise Forbidden(
                "only an adjudicating org of the nation that designated this marking may "
                "decide the challenge"
            )
        if row["filedByCaller"] or (
            not row["anonymous"] and row.get("challengerSubject") == principal.subject
        ):
            raise Forbidden("a challenger may not decide their own challenge")
        if row["state"] != store.PENDING:
            raise Conflict(f"the challenge is {row['state']}: only PENDING challenges are decided")
        text = str(parsed) if parsed is not None else None
        if text is not None and text == row["liveMarking"]:
            raise Invalid(
                f"is the marking already in force ({text}): decide UPHOLD to keep it",
                field="input.newMarking",
            )

        now = self.clock()
        state = store.CHANGED if parsed is not None else store.UPHELD
        before = row["liveMarking"] or "UNMARKED"

        def describe(rows: Rows) -> dict[str, Any] | None:
            item = _item(rows)
            if item is None:
                return None
            return {
                "challenge": cid,
                "target": _target(item),
                "decision": decision.value,
                "state_before": store.PENDING,
                "state_after": item["state"],
                "marking_before": before,
                "marking_after": item["liveMarking"],
            }

        updated = await self._audit().run(
            principal,
            "decideChallenge",
            describe,
            lambda hook: store.decide(
                self.graph,
                scope,
                challenge_id=cid,
                type_name=row["targetType"],
                field=row["field"],
                state=state,
                decision=decision.value,
                decided_at=now,
                decider_subject=principal.subject,
                decider_nation=principal.nation,
                rationale=note,
                step=_step(state, now, principal.nation, principal.subject, note, text),
                new_marking=text,
                new_release=list(markings.release_clauses(parsed)) if parsed is not None else None,
                expected_marking=before,
                default_designator=adjudication.default_designator,
                caller_tag=tag,
                before_commit=hook,
                review=self._review(
                    principal,
                    state,
                    note,
                    now,
                    changed=(row["field"] or "marking") if parsed else None,
                ),
            ),
        )
        if updated is None:
            raise Conflict("the challenge or its marking changed meanwhile; read it again")
        return self._view(updated)

    # -- escalating ---------------------------------------------------------------------

    async def escalate(
        self, principal: Principal, scope: ReleaseScope, *, challenge_id: str, reason: str
    ) -> Challenge:
        cid = check_id(challenge_id)
        note = _text(reason, "reason")
        row = await store.get(
            self.graph, scope, cid, adjudicator=principal.has_scope(MARKING_ADJUDICATE)
        )
        if row is None:
            raise NotFound("no such challenge", field="id")
        if row["challengerNation"] != principal.nation:
            raise Forbidden("only the challenger's nation may escalate a challenge")
        if row["state"] not in store.DECIDED:
            raise Conflict(f"the challenge is {row['state']}: only a decided one can be escalated")
        now = self.clock()
        subject = None if row["anonymous"] else principal.subject
        state_before = row["state"]

        def describe(rows: Rows) -> dict[str, Any] | None:
            item = _item(rows)
            if item is None:
                return None
            return {
                "challenge": cid,
                "target": _target(item),
                "reason": note,
                "state_before": state_before,
                "state_after": item["state"],
            }

        updated = await self._audit().run(
            principal,
            "escalateChallenge",
            describe,
            lambda hook: store.escalate(
                self.graph,
                scope,
                challenge_id=cid,
                escalated_at=now,
                due_at=now + timedelta(days=self.due_days),
                # Whoever escalates an anonymous challenge is most likely its challenger: unnamed.
                step=_step(store.ESCALATED, now, principal.nation, subject, note),
                before_commit=hook,
            ),
        )
        if updated is None:
            raise Conflict("the challenge changed meanwhile; read it again")
        return self._view(updated)

    # -- reading ------------------------------------------------------------------------

    async def get(
        self, principal: Principal, scope: ReleaseScope, challenge_id: str
    ) -> Challenge | None:
        cid = check_id(challenge_id)
        row = await store.get(
            self.graph, scope, cid, adjudicator=principal.has_scope(MARKING_ADJUDICATE)
        )
        return None if row is None else self._view(row)

    async def page(
        self,
        principal: Principal,
        scope: ReleaseScope,
        *,
        state: str | None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        want_total: bool,
    ) -> ChallengePage:
        connection = f"markingChallenges:{state}"
        window = open_window(
            self.cursors,
            viewer(scope),
            connection,
            first=first,
            after=after,
            last=last,
            before=before,
            default=20,
            max_size=self.max_page_size,
            parts=len(store.ORDER),
        )
        if self.budget is not None:
            # Shares the request's budget with its other root fields.
            self.budget.charge(window.size)
        rows = await store.page(
            self.graph,
            scope,
            adjudicator=principal.has_scope(MARKING_ADJUDICATE),
            state=state,
            window=window,
            want_total=want_total,
        )
        return ChallengePage(
            total=rows.total,
            items=[self._view(r) for r in rows.items],
            positions=rows.positions,
            has_next=rows.has_next,
            has_previous=rows.has_previous,
            connection=connection,
        )

    # -- views --------------------------------------------------------------------------

    def _disclosed(self, released: bool, marks: list[str | None]) -> bool:
        """A withheld portion's markings are shown only where the policy discloses them."""
        return released or all(self.policy.discloses(m or "UNMARKED") for m in marks)

    def _view(self, row: Mapping[str, Any]) -> Challenge:
        steps = [json.loads(s) for s in row["history"]]
        marks = [row["currentMarking"], row["liveMarking"], *(s.get("marking") for s in steps)]
        shown = self._disclosed(bool(row["portionReleased"]), [m for m in marks if m])
        anonymous = bool(row["anonymous"])
        history = tuple(
            Step(
                action=s["action"],
                at=datetime.fromisoformat(s["at"]),
                nation=s["nation"],
                subject=None
                if anonymous and s["action"] in _CHALLENGER_STEPS
                else s.get("subject"),
                note=s.get("note"),
                marking=s.get("marking") if shown else None,
            )
            for s in steps
        )
        due: datetime = row["dueAt"]
        open_states = (store.PENDING, store.ESCALATED)
        return Challenge(
            id=row["id"],
            state=row["state"],
            target_type=row["targetType"],
            target_key=row["targetKey"],
            field=row.get("field"),
            current_marking=row["currentMarking"] if shown else None,
            marking_in_force=row["liveMarking"] if shown else None,
            proposed_marking=row["proposedMarking"],
            justification=row["justification"],
            anonymous=anonymous,
            challenger_nation=row["challengerNation"],
            challenger_subject=None if anonymous else row.get("challengerSubject"),
            created_at=row["createdAt"],
            due_at=due,
            overdue=row["state"] in open_states and self.clock() > due,
            decision=row.get("decision"),
            decided_at=row.get("decidedAt"),
            record_marking=str(row.get("recordMarking") or "UNMARKED"),
            history=history,
        )
