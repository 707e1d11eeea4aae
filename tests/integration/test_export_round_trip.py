"""The export/import round trip per nation: import a nation's export into an empty database
(reference data only) and that nation's queries answer the same `data`.

Random graphs (hypothesis, small) are stewarded data as the API would have written it: keys
carry their originator's prefix (`GBR:s1`, `USA:c0`), markings are ones the originator may
itself read and at least the policy's floors, and every edge's far end is visible to the
edge's originator. Fields the importer cannot do without (required fields, a supplier's
`BASED_IN`, a capability's USML category, an offer's unit, an ownership share) are marked so
every caller here reads them: export leaves a withheld field out, and the importer refuses a
row without a required field (see docs/exchange-format.md, "Export").

The export is split by `origin` and imported by each originator (records first, then edges),
as each nation re-importing its own rows would. Then, for the same caller, every query
answers identical `data` (values, markings, counts, order, ids and cursors), and exporting
again writes the same rows. A field withheld before is in the export's `withheld` list only
(no value, no marking), so the import stores it with neither: it reads `null` under the
policy's default marking. What may differ is `extensions`: such a field is listed as withheld
after the import only where it was before (same path), but under the policy's default
marking where the default is not released to the caller; the marking it was withheld under
is not in the export (an export never carries a withheld field's marking).

DIBX_HYPOTHESIS_EXAMPLES scales the number of random graphs (default 20; a tenth here).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dibx.exchange.importer import Source, operator, run_import
from dibx.graph.records import Dataset
from dibx.graph.writes import clear_database
from dibx.services.audit import WriteAudit
from tests.support import builders as b
from tests.support.api import Api
from tests.support.exchange import export, lines
from tests.support.strategies import Drawn

pytestmark = pytest.mark.neo4j

EXAMPLES = max(2, int(os.environ.get("DIBX_HYPOTHESIS_EXAMPLES", "20")) // 10)
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
ORIGINS = ("USA", "GBR", "AUS")
# What each originator may itself read (no attributes), at least CUI (the floors).
READABLE = {
    "USA": (
        "CUI",
        "CUI//NOFORN",
        "CUI//REL TO USA, GBR",
        "CUI//REL TO USA, FVEY",
        "CUI//REL TO USA, AUS, GBR",
    ),
    "GBR": ("CUI", "CUI//REL TO USA, GBR", "CUI//REL TO USA, FVEY", "CUI//REL TO USA, AUS, GBR"),
    "AUS": ("CUI", "CUI//REL TO USA, FVEY", "CUI//REL TO USA, AUS, GBR"),
}
SHARED = ("CUI", "CUI//REL TO USA, FVEY")  # read by every caller here
CALLERS = ("GBR", "AUS", "USA")


class Case:
    """A graph and the nation whose slice goes round; a short repr for a failing example."""

    def __init__(self, data: Dataset, nation: str) -> None:
        self.data, self.nation = data, nation

    def __repr__(self) -> str:
        return f"Case({self.nation}, {Drawn(self.data)!r})"


@st.composite
def stewarded(draw: st.DrawFn) -> Case:
    """(a graph, the nation whose slice goes round)."""

    def mark(origin: str) -> str:
        return draw(st.sampled_from(READABLE[origin]))

    shared = st.sampled_from(SHARED)
    origins = [draw(st.sampled_from(ORIGINS)) for _ in range(draw(st.integers(2, 5)))]
    suppliers = [
        b.supplier(
            f"{o}:s{i}",
            o,
            record=mark(o),
            based_in=draw(shared),
            name=f"supplier {i}",
            employees=draw(st.none() | st.integers(1, 1000)),
            city=draw(st.none() | st.sampled_from(["Ely", "Leeds", "Perth"])),
            fields={
                "name": draw(shared),
                **{f: mark(o) for f in ("cage", "city", "description", "employees")},
            },
        )
        for i, o in enumerate(origins)
    ]
    caps = [
        b.capability(
            f"USA:c{i}",
            record=mark("USA"),
            fields={
                **{f: draw(shared) for f in ("name", "area", "jurisdiction", "usml")},
                **{f: mark("USA") for f in ("description", "sme", "etl")},
            },
        )
        for i in range(draw(st.integers(1, 3)))
    ]
    record_of = {r.key: r.markings.record for r in (*suppliers, *caps)}
    origin_of = {s.key: o for s, o in zip(suppliers, origins, strict=True)}

    def reachable(start: str, end: str) -> bool:
        """The edge's originator sees its far end (it could not have written it else)."""
        return record_of[end] in READABLE[origin_of.get(start, "USA")]

    skeys, ckeys = [s.key for s in suppliers], [c.key for c in caps]
    pairs = st.tuples(st.sampled_from(skeys), st.sampled_from(skeys)).filter(lambda p: p[0] != p[1])
    links = {p for p in (draw(pairs) for _ in range(draw(st.integers(0, 4)))) if reachable(*p)}
    owned = {p for p in (draw(pairs) for _ in range(draw(st.integers(0, 2)))) if reachable(*p)}
    offers = {
        p
        for p in (
            (draw(st.sampled_from(skeys)), draw(st.sampled_from(ckeys)))
            for _ in range(draw(st.integers(0, 5)))
        )
        if reachable(*p)
    }
    needs = {
        (ckeys[i], ckeys[j])
        for i in range(len(ckeys))
        for j in range(i + 1, len(ckeys))
        if draw(st.booleans())
    }
    data = b.dataset(
        suppliers=suppliers,
        capabilities=caps,
        provides=[
            b.provides(
                s,
                c,
                record=mark(origin_of[s]),
                capacity=float(draw(st.integers(1, 99))),
                fields={
                    "unit": draw(shared),
                    **{f: mark(origin_of[s]) for f in ("capacity", "trl", "leadTimeDays")},
                },
            )
            for s, c in sorted(offers)
        ],
        sources_from=[
            b.sources(
                x,
                y,
                record=mark(origin_of[x]),
                share=0.5,
                fields={f: mark(origin_of[x]) for f in ("item", "share", "sole")},
            )
            for x, y in sorted(links)
        ],
        subsidiary_of=[
            b.owns(x, y, 0.5, record=mark(origin_of[x]), fields={"share": "CUI//PROPIN"})
            for x, y in sorted(owned)
        ],
        requires=[b.requires(x, y, record=mark("USA")) for x, y in sorted(needs)],
    )
    return Case(data, draw(st.sampled_from(CALLERS)))


