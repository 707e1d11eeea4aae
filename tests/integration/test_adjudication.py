"""Who decides a marking challenge (DESIGN, promise 7), over the real app and a real Neo4j.

Invariants:
* Only the designating nation decides: the target record's stored originator nation
  (`originNation`), else the policy's `[adjudication] default_designator` (USA as shipped).
* Of that nation, only tokens whose `org` the policy's `[adjudication.orgs]` lists for it.
* Never the challenger, named or anonymous: the challenge keeps a keyed hash of the
  challenger's subject (never shown), and the same subject may not decide it.
* Not found before forbidden: a challenge the caller cannot see answers like a missing id.
* Every refusal leaves the challenge PENDING and the marking as it was (read from the graph).
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from dibx.graph.driver import Graph
from tests.support.api import Api, Reply
from tests.support.challenges import (
    DECIDE,
    GET,
    NOFORN,
    adjudicator,
    data,
    decide,
    file,
    filed_id,
    stored,
)

pytestmark = pytest.mark.neo4j

GBR_ORG = "UK Ministry of Defence (demo)"


async def unchanged(api: Api, cid: str, field: str, marking: str) -> None:
    node = await stored(api, cid)
    assert node["c"]["state"] == "PENDING"
    assert node["t"][f"marking_{field}"] == marking
    assert "decidedBy" not in node["c"]


def code(reply: Reply) -> str:
    assert reply.errors, f"expected a refusal, got {reply.body}"
    return str(reply.errors[0]["extensions"]["code"])


async def test_an_anonymous_challenger_cannot_decide_their_own_challenge(api: Api) -> None:
    await api.load(data())
    own = adjudicator(api, subject="alice")
    filed = await file(api, nation="USA", token=own, anonymous=True)
    assert filed.errors == [], filed.body
    cid = filed.data["challengeMarking"]["challenge"]["id"]

    refused = await decide(api, cid, "CHANGE", "PUBLIC", token=own)
    assert code(refused) == "FORBIDDEN"
    assert "challenger may not decide" in refused.errors[0]["message"]
    await unchanged(api, cid, "employees", NOFORN)

    # The key to that refusal is a keyed hash: neither it nor the subject is shown anywhere.
    tag = (await stored(api, cid))["c"]["challengerTag"]
    assert "alice" not in tag
    seen = await api.query(GET, {"id": cid}, token=own)
    assert tag not in json.dumps(seen.body)
    assert "alice" not in json.dumps(seen.body)

    # Another adjudicator of the same nation and org decides it.
    other = await decide(api, cid, "UPHOLD", token=adjudicator(api, subject="bob"))
    assert other.errors == [], other.body


async def test_a_gbr_adjudicator_cannot_decide_a_usa_designated_marking(api: Api) -> None:
    await api.load(data())
    # The record's own marking (PUBLIC) and the name field (CUI, FVEY) are released to GBR:
    # GBR sees these challenges, so it is told why it may not decide them.
    for field in ("name", None):
        cid = await filed_id(api, nation="GBR", field=field, proposed="CUI//NOFORN")
        before = await stored(api, cid)
        token = adjudicator(api, "GBR", subject="gbr-adjudicator", org=GBR_ORG)
        reply = await decide(api, cid, "CHANGE", "CUI//REL TO USA, GBR", token=token)
        assert code(reply) == "FORBIDDEN"
        assert "designated" in reply.errors[0]["message"]
        assert await stored(api, cid) == before  # challenge and target record as they were


async def test_a_usa_adjudicator_outside_the_policy_orgs_is_refused(api: Api) -> None:
    await api.load(data())
    cid = await filed_id(api)
    for org in ("test-org", None):
        token = adjudicator(api, subject="contractor", org=org)
        reply = await decide(api, cid, "CHANGE", "PUBLIC", token=token)
        assert code(reply) == "FORBIDDEN"
        await unchanged(api, cid, "employees", NOFORN)


async def test_the_designated_usa_org_adjudicator_decides(api: Api) -> None:
    await api.load(data())
    cid = await filed_id(api)
    reply = await decide(api, cid, "CHANGE", "PUBLIC")
    assert reply.errors == [], reply.body
    node = await stored(api, cid)
    assert (node["c"]["state"], node["c"]["decidedBy"]) == ("CHANGED", "user-usa")
    assert node["t"]["marking_employees"] == "PUBLIC"


async def test_not_found_comes_before_forbidden(api: Api) -> None:
    await api.load(data())
    # A USA challenge of a NOFORN record: KOR and GBR adjudicators cannot see it.
    cid = await filed_id(api, nation="USA", key="hidden", field=None, proposed="CUI")
    missing = str(uuid.uuid4())
    for nation in ("GBR", "KOR"):
        token = adjudicator(api, nation, subject=f"{nation}-adj")
        hidden = await decide(api, cid, "UPHOLD", token=token)
        absent = await decide(api, missing, "UPHOLD", token=token)
        assert code(hidden) == "NOT_FOUND"
        assert hidden.body == absent.body
    assert (await stored(api, cid))["c"]["state"] == "PENDING"


async def test_a_record_originator_designates_instead_of_the_default(
    graph: Graph, tmp_path: Path
) -> None:
    text = Api.shipped_policy().read_text()
    text = text.replace('USA = ["US Department', f'GBR = ["{GBR_ORG}"]\nUSA = ["US Department')
    policy_file = tmp_path / "policy.toml"
    policy_file.write_text(text)
    gbr_policy = Api(graph, tmp_path, env={"DIBX_POLICY_FILE": str(policy_file)})
    try:
        await gbr_policy.load(data())
        await graph.write("MATCH (s:Supplier {id: 'masked'}) SET s.originNation = 'GBR'")
        cid = await filed_id(gbr_policy, nation="USA", field="name", proposed="CUI//NOFORN")
        variables: dict[str, Any] = {"input": {"id": cid, "decision": "UPHOLD", "rationale": "r"}}
        # USA, the default designator, does not decide what GBR originated ...
        usa = await gbr_policy.query(DECIDE, variables, token=adjudicator(gbr_policy, subject="u"))
        assert code(usa) == "FORBIDDEN"
        assert (await stored(gbr_policy, cid))["c"]["state"] == "PENDING"
        # ... GBR's listed org does.
        token = adjudicator(gbr_policy, "GBR", subject="gbr-adjudicator", org=GBR_ORG)
        gbr = await gbr_policy.query(DECIDE, variables, token=token)
        assert gbr.errors == [], gbr.body
        assert (await stored(gbr_policy, cid))["c"]["decidedByNation"] == "GBR"
    finally:
        await gbr_policy.close()
