"""The compiled response path's plans: kept per document, operation and caller's scopes.

A plan is what a document comes to once (coverage, the fields collected under each field,
how each resolver is called). Finding one stands for the scope gate's answer, so a caller
whose scopes differ must never reach it; callers with the same scopes but other nations
share it, and each is still answered by its own release checks; and a document whose
selection depends on its variables (`@include`/`@skip`) is never answered from the
selection of an earlier request.
"""

from __future__ import annotations

import pytest

from dibx.schema.fastpath import CompiledResponses
from tests.support import builders as b
from tests.support.api import READ, Api

pytestmark = pytest.mark.neo4j

DOCUMENT = """query One($key: String!) { supplier(key: $key) {
  key name city
  capabilities(first: 2) { edges { capacity node { key name } } } } }"""


async def _graph(api: Api) -> None:
    await api.load(
        b.dataset(
            suppliers=[
                # `city` is released to US callers only.
                b.supplier("s0", name="alpha", city="Leeds", fields={"city": "CUI//NOFORN"}),
                b.supplier("s1", name="bravo", city="York"),
            ],
            capabilities=[b.capability("c0", name="magnets")],
            provides=[b.provides("s0", "c0", capacity=3.0)],
        )
    )


def _compiled(api: Api) -> CompiledResponses:
    found: CompiledResponses = api.app.state.compiled
    return found


async def test_a_caller_with_other_scopes_never_reaches_anothers_plan(api: Api) -> None:
    await _graph(api)
    compiled = _compiled(api)
    await api.query(DOCUMENT, {"key": "s0"})  # validated by the executor, for these scopes
    planned = await api.query(DOCUMENT, {"key": "s0"})
    assert planned.status == 200
    assert planned.data["supplier"]["name"] == "alpha"
    answered = compiled.answered

    # The same document from a caller without `supplier:read`, twice: the scope gate
    # refuses it each time, and no plan serves it.
    for _ in range(2):
        refused = await api.query(DOCUMENT, {"key": "s0"}, scopes=("supply_chain:read",))
        assert refused.status == 403
        assert refused.data is None
    assert compiled.answered == answered
    assert [key[2] for key in compiled.plans] == [frozenset(READ)]


async def test_callers_of_other_nations_share_a_plan_and_are_released_their_own(
    api: Api,
) -> None:
    await _graph(api)
    compiled = _compiled(api)
    for nation in ("USA", "GBR"):
        await api.query(DOCUMENT, {"key": "s0"}, nation=nation)
    answered = compiled.answered
    usa = await api.query(DOCUMENT, {"key": "s0"}, nation="USA")
    gbr = await api.query(DOCUMENT, {"key": "s0"}, nation="GBR")
    usa_again = await api.query(DOCUMENT, {"key": "s0"}, nation="USA")
    assert compiled.answered == answered + 3
    assert len(compiled.plans) == 1  # one document, one operation, one set of scopes

    assert usa.data["supplier"]["city"] == "Leeds"
    assert gbr.data["supplier"]["city"] is None
    assert [w["path"] for w in gbr.releasability["withheld"]] == ["supplier.city"]
    assert not usa.releasability["withheld"]
    assert usa_again.body == usa.body
    # Another record through the same plan: its own values, nothing of the last request's.
    other = await api.query(DOCUMENT, {"key": "s1"}, nation="GBR")
    assert other.data["supplier"] == {
        "key": "s1",
        "name": "bravo",
        "city": "York",
        "capabilities": {"edges": []},
    }


async def test_a_selection_that_depends_on_variables_is_collected_per_request(api: Api) -> None:
    await _graph(api)
    compiled = _compiled(api)
    document = """query Some($key: String!, $city: Boolean!) { supplier(key: $key) {
      key name city @include(if: $city) } }"""
    await api.query(document, {"key": "s1", "city": True})
    answered = compiled.answered
    with_city = await api.query(document, {"key": "s1", "city": True})
    without = await api.query(document, {"key": "s1", "city": False})
    again = await api.query(document, {"key": "s1", "city": True})
    assert compiled.answered == answered + 3
    assert with_city.data == {"supplier": {"key": "s1", "name": "bravo", "city": "York"}}
    assert without.data == {"supplier": {"key": "s1", "name": "bravo"}}
    assert again.body == with_city.body