QUERIES = [
    """{ suppliers(first: 50) { totalCount pageInfo { hasNextPage endCursor }
         edges { cursor node { id key marking name cage city description employees
           nation { code } } } } }""",
    """{ suppliers(first: 50) { nodes { key
         capabilities { totalCount edges { marking capacity unit trl leadTimeDays
           node { key } } }
         suppliers { totalCount edges { marking item share sole node { key } } }
         owners { totalCount edges { marking share node { key } } } } } }""",
    """{ capabilities(first: 50) { totalCount nodes { id key marking name area description
         jurisdiction usml sme etl requires { totalCount edges { marking node { key } } } } } }""",
    """{ suppliers(first: 2, sort: [{field: EMPLOYEES, direction: DESC}]) { totalCount
         pageInfo { hasNextPage endCursor } nodes { key employees } } }""",
]


async def answers(api: Api, nation: str) -> list[dict[str, Any]]:
    out = []
    for document in QUERIES:
        reply = await api.query(document, nation=nation)
        assert reply.status == 200, reply.body
        assert not reply.errors, reply.errors
        out.append(reply.body)
    return out


async def restore(api: Api, rows: list[dict[str, Any]]) -> None:
    """Each originator imports its own rows: records first, then edges."""
    policy = api.runtime.policy
    audit = WriteAudit(api.audit, operation="import", policy_version=policy.version)
    for phase in (("suppliers", "capabilities"), None):
        for origin in ORIGINS:
            mine = [r for r in rows if r.get("origin") == origin and _in(r, phase)]
            if not mine:
                continue
            chunks = [orjson_line(r) for r in mine]
            report = await run_import(
                api.graph,
                policy,
                operator(policy, origin),
                [Source(f"{origin.lower()}.jsonl", chunks)],
                audit=audit,
            )
            assert report.rejects == [], report.rejects
            assert report.created == len(mine), report.as_dict()


def _in(row: dict[str, Any], records: tuple[str, ...] | None) -> bool:
    """In the records phase (`records` names them) or the edges phase (None)."""
    is_record = row["type"] in ("suppliers", "capabilities")
    return is_record if records else not is_record


def orjson_line(row: dict[str, Any]) -> bytes:
    return orjson.dumps(row) + b"\n"


def withheld(body: dict[str, Any]) -> set[str]:
    """The paths of the withheld list under `extensions`."""
    listed = ((body.get("extensions") or {}).get("releasability") or {}).get("withheld") or []
    return {str(w["path"]) for w in listed}


@dataclass(frozen=True)
class RoundTrip:
    """Answers and export rows before the round trip, and after it."""

    before: list[dict[str, Any]]
    after: list[dict[str, Any]]
    rows: list[dict[str, Any]]
    again: list[dict[str, Any]]


async def round_trip(api: Api, data: Dataset, nation: str) -> RoundTrip:
    """Load `data`, ask and export as `nation`, import the export into an empty database
    (each originator its own rows), ask and export again."""
    await clear_database(api.graph)
    await api.load(data)
    before = await answers(api, nation)
    exported, _ = await export(api, nation)
    rows = lines(exported)
    assert all(r.get("origin") in ORIGINS for r in rows), rows
    await clear_database(api.graph)
    await api.load(b.reference())
    await restore(api, rows)
    after = await answers(api, nation)
    again, _ = await export(api, nation)
    return RoundTrip(before, after, rows, lines(again))


@SETTINGS
@given(case=stewarded())
async def test_export_import_round_trip_answers_the_same(api: Api, case: Case) -> None:
    trip = await round_trip(api, case.data, case.nation)
    for was, now in zip(trip.before, trip.after, strict=True):
        assert now["data"] == was["data"]
        assert withheld(now) <= withheld(was)
    assert sorted(trip.again, key=str) == sorted(trip.rows, key=str)
