"""Noninterference for the change feed: for a random graph D and a random sequence of writes
by several nations, an observer's `changes` stream is identical in two worlds that differ only
in what is hidden from it.

World A: D, then the writes. World B: D' (`censored`: every value the observer may not read
changed, every record and edge it may not see deleted, a hidden record added), then the same
writes with every value whose marking the observer may not read changed, and interleaved with
extra writes (records created and updated under a marking hidden from the observer).

In some plans the observer's nation joins an agreement between two writes (FVEY where it is
not a member: the CUI and REL TO FVEY records then fan out as CREATED) and may leave it again
later (RETIRED). "Hidden" is then what the observer may not see even as a member: a leave
names what the membership showed (docs/changes.md), so only data hidden under both sets of
groups may differ between the worlds.

The observer's stream (suppliers and offers, the types these writes change) is read in pages
of two; events are compared decoded (kind, type, ids,
marking, fields), without the commit time; cursors are compared as positions: each page ends
where the same events follow, and reading one event after each event's cursor gives the next
event in both worlds. DIBX_HYPOTHESIS_EXAMPLES scales the number of examples (a fifth of it).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dibx.auth.markings import is_released, parse
from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database
from dibx.schema.ids import encode_id
from tests.security.test_noninterference import CALLERS, EXAMPLES, SETTINGS, censored, graphs
from tests.support import builders as b
from tests.support.api import Api
from tests.support.stewardship import (
    BOTH,
    CREATE_SUPPLIER,
    RETIRE_SUPPLIER,
    SET_PROVIDES,
    UPDATE_SUPPLIER,
)

pytestmark = pytest.mark.neo4j

WRITERS = ("USA", "GBR", "AUS")
MARKINGS = (
    "CUI",
    "CUI//NOFORN",
    "CUI//REL TO USA, GBR",
    "CUI//REL TO USA, AUS, GBR",
    "CUI//REL TO USA, FVEY",
    "CUI//REL TO USA, JPN, KOR",
)
CHANGES = """
query C($after: String, $first: Int) {
  changes(after: $after, first: $first, types: [SUPPLIER, PROVIDES]) {
  endCursor hasNextPage
  changes { cursor type kind id start end marking fields { field value released marking } } } }
"""


@dataclass(frozen=True)
class Step:
    op: str  # create, update, mark, retire, offer
    record: int  # which created record (by creation order)
    marking: str = "CUI"
    value: int = 0
    capability: int = 0


_markings = st.sampled_from(MARKINGS)
_step = st.one_of(
    st.builds(Step, st.just("update"), st.integers(0, 3), _markings, st.integers(1, 999)),
    st.builds(Step, st.just("mark"), st.integers(0, 3), _markings),
    st.builds(Step, st.just("retire"), st.integers(0, 3)),
    st.builds(Step, st.just("offer"), st.integers(0, 3), _markings, st.just(0), st.integers(0, 2)),
)


Plan = tuple[list[tuple[str, str, str, int]], list[Step], list[int], tuple[int, int | None] | None]


@st.composite
def plans(draw: st.DrawFn) -> Plan:
    """(records to create: writer, record marking, employees marking, employees), then the
    steps, then where world B interleaves its extra hidden writes (step indexes), then where
    the observer's nation joins an agreement and maybe leaves it (step indexes), or None."""
    records = [
        (draw(st.sampled_from(WRITERS)), draw(_markings), draw(_markings), draw(st.integers(1, 99)))
        for _ in range(draw(st.integers(2, 4)))
    ]
    steps = draw(st.lists(_step, min_size=2, max_size=6))
    noise = draw(st.lists(st.integers(0, len(steps)), max_size=2))
    member = None
    if draw(st.booleans()):
        join = draw(st.integers(0, len(steps)))
        leave = draw(st.one_of(st.none(), st.integers(join, len(steps))))
        member = (join, leave)
    return records, steps, noise, member


def joins(nation: str) -> str:
    """The agreement the observer's nation joins: FVEY (which CUI and REL TO FVEY name) where
    it is not a member, else one it is not in."""
    for agreement in ("FVEY", *b.TEST_MEMBERSHIPS):
        if nation not in b.TEST_MEMBERSHIPS[agreement]:
            return agreement
    raise AssertionError(nation)


