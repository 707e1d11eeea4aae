"""Noninterference extended to stewarded writes: for a random graph D and caller, the
caller's write responses (successes and userErrors alike) and the `history` it reads
afterwards are identical on D and on D' (every value the caller may not read changed, every
record and edge it may not see deleted, a hidden record added): what the caller cannot see
never changes what its writes answer.

Each example runs the same sequence as the caller's nation: an update of every supplier key
(and of a missing one), an offer of every capability from every supplier, a create, and then
the history of every supplier. DIBX_HYPOTHESIS_EXAMPLES scales the number of random graphs.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database
from dibx.schema.ids import encode_id
from tests.security.test_noninterference import CALLERS, SETTINGS, censored, graphs
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    BOTH,
    CREATE_SUPPLIER,
    HISTORY,
    SET_PROVIDES,
    UPDATE_SUPPLIER,
    supplier_input,
)

pytestmark = pytest.mark.neo4j


def steps(data: Dataset) -> list[tuple[str, dict[str, Any]]]:
    suppliers = [s.key for s in data.nodes_of("Supplier")] + ["zz", "nobody"]
    capabilities = [c.key for c in data.nodes_of("Capability")]
    out: list[tuple[str, dict[str, Any]]] = []
    for key in suppliers:
        out.append(
            (
                UPDATE_SUPPLIER,
                {
                    "id": encode_id("Supplier", key),
                    "expectedVersion": 1,
                    "fields": {"employees": {"value": 7, "marking": "CUI"}},
                    "reason": "count corrected",
                },
            )
        )
    for key in suppliers[:3]:
        for cap in capabilities:
            out.append(
                (
                    SET_PROVIDES,
                    {
                        "supplier": encode_id("Supplier", key),
                        "capability": encode_id("Capability", cap),
                        "marking": "CUI",
                        "fields": {"trl": {"value": 5, "marking": "CUI"}},
                    },
                )
            )
    out.append((CREATE_SUPPLIER, supplier_input("s0")))
    return out


async def run(api: Api, data: Dataset, nation: str, plan: Dataset | None = None) -> list[Any]:
    """Load `data`, then send the steps planned from `plan` (the uncensored graph, so both
    runs send exactly the same requests)."""
    plan = plan or data
    await clear_database(api.graph)
    await api.load(data)
    token = api.token(nation, BOTH)
    out = []
    for document, input in steps(plan):
        reply = await api.query(document, {"input": input}, token=token)
        out.append((document, reply.status, reply.body))
    for s in [s.key for s in plan.nodes_of("Supplier")] + ["zz"]:
        reply = await api.query(HISTORY, {"id": encode_id("Supplier", s)}, token=token)
        out.append((s, reply.status, reply.body))
    return out


@SETTINGS
@given(data=graphs(), nation=st.sampled_from(CALLERS))
async def test_hidden_data_does_not_change_write_responses_or_history(
    api: Api, data: Dataset, nation: str
) -> None:
    await api.load(b.dataset())
    viewer = await api.query("{ viewer { groups } }", nation=nation)
    groups = frozenset(viewer.data["viewer"]["groups"])
    original = await run(api, data, nation)
    after = await run(api, censored(data, groups), nation, plan=data)
    for a, c in zip(original, after, strict=True):
        assert a == c, a[0]


async def test_write_noninterference_has_teeth(api: Api) -> None:
    """Run for USA (who sees everything) on data censored for GBR: the answers differ."""
    data = b.dataset(
        suppliers=[
            b.supplier("s0", "USA", record="CUI//NOFORN", employees=3),
            b.supplier("s1", "GBR", record="CUI", employees=3),
        ],
        capabilities=[b.capability("c0", record="CUI")],
    )
    gbr = frozenset({"GBR", "FVEY", "NATO", "@CUI_REL"})
    assert await run(api, data, "USA") != await run(api, censored(data, gbr), "USA", plan=data)
