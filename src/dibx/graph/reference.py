"""Reference reads: nations and agreement memberships, public facts used to resolve groups."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dibx.graph.driver import Graph


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


async def codes(graph: Graph) -> tuple[frozenset[str], frozenset[str]]:
    """(nation codes, agreement codes) known to the graph."""
    row = await graph.read_one(
        "RETURN COLLECT { MATCH (n:Nation) RETURN n.code } AS nations, "
        "COLLECT { MATCH (a:Agreement) RETURN a.code } AS agreements"
    )
    assert row is not None
    return frozenset(row["nations"]), frozenset(row["agreements"])
