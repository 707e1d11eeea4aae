"""The policy's [adjudication] section: who decides marking challenges, validated at load."""

from __future__ import annotations

import tomllib

import pytest

from dibx import data as shipped
from dibx.auth import policy
from dibx.auth.principal import Principal

SHIPPED = shipped.policy_file()
US_ORG = "US Department of Defense (demo)"


def principal(nation: str, org: str | None) -> Principal:
    return Principal("s", "c", nation, org, frozenset({"marking:adjudicate"}), frozenset(), "j")


def test_shipped_policy_designates_usa_and_its_adjudicating_org() -> None:
    adjudication = policy.load(SHIPPED).adjudication
    assert adjudication.default_designator == "USA"
    assert adjudication.orgs == {"USA": frozenset({US_ORG})}


@pytest.mark.parametrize(
    ("nation", "org", "designator", "allowed"),
    [
        ("USA", US_ORG, "USA", True),
        ("USA", "test-org", "USA", False),  # a USA org the policy does not list
        ("USA", None, "USA", False),  # no org claim
        ("GBR", US_ORG, "USA", False),  # another nation, whatever its org claim says
        ("USA", US_ORG, "GBR", False),  # the record's originator is GBR
        ("USA", US_ORG, None, False),  # no designator at all: nobody
    ],
)
def test_only_the_designating_nations_listed_orgs_decide(
    nation: str, org: str | None, designator: str | None, allowed: bool
) -> None:
    adjudication = policy.load(SHIPPED).adjudication
    assert adjudication.may_decide(principal(nation, org), designator) is allowed


def test_without_the_section_nobody_decides() -> None:
    adjudication = policy.parse({"version": "1"}).adjudication
    assert adjudication.default_designator is None
    assert not adjudication.may_decide(principal("USA", US_ORG), "USA")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[adjudication]\nadjudicators = ["x"]', "adjudication: unknown key(s) adjudicators"),
        ('[adjudication]\ndefault_designator = "US"', "default_designator must be an ISO"),
        ('[adjudication]\ndefault_designator = "usa"', "default_designator must be an ISO"),
        ("[adjudication]\norgs = 3", "[adjudication.orgs] must be a table"),
        ('[adjudication.orgs]\nFVEY = ["x"]', "adjudication.orgs.FVEY: not an ISO"),
        ('[adjudication.orgs]\nUSA = "DoD"', "adjudication.orgs.USA: expected a list"),
        ("[adjudication.orgs]\nUSA = []", "adjudication.orgs.USA: expected a list"),
        ('[adjudication.orgs]\nUSA = [" "]', "adjudication.orgs.USA: expected a list"),
        (
            '[adjudication]\ndefault_designator = "USA"\n[adjudication.orgs]\nGBR = ["MOD"]',
            "default_designator USA has no [adjudication.orgs] entry",
        ),
    ],
)
def test_a_bad_adjudication_section_is_refused_with_the_key_named(text: str, message: str) -> None:
    with pytest.raises(policy.PolicyError) as excinfo:
        policy.parse({"version": "1", **tomllib.loads(text)})
    assert message in str(excinfo.value)
