"""`asOf` and `history` under random write sequences through the API.

Replay: after a random sequence of stewarded writes (create, update, retire, set and remove
PROVIDES and SOURCES_FROM, marking changes), the `asOf` read at the time after each write
answers exactly what the current read answered right after that write, when only the writes
up to then had been made, for callers of several nations. (The current reads are taken as the
sequence runs, between its writes: the database then is exactly a fresh database with the
writes up to then replayed, without paying for the replay.)

Noninterference: two runs of the same visible writes, where every value written under a
marking hidden from the caller differs, and writes to records hidden from the caller are
added: the caller's `asOf` reads at corresponding times and its `history` reads are identical.

DIBX_HYPOTHESIS_EXAMPLES scales the number of random sequences (default 20; a quarter here).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dibx.auth.markings import is_released, parse
from dibx.graph.writes import clear_database
from tests.support import builders as b
from tests.support.api import Api, Reply
from tests.support.stewardship import (
    BOTH,
    CREATE_SUPPLIER,
    REMOVE_PROVIDES,
    RETIRE_SUPPLIER,
    SET_PROVIDES,
    SET_SOURCES,
    UPDATE_SUPPLIER,
    cid,
    sid,
)

pytestmark = pytest.mark.neo4j

EXAMPLES = max(3, int(os.environ.get("DIBX_HYPOTHESIS_EXAMPLES", "20")) // 4)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WRITERS = ("GBR", "USA")
CALLERS = ("USA", "GBR", "AUS", "JPN")
FIELD_MARKINGS = ("CUI", "PUBLIC", "CUI//REL TO USA, GBR", "CUI//REL TO USA, AUS, GBR")
RECORD_MARKINGS = ("CUI", "CUI//NOFORN")  # NOFORN: only USA may set it
SEEDED = ("g1", "u1")
CAPS = ("c1", "c2")

READS = [
    """query Q($at: DateTime) { suppliers(asOf: $at, first: 50) { totalCount nodes {
         key name employees city marking fieldMarkings { field marking released }
         nation { code }
         capabilities { totalCount edges { capacity marking node { key name } } }
         suppliers { totalCount edges { share sole marking node { key } } }
         customers { nodes { key } } } } }""",
    """query Q($at: DateTime) { capabilities(asOf: $at) { nodes { key
         providers { totalCount edges { capacity node { key employees } } } } } }""",
    """query Q($at: DateTime) { nation(code: "GBR", asOf: $at) {
         suppliers { totalCount nodes { key } } } }""",
    """query Q($at: DateTime) { suppliers(asOf: $at, filter: {nations: ["USA"]}) {
         totalCount nodes { key } } }""",
    f"""query Q($at: DateTime) {{ suppliers(asOf: $at, filter: {{capability: "{cid("c1")}"}})
         {{ totalCount nodes {{ key }} }} }}""",
    """query Q($at: DateTime) { suppliers(asOf: $at, sort: [{field: EMPLOYEES}]) {
         nodes { key employees } } }""",
]
HISTORY = """query H($id: ID!) { supplier(id: $id) { history {
  kind version actorNation reason marking previousMarking
  changes { field oldValue oldMarking newValue newMarking } } } }"""


def seed() -> b.Dataset:
    return b.dataset(
        suppliers=[
            b.supplier("g1", "GBR", record="CUI", employees=10),
            b.supplier("u1", "USA", record="CUI", employees=20),
        ],
        capabilities=[b.capability(k) for k in CAPS],
    )


ops = st.one_of(
    st.tuples(
        st.just("create"),
        st.sampled_from(WRITERS),
        st.sampled_from(("n1", "n2", "n3")),
        st.sampled_from(FIELD_MARKINGS),
        st.integers(1, 999),
    ),
    st.tuples(
        st.just("update"),
        st.sampled_from(WRITERS),
        st.integers(0, 9),
        st.sampled_from(("employees", "city")),
        st.integers(1, 999),
        st.sampled_from(FIELD_MARKINGS),
    ),
    st.tuples(
        st.just("mark"),
        st.sampled_from(WRITERS),
        st.integers(0, 9),
        st.sampled_from(RECORD_MARKINGS),
    ),
    st.tuples(st.just("retire"), st.sampled_from(WRITERS), st.integers(0, 9)),
    st.tuples(
        st.just("provide"),
        st.sampled_from(WRITERS),
        st.integers(0, 9),
        st.sampled_from(CAPS),
        st.integers(1, 99),
        st.sampled_from(("CUI", "CUI//REL TO USA, GBR")),
    ),
    st.tuples(
        st.just("unprovide"), st.sampled_from(WRITERS), st.integers(0, 9), st.sampled_from(CAPS)
    ),
    st.tuples(st.just("source"), st.sampled_from(WRITERS), st.integers(0, 9), st.integers(0, 9)),
)


def keys_of(nation: str) -> list[str]:
    """Keys a writer of `nation` may address: its seeded one and those it may create."""
    seeded = "g1" if nation == "GBR" else "u1"
    return [seeded] + [f"{nation}:n{i}" for i in (1, 2, 3)]


async def version(api: Api, key: str) -> int:
    rows = await api.graph.read(
        "MATCH (n) WHERE (n:Supplier OR n:RetiredSupplier) AND n.id = $k "
        "RETURN coalesce(n.version, 1) AS v",
        {"k": key},
    )
    return int(rows[0]["v"]) if rows else 1


async def edge_version(api: Api, a: str, c: str) -> int:
    rows = await api.graph.read(
        "MATCH (:Supplier {id: $a})-[r:PROVIDES]->(:Capability {id: $c}) "
        "RETURN coalesce(r.version, 1) AS v",
        {"a": a, "c": c},
    )
    return int(rows[0]["v"]) if rows else 1


async def concrete(api: Api, op: tuple[Any, ...]) -> tuple[str, str, dict[str, Any]]:
    """(document, writer, input) for an abstract op against the database as it is now."""
    kind, nation = op[0], op[1]
    mine = keys_of(nation)
    if kind == "create":
        _, _, key, mark, employees = op
        return (
            CREATE_SUPPLIER,
            nation,
            {
                "key": key,
                "marking": "CUI",
                "fields": {
                    "name": {"value": f"{nation} {key}", "marking": "CUI"},
                    "employees": {"value": employees, "marking": mark},
                },
                "nation": {"key": nation, "marking": "CUI"},
                "reason": "new",
            },
        )
    if kind == "update":
        _, _, i, field, value, mark = op
        key = mine[i % len(mine)]
        written = value if field == "employees" else f"city{value}"
        return (
            UPDATE_SUPPLIER,
            nation,
            {
                "id": sid(key),
                "expectedVersion": await version(api, key),
                "fields": {field: {"value": written, "marking": mark}},
                "reason": "update",
            },
        )
    if kind == "mark":
        _, _, i, mark = op
        key = mine[i % len(mine)]
        return (
            UPDATE_SUPPLIER,
            nation,
            {
                "id": sid(key),
                "expectedVersion": await version(api, key),
                "marking": mark,
                "reason": "remark",
            },
        )
    if kind == "retire":
        key = mine[op[2] % len(mine)]
        return (
            RETIRE_SUPPLIER,
            nation,
            {"id": sid(key), "expectedVersion": await version(api, key), "reason": "gone"},
        )
    if kind == "provide":
        _, _, i, cap, capacity, mark = op
        key = mine[i % len(mine)]
        found = await api.graph.read(
            "RETURN EXISTS { (:Supplier {id: $a})-[:PROVIDES]->(:Capability {id: $c}) } AS e",
            {"a": key, "c": cap},
        )
        fields = {
            "capacity": {"value": float(capacity), "marking": mark},
            "unit": {"value": "units/yr", "marking": "CUI"},
        }
        given: dict[str, Any] = {
            "supplier": sid(key),
            "capability": cid(cap),
            "fields": fields,
            "reason": "offer",
        }
        if found[0]["e"]:
            given["expectedVersion"] = await edge_version(api, key, cap)
        else:
            given["marking"] = "CUI"
        return SET_PROVIDES, nation, given
    if kind == "unprovide":
        _, _, i, cap = op
        key = mine[i % len(mine)]
        return (
            REMOVE_PROVIDES,
            nation,
            {
                "supplier": sid(key),
                "capability": cid(cap),
                "expectedVersion": await edge_version(api, key, cap),
            },
        )
    _, _, i, j = op
    everyone = keys_of("GBR") + keys_of("USA")
    buyer, seller = mine[i % len(mine)], everyone[j % len(everyone)]
    return (
        SET_SOURCES,
        nation,
        {
            "buyer": sid(buyer),
            "supplier": sid(seller),
            "marking": "CUI",
            "fields": {
                "share": {"value": 0.5, "marking": "CUI"},
                "sole": {"value": False, "marking": "CUI"},
                "item": {"value": "part", "marking": "CUI"},
            },
            "reason": "link",
        },
    )


async def send(api: Api, document: str, nation: str, input: dict[str, Any]) -> Any:
    reply = await api.query(document, {"input": input}, token=api.token(nation, BOTH))
    assert reply.status == 200, reply.body
    assert not reply.errors, reply.body
    return reply.body


async def reads(api: Api, at: str | None, callers: tuple[str, ...]) -> list[Any]:
    ids = [sid(k) for k in keys_of("GBR") + keys_of("USA")]
    lookups = [
        (
            "query Q($at: DateTime, $id: ID!) { supplier(id: $id, asOf: $at) "
            "{ key name employees city marking nation { code } } }",
            {"id": i},
        )
        for i in ids
    ]
    out = []
    for nation in callers:
        for document, extra in [(d, {}) for d in READS] + lookups:
            for _ in range(3):
                reply = await api.query(document, {"at": at, **extra}, nation=nation)
                if not _environmental(reply):
                    break
            out.append((nation, document, reply.status, reply.body))
    return out


# A read stopped by the database's time limit (a loaded test machine) says nothing about asOf:
# it is asked again (a read that keeps timing out still fails the comparison).
_ENVIRONMENT = {"TIMEOUT", "SERVICE_UNAVAILABLE"}


def _environmental(reply: Reply) -> bool:
    return any((e.get("extensions") or {}).get("code") in _ENVIRONMENT for e in reply.errors)


def stamp() -> str:
    return datetime.now(UTC).isoformat()


@SETTINGS
@given(script=st.lists(ops, min_size=1, max_size=8))
async def test_as_of_each_write_equals_the_current_read_after_it(
    api: Api, script: list[tuple[Any, ...]]
) -> None:
    await clear_database(api.graph)
    await api.load(seed())
    times = [stamp()]
    current = [await reads(api, None, CALLERS)]
    sent: list[tuple[str, str, dict[str, Any]]] = []
    for op in script:
        document, nation, input = await concrete(api, op)
        await send(api, document, nation, input)
        sent.append((document, nation, input))
        times.append(stamp())
        current.append(await reads(api, None, CALLERS))
    # Read back only after the whole sequence: later writes must not show in earlier times.
    as_of = [await reads(api, t, CALLERS) for t in times]
    for i, (then, now) in enumerate(zip(as_of, current, strict=True)):
        for a, r in zip(then, now, strict=True):
            assert a == r, (i, sent[:i], a[:2])


# -- noninterference -----------------------------------------------------------------------------


HIDDEN_VALUE = 777_777


def censored(
    sent: list[tuple[str, str, dict[str, Any]]], groups: frozenset[str]
) -> list[tuple[str, str, dict[str, Any]]]:
    """The same writes with every value the caller may not read changed."""

    def visible(marking: str) -> bool:
        return is_released(parse(marking), groups)

    out = []
    for document, nation, input in sent:
        fields = input.get("fields")
        if fields:
            changed = {}
            for name, entry in fields.items():
                value = entry["value"]
                if not visible(entry["marking"]):
                    if isinstance(value, bool):
                        value = not value
                    elif isinstance(value, int):
                        value = HIDDEN_VALUE
                    elif isinstance(value, float):
                        value = 77.5
                    elif isinstance(value, str):
                        value = "hidden zulu"
                changed[name] = {**entry, "value": value}
            input = {**input, "fields": changed}
        out.append((document, nation, input))
    return out


HIDDEN_RECORD = {
    "key": "secret",
    "marking": "CUI//NOFORN",
    "fields": {"name": {"value": "secret", "marking": "CUI//NOFORN"}},
    "nation": {"key": "USA", "marking": "CUI"},
    "reason": "hidden",
}


async def run(
    api: Api, sent: list[tuple[str, str, dict[str, Any]]], nation: str, hidden: bool
) -> list[Any]:
    """Make the writes (and, with `hidden`, writes to a record the caller cannot see between
    them); then the caller's asOf reads after each write and its history of every record."""
    await clear_database(api.graph)
    await api.load(seed())
    times = [stamp()]
    for i, (document, writer, input) in enumerate(sent):
        await send(api, document, writer, input)
        if hidden:
            if i == 0:
                await send(api, CREATE_SUPPLIER, "USA", HIDDEN_RECORD)
            else:
                v = await version(api, "USA:secret")
                await send(
                    api,
                    UPDATE_SUPPLIER,
                    "USA",
                    {
                        "id": sid("USA:secret"),
                        "expectedVersion": v,
                        "fields": {"employees": {"value": i, "marking": "CUI//NOFORN"}},
                    },
                )
        times.append(stamp())
    return await observe(api, times, nation)


