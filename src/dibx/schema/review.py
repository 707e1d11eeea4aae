"""GraphQL surface of marking review: `markingReviews`, `reaffirmMarking`, `changeMarking`.

The rules live in `dibx.services.review`; errors are the stewarded writes' `userErrors`.
"""

from __future__ import annotations

import datetime
from enum import Enum
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from dibx.auth.principal import MARKING_REVIEW
from dibx.errors import Invalid
from dibx.graph.cursors import viewer
from dibx.schema.context import Context
from dibx.schema.ids import decode_id, encode_id
from dibx.schema.scopes import root_field, root_mutation
from dibx.schema.stewardship import StewardshipPayload, _payload
from dibx.services import review as rules
from dibx.services import stewardship as writes

MAX_FIRST = 100


@strawberry.enum(description="Why a marking is listed for review.")
class ReviewReason(Enum):
    OVERDUE = strawberry.enum_value("OVERDUE", description="Its review-by date has passed.")
    NO_REASON = strawberry.enum_value(
        "NO_REASON", description="Designated without a reason (all seeded data)."
    )
    STRICTER_THAN_DEFAULT = strawberry.enum_value(
        "STRICTER_THAN_DEFAULT",
        description="Less releasable than the policy default, and not reviewed since it was set.",
    )


@strawberry.type(description="A marking your nation designated that is due for review.")
class MarkingReviewItem:
    type: str = strawberry.field(description="Supplier, Capability or an edge type.")
    id: strawberry.ID | None = strawberry.field(description="Global id of the record (records).")
    key: str | None = strawberry.field(description="The record's key (records).")
    start: str | None = strawberry.field(description="The edge's start key (edges).")
    end: str | None = strawberry.field(description="The edge's end key (edges).")
    field: str | None = strawberry.field(description="The field; null: the record's marking.")
    marking: str | None = strawberry.field(description="The marking in force.")
    version: int = strawberry.field(description="The record's (edge's) version.")
    designator_nation: str | None = strawberry.field(
        description="Who designated it: the nation (seeded data: its originator)."
    )
    designator_org: str | None = strawberry.field(description="The designating org, if known.")
    designator_subject: str | None = strawberry.field(description="The designating person.")
    reason: str | None = strawberry.field(description="The designation's reason.")
    marked_at: datetime.datetime | None = strawberry.field(description="When it was designated.")
    review_by: datetime.datetime | None = strawberry.field(description="When it is due.")
    reasons: list[ReviewReason] = strawberry.field(description="Why it is listed.")


@strawberry.type(description="A page of markings due for review.")
class MarkingReviewPage:
    total_count: int = strawberry.field(description="How many are listed in all.")
    items: list[MarkingReviewItem] = strawberry.field(description="This page.")
    end_cursor: str | None = strawberry.field(description="Read on after this cursor.")
    has_next_page: bool = strawberry.field(description="Whether there is more.")


@strawberry.input(description="Reaffirm a marking: it stands, for a reason, until next review.")
class ReaffirmMarkingInput:
    id: strawberry.ID = strawberry.field(description="Global id of the record.")
    field: str | None = strawberry.field(
        default=None, description="The field; omit for the record's own marking."
    )
    expected_version: int = strawberry.field(description="The version you read.")
    reason: str = strawberry.field(description="Why the marking stands.")


@strawberry.input(description="Change a marking, for a reason.")
class ChangeMarkingInput:
    id: strawberry.ID = strawberry.field(description="Global id of the record.")
    field: str | None = strawberry.field(
        default=None, description="The field; omit for the record's own marking."
    )
    expected_version: int = strawberry.field(description="The version you read.")
    marking: str = strawberry.field(description="The new marking.")
    reason: str = strawberry.field(description="Why it changes.")


def _item(i: rules.ReviewItem) -> MarkingReviewItem:
    return MarkingReviewItem(
        type=i.type,
        id=strawberry.ID(encode_id(i.type, i.key)) if i.key is not None else None,
        key=i.key,
        start=i.start,
        end=i.end,
        field=i.field,
        marking=i.marking,
        version=i.version,
        designator_nation=i.designator_nation,
        designator_org=i.designator_org,
        designator_subject=i.designator_subject,
        reason=i.reason,
        marked_at=i.marked_at,
        review_by=i.review_by,
        reasons=[ReviewReason(r) for r in i.reasons],
    )


