"""Marking challenges through the API: documents, a small dataset and helpers for the tests.

Deciding takes an adjudicator of the designating nation (USA by the shipped policy's default)
whose token `org` the policy lists for it: `decide` uses such a token unless given another.
"""

from __future__ import annotations

from typing import Any

from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api, Reply

NOFORN = "CUI//NOFORN"
REL_GBR = "CUI//REL TO USA, GBR"
SECRET_EMPLOYEES = 4242
CHALLENGER = ("supplier:read", "marking:challenge")
ADJUDICATOR = ("supplier:read", "marking:challenge", "marking:adjudicate")

FILE = """
mutation FileChallenge($input: ChallengeMarkingInput!) {
  challengeMarking(input: $input) {
    acknowledgement dueAt markingStaysInForce decidingAuthority
    challenge {
      id state targetId targetType field currentMarking markingInForce proposedMarking
      justification anonymous challengerNation challengerSubject createdAt dueAt overdue
      decision history { action nation subject note marking }
    }
  }
}
"""
DECIDE = """
mutation Decide($input: DecideChallengeInput!) {
  decideChallenge(input: $input) {
    id state decision decidedAt markingInForce currentMarking
    history { action nation subject note marking }
  }
}
"""
ESCALATE = """
mutation Escalate($id: ID!, $reason: String!) {
  escalateChallenge(id: $id, reason: $reason) { id state dueAt overdue history { action } }
}
"""
GET = """
query One($id: ID!) {
  markingChallenge(id: $id) {
    id state challengerNation challengerSubject anonymous currentMarking history { subject }
  }
}
"""
LIST = """
query List($state: ChallengeState, $first: Int, $after: String) {
  markingChallenges(state: $state, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { cursor node { id state targetType field challengerNation } }
  }
}
"""
SUPPLIER = "query S($id: ID!) { supplier(id: $id) { key employees } }"
# An org the shipped policy lets adjudicate for USA, the default designating nation
# (tests/unit/test_policy_adjudication.py checks the policy lists it).
US_ADJUDICATING_ORG = "US Department of Defense (demo)"


def data() -> b.Dataset:
    return b.dataset(
        suppliers=[
            # visible to everyone who sees CUI; employees NOFORN
            b.supplier(
                "masked",
                "USA",
                employees=SECRET_EMPLOYEES,
                fields={"employees": NOFORN},
            ),
            # visible to FVEY nations only (GBR yes, KOR no); employees NOFORN
            b.supplier(
                "fvey",
                "USA",
                record="CUI//REL TO USA, FVEY",
                employees=SECRET_EMPLOYEES,
                fields={"employees": NOFORN},
            ),
            # hidden from every foreign caller
            b.supplier("hidden", "USA", record=NOFORN, employees=7),
        ],
        capabilities=[b.capability("cap", fields={"usml": NOFORN})],
    )


def sid(key: str) -> str:
    return encode_id("Supplier", key)


def file_input(
    key: str = "masked",
    field: str | None = "employees",
    proposed: str = REL_GBR,
    justification: str = "GBR holds the same figure from the MOD's own survey.",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "target": sid(key),
        "field": field,
        "proposedMarking": proposed,
        "justification": justification,
        **extra,
    }


async def file(api: Api, nation: str = "GBR", token: str | None = None, **kw: Any) -> Reply:
    return await api.query(
        FILE, {"input": file_input(**kw)}, nation=nation, scopes=CHALLENGER, token=token
    )


async def filed_id(api: Api, nation: str = "GBR", **kw: Any) -> str:
    reply = await file(api, nation=nation, **kw)
    assert reply.errors == [], reply.body
    return str(reply.data["challengeMarking"]["challenge"]["id"])


def adjudicator(api: Api, nation: str = "USA", **kw: Any) -> str:
    """A token of an adjudicator; USA ones of an org the policy lists, unless `org` is given."""
    org = kw.pop("org", US_ADJUDICATING_ORG if nation == "USA" else "test-org")
    return api.token(nation, ADJUDICATOR, org=org, **kw)


async def decide(
    api: Api,
    cid: str,
    decision: str,
    new: str | None = None,
    nation: str = "USA",
    token: str | None = None,
) -> Reply:
    variables = {
        "input": {"id": cid, "decision": decision, "newMarking": new, "rationale": "Reviewed."}
    }
    return await api.query(DECIDE, variables, token=token or adjudicator(api, nation))


async def count(api: Api) -> int:
    rows = await api.graph.read("MATCH (c:MarkingChallenge) RETURN count(c) AS n")
    return int(rows[0]["n"])


async def stored(api: Api, cid: str) -> dict[str, Any]:
    rows = await api.graph.read(
        "MATCH (c:MarkingChallenge {id: $id})-[:CHALLENGES]->(t) "
        "RETURN properties(c) AS c, properties(t) AS t",
        {"id": cid},
    )
    assert len(rows) == 1
    return rows[0]