async def observe(api: Api, times: list[str], nation: str) -> list[Any]:
    """The caller's asOf reads at `times` and its history of every record."""
    out = [await reads(api, t, (nation,)) for t in times]
    for key in keys_of("GBR") + keys_of("USA") + ["USA:secret"]:
        reply = await api.query(HISTORY, {"id": sid(key)}, nation=nation)
        out.append([(reply.status, reply.body)])
    return out


@SETTINGS
@given(
    script=st.lists(ops, min_size=1, max_size=6),
    nation=st.sampled_from(("GBR", "AUS", "JPN")),
)
async def test_hidden_writes_do_not_change_as_of_or_history(
    api: Api, script: list[tuple[Any, ...]], nation: str
) -> None:
    await api.load(seed())
    viewer = await api.query("{ viewer { groups } }", nation=nation)
    groups = frozenset(viewer.data["viewer"]["groups"])
    # The writes as made on a fresh database (versions and existing edges resolved once):
    # this is the plain run, `run(api, sent, nation, hidden=False)` without making them twice.
    await clear_database(api.graph)
    await api.load(seed())
    times = [stamp()]
    sent = []
    for op in script:
        document, writer, input = await concrete(api, op)
        await send(api, document, writer, input)
        sent.append((document, writer, input))
        times.append(stamp())
    plain = await observe(api, times, nation)
    other = await run(api, censored(sent, groups), nation, hidden=True)
    assert plain == other


async def test_noninterference_has_teeth(api: Api) -> None:
    """The comparison sees a difference when the changed value is one the caller may read."""
    create = (
        CREATE_SUPPLIER,
        "GBR",
        {
            "key": "n1",
            "marking": "CUI",
            "fields": {
                "name": {"value": "GBR n1", "marking": "CUI"},
                "employees": {"value": 5, "marking": "CUI"},
            },
            "nation": {"key": "GBR", "marking": "CUI"},
            "reason": "new",
        },
    )
    plain = await run(api, [create], "GBR", hidden=False)
    leaked = await run(api, censored([create], frozenset()), "GBR", hidden=False)
    assert plain != leaked
