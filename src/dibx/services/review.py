"""Marking review: which markings a nation's stewards should look at again, and closing them.

`reviews` lists the portions (a record's marking, or a field's) of the visible stewarded records
and edges the caller's nation originated that need review, each for one or more reasons:

    OVERDUE                its review-by date has passed
    NO_REASON              it was designated without a reason. Seeded data carries no marking
                           metadata: every seeded portion counts as designated without a
                           reason (and without a review-by date), by its derived originator
    STRICTER_THAN_DEFAULT  it is not as releasable as the policy default for the portion: it
                           withholds from someone the default releases to, or adds a category
                           or control (`at_least(default, marking)` fails; see
                           `dibx.services.stewardship.at_least`), and it has not been reviewed
                           since it was designated (`reviewedAt` older than `markedAt`)

`reaffirm` records a reason, the caller as designator and a new review-by date (policy
`[stewardship] review_days`) without changing the marking; `change` sets a new marking,
validated exactly as a stewarded write's (algebra, readable by the caller's own nation, the
policy floor) and needs the type's write scope. Both need the caller's nation to be the
originator (as any stewarded change), `expectedVersion`, and a reason; both write a revision
(a state) in one audited transaction, so `history` and `asOf` show them. A marking decided
through a challenge is renewed by the decision itself (see `dibx.graph.challenges.decide`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from dibx.auth import markings
from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.graph import outbox
from dibx.graph import review as graph_review
from dibx.graph import stewardship as store
from dibx.graph.driver import Rows, TxRunner
from dibx.services import stewardship as rules
from dibx.services.stewardship import (
    CONFLICT,
    FORBIDDEN,
    INVALID,
    NOT_FOUND,
    NOT_FOUND_MESSAGE,
    REASON_REQUIRED,
    UNKNOWN_FIELD,
    Outcome,
    StewardshipService,
    UserError,
)

OVERDUE = "OVERDUE"
NO_REASON = "NO_REASON"
STRICTER_THAN_DEFAULT = "STRICTER_THAN_DEFAULT"
REAFFIRMED, CHANGED = "reaffirmed", "changed"


@dataclass(frozen=True, slots=True)
class ReviewItem:
    type: str
    key: str | None  # records
    start: str | None  # edges
    end: str | None
    field: str | None  # None: the record's (edge's) own marking
    marking: str | None
    version: int
    designator_nation: str | None
    designator_org: str | None
    designator_subject: str | None
    reason: str | None
    marked_at: datetime | None
    review_by: datetime | None
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReviewPage:
    items: list[ReviewItem]
    total: int
    offset: int
    has_next: bool


def _native(value: Any) -> Any:
    return value.to_native() if hasattr(value, "to_native") else value


def stricter(
    marking: str | None,
    default: str | None,
    tetragraphs: Mapping[str, frozenset[str]] | None = None,
    cui_release_groups: frozenset[str] = frozenset(),
) -> bool:
    """Whether `marking` is not as releasable as `default`, compared as the floors are
    (unparseable counts as stricter: a person should look at it)."""
    if marking is None or default is None or marking == default:
        return False
    try:
        return not rules.at_least(
            markings.parse(default), markings.parse(marking), tetragraphs, cui_release_groups
        )
    except markings.MarkingError:
        return True


class MarkingReview:
    def __init__(self, stewardship: StewardshipService) -> None:
        self.stewardship = stewardship

    # -- listing -------------------------------------------------------------------------

    async def reviews(
        self,
        scope: ReleaseScope,
        *,
        offset: int,
        first: int,
        now: datetime | None = None,
        tetragraphs: Mapping[str, frozenset[str]] | None = None,
    ) -> ReviewPage:
        s = self.stewardship
        table = tetragraphs or {}
        cui = s.policy.cui_release_groups
        at = now or s.clock()
        rows = await graph_review.portions(
            s.graph, scope, s.model, catalogue_steward=s.policy.stewardship.catalogue_steward
        )
        items: list[ReviewItem] = []
        for row in rows:
            for p in row["portions"]:
                items += self._item(scope, row, p, at, table, cui)
        items.sort(key=lambda i: (i.type, i.key or "", i.start or "", i.end or "", i.field or ""))
        page = items[offset : offset + first]
        return ReviewPage(page, len(items), offset, offset + first < len(items))

    @staticmethod
    def _item(
        scope: ReleaseScope,
        row: Mapping[str, Any],
        p: Mapping[str, Any],
        now: datetime,
        tetragraphs: Mapping[str, frozenset[str]],
        cui_release_groups: frozenset[str],
    ) -> list[ReviewItem]:
        field = p.get("field")
        default = scope.default_marking.get(
            row["type"] if field is None else f"{row['type']}_{field}"
        )
        review_by = _native(p.get("reviewBy"))
        reasons = []
        if review_by is not None and review_by <= now:
            reasons.append(OVERDUE)
        if p.get("markingReason") is None:
            reasons.append(NO_REASON)
        reviewed, marked_at = _native(p.get("reviewedAt")), _native(p.get("markedAt"))
        unreviewed = reviewed is None or (marked_at is not None and reviewed < marked_at)
        if unreviewed and stricter(p.get("marking"), default, tetragraphs, cui_release_groups):
            reasons.append(STRICTER_THAN_DEFAULT)
        if not reasons:
            return []
        seeded = p.get("markedByNation") is None
        return [
            ReviewItem(
                type=row["type"],
                key=row.get("key"),
                start=row.get("start"),
                end=row.get("end"),
                field=field,
                marking=p.get("marking"),
                version=int(row["version"]),
                designator_nation=row.get("origin") if seeded else p.get("markedByNation"),
                designator_org=p.get("markedByOrg"),
                designator_subject=p.get("markedBySubject"),
                reason=p.get("markingReason"),
                marked_at=_native(p.get("markedAt")),
                review_by=review_by,
                reasons=tuple(reasons),
            )
        ]

    # -- closing -------------------------------------------------------------------------

    async def reaffirm(
        self, principal: Principal, scope: ReleaseScope, target: Mapping[str, Any]
    ) -> Outcome:
        return await self._close(principal, scope, target, change=False)

    async def change(
        self,
        principal: Principal,
        scope: ReleaseScope,
        target: Mapping[str, Any],
        tetragraphs: Mapping[str, frozenset[str]] | None = None,
    ) -> Outcome:
        """`tetragraphs`: agreement -> member nations, for the floor check (as writes)."""
        self.stewardship._tetragraphs = tetragraphs or {}
        return await self._close(principal, scope, target, change=True)

    async def _close(
        self,
        principal: Principal,
        scope: ReleaseScope,
        raw: Mapping[str, Any],
        *,
        change: bool,
    ) -> Outcome:
        """`raw`: {type, key, field?, expectedVersion, reason, marking (change)}; records
        only (`Supplier`, `Capability`)."""
        s = self.stewardship
        errors: list[UserError] = []
        node = s.model.nodes.get(str(raw.get("type")))
        if node is None or node.name not in store.STEWARDED_NODES:
            return Outcome(errors=[UserError(("id",), INVALID, "not a stewarded record")])
        field = raw.get("field")
        if field is not None and field not in node.names:
            errors.append(
                UserError(
                    ("field",),
                    UNKNOWN_FIELD,
                    f"{node.name} has no field {field!r}; known: {', '.join(node.names)}",
                )
            )
        reason = s._reason(raw.get("reason"), errors)
        if raw.get("reason") is None:
            errors.append(UserError(("reason",), REASON_REQUIRED, "a review needs a reason"))
        expected = s._version(raw.get("expectedVersion"), errors, required=True)
        parsed = None
        if change:
            needed = s.policy.stewardship.scope_for(node.name)
            if needed is None or not principal.has_scope(needed):
                errors.append(
                    UserError(
                        (), FORBIDDEN, f"changing a {node.name} needs the scope {needed or '-'}"
                    )
                )
            floor_key = node.name if field is None else f"{node.name}_{field}"
            parsed = s._marking(raw.get("marking"), ("marking",), scope, floor_key, errors)
        if errors or expected is None or reason is None:
            return Outcome(errors=errors)
        key = str(raw["key"])

        async def work(tx: TxRunner) -> Rows:
            now = s.clock()
            missing = rules._Abort([UserError(("id",), NOT_FOUND, NOT_FOUND_MESSAGE)])
            if not await s.store.lock_node(tx, scope, node, key):
                raise missing
            cur = await s.store.fetch_node(tx, scope, node, key)
            if cur is None:
                raise missing
            rule = s._not_steward(principal, cur)
            if rule is not None:
                who = f"originator ({cur.origin_nation})" if rule == "nation" else "originating org"
                message = f"only the {who} may review this marking"
                raise rules._Abort([UserError(("id",), FORBIDDEN, message)])
            if cur.version != expected:
                raise rules._Abort(
                    [
                        UserError(
                            ("expectedVersion",),
                            CONFLICT,
                            f"the record is at version {cur.version}",
                            cur.version,
                        )
                    ]
                )
            before = cur.marking if field is None else cur.markings.get(field)
            props: dict[str, Any] = s._meta(principal, field, reason, now)
            props[store.marked(field, "reviewedAt")] = now
            changed: list[str] = []
            if parsed is not None:
                if str(parsed) == before:
                    raise rules._Abort(
                        [
                            UserError(
                                ("marking",),
                                INVALID,
                                f"it is already {before}: reaffirm it instead",
                            )
                        ]
                    )
                props[store.marked(field, "marking")] = str(parsed)
                props[store.marked(field, "release")] = list(markings.release_clauses(parsed))
                changed.append("marking" if field is None else field)
            revision = {
                **s._revision(principal, store.UPDATED, reason, changed),
                "review": CHANGED if change else REAFFIRMED,
                "reviewed": "marking" if field is None else field,
            }
            version = await s.store.update_node(
                tx, node, key, expected=expected, changes=props, revision=revision, now=now
            )
            if version is None:
                raise rules._Abort(
                    [UserError(("expectedVersion",), CONFLICT, "the record changed meanwhile")]
                )
            await outbox.append_pending(tx)  # last: numbers this write's event (graph.outbox)
            after = str(parsed) if parsed is not None else before
            audit = {
                "type": node.name,
                "key": key,
                "kind": store.UPDATED,
                "review": CHANGED if change else REAFFIRMED,
                "field": field,
                "before": rules.digest({"version": cur.version, "marking": before}),
                "after": rules.digest({"version": version, "marking": after}),
                "version": version,
            }
            return [
                {"applied": rules.Applied(node.name, key, store.UPDATED, version), "audit": audit}
            ]

        def describe(rows: Rows) -> dict[str, Any] | None:
            return {"changes": [rows[0]["audit"]]} if rows else None

        if s.audit is None:  # no write goes unaudited
            raise RuntimeError("the review service has no write audit")
        audit = s.audit
        try:
            rows = await audit.run(
                principal,
                "changeMarking" if change else "reaffirmMarking",
                describe,
                lambda hook: s.graph.transaction(work, before_commit=hook),
            )
        except rules._Abort as abort:
            return Outcome(errors=abort.errors)
        return Outcome(applied=[rows[0]["applied"]])