def _service(ctx: Context) -> rules.MarkingReview:
    if ctx.writes is None:  # every request context has one; no write goes unaudited
        raise RuntimeError("the request context has no write audit")
    return rules.MarkingReview(ctx.services.stewardship.for_request(ctx.writes))


REVIEWS = "markingReviews"


@strawberry.type
class ReviewQuery:
    @root_field(
        scope=MARKING_REVIEW,
        description="Markings your nation designated on its own data that are due for review: "
        "past their review-by date, designated without a reason, or stricter than the policy "
        "default.",
    )
    async def marking_reviews(
        self,
        info: Info[Context, None],
        first: Annotated[int, strawberry.argument(description="Page size (at most 100).")] = 50,
        after: Annotated[
            str | None, strawberry.argument(description="Read on after this cursor.")
        ] = None,
    ) -> MarkingReviewPage:
        if first < 0 or first > MAX_FIRST:
            raise Invalid(f"must be 0-{MAX_FIRST}", field="first")
        ctx = info.context
        # Sealed like every cursor (dibx.graph.cursors): bound to the caller and this list.
        sealer, caller = ctx.directory.cursors, viewer(ctx.scope)
        offset = 0
        if after is not None:
            (at,) = sealer.open(caller, REVIEWS, after, field="after", size=1)
            if not isinstance(at, int) or at < 0:
                raise Invalid("is not a cursor of this list", field="after")
            offset = at + 1
        page = await rules.MarkingReview(ctx.services.stewardship).reviews(
            ctx.scope, offset=offset, first=first, tetragraphs=ctx.tetragraphs
        )
        last = page.offset + len(page.items) - 1
        return MarkingReviewPage(
            total_count=page.total,
            items=[_item(i) for i in page.items],
            end_cursor=sealer.seal(caller, REVIEWS, [last]) if page.items else None,
            has_next_page=page.has_next,
        )


def _target(raw: Any, with_marking: bool) -> dict[str, Any] | writes.UserError:
    try:
        type_name, key = decode_id(str(raw.id), field="input.id")
    except Invalid:
        return writes.UserError(("id",), writes.INVALID, "is not a valid dibx id")
    out: dict[str, Any] = {
        "type": type_name,
        "key": key,
        "field": raw.field,
        "expectedVersion": raw.expected_version,
        "reason": raw.reason,
    }
    if with_marking:
        out["marking"] = raw.marking
    return out


@strawberry.type
class ReviewMutation:
    @root_mutation(
        scope=MARKING_REVIEW,
        description="Reaffirm a marking your nation designated: records the reason, you as "
        "designator and a new review-by date, as a revision in the record's history.",
    )
    async def reaffirm_marking(
        self,
        info: Info[Context, None],
        input: Annotated[
            ReaffirmMarkingInput, strawberry.argument(description="The marking to reaffirm.")
        ],
    ) -> StewardshipPayload:
        target = _target(input, with_marking=False)
        if isinstance(target, writes.UserError):
            return _payload(writes.Outcome(errors=[target]), ("input",))
        ctx = info.context
        outcome = await _service(ctx).reaffirm(ctx.principal, ctx.scope, target)
        return _payload(outcome, ("input",))

    @root_mutation(
        scope=MARKING_REVIEW,
        description="Change a marking your nation designated, for a reason (validated as any "
        "stewarded write; needs the type's write scope too), as a revision in its history.",
    )
    async def change_marking(
        self,
        info: Info[Context, None],
        input: Annotated[
            ChangeMarkingInput, strawberry.argument(description="The marking to change.")
        ],
    ) -> StewardshipPayload:
        target = _target(input, with_marking=True)
        if isinstance(target, writes.UserError):
            return _payload(writes.Outcome(errors=[target]), ("input",))
        ctx = info.context
        outcome = await _service(ctx).change(ctx.principal, ctx.scope, target, ctx.tetragraphs)
        return _payload(outcome, ("input",))
