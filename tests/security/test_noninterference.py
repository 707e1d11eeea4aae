"""Noninterference and a differential test of the Cypher release check, with random data.

Noninterference: for a random graph D, random markings, a random caller and a set of queries,
build D' by changing every value the caller may not read and deleting every record and edge
the caller may not see (and adding a hidden record). The responses on D and D' must be
identical: data, errors, counts, order, cursors, banner and the withheld list.

Differential: the record-visibility decided inside Neo4j equals the reference decision
`markings.is_released` for random markings and every caller.

DIBX_HYPOTHESIS_EXAMPLES scales the number of random graphs (default 20).
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dibx.auth.markings import Marking, is_released, parse
from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database
from dibx.schema.ids import encode_id
from tests.support import builders as b
from tests.support.api import Api
from tests.support.strategies import marking_st

pytestmark = pytest.mark.neo4j

EXAMPLES = int(os.environ.get("DIBX_HYPOTHESIS_EXAMPLES", "20"))
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

POOL = (
    "PUBLIC",
    "CUI",
    "CUI//NOFORN",
    "CUI//REL TO USA, GBR",
    "CUI//REL TO USA, FVEY",
    "CUI//REL TO USA, NATO",
    "CUI//REL TO USA, JPN, KOR",
    "CUI//SP-EXPT//REL TO USA, AUS, GBR",
    "CUI//FED ONLY",
)
CALLERS = ("USA", "GBR", "AUS", "JPN", "POL", "NZL")
NATIONS = ("USA", "GBR", "AUS", "JPN", "CHN")
WORDS = ("alpha", "bravo", "charlie", "delta", "echo", "foxtrot")

marking = st.sampled_from(POOL)
supplier_fields = ("name", "cage", "city", "description", "employees")


@st.composite
def graphs(draw: st.DrawFn) -> Dataset:
    n = draw(st.integers(2, 6))
    keys = [f"s{i}" for i in range(n)]
    suppliers = [
        b.supplier(
            k,
            draw(st.sampled_from(NATIONS)),
            record=draw(marking),
            based_in=draw(marking),
            name=f"{draw(st.sampled_from(WORDS))} {k}",
            employees=draw(st.integers(1, 1000)),
            city=draw(st.sampled_from(WORDS)),
            fields={f: draw(marking) for f in supplier_fields},
        )
        for k in keys
    ]
    caps = [
        b.capability(f"c{i}", record=draw(marking), fields={"name": draw(marking)})
        for i in range(draw(st.integers(1, 3)))
    ]
    pairs = st.tuples(st.sampled_from(keys), st.sampled_from(keys)).filter(lambda p: p[0] != p[1])
    sources = {draw(pairs) for _ in range(draw(st.integers(0, 6)))}
    provides = {
        (draw(st.sampled_from(keys)), draw(st.sampled_from([c.key for c in caps])))
        for _ in range(draw(st.integers(0, 6)))
    }
    return b.dataset(
        suppliers=suppliers,
        capabilities=caps,
        sources_from=[
            b.sources(
                x,
                y,
                record=draw(marking),
                share=0.5,
                sole=draw(st.booleans()),
                fields={"sole": draw(marking), "share": draw(marking)},
            )
            for x, y in sorted(sources)
        ],
        provides=[
            b.provides(
                s,
                c,
                record=draw(marking),
                capacity=float(draw(st.integers(1, 99))),
                fields={"capacity": draw(marking)},
            )
            for s, c in sorted(provides)
        ],
    )


QUERIES = [
    """{ suppliers(first: 3) { totalCount pageInfo { hasNextPage endCursor }
         edges { cursor node { key name employees city marking
           fieldMarkings { field marking released } } } } }""",
    """{ suppliers(sort: [{field: NAME, direction: DESC}], filter: {nameContains: "a"}) {
         totalCount nodes { key name nation { code } } } }""",
    """{ suppliers(sort: [{field: EMPLOYEES}]) { nodes { key employees } } }""",
    """{ suppliers(filter: {nations: ["USA", "GBR"]}) { totalCount nodes { key } } }""",
    """{ suppliers(filter: {agreement: "FVEY"}) { totalCount } }""",
    """{ suppliers { nodes { key
         suppliers { totalCount edges { sole share marking node { key name } } }
         customers { totalCount nodes { key } }
         capabilities { totalCount edges { capacity node { key name } } } } } }""",
    """{ capabilities { totalCount nodes { key name
         providers { totalCount edges { capacity node { key city } } } } } }""",
]


def lookups(data: Dataset) -> list[str]:
    """A lookup per key, by global id: hidden ones must answer like missing ones."""
    ids = [encode_id("Supplier", s.key) for s in data.nodes_of("Supplier")] + [
        encode_id("Supplier", "zz")
    ]
    return [f'{{ supplier(id: "{i}") {{ key name city }} }}' for i in ids]


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, str):
        return "CHANGED zulu"
    if isinstance(value, int):
        return 424242
    if isinstance(value, float):
        return 9.75
    return value


def censored(data: Dataset, groups: frozenset[str]) -> Dataset:
    """D': what the caller may not see is deleted (records, edges) or changed (field values)."""

    def ok(text: str) -> bool:
        return is_released(parse(text), groups)

    visible = {s.key for s in data.nodes_of("Supplier") if ok(s.markings.record)}
    visible_caps = {c.key for c in data.nodes_of("Capability") if ok(c.markings.record)}

    def scrub(record: Any, names: tuple[str, ...]) -> Any:
        marks = record.markings.as_dict()
        changes = {}
        for name in names:
            if not ok(marks[name]):
                changes[name] = _changed(record[name])
        return record.with_values(**changes)

    def moved(s: Any) -> Any:
        based_in = s.link("BASED_IN")
        return replace(s, links=(replace(based_in, end="CHN" if based_in.end != "CHN" else "JPN"),))

    suppliers = [
        # A hidden BASED_IN edge cannot be deleted alone: move it to another nation instead.
        moved(scrub(s, supplier_fields))
        if not ok(s.link("BASED_IN").markings.record)
        else scrub(s, supplier_fields)
        for s in data.nodes_of("Supplier")
        if s.key in visible
    ]
    # A hidden record that D never had: it must not show either.
    hidden = next((m for m in POOL if not ok(m)), None)
    if hidden is not None:
        suppliers.append(b.supplier("zz", "USA", record=hidden, name="zulu added"))
    capabilities = data.nodes_of("Capability")
    return data.replaced(
        nodes={
            "Supplier": suppliers,
            "Capability": [scrub(c, ("name",)) for c in capabilities if c.key in visible_caps],
        },
        edges={
            "SOURCES_FROM": [
                scrub(e, ("item", "share", "sole"))
                for e in data.edges_of("SOURCES_FROM")
                if ok(e.markings.record) and e.start in visible and e.end in visible
            ],
            "PROVIDES": [
                scrub(e, ("capacity", "unit", "trl", "leadTimeDays"))
                for e in data.edges_of("PROVIDES")
                if ok(e.markings.record) and e.start in visible and e.end in visible_caps
            ],
        },
    )


