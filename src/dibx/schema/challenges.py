"""GraphQL surface of marking challenges: `ChallengeQuery` (reads) and `Mutation`.

Resolvers translate ids and enums and hand the rules to `dibx.services.challenges`. Every
challenge handed out releases its target record's marking into the response banner (the
challenge reveals that record), so the banner and the audit count it like the record itself.
"""

import datetime
import functools
from collections.abc import Callable
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from dibx.auth.principal import MARKING_ADJUDICATE, MARKING_CHALLENGE
from dibx.graph.cursors import viewer
from dibx.schema.connection import AFTER, BEFORE, FIRST, LAST, Connection, Edge, Rows
from dibx.schema.context import Context
from dibx.schema.ids import decode_id, encode_id
from dibx.schema.scopes import root_field, root_mutation
from dibx.schema.selection import selections_of
from dibx.services import challenges as rules


@strawberry.enum(description="Where a marking challenge stands.")
class ChallengeState(Enum):
    PENDING = strawberry.enum_value("PENDING", description="Filed, awaiting a decision.")
    UPHELD = strawberry.enum_value("UPHELD", description="Decided: the marking stays.")
    CHANGED = strawberry.enum_value("CHANGED", description="Decided: the marking was changed.")
    ESCALATED = strawberry.enum_value("ESCALATED", description="Escalated to an arbiter.")


@strawberry.enum(description="An adjudicator's decision on a pending challenge.")
class ChallengeDecision(Enum):
    UPHOLD = strawberry.enum_value("UPHOLD", description="Keep the marking.")
    CHANGE = strawberry.enum_value("CHANGE", description="Replace the marking.")


@strawberry.type(description="One recorded step of a challenge.")
class ChallengeStep:
    action: str = strawberry.field(description="FILED, UPHELD, CHANGED or ESCALATED.")
    at: datetime.datetime = strawberry.field(description="When.")
    nation: str = strawberry.field(description="The acting nation.")
    subject: str | None = strawberry.field(description="Null for an anonymous filing.")
    note: str | None = strawberry.field(description="The rationale or the escalation reason.")
    marking: str | None = strawberry.field(description="The marking a CHANGE put in force.")


@strawberry.type(
    description=(
        "A challenge of a marking (32 CFR 2002.50). Visible only to callers who may see its "
        "target record: the challenger's nation, and adjudicators the disputed portion is "
        "released to."
    )
)
class MarkingChallenge:
    id: strawberry.ID = strawberry.field(description="The challenge's id.")
    state: ChallengeState = strawberry.field(description="Where it stands.")
    target_id: strawberry.ID = strawberry.field(description="Global id of the record challenged.")
    target_type: str = strawberry.field(description="Supplier or Capability.")
    field: str | None = strawberry.field(
        description="The challenged field; null when the record's own marking is challenged."
    )
    current_marking: str | None = strawberry.field(
        description="The marking challenged, as in force when filed (null if the policy "
        "conceals it from you)."
    )
    marking_in_force: str | None = strawberry.field(
        description="The marking in force now (null if the policy conceals it from you)."
    )
    proposed_marking: str = strawberry.field(description="The marking the challenger proposes.")
    justification: str = strawberry.field(description="Why the challenger believes it is wrong.")
    anonymous: bool = strawberry.field(description="Whether the challenger's identity is kept off.")
    challenger_nation: str = strawberry.field(description="The challenger's nation.")
    challenger_subject: str | None = strawberry.field(
        description="Null for anonymous challenges, always."
    )
    created_at: datetime.datetime = strawberry.field(description="When it was filed.")
    due_at: datetime.datetime = strawberry.field(description="When a decision is due.")
    overdue: bool = strawberry.field(description="Open (pending or escalated) past `dueAt`.")
    decision: ChallengeDecision | None = strawberry.field(description="The decision, once decided.")
    decided_at: datetime.datetime | None = strawberry.field(description="When it was decided.")
    deciding_authority: str = strawberry.field(description="Who decides.")
    history: list[ChallengeStep] = strawberry.field(
        description="Every recorded step, oldest first."
    )


