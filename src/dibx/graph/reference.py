"""Reference reads: nations and agreement memberships.

Two views of the same edges. `memberships` is the system's own, raw view: it decides which
agreements a caller's nation belongs to (its access groups), a policy fact, never shown as
such. `released_members` is what one caller may know about who belongs to what, read under
its release scope like any other read; it is the only view that may shape a response (agreement
groups in analytics, REL TO expansion in the banner).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dibx.auth.release import ReleaseScope
from dibx.graph.driver import Graph, compiled
from dibx.graph.release import dated_holds, visible


@dataclass(frozen=True, slots=True)
class Membership:
    nation: str
    agreement: str
    since: date
    until: date | None


async def memberships(graph: Graph) -> list[Membership]:
    rows = await graph.read(
        "MATCH (n:Nation)-[m:MEMBER_OF]->(a:Agreement) "
        "RETURN n.code AS nation, a.code AS agreement, m.since AS since, m.until AS until"
    )
    return [
        Membership(
            nation=r["nation"],
            agreement=r["agreement"],
            since=r["since"].to_native(),
            until=r["until"].to_native() if r["until"] is not None else None,
        )
        for r in rows
    ]


_RELEASED_MEMBERS = compiled(
    "MATCH (n:Nation)-[m:MEMBER_OF]->(a:Agreement) "
    f"WHERE {visible('n', 'Nation')} AND {visible('m', 'MEMBER_OF')} "
    f"AND {visible('a', 'Agreement')} AND {dated_holds('m', 'MEMBER_OF', '$as_of')} "
    "RETURN a.code AS agreement, collect(DISTINCT n.code) AS members"
)


async def released_members(graph: Graph, scope: ReleaseScope) -> dict[str, frozenset[str]]:
    """Agreement code -> member nations on `scope.as_of`, as far as the caller may see:
    hidden memberships are absent, and one with a withheld date holds on no date."""
    rows = await graph.read(_RELEASED_MEMBERS, {**scope.cypher_params(), "as_of": scope.as_of})
    return {r["agreement"]: frozenset(r["members"]) for r in rows}


async def codes(graph: Graph) -> tuple[frozenset[str], frozenset[str]]:
    """(nation codes, agreement codes) known to the graph."""
    row = await graph.read_one(
        "RETURN COLLECT { MATCH (n:Nation) RETURN n.code } AS nations, "
        "COLLECT { MATCH (a:Agreement) RETURN a.code } AS agreements"
    )
    assert row is not None
    return frozenset(row["nations"]), frozenset(row["agreements"])
