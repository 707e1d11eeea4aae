"""Marking challenges (32 CFR 2002.50) over the real app and a real Neo4j.

Filing, validation that writes nothing, hidden targets answering like missing ids, deciding
(UPHOLD / CHANGE, the marking rewritten in the same transaction), escalation, who sees which
challenge, anonymity, deadlines, scopes and the audit record.

Deciding takes an adjudicator of the designating nation (USA by the shipped policy's default)
whose token `org` the policy lists for it: `decide` uses such a token. Who else may not decide
is in test_adjudication.py; audit before commit in test_write_audit.py.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from dibx import data as shipped
from dibx.app import startup
from dibx.auth import policy as policy_module
from dibx.auth.principal import Principal
from dibx.graph.driver import Graph
from dibx.graph.writes import write_dataset
from dibx.schema.ids import encode_id
from dibx.services.audit import MemorySink, WriteAudit
from dibx.services.challenges import ChallengeService
from tests.support import builders as b
from tests.support.api import Api
from tests.support.challenges import (
    ADJUDICATOR,
    CHALLENGER,
    DECIDE,
    ESCALATE,
    FILE,
    GET,
    LIST,
    NOFORN,
    REL_GBR,
    SECRET_EMPLOYEES,
    SUPPLIER,
    adjudicator,
    count,
    data,
    decide,
    file,
    file_input,
    filed_id,
    sid,
    stored,
)

pytestmark = pytest.mark.neo4j


# -- filing -----------------------------------------------------------------------------------


async def test_gbr_challenges_a_withheld_noforn_field(api: Api) -> None:
    await api.load(data())
    before = await api.query(SUPPLIER, {"id": sid("masked")}, nation="GBR", scopes=CHALLENGER)
    assert before.data["supplier"]["employees"] is None
    assert {"path": "supplier.employees", "marking": NOFORN} in before.releasability["withheld"]

    reply = await file(api)
    assert reply.status == 200, reply.body
    assert reply.errors == []
    receipt = reply.data["challengeMarking"]
    challenge = receipt["challenge"]
    assert challenge["state"] == "PENDING"
    assert challenge["targetId"] == sid("masked")
    assert (challenge["targetType"], challenge["field"]) == ("Supplier", "employees")
    assert challenge["currentMarking"] == NOFORN
    assert challenge["markingInForce"] == NOFORN
    assert challenge["proposedMarking"] == REL_GBR
    assert (challenge["challengerNation"], challenge["challengerSubject"]) == ("GBR", "user-gbr")
    assert challenge["decision"] is None
    assert challenge["overdue"] is False
    assert [s["action"] for s in challenge["history"]] == ["FILED"]
    created = datetime.fromisoformat(challenge["createdAt"])
    due = datetime.fromisoformat(challenge["dueAt"])
    assert due - created == timedelta(days=30)
    assert receipt["dueAt"] == challenge["dueAt"]
    assert receipt["markingStaysInForce"] is True
    assert challenge["id"] in receipt["acknowledgement"]
    assert "stays in force while the challenge is pending" in receipt["acknowledgement"]
    assert "adjudicator" in receipt["decidingAuthority"]
    # The challenger never learns the value, and the marking stays in force.
    assert str(SECRET_EMPLOYEES) not in json.dumps(reply.body)
    after = await api.query(SUPPLIER, {"id": sid("masked")}, nation="GBR", scopes=CHALLENGER)
    assert after.data["supplier"]["employees"] is None
    node = await stored(api, challenge["id"])
    assert node["c"]["state"] == "PENDING"
    assert node["t"]["marking_employees"] == NOFORN


async def test_record_marking_and_capability_fields_can_be_challenged(api: Api) -> None:
    await api.load(data())
    record = await file(api, key="masked", field=None, proposed="CUI//REL TO USA, FVEY")
    assert record.errors == [], record.body
    assert record.data["challengeMarking"]["challenge"]["field"] is None
    assert record.data["challengeMarking"]["challenge"]["currentMarking"] == "PUBLIC"
    cap = await api.query(
        FILE,
        {
            "input": {
                "target": encode_id("Capability", "cap"),
                "field": "usml",
                "proposedMarking": "CUI",
                "justification": "The USML category is published.",
            }
        },
        nation="AUS",
        scopes=CHALLENGER,
    )
    assert cap.errors == [], cap.body
    assert cap.data["challengeMarking"]["challenge"]["targetType"] == "Capability"


@pytest.mark.parametrize(
    ("input_", "field", "text"),
    [
        ({"field": "salary"}, "input.field", "Supplier has no field 'salary'"),
        ({"field": "release_employees"}, "input.field", "no field"),
        ({"proposed": "CUI//REL TO GBR"}, "input.proposedMarking", "invalid marking token"),
        ({"proposed": "cui"}, "input.proposedMarking", "invalid marking token"),
        ({"proposed": "CUI//NOFORN/REL TO USA, GBR"}, "input.proposedMarking", "NOFORN"),
        ({"justification": "   "}, "input.justification", "must not be empty"),
        ({"justification": "x" * 4001}, "input.justification", "at most 4000"),
        ({"proposed": NOFORN}, "input.proposedMarking", "already in force"),
        ({"proposed": "CUI//NOFORN "}, "input.proposedMarking", "already in force"),
    ],
)
async def test_invalid_input_is_named_and_writes_nothing(
    api: Api, input_: dict[str, Any], field: str, text: str
) -> None:
    await api.load(data())
    before = await count(api)
    reply = await file(api, nation="USA", **input_)
    assert reply.data is None
    [error] = reply.errors
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["field"] == field
    assert text in error["message"]
    assert await count(api) == before


@pytest.mark.parametrize(
    ("target", "text"),
    [
        (encode_id("Nation", "GBR"), "challenges apply to Supplier or Capability"),
        ("not-an-id!", "is not a valid dibx id"),
    ],
)
async def test_invalid_target_is_named_and_writes_nothing(api: Api, target: str, text: str) -> None:
    await api.load(data())
    variables = {"input": {**file_input(), "target": target}}
    reply = await api.query(FILE, variables, nation="GBR", scopes=CHALLENGER)
    [error] = reply.errors
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "input.target",
    )
    assert text in error["message"]
    assert await count(api) == 0


async def test_challenging_a_hidden_record_answers_like_a_missing_id(api: Api) -> None:
    await api.load(data())
    hidden = await file(api, nation="GBR", key="hidden")
    missing = await file(api, nation="GBR", key="no-such-supplier")
    assert hidden.status == missing.status == 200
    assert hidden.body == missing.body
    assert hidden.errors[0]["extensions"]["code"] == "NOT_FOUND"
    # KOR is outside FVEY: the FVEY-only record is just as absent.
    kor = await file(api, nation="KOR", key="fvey")
    kor_missing = await file(api, nation="KOR", key="no-such-supplier")
    assert kor.body == kor_missing.body
    assert await count(api) == 0


async def test_a_second_pending_challenge_of_the_same_marking_conflicts(api: Api) -> None:
    await api.load(data())
    first = await filed_id(api)
    again = await file(api)
    assert again.errors[0]["extensions"]["code"] == "CONFLICT"
    assert first in again.errors[0]["message"]
    assert await count(api) == 1


# -- deciding ---------------------------------------------------------------------------------


async def test_change_rewrites_the_marking_in_the_same_transaction(api: Api) -> None:
    await api.load(data())
    cid = await filed_id(api)
    writes = api.graph.stats.writes
    reply = await decide(api, cid, "CHANGE", REL_GBR)
    assert reply.errors == [], reply.body
    # State and marking in one statement, then the feed numbers the change: one transaction.
    assert api.graph.stats.writes - writes == 2
    decided = reply.data["decideChallenge"]
    assert (decided["state"], decided["decision"]) == ("CHANGED", "CHANGE")
    assert decided["markingInForce"] == REL_GBR
    assert decided["currentMarking"] == NOFORN
    assert decided["history"][-1] == {
        "action": "CHANGED",
        "nation": "USA",
        "subject": "user-usa",
        "note": "Reviewed.",
        "marking": REL_GBR,
    }
    node = await stored(api, cid)
    assert node["c"]["state"] == "CHANGED"
    assert node["c"]["decidedBy"] == "user-usa"
    assert node["t"]["marking_employees"] == REL_GBR
    assert node["t"]["release_employees"] == ["GBR|USA"]
    assert node["t"]["employees"] == SECRET_EMPLOYEES  # the value itself is untouched
    # GBR now sees the value in an ordinary read; KOR still does not.
    gbr = await api.query(SUPPLIER, {"id": sid("masked")}, nation="GBR")
    assert gbr.data["supplier"]["employees"] == SECRET_EMPLOYEES
    assert gbr.releasability["withheld"] == []
    kor = await api.query(SUPPLIER, {"id": sid("masked")}, nation="KOR")
    assert kor.data["supplier"]["employees"] is None


async def test_uphold_leaves_the_marking_and_can_be_escalated(api: Api) -> None:
    await api.load(data())
    cid = await filed_id(api)
    reply = await decide(api, cid, "UPHOLD")
    assert reply.errors == [], reply.body
    assert reply.data["decideChallenge"]["state"] == "UPHELD"
    assert reply.data["decideChallenge"]["markingInForce"] == NOFORN
    node = await stored(api, cid)
    assert node["t"]["marking_employees"] == NOFORN
    assert node["t"]["release_employees"] == ["USA"]
    gbr = await api.query(SUPPLIER, {"id": sid("masked")}, nation="GBR")
    assert gbr.data["supplier"]["employees"] is None

    again = await decide(api, cid, "CHANGE", REL_GBR)
    assert again.errors[0]["extensions"]["code"] == "CONFLICT"
    assert (await stored(api, cid))["t"]["marking_employees"] == NOFORN

    # Only the challenger's nation escalates; others who cannot see it get NotFound.
    kor = await api.query(ESCALATE, {"id": cid, "reason": "x"}, nation="KOR", scopes=CHALLENGER)
    assert kor.errors[0]["extensions"]["code"] == "NOT_FOUND"
    usa = await api.query(ESCALATE, {"id": cid, "reason": "x"}, nation="USA", scopes=ADJUDICATOR)
    assert usa.errors[0]["extensions"]["code"] == "FORBIDDEN"
    esc = await api.query(
        ESCALATE, {"id": cid, "reason": "Survey is public."}, nation="GBR", scopes=CHALLENGER
    )
    assert esc.errors == [], esc.body
    escalated = esc.data["escalateChallenge"]
    assert escalated["state"] == "ESCALATED"
    assert [s["action"] for s in escalated["history"]] == ["FILED", "UPHELD", "ESCALATED"]
    assert escalated["overdue"] is False
    twice = await api.query(ESCALATE, {"id": cid, "reason": "x"}, nation="GBR", scopes=CHALLENGER)
    assert twice.errors[0]["extensions"]["code"] == "CONFLICT"


@pytest.mark.parametrize(
    ("decision", "new", "field", "text"),
    [
        ("CHANGE", None, "input.newMarking", "required when the decision is CHANGE"),
        ("CHANGE", "CUI//REL TO XXX", "input.newMarking", "invalid marking token"),
        ("CHANGE", NOFORN, "input.newMarking", "already in force"),
        ("UPHOLD", REL_GBR, "input.newMarking", "only given when the decision is CHANGE"),
    ],
)
async def test_invalid_decisions_are_named_and_change_nothing(
    api: Api, decision: str, new: str | None, field: str, text: str
) -> None:
    await api.load(data())
    cid = await filed_id(api)
    reply = await decide(api, cid, decision, new)
    [error] = reply.errors
    assert (error["extensions"]["code"], error["extensions"]["field"]) == ("BAD_USER_INPUT", field)
    assert text in error["message"]
    node = await stored(api, cid)
    assert node["c"]["state"] == "PENDING"
    assert node["t"]["marking_employees"] == NOFORN


FREE_TEXT = "of the control characters it takes only tab, line feed and carriage return"


async def test_free_text_refuses_control_characters_and_writes_nothing(api: Api) -> None:
    """Justification, rationale and escalation reason are free text, as a stewarded write's
    reason: tab and line breaks are kept, any other control character is refused by name."""
    await api.load(data())
    reply = await file(api, justification="Public\x1b[2J survey")
    [error] = reply.errors
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "input.justification",
    )
    assert error["message"] == (
        f"input.justification: 'justification' contains the control character U+001B; {FREE_TEXT}"
    )
    assert await count(api) == 0

    cid = await filed_id(api, justification="Survey:\r\n\tpublic")
    variables = {"input": {"id": cid, "decision": "UPHOLD", "rationale": "Kept\x00"}}
    refused = await api.query(DECIDE, variables, token=adjudicator(api))
    [error] = refused.errors
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "input.rationale",
    )
    assert "'rationale' contains the control character U+0000" in error["message"]
    assert (await stored(api, cid))["c"]["state"] == "PENDING"

    assert (await decide(api, cid, "UPHOLD")).errors == []
    bell = await api.query(
        ESCALATE, {"id": cid, "reason": "Ring\x07"}, nation="GBR", scopes=CHALLENGER
    )
    [error] = bell.errors
    assert (error["extensions"]["code"], error["extensions"]["field"]) == (
        "BAD_USER_INPUT",
        "reason",
    )
    assert "'reason' contains the control character U+0007" in error["message"]
    c1 = await api.query(
        ESCALATE, {"id": cid, "reason": "Next\x85line"}, nation="GBR", scopes=CHALLENGER
    )
    assert c1.errors[0]["extensions"]["code"] == "BAD_USER_INPUT"
    node = await stored(api, cid)
    assert (node["c"]["state"], node["c"]["justification"]) == ("UPHELD", "Survey:\r\n\tpublic")


async def test_a_challenger_cannot_decide_their_own_challenge(api: Api) -> None:
    await api.load(data())
    token = adjudicator(api)
    reply = await file(api, nation="USA", token=token, proposed=REL_GBR)
    cid = reply.data["challengeMarking"]["challenge"]["id"]
    variables = {"input": {"id": cid, "decision": "UPHOLD", "rationale": "Mine."}}
    own = await api.query(DECIDE, variables, token=token)
    assert own.errors[0]["extensions"]["code"] == "FORBIDDEN"
    other = await api.query(DECIDE, variables, token=adjudicator(api, subject="b"))
    assert other.errors == [], other.body


async def test_adjudicators_who_cannot_see_the_target_find_nothing(api: Api) -> None:
    await api.load(data())
    cid = await filed_id(api, nation="USA", key="hidden", field=None, proposed=REL_GBR)
    hidden = await decide(api, cid, "UPHOLD", nation="GBR")
    missing = await decide(api, str(uuid.uuid4()), "UPHOLD", nation="GBR")
    assert hidden.errors[0]["extensions"]["code"] == "NOT_FOUND"
    assert hidden.body == missing.body
    # A GBR adjudicator sees the record "masked" but not its NOFORN field: the field's
    # challenge is not theirs to see or decide.
    field_cid = await filed_id(api, nation="USA", proposed=REL_GBR)
    reply = await decide(api, field_cid, "UPHOLD", nation="GBR")
    assert reply.errors[0]["extensions"]["code"] == "NOT_FOUND"
    # A GBR adjudicator sees GBR's own challenge of that field, but may not decide it.
    gbr_cid = await filed_id(api, nation="GBR")
    variables = {"input": {"id": gbr_cid, "decision": "UPHOLD", "rationale": "r"}}
    reply = await api.query(DECIDE, variables, token=adjudicator(api, "GBR", subject="gbr-adj"))
    assert reply.errors[0]["extensions"]["code"] == "FORBIDDEN"
    assert (await stored(api, gbr_cid))["c"]["state"] == "PENDING"
    assert (await stored(api, cid))["c"]["state"] == "PENDING"


# -- who sees which challenge -----------------------------------------------------------------


async def test_kor_cannot_see_gbr_challenges(api: Api) -> None:
    await api.load(data())
    cid = await filed_id(api)
    for scopes in (CHALLENGER, ADJUDICATOR):
        listed = await api.query(LIST, nation="KOR", scopes=scopes)
        assert listed.errors == [], listed.body
        assert listed.data["markingChallenges"]["totalCount"] == 0
        assert listed.data["markingChallenges"]["edges"] == []
        one = await api.query(GET, {"id": cid}, nation="KOR", scopes=scopes)
        assert one.data == {"markingChallenge": None}
    # GBR colleagues and a USA adjudicator do see it.
    gbr = await api.query(GET, {"id": cid}, nation="GBR", scopes=CHALLENGER)
    assert gbr.data["markingChallenge"]["challengerNation"] == "GBR"
    usa = await api.query(LIST, nation="USA", scopes=ADJUDICATOR)
    assert usa.data["markingChallenges"]["totalCount"] == 1
    # A USA caller without the adjudicator scope sees only its own nation's challenges.
    plain = await api.query(LIST, nation="USA", scopes=CHALLENGER)
    assert plain.data["markingChallenges"]["totalCount"] == 0


async def test_challenges_on_data_a_caller_cannot_see_are_absent_and_uncounted(api: Api) -> None:
    await api.load(data())
    gbr_cid = await filed_id(api, nation="GBR", key="fvey", field=None, proposed="CUI")
    await filed_id(api, nation="USA", key="hidden", field=None, proposed=REL_GBR)
    usa = await api.query(LIST, nation="USA", scopes=ADJUDICATOR)
    assert usa.data["markingChallenges"]["totalCount"] == 2
    gbr = await api.query(LIST, nation="GBR", scopes=ADJUDICATOR)
    assert gbr.data["markingChallenges"]["totalCount"] == 1
    assert [e["node"]["id"] for e in gbr.data["markingChallenges"]["edges"]] == [gbr_cid]

    # The record becomes NOFORN: GBR's own challenge of it disappears for GBR.
    changed = await decide(api, gbr_cid, "CHANGE", NOFORN)
    assert changed.errors == [], changed.body
    gbr = await api.query(LIST, nation="GBR", scopes=ADJUDICATOR)
    assert gbr.data["markingChallenges"] == {
        "totalCount": 0,
        "pageInfo": {"hasNextPage": False, "endCursor": None},
        "edges": [],
    }
    one = await api.query(GET, {"id": gbr_cid}, nation="GBR", scopes=CHALLENGER)
    assert one.data == {"markingChallenge": None}
    esc = await api.query(ESCALATE, {"id": gbr_cid, "reason": "x"}, nation="GBR", scopes=CHALLENGER)
    assert esc.errors[0]["extensions"]["code"] == "NOT_FOUND"


async def test_listing_pages_and_filters_by_state(api: Api) -> None:
    await api.load(data())
    ids = [
        await filed_id(api, field="employees"),
        await filed_id(api, field="name", proposed=REL_GBR),
        await filed_id(api, field=None, proposed="CUI"),
    ]
    await decide(api, ids[0], "UPHOLD")
    page1 = await api.query(LIST, {"first": 2}, nation="GBR", scopes=CHALLENGER)
    conn = page1.data["markingChallenges"]
    assert conn["totalCount"] == 3
    assert conn["pageInfo"]["hasNextPage"] is True
    after = conn["pageInfo"]["endCursor"]
    page2 = await api.query(LIST, {"first": 2, "after": after}, nation="GBR", scopes=CHALLENGER)
    seen = [e["node"]["id"] for e in conn["edges"]] + [
        e["node"]["id"] for e in page2.data["markingChallenges"]["edges"]
    ]
    assert sorted(seen) == sorted(ids)
    assert seen == list(reversed(ids))  # newest first
    pending = await api.query(LIST, {"state": "PENDING"}, nation="GBR", scopes=CHALLENGER)
    assert pending.data["markingChallenges"]["totalCount"] == 2
    too_big = await api.query(LIST, {"first": 10_000}, nation="GBR", scopes=CHALLENGER)
    assert too_big.errors[0]["extensions"]["field"] == "first"


# -- anonymity --------------------------------------------------------------------------------


async def test_anonymous_challenges_never_show_the_subject(api: Api) -> None:
    await api.load(data())
    reply = await file(api, nation="GBR", anonymous=True)
    assert reply.errors == [], reply.body
    challenge = reply.data["challengeMarking"]["challenge"]
    assert challenge["anonymous"] is True
    assert challenge["challengerSubject"] is None
    assert challenge["history"][0]["subject"] is None
    cid = challenge["id"]
    for nation, scopes in (("GBR", CHALLENGER), ("USA", ADJUDICATOR)):
        seen = await api.query(GET, {"id": cid}, nation=nation, scopes=scopes)
        assert seen.data["markingChallenge"]["challengerSubject"] is None
        assert seen.data["markingChallenge"]["history"] == [{"subject": None}]
        assert "user-gbr" not in json.dumps(seen.body)
    decided = await decide(api, cid, "UPHOLD")
    assert decided.data["decideChallenge"]["history"][0]["subject"] is None
    esc = await api.query(ESCALATE, {"id": cid, "reason": "r"}, nation="GBR", scopes=CHALLENGER)
    assert esc.errors == [], esc.body
    assert "user-gbr" not in json.dumps(esc.body)
    node = await stored(api, cid)
    assert "challengerSubject" not in node["c"]
    assert "user-gbr" not in json.dumps(node["c"], default=str)


# -- scopes and audit -------------------------------------------------------------------------


async def test_scopes_gate_every_challenge_operation(api: Api) -> None:
    await api.load(data())
    no_challenge = await api.query(FILE, {"input": file_input()}, nation="GBR")
    assert no_challenge.status == 403
    assert no_challenge.errors[0]["extensions"]["scope"] == "marking:challenge"
    assert await count(api) == 0
    cid = await filed_id(api)
    not_adjudicator = await api.query(
        DECIDE,
        {"input": {"id": cid, "decision": "CHANGE", "newMarking": REL_GBR, "rationale": "r"}},
        nation="USA",
        scopes=CHALLENGER,
    )
    assert not_adjudicator.status == 403
    assert not_adjudicator.errors[0]["extensions"]["scope"] == "marking:adjudicate"
    assert (await stored(api, cid))["c"]["state"] == "PENDING"
    for doc, variables in ((LIST, {}), (GET, {"id": cid}), (ESCALATE, {"id": cid, "reason": "r"})):
        reply = await api.query(doc, variables, nation="GBR")
        assert reply.status == 403
        assert reply.errors[0]["extensions"]["scope"] == "marking:challenge"


async def test_each_step_is_audited_with_its_operation(api: Api) -> None:
    await api.load(data())
    cid = await filed_id(api)
    filed = api.audit.records[-1]
    assert (filed["operation"], filed["nation"], filed["outcome"]) == ("FileChallenge", "GBR", "ok")
    assert filed["markings"] == ["PUBLIC"]  # the challenge reveals its (PUBLIC) target record
    await decide(api, cid, "CHANGE", REL_GBR)
    decided = api.audit.records[-1]
    assert (decided["operation"], decided["nation"], decided["outcome"]) == ("Decide", "USA", "ok")
    await file(api, key="hidden")
    refused = api.audit.records[-1]
    assert (refused["operation"], refused["outcome"]) == ("FileChallenge", "error")
    assert refused["error_codes"] == ["NOT_FOUND"]


# -- deadlines and concealment (service over the real graph) ---------------------------------


async def test_deadline_is_configurable_and_overdue_is_reported(graph: Graph) -> None:
    await write_dataset(graph, data())
    vocabulary = startup.vocabulary(shipped.reference_dir())
    policy = policy_module.load(Api.shipped_policy(), vocabulary)
    gbr = Principal("analyst", "test", "GBR", None, frozenset(CHALLENGER), frozenset(), None)
    groups = [a for a, members in b.TEST_MEMBERSHIPS.items() if "GBR" in members]
    scope = policy.scope_for(gbr, groups, datetime.now(UTC).date())
    now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
    clock = [now]
    sink = MemorySink()
    service = ChallengeService(
        graph,
        policy,
        audit=WriteAudit(sink),
        challenger_key=b"k" * 32,
        due_days=10,
        clock=lambda: clock[0],
    )
    filed = await service.file(
        gbr,
        scope,
        target_type="Supplier",
        target_key="masked",
        field="employees",
        proposed_marking=REL_GBR,
        justification="j",
    )
    assert filed.due_at == now + timedelta(days=10)
    assert filed.overdue is False
    assert [r["event"] for r in sink.records] == ["graph_write"]
    clock[0] = now + timedelta(days=10, seconds=1)
    late = await service.get(gbr, scope, filed.id)
    assert late is not None
    assert late.overdue is True


async def test_concealed_markings_are_never_shown_nor_probed(graph: Graph, tmp_path: Path) -> None:
    text = Api.shipped_policy().read_text().replace("conceal = []", f'conceal = ["{NOFORN}"]')
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(text)
    api = Api(graph, tmp_path, env={"DIBX_POLICY_FILE": str(policy_file)})
    try:
        await api.load(data())
        seen = await api.query(SUPPLIER, {"id": sid("masked")}, nation="GBR")
        assert seen.releasability["withheld"] == []  # concealed: not even the path
        # Proposing the concealed marking itself is not refused: that would reveal it.
        reply = await file(api, nation="GBR", proposed=NOFORN)
        assert reply.errors == [], reply.body
        challenge = reply.data["challengeMarking"]["challenge"]
        assert challenge["currentMarking"] is None
        assert challenge["markingInForce"] is None
        # USA can read the field, so USA sees the marking.
        usa = await api.query(GET, {"id": challenge["id"]}, nation="USA", scopes=ADJUDICATOR)
        assert usa.data["markingChallenge"]["currentMarking"] == NOFORN
    finally:
        await api.close()