@strawberry.type(description="Receipt of a filed challenge.")
class ChallengeReceipt:
    challenge: MarkingChallenge = strawberry.field(description="The challenge filed.")
    acknowledgement: str = strawberry.field(description="The acknowledgement, to keep.")
    due_at: datetime.datetime = strawberry.field(description="When a decision is due.")
    marking_stays_in_force: bool = strawberry.field(
        description="Always true: the marking stays in force while the challenge is pending."
    )
    deciding_authority: str = strawberry.field(description="Who decides.")


def _connection(
    page: rules.ChallengePage,
    nodes: list[MarkingChallenge],
    cursor_of: Callable[[tuple[Any, ...]], str],
    asked: tuple[str | None, str | None],
) -> Connection[Edge[MarkingChallenge], MarkingChallenge]:
    def edges(_: Any) -> list[Edge[MarkingChallenge]]:
        return [
            Edge(position=functools.partial(cursor_of, at), build=_const(n))
            for n, at in zip(nodes, page.positions, strict=True)
        ]

    def ends() -> tuple[str | None, str | None]:
        if not page.positions:
            return asked
        return cursor_of(page.positions[0]), cursor_of(page.positions[-1])

    rows = Rows(
        edges=edges,
        nodes=lambda _: nodes,
        has_next=page.has_next,
        has_previous=page.has_previous,
        cursors=ends,
        total=int(page.total or 0),
    )
    return Connection(rows=rows)


def _const(node: MarkingChallenge) -> Callable[[Any], MarkingChallenge]:
    return lambda _: node


@strawberry.input(description="A challenge of a record's marking or of one of its fields.")
class ChallengeMarkingInput:
    target: strawberry.ID = strawberry.field(description="Global id of a Supplier or Capability.")
    proposed_marking: str = strawberry.field(description="The marking you believe is right.")
    justification: str = strawberry.field(description="Why; at most 4000 characters.")
    field: str | None = strawberry.field(
        default=None, description="The field (as in `withheld` paths); null for the record."
    )
    anonymous: bool = strawberry.field(
        default=False, description="Keep your identity off the challenge (your nation is kept)."
    )


@strawberry.input(description="An adjudicator's decision on a pending challenge.")
class DecideChallengeInput:
    id: strawberry.ID = strawberry.field(description="The challenge's id.")
    decision: ChallengeDecision = strawberry.field(description="UPHOLD or CHANGE.")
    rationale: str = strawberry.field(description="Why; recorded with the decision.")
    new_marking: str | None = strawberry.field(
        default=None, description="Required when the decision is CHANGE."
    )


def _service(ctx: Context) -> rules.ChallengeService:
    if ctx.writes is None:  # every request context has one; no write goes unaudited
        raise RuntimeError("the request context has no write audit")
    return ctx.services.challenges.for_request(ctx.writes, ctx.budget)


def _out(info: Info[Context, None], c: rules.Challenge) -> MarkingChallenge:
    # The challenge reveals its target record: its marking joins the banner and the audit.
    info.context.disclosure.release(c.record_marking)
    return MarkingChallenge(
        id=strawberry.ID(c.id),
        state=ChallengeState(c.state),
        target_id=strawberry.ID(encode_id(c.target_type, c.target_key)),
        target_type=c.target_type,
        field=c.field,
        current_marking=c.current_marking,
        marking_in_force=c.marking_in_force,
        proposed_marking=c.proposed_marking,
        justification=c.justification,
        anonymous=c.anonymous,
        challenger_nation=c.challenger_nation,
        challenger_subject=c.challenger_subject,
        created_at=c.created_at,
        due_at=c.due_at,
        overdue=c.overdue,
        decision=ChallengeDecision(c.decision) if c.decision else None,
        decided_at=c.decided_at,
        deciding_authority=rules.DECIDING_AUTHORITY,
        history=[
            ChallengeStep(
                action=s.action,
                at=s.at,
                nation=s.nation,
                subject=s.subject,
                note=s.note,
                marking=s.marking,
            )
            for s in c.history
        ],
    )


