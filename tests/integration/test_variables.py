"""Variables anywhere in a document: nested arguments, directives, dates and enums.

Invariants:
- a variable in a nested argument or a directive means what its value says, exactly as a
  literal would (the compiled query reads graphql-core's coerced variables);
- a bad variable value (wrong type, missing, unknown enum value, malformed date) is the
  caller's mistake: BAD_USER_INPUT with graphql-core's message, no traceback in the logs;
- whatever values arrive, no response is a 500 or INTERNAL, and every error has a code.

DIBX_HYPOTHESIS_EXAMPLES scales the number of random variable sets (default 20).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api

pytestmark = pytest.mark.neo4j

EXAMPLES = int(os.environ.get("DIBX_HYPOTHESIS_EXAMPLES", "20"))

NESTED_FIRST = """
query ($n: Int!) {
  suppliers(sort: [{field: KEY}]) {
    nodes { key capabilities(first: $n) { totalCount nodes { key } } }
  }
}
"""
INCLUDE = """
query ($v: Boolean!) { suppliers(sort: [{field: KEY}]) { nodes { key name @include(if: $v) } } }
"""
SKIP_FRAGMENT = """
query ($v: Boolean!) { suppliers(sort: [{field: KEY}]) { nodes { key ...Named @skip(if: $v) } } }
fragment Named on Supplier { name }
"""
AS_OF = 'query ($d: Date) { nation(code: "NZL") { agreements(asOf: $d) { nodes { code } } } }'
MEMBERS_AS_OF = 'query ($d: Date) { agreement(code: "NTIB") { members(asOf: $d) { totalCount } } }'


def graph() -> b.Dataset:
    return b.dataset(
        suppliers=[b.supplier("s1", "USA", name="Alpha"), b.supplier("s2", "GBR", name="Bravo")],
        capabilities=[b.capability("c1"), b.capability("c2")],
        provides=[b.provides("s1", "c1"), b.provides("s1", "c2"), b.provides("s2", "c2")],
    )


async def test_variable_in_a_nested_argument(api: Api) -> None:
    await api.load(graph())
    reply = await api.query(NESTED_FIRST, {"n": 1})
    assert not reply.errors, reply.errors
    s1, s2 = reply.data["suppliers"]["nodes"]
    assert s1 == {"key": "s1", "capabilities": {"totalCount": 2, "nodes": [{"key": "c1"}]}}
    assert s2["capabilities"]["nodes"] == [{"key": "c2"}]


@pytest.mark.parametrize("document", [INCLUDE, SKIP_FRAGMENT])
async def test_variable_in_a_directive(api: Api, document: str) -> None:
    await api.load(graph())
    include = document is INCLUDE
    shown = await api.query(document, {"v": include})
    hidden = await api.query(document, {"v": not include})
    assert not shown.errors, shown.errors
    assert not hidden.errors, hidden.errors
    assert shown.data["suppliers"]["nodes"][0] == {"key": "s1", "name": "Alpha"}
    assert hidden.data["suppliers"]["nodes"][0] == {"key": "s1"}


async def test_variable_date_in_a_nested_as_of(api: Api) -> None:
    await api.load(graph())  # memberships since 2000-01-01
    before = await api.query(AS_OF, {"d": "1999-12-31"})
    after = await api.query(AS_OF, {"d": "2020-06-01"})
    default = await api.query(AS_OF, {})
    members = await api.query(MEMBERS_AS_OF, {"d": "1999-12-31"})
    for reply in (before, after, default, members):
        assert not reply.errors, reply.errors
    assert before.data["nation"]["agreements"]["nodes"] == []
    codes = {n["code"] for n in after.data["nation"]["agreements"]["nodes"]}
    assert codes == {"FVEY", "NTIB", "MNNA"}
    assert default.data == after.data
    assert members.data["agreement"]["members"]["totalCount"] == 0


BAD_VARIABLES = [
    pytest.param(NESTED_FIRST, {"n": "two"}, "Int cannot represent", id="wrong-type"),
    pytest.param(NESTED_FIRST, {}, "to be provided", id="missing"),
    pytest.param(INCLUDE, {"v": None}, "not to be None", id="null-for-non-null"),
    pytest.param(AS_OF, {"d": "2020-13-01"}, "Date", id="bad-date"),
    pytest.param(AS_OF, {"d": 20200101}, "Date", id="date-as-number"),
    pytest.param(
        "query ($f: SupplierSortField!) { suppliers(sort: [{field: $f}]) { totalCount } }",
        {"f": "NAMES"},
        "does not exist in 'SupplierSortField' enum",
        id="bad-enum",
    ),
    pytest.param(
        "query ($s: [SupplierSort!]) { suppliers(sort: $s) { totalCount } }",
        {"s": [{"field": "NAME", "direction": "SIDEWAYS"}]},
        "SortDirection",
        id="bad-enum-in-input",
    ),
]


@pytest.mark.parametrize(("document", "variables", "needle"), BAD_VARIABLES)
async def test_bad_variable_is_bad_user_input_without_a_traceback(
    api: Api,
    caplog: pytest.LogCaptureFixture,
    document: str,
    variables: dict[str, Any],
    needle: str,
) -> None:
    await api.load(graph())
    with caplog.at_level(logging.DEBUG):
        reply = await api.query(document, variables)
    assert reply.status == 200
    assert reply.data is None
    [error] = reply.errors
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}, error
    assert error["message"].startswith("Variable '$"), error
    assert needle in error["message"]
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


# -- random variables ------------------------------------------------------------------

FUZZED = [
    """
    query ($first: Int!, $after: String, $n: Int, $v: Boolean!, $d: Date,
           $field: SupplierSortField!, $dir: SortDirection! = ASC, $nations: [String!]) {
      suppliers(first: $first, after: $after, filter: {nations: $nations, asOf: $d},
                sort: [{field: $field, direction: $dir}]) {
        totalCount pageInfo { hasNextPage endCursor }
        nodes {
          key name @include(if: $v)
          nation { code agreements(asOf: $d, first: $n) { totalCount } }
          capabilities(first: $n) @skip(if: $v) { totalCount nodes { key } }
        }
      }
    }
    """,
    """
    query ($id: ID!, $v: Boolean!, $n: Int) {
      node(id: $id) { id ... on Supplier { key name @skip(if: $v) capabilities(first: $n) {
        totalCount } } }
    }
    """,
    """
    query ($code: String!, $d: Date, $filter: SupplierFilterInput, $sort: [CapabilitySort!]) {
      agreement(code: $code) { members(asOf: $d) { totalCount nodes { code } } }
      suppliers(filter: $filter) { totalCount }
      capabilities(sort: $sort, first: 3) { nodes { key area } }
    }
    """,
]
VARIABLES = ("first", "after", "n", "v", "d", "field", "dir", "nations", "id", "code")
VARIABLES += ("filter", "sort")

json_value = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**40), max_value=2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=8,
)
plausible = st.one_of(
    st.integers(min_value=-3, max_value=150),
    st.sampled_from(["2020-01-01", "1999-12-31", "2020-02-30", "2020-1-1", "", "today"]),
    st.sampled_from(["KEY", "NAME", "EMPLOYEES", "AREA", "ASC", "DESC", "desc", "UP"]),
    st.sampled_from(["USA", "GBR", "NTIB", "XXX", "usa"]).map(lambda c: [c]),
    st.sampled_from([encode_id("Supplier", "s1"), encode_id("Capability", "c1"), "Zm9v", "!"]),
    st.sampled_from(["NTIB", "nato", "FVEY"]),
    st.fixed_dictionaries(
        {},
        optional={
            "nations": st.lists(st.sampled_from(["USA", "GBR", "ZZZ", 7])),
            "asOf": st.sampled_from(["2021-05-05", "05/05/2021", 3]),
            "capability": st.sampled_from([encode_id("Capability", "c2"), "bad", None]),
            "agreement": st.sampled_from(["NTIB", "NOPE"]),
            "nameContains": st.text(max_size=4),
            "bogus": st.integers(),
        },
    ),
    st.lists(
        st.fixed_dictionaries(
            {"field": st.sampled_from(["KEY", "NAME", "AREA", "EMPLOYEES"])},
            optional={"direction": st.sampled_from(["ASC", "DESC", "NONE"])},
        ),
        max_size=2,
    ),
    st.booleans(),
)
variables_st = st.dictionaries(st.sampled_from(VARIABLES), plausible | json_value)


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(document=st.sampled_from(FUZZED), variables=variables_st)
async def test_random_variables_never_give_internal_errors(
    api: Api, document: str, variables: dict[str, Any]
) -> None:
    await api.load(graph())
    for accept in ("application/json", "application/graphql-response+json"):
        reply = await api.query(document, variables, headers={"Accept": accept})
        assert reply.status in (200, 400), (reply.status, reply.body)
        for error in reply.errors:
            code = (error.get("extensions") or {}).get("code")
            assert code is not None, error
            assert code != "INTERNAL", error


C1 = encode_id("Capability", "c1")


# Page sizes (`first`, `last`) are nullable now that paging is Relay's (null: not given);
# analyses keep non-null defaulted arguments.
@pytest.mark.parametrize(
    ("document", "argument"),
    [
        (
            f'query ($n: Int) {{ capabilityGap(capability: "{C1}", depth: $n) {{ depth }} }}',
            "depth",
        ),
        (f'query ($n: Int) {{ exposure(root: "{C1}", first: $n) {{ depth }} }}', "first"),
    ],
)
async def test_null_for_a_non_null_argument_with_a_default_is_bad_user_input(
    api: Api, document: str, argument: str
) -> None:
    """A nullable variable may stand where a defaulted argument is non-null; its null is
    then refused at execution, about the caller's value, not masked as internal."""
    await api.load(graph())
    reply = await api.query(document, {"n": None})
    [error] = reply.errors
    assert error["extensions"] == {"code": "BAD_USER_INPUT"}, error
    assert argument in error["message"]
    defaulted = await api.query(document, {})
    assert not defaulted.errors, defaulted.errors