async def responses(api: Api, data: Dataset, nation: str, documents: list[str]) -> list[Any]:
    await clear_database(api.graph)
    await api.load(data)
    out = []
    for document in documents:
        reply = await api.query(document, nation=nation)
        out.append((reply.status, reply.body))
    return out


@SETTINGS
@given(data=graphs(), nation=st.sampled_from(CALLERS))
async def test_hidden_data_does_not_change_any_response(
    api: Api, data: Dataset, nation: str
) -> None:
    await api.load(b.dataset())
    viewer = await api.query("{ viewer { groups } }", nation=nation)
    groups = frozenset(viewer.data["viewer"]["groups"])
    documents = QUERIES + lookups(data)
    original = await responses(api, data, nation, documents)
    after = await responses(api, censored(data, groups), nation, documents)
    for document, a, c in zip(documents, original, after, strict=True):
        assert a == c, document


async def test_noninterference_has_teeth(api: Api) -> None:
    """The same comparison for a caller who sees more than the censor assumed must differ."""
    data = b.dataset(
        suppliers=[b.supplier("s0", record="CUI//NOFORN", name="alpha"), b.supplier("s1")]
    )
    gbr_groups = frozenset({"GBR", "FVEY", "NATO"})
    documents = QUERIES[:1]
    as_usa = await responses(api, data, "USA", documents)
    censored_for_gbr = await responses(api, censored(data, gbr_groups), "USA", documents)
    assert as_usa != censored_for_gbr


@settings(
    max_examples=max(5, EXAMPLES // 2),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(marks=st.lists(marking_st(), min_size=1, max_size=25))
async def test_cypher_check_agrees_with_reference_model(api: Api, marks: list[Marking]) -> None:
    data = b.dataset(suppliers=[b.supplier(f"k{i}", record=str(m)) for i, m in enumerate(marks)])
    await clear_database(api.graph)
    await api.load(data)
    for nation in ("USA", "GBR", "AUS", "CAN", "NZL", "JPN", "KOR", "POL", "BRA"):
        for attributes in ((), ("FED", "EXPORT_AUTH", "GOV", "DL", "FEDCON")):
            viewer = await api.query("{ viewer { groups } }", nation=nation, attributes=attributes)
            groups = frozenset(viewer.data["viewer"]["groups"])
            reply = await api.query(
                "{ suppliers(first: 100) { nodes { key } } }", nation=nation, attributes=attributes
            )
            seen = {n["key"] for n in reply.data["suppliers"]["nodes"]}
            expected = {f"k{i}" for i, m in enumerate(marks) if is_released(m, groups)}
            assert seen == expected, (nation, attributes)