async def membership(api: Api, nation: str, *, until: date | None = None) -> None:
    """The observer's nation joins (or, with `until`, leaves) its agreement."""
    edge = b.membership(nation, joins(nation), since=date(2000, 1, 1), until=until)
    await api.load(Dataset.of([edge]))


class World:
    """Runs a plan in one world, as each writer; `vary` changes values hidden from the
    observer (world B)."""

    def __init__(self, api: Api, groups: frozenset[str], *, vary: bool) -> None:
        self.api, self.groups, self.vary = api, groups, vary
        self.keys: list[tuple[str, str]] = []  # (writer, key) per created record
        self.versions: dict[int, int] = {}

    def hidden(self, marking: str) -> bool:
        return not is_released(parse(marking), self.groups)

    def value(self, marking: str, value: int) -> int:
        return value + 500 if self.vary and self.hidden(marking) else value

    def name(self, i: int, marking: str) -> str:
        return f"name {i}" + (" (b)" if self.vary and self.hidden(marking) else "")

    async def send(self, nation: str, document: str, input: dict[str, Any]) -> dict[str, Any]:
        token = self.api.token(nation, BOTH)
        reply = await self.api.query(document, {"input": input}, token=token)
        assert reply.status == 200, reply.body
        return dict(next(iter(reply.data.values())))

    async def create(self, i: int, writer: str, record: str, mark: str, employees: int) -> None:
        key = f"w{i}"
        out = await self.send(
            writer,
            CREATE_SUPPLIER,
            {
                "key": key,
                "marking": record,
                "fields": {
                    "name": {"value": self.name(i, record), "marking": record},
                    "employees": {"value": self.value(mark, employees), "marking": mark},
                },
                "nation": {"key": writer, "marking": "CUI"},
            },
        )
        self.keys.append((writer, f"{writer}:{key}"))
        if not out["userErrors"]:
            self.versions[i] = 1

    async def step(self, s: Step, capabilities: list[str]) -> None:
        i = s.record % len(self.keys)
        writer, key = self.keys[i]
        if i not in self.versions:
            return  # never created, or retired
        version = self.versions[i]
        if s.op == "offer":
            await self.send(
                writer,
                SET_PROVIDES,
                {
                    "supplier": encode_id("Supplier", key),
                    "capability": encode_id(
                        "Capability", capabilities[s.capability % len(capabilities)]
                    ),
                    "marking": s.marking,
                    "fields": {"trl": {"value": self.value(s.marking, 5), "marking": s.marking}},
                },
            )
            return
        base = {"id": encode_id("Supplier", key), "expectedVersion": version, "reason": "test"}
        if s.op == "update":
            fields = {"employees": {"value": self.value(s.marking, s.value), "marking": s.marking}}
            out = await self.send(writer, UPDATE_SUPPLIER, {**base, "fields": fields})
        elif s.op == "mark":
            out = await self.send(writer, UPDATE_SUPPLIER, {**base, "marking": s.marking})
        else:
            out = await self.send(writer, RETIRE_SUPPLIER, base)
        if not out["userErrors"]:
            self.versions[i] = version + 1
            if s.op == "retire":
                del self.versions[i]

    async def noise(self, n: int) -> None:
        """Writes the observer may not see: a record under a marking hidden from it, made
        and changed by a writer who may read it."""
        for writer in WRITERS:
            mine = frozenset({writer})
            for m in MARKINGS:
                if self.hidden(m) and is_released(parse(m), mine | _groups_of(writer)):
                    key = f"noise{n}"
                    out = await self.send(
                        writer,
                        CREATE_SUPPLIER,
                        {
                            "key": key,
                            "marking": m,
                            "fields": {"name": {"value": "hidden", "marking": m}},
                            "nation": {"key": writer, "marking": m},
                        },
                    )
                    if not out["userErrors"]:
                        fields = {"employees": {"value": n, "marking": m}}
                        await self.send(
                            writer,
                            UPDATE_SUPPLIER,
                            {
                                "id": encode_id("Supplier", f"{writer}:{key}"),
                                "expectedVersion": 1,
                                "fields": fields,
                            },
                        )
                    return


