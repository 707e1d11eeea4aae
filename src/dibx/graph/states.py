"""The names of history states in the graph (docs/history.md), shared by the modules that
write states (`dibx.graph.stewardship`, bulk writes) and those that read what a transaction's
states point at (`dibx.graph.tallies`).

A record state is `(:<Type>State)-[:STATE_OF]->(record)`; an edge state is
`(start)<-[:STATE_FROM]-(:<Rel>State)-[:STATE_TO]->(end)`; each state links
`-[:PREVIOUS]->` the state it closed.
"""

from __future__ import annotations

STATE_OF = "STATE_OF"
STATE_FROM = "STATE_FROM"
STATE_TO = "STATE_TO"
PREVIOUS = "PREVIOUS"
# Record and edge types whose writes are stewarded (and so leave states).
STEWARDED_NODES = ("Supplier", "Capability")
STEWARDED_EDGES = ("PROVIDES", "SOURCES_FROM", "SUBSIDIARY_OF", "REQUIRES")


def state_label(owner: str) -> str:
    """`SupplierState` for a node type, `SourcesFromState` for SOURCES_FROM."""
    if owner.isupper():
        return "".join(p.title() for p in owner.split("_")) + "State"
    return f"{owner}State"


__all__ = [
    "PREVIOUS",
    "STATE_FROM",
    "STATE_OF",
    "STATE_TO",
    "STEWARDED_EDGES",
    "STEWARDED_NODES",
    "state_label",
]
