"""Marking review through the API: what is listed and why, who sees it, and closing items."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support import builders as b
from tests.support import challenges as ch
from tests.support.api import Api, Reply
from tests.support.stewardship import REL_GBR, created, sid, supplier_input

pytestmark = pytest.mark.neo4j

REVIEWER = ("supplier:read", "marking:review")
REVIEW_WRITER = ("supplier:read", "marking:review", "data:write")
LIST = """query R($first: Int, $after: String) { markingReviews(first: $first, after: $after) {
  totalCount endCursor hasNextPage
  items { type id key field marking version designatorNation reason reviewBy reasons } } }"""
PAYLOAD = "changes { key kind version } userErrors { field code message currentVersion }"
REAFFIRM = f"""mutation A($input: ReaffirmMarkingInput!) {{
  reaffirmMarking(input: $input) {{ {PAYLOAD} }} }}"""
CHANGE = f"""mutation C($input: ChangeMarkingInput!) {{
  changeMarking(input: $input) {{ {PAYLOAD} }} }}"""
HISTORY = """query H($id: ID!) { supplier(id: $id) { history {
  kind version actorNation reason changes { field oldMarking newMarking } } } }"""
FIELDS = ("name", "cage", "city", "description", "employees")


async def reviews(api: Api, nation: str = "GBR", first: int = 100) -> list[dict[str, Any]]:
    reply = await api.query(LIST, {"first": first}, nation=nation, scopes=REVIEWER)
    assert reply.errors == [], reply.body
    return list(reply.data["markingReviews"]["items"])


def listed(items: list[dict[str, Any]]) -> dict[tuple[str, str | None], list[str]]:
    return {(i["key"], i["field"]): i["reasons"] for i in items}


async def mutate(api: Api, document: str, input: dict[str, Any], nation: str = "GBR") -> Any:
    reply: Reply = await api.query(document, {"input": input}, nation=nation, scopes=REVIEW_WRITER)
    assert reply.errors == [], reply.body
    return next(iter(reply.data.values()))


async def setup(api: Api) -> None:
    """GBR's `a` (with a reason; name stricter than the default; city overdue), GBR's `b`
    (without a reason), seeded GBR `gb1` and seeded USA `us1`."""
    await api.load(
        b.dataset(suppliers=[b.supplier("gb1", "GBR", record="CUI"), b.supplier("us1", "USA")])
    )
    a = supplier_input("a", name="Acme", marking="CUI", city={"value": "York", "marking": "CUI"})
    a["fields"]["name"]["marking"] = REL_GBR
    a["reason"] = "initial designation"
    await created(api, a)
    await created(api, supplier_input("b"))
    await api.graph.write(
        "MATCH (n:Supplier {id: 'GBR:a'}) SET n.reviewBy_city = datetime('2001-01-01T00:00:00Z')"
    )


async def test_each_reason_to_list(api: Api) -> None:
    await setup(api)
    got = listed(await reviews(api))
    assert got[("GBR:a", "name")] == ["STRICTER_THAN_DEFAULT"]
    assert got[("GBR:a", "city")] == ["OVERDUE"]
    assert not [k for k in got if k[0] == "GBR:a" and k[1] not in ("name", "city")]
    for portion in (None, *FIELDS):
        assert got[("GBR:b", portion)] == ["NO_REASON"]
        # Seeded data: no reason, designated by its originator (its BASED_IN nation).
        assert got[("gb1", portion)] == ["NO_REASON"]
    assert not [k for k in got if k[0] == "us1"]
    items = {(i["key"], i["field"]): i for i in await reviews(api)}
    assert items[("gb1", None)]["designatorNation"] == "GBR"
    assert items[("GBR:a", "city")]["reason"] == "initial designation"
    assert items[("GBR:a", "city")]["reviewBy"].startswith("2001-01-01")


async def test_pages(api: Api) -> None:
    await setup(api)
    everything = await reviews(api)
    reply = await api.query(LIST, {"first": 5}, nation="GBR", scopes=REVIEWER)
    page = reply.data["markingReviews"]
    assert page["totalCount"] == len(everything)
    assert page["hasNextPage"] is True
    rest = await api.query(
        LIST, {"first": 100, "after": page["endCursor"]}, nation="GBR", scopes=REVIEWER
    )
    assert page["items"] + rest.data["markingReviews"]["items"] == everything


async def test_a_nation_sees_only_its_own_reviews_and_needs_the_scope(api: Api) -> None:
    await setup(api)
    usa = listed(await reviews(api, "USA"))
    assert usa
    assert {k[0] for k in usa} == {"us1"}
    assert listed(await reviews(api, "AUS")) == {}
    denied = await api.query(LIST, {"first": 5}, nation="GBR", scopes=("supplier:read",))
    assert denied.data is None or denied.data.get("markingReviews") is None
    assert denied.errors[0]["extensions"]["code"] == "INSUFFICIENT_SCOPE", denied.body


async def test_reaffirm_closes_the_item_with_history(api: Api) -> None:
    await setup(api)
    out = await mutate(
        api,
        REAFFIRM,
        {"id": sid("GBR:a"), "field": "city", "expectedVersion": 1, "reason": "still right"},
    )
    assert out["userErrors"] == [], out
    assert out["changes"][0]["version"] == 2
    got = listed(await reviews(api))
    assert ("GBR:a", "city") not in got
    # Reaffirming a stricter marking closes it too.
    out = await mutate(
        api,
        REAFFIRM,
        {"id": sid("GBR:a"), "field": "name", "expectedVersion": 2, "reason": "sensitive name"},
    )
    assert out["userErrors"] == [], out
    assert ("GBR:a", "name") not in listed(await reviews(api))
    hist = await api.query(HISTORY, {"id": sid("GBR:a")}, nation="GBR")
    revs = hist.data["supplier"]["history"]
    assert [r["reason"] for r in revs[:2]] == ["sensitive name", "still right"]
    assert [r["version"] for r in revs[:2]] == [3, 2]
    # A seeded record's first review keeps its past as a baseline.
    bell = {"id": sid("gb1"), "expectedVersion": 1, "reason": "checked\x07"}
    out = await mutate(api, REAFFIRM, bell)
    assert [(e["field"], e["code"]) for e in out["userErrors"]] == [
        (["input", "reason"], "INVALID")
    ], out
    out = await mutate(api, REAFFIRM, {"id": sid("gb1"), "expectedVersion": 1, "reason": "checked"})
    assert out["userErrors"] == [], out
    assert ("gb1", None) not in listed(await reviews(api))
    assert ("gb1", "name") in listed(await reviews(api))


async def test_change_marking_closes_the_item_and_is_validated(api: Api) -> None:
    await setup(api)
    base = {"id": sid("GBR:a"), "field": "name", "expectedVersion": 1, "reason": "too strict"}
    refused = [
        ({**base, "marking": "CUI//NOFORN"}, "MARKING_NOT_READABLE"),
        ({**base, "marking": "CUI//NOT A MARKING"}, "MARKING_INVALID"),
        ({**base, "marking": "CUI", "expectedVersion": 7}, "CONFLICT"),
        ({**base, "marking": "CUI", "reason": "  "}, "INVALID"),
        ({**base, "marking": "CUI", "reason": "too\x1bstrict"}, "INVALID"),  # control character
        ({**base, "marking": REL_GBR}, "INVALID"),  # unchanged: reaffirm it instead
        ({**base, "marking": "CUI", "field": "colour"}, "UNKNOWN_FIELD"),
    ]
    for input, code in refused:
        out = await mutate(api, CHANGE, input)
        assert [e["code"] for e in out["userErrors"]] == [code], (input, out)
    # Another nation: the record is visible to USA, but not its to review.
    out = await mutate(api, CHANGE, {**base, "marking": "CUI"}, nation="USA")
    assert [e["code"] for e in out["userErrors"]] == ["FORBIDDEN"]
    # Hidden from the caller: as missing.
    hidden = await mutate(api, CHANGE, {**base, "marking": "CUI"}, nation="JPN")
    missing = await mutate(api, CHANGE, {**base, "id": sid("GBR:zz"), "marking": "CUI"}, "JPN")
    assert hidden == missing
    assert ("GBR:a", "name") in listed(await reviews(api))
    out = await mutate(api, CHANGE, {**base, "marking": "CUI"})
    assert out["userErrors"] == [], out
    assert ("GBR:a", "name") not in listed(await reviews(api))
    hist = await api.query(HISTORY, {"id": sid("GBR:a")}, nation="GBR")
    top = hist.data["supplier"]["history"][0]
    assert top["reason"] == "too strict"
    assert top["changes"] == [{"field": "name", "oldMarking": REL_GBR, "newMarking": "CUI"}]


async def test_change_marking_needs_the_write_scope(api: Api) -> None:
    await setup(api)
    reply = await api.query(
        CHANGE,
        {
            "input": {
                "id": sid("GBR:a"),
                "field": "name",
                "expectedVersion": 1,
                "marking": "CUI",
                "reason": "x",
            }
        },
        nation="GBR",
        scopes=REVIEWER,
    )
    out = reply.data["changeMarking"]
    assert [e["code"] for e in out["userErrors"]] == ["FORBIDDEN"]


@pytest.mark.parametrize("decision", ["UPHOLD", "CHANGE"])
async def test_a_challenge_decision_counts_as_review(api: Api, decision: str) -> None:
    await api.load(ch.data())
    before = listed(await reviews(api, "USA"))
    assert before[("masked", "employees")] == ["NO_REASON", "STRICTER_THAN_DEFAULT"]
    cid = await ch.filed_id(api)
    new = ch.REL_GBR if decision == "CHANGE" else None
    decided = await ch.decide(api, cid, decision, new)
    assert decided.errors == [], decided.body
    after = listed(await reviews(api, "USA"))
    assert ("masked", "employees") not in after
    assert ("masked", "name") in after  # only the decided portion
    items = {(i["key"], i["field"]): i for i in await reviews(api, "USA")}
    assert ("masked", "employees") not in items
    hist = await api.query(HISTORY, {"id": ch.sid("masked")}, nation="USA")
    top = hist.data["supplier"]["history"][0]
    assert top["reason"] == "Reviewed."
    assert top["actorNation"] == "USA"
    if decision == "CHANGE":
        assert top["changes"] == [
            {"field": "employees", "oldMarking": ch.NOFORN, "newMarking": ch.REL_GBR}
        ]