def _groups_of(nation: str) -> frozenset[str]:
    return frozenset(a for a, members in b.TEST_MEMBERSHIPS.items() if nation in members)


async def observe(api: Api, nation: str) -> list[Any]:
    """The observer's stream: pages of two, then one event after each event's cursor."""
    feed = api.runtime.services.changes
    assert feed is not None
    await feed.warm()  # as each API process does at start: a cold plan is slow
    out: list[Any] = []
    cursors: list[str] = []
    after = None
    while True:
        reply = await api.query(CHANGES, {"after": after, "first": 2}, nation=nation)
        assert not reply.errors, reply.body
        page = reply.data["changes"]
        out.append(("page", [_decoded(c) for c in page["changes"]], page["hasNextPage"]))
        cursors += [c["cursor"] for c in page["changes"]]
        after = page["endCursor"]
        if not page["hasNextPage"]:
            break
    for cursor in cursors:
        reply = await api.query(CHANGES, {"after": cursor, "first": 1}, nation=nation)
        out.append(("next", [_decoded(c) for c in reply.data["changes"]["changes"]]))
    return out


def _decoded(change: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in change.items() if k != "cursor"}


async def run(
    api: Api,
    data: Dataset,
    nation: str,
    groups: frozenset[str],
    plan: Plan,
    *,
    world_b: bool,
) -> list[Any]:
    records, steps, noise, member = plan
    await clear_database(api.graph)
    await api.load(censored(data, groups) if world_b else data)
    capabilities = [c.key for c in data.nodes_of("Capability")]
    world = World(api, groups, vary=world_b)
    for i, (writer, record, mark, employees) in enumerate(records):
        await world.create(i, writer, record, mark, employees)
    for n in range(len(steps) + 1):
        if member is not None and member[0] == n:
            await membership(api, nation)
        if member is not None and member[1] == n:
            await membership(api, nation, until=date(2024, 1, 1))
        if world_b:
            for k in range(noise.count(n)):
                await world.noise(n * 10 + k)
        if n < len(steps):
            await world.step(steps[n], capabilities)
    return await observe(api, nation)


# The drawn graph and plan print long; the assertion, not the size of its report, matters.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisWarning")
@settings(SETTINGS, max_examples=max(2, EXAMPLES // 5))
@given(data=graphs(), nation=st.sampled_from(CALLERS), plan=plans())
async def test_hidden_data_does_not_change_the_change_stream(
    api: Api,
    data: Dataset,
    nation: str,
    plan: Plan,
) -> None:
    await api.load(b.dataset())
    if plan[3] is not None:
        await membership(api, nation)  # hidden: what the observer may not see as a member
    viewer = await api.query("{ viewer { groups } }", nation=nation)
    groups = frozenset(viewer.data["viewer"]["groups"])
    a = await run(api, data, nation, groups, plan, world_b=False)
    c = await run(api, data, nation, groups, plan, world_b=True)
    assert a == c


async def test_change_noninterference_has_teeth(api: Api) -> None:
    """USA sees what is hidden from GBR: its streams of the two GBR worlds differ."""
    data = b.dataset(
        suppliers=[b.supplier("s0", "USA", record="CUI//NOFORN")],
        capabilities=[b.capability("c0", record="CUI")],
    )
    gbr = frozenset({"GBR", "FVEY", "NATO", "AUKUS", "ACGU", "NTIB", "RDP_MOU", "@CUI_REL"})
    plan = (
        [("USA", "CUI//NOFORN", "CUI//NOFORN", 5), ("GBR", "CUI", "CUI", 7)],
        [Step("update", 0, "CUI//NOFORN", 9), Step("update", 1, "CUI", 3)],
        [1],
        None,
    )
    a = await run(api, data, "USA", gbr, plan, world_b=False)
    c = await run(api, data, "USA", gbr, plan, world_b=True)
    assert a != c