@strawberry.type
class ChallengeQuery:
    @root_field(
        scope=MARKING_CHALLENGE,
        description="A marking challenge by id; null if absent or not visible to you.",
    )
    async def marking_challenge(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The challenge's id.")],
    ) -> MarkingChallenge | None:
        ctx = info.context
        found = await _service(ctx).get(ctx.principal, ctx.scope, str(id))
        return None if found is None else _out(info, found)

    @root_field(
        scope=MARKING_CHALLENGE, description="Marking challenges you may see, newest first."
    )
    async def marking_challenges(
        self,
        info: Info[Context, None],
        state: Annotated[
            ChallengeState | None, strawberry.argument(description="Only challenges in this state.")
        ] = None,
        first: Annotated[int | None, strawberry.argument(description=FIRST)] = None,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = None,
        last: Annotated[int | None, strawberry.argument(description=LAST)] = None,
        before: Annotated[str | None, strawberry.argument(description=BEFORE)] = None,
    ) -> Connection[Edge[MarkingChallenge], MarkingChallenge]:
        ctx = info.context
        want_total = any(s.name == "totalCount" for s in selections_of(info._raw_info))
        service = _service(ctx)
        page = await service.page(
            ctx.principal,
            ctx.scope,
            state=state.name if state is not None else None,
            first=first,
            after=after,
            last=last,
            before=before,
            want_total=want_total,
        )
        sealer, caller = service.cursors, viewer(ctx.scope)

        def cursor_of(at: tuple[Any, ...]) -> str:
            return sealer.seal(caller, page.connection, at)

        nodes = [_out(info, c) for c in page.items]
        return _connection(page, nodes, cursor_of, (before, after))


@strawberry.type(description="Changes: marking challenges and their decisions.")
class Mutation:
    @root_mutation(
        scope=MARKING_CHALLENGE,
        description=(
            "Challenge the marking of a record or of one of its fields (32 CFR 2002.50). "
            "The marking stays in force while the challenge is pending."
        ),
    )
    async def challenge_marking(
        self,
        info: Info[Context, None],
        input: Annotated[ChallengeMarkingInput, strawberry.argument(description="The challenge.")],
    ) -> ChallengeReceipt:
        ctx = info.context
        target_type, key = decode_id(input.target, field="input.target")
        filed = await _service(ctx).file(
            ctx.principal,
            ctx.scope,
            target_type=target_type,
            target_key=key,
            field=input.field,
            proposed_marking=input.proposed_marking,
            justification=input.justification,
            anonymous=input.anonymous,
        )
        challenge = _out(info, filed)
        return ChallengeReceipt(
            challenge=challenge,
            acknowledgement=(
                f"Challenge {filed.id} received {filed.created_at.isoformat()}. "
                f"A decision is due by {filed.due_at.isoformat()}. {rules.IN_FORCE} "
                f"Deciding authority: {rules.DECIDING_AUTHORITY}. "
                "Challenges are made in good faith and without retribution."
            ),
            due_at=filed.due_at,
            marking_stays_in_force=True,
            deciding_authority=rules.DECIDING_AUTHORITY,
        )

    @root_mutation(
        scope=MARKING_ADJUDICATE,
        description="Decide a pending challenge: UPHOLD keeps the marking, CHANGE replaces it.",
    )
    async def decide_challenge(
        self,
        info: Info[Context, None],
        input: Annotated[DecideChallengeInput, strawberry.argument(description="The decision.")],
    ) -> MarkingChallenge:
        ctx = info.context
        decided = await _service(ctx).decide(
            ctx.principal,
            ctx.scope,
            challenge_id=str(input.id),
            decision=rules.Decision(input.decision.value),
            new_marking=input.new_marking,
            rationale=input.rationale,
        )
        return _out(info, decided)

    @root_mutation(
        scope=MARKING_CHALLENGE,
        description="Escalate a decided challenge to an impartial arbiter (challenger's nation).",
    )
    async def escalate_challenge(
        self,
        info: Info[Context, None],
        id: Annotated[strawberry.ID, strawberry.argument(description="The challenge's id.")],
        reason: Annotated[
            str, strawberry.argument(description="Why the decision should be reviewed.")
        ],
    ) -> MarkingChallenge:
        ctx = info.context
        escalated = await _service(ctx).escalate(
            ctx.principal, ctx.scope, challenge_id=str(id), reason=reason
        )
        return _out(info, escalated)


__all__ = ["ChallengeQuery", "MarkingChallenge", "Mutation"]
