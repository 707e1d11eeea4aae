"""The names the graph layer's queries use, made to exist before any query is planned.

Neo4j plans a query once and caches the plan, but a plan made while a label, relationship
type or property key the query names did not exist yet is thrown away and made again as soon
as that name comes to exist. On an empty database that is every name data has not used yet:
the change feed's queries (seconds to plan each, tens on a busy machine) were planned at
start, then planned again when the first record, state or marking was written, while a
caller waited; the same for every compiled read naming a field marking nobody had written.
Names, once created, stay (they outlive the data that used them), so creating them all at
start makes the first plans the lasting ones.

The names come from the model (labels, relationship types, fields and their release and
marking properties), from the history and feed vocabulary below and from release tallies.
`tests/integration/test_plan_names.py` plans the feed's queries and compiled reads on a new
database and fails naming any name missing here.
"""

from __future__ import annotations

from dataclasses import dataclass

from dibx.graph import locks, outbox, tallies
from dibx.graph.driver import Graph
from dibx.graph.model import MODEL, Model
from dibx.graph.states import PREVIOUS, STATE_FROM, STATE_OF, STATE_TO, state_label
from dibx.graph.stewardship import retired_label

# Properties of history states, the change counter and records' stewardship that no model
# field declares (docs/history.md, docs/changes.md).
_HISTORY_PROPERTIES = (
    "validFrom",
    "validTo",
    "kind",
    "changed",
    "version",
    "originNation",
    "originOrg",
    "from",
    "to",
    "uid",
    "seq",
    "committedAt",
    "compactedSeq",
    "next",
    "compacted",
    "reason",
)
# Properties of release tallies (`dibx.graph.tallies`) besides each owner's flag, and the
# lock property writers set and remove in one statement (`dibx.graph.locks`).
_TALLY_PROPERTIES = ("relation", "gen", "edge", "far", "n", locks.LOCK)


@dataclass(frozen=True, slots=True)
class Names:
    labels: tuple[str, ...]
    types: tuple[str, ...]
    properties: tuple[str, ...]


def _marked(names: tuple[str, ...]) -> list[str]:
    """A record's or edge's own release and marking, and each field's value, release and
    marking properties (`dibx.graph.release`)."""
    out = ["release", "marking"]
    for name in names:
        out += [name, f"release_{name}", f"marking_{name}"]
    return out


def names(model: Model = MODEL) -> Names:
    """Every label, relationship type and property key the graph layer's reads name."""
    labels = [outbox.PENDING, outbox.CHANGE, outbox.SEQUENCE, tallies.TALLY]
    properties: list[str] = [*_HISTORY_PROPERTIES, *_TALLY_PROPERTIES]
    for node in model.nodes.values():
        labels += [node.label, retired_label(node), state_label(node.name)]
        properties += [node.key, *_marked(node.names)]
        properties += [tallies.flag(name) for name, rel in node.relations.items() if rel.tallied]
    types = [STATE_OF, STATE_FROM, STATE_TO, PREVIOUS, tallies.HAS_TALLY]
    for edge in model.edges.values():
        types.append(edge.rel)
        labels.append(state_label(edge.rel))
        properties += _marked(edge.names)
    return Names(
        tuple(dict.fromkeys(labels)), tuple(dict.fromkeys(types)), tuple(dict.fromkeys(properties))
    )


async def ensure(graph: Graph, model: Model = MODEL) -> None:
    """Create every name of `names(model)` that does not exist yet (an existing one is left
    as it is). Names are not data: nothing is matched by them until data uses them."""
    wanted = names(model)
    await graph.write(
        "UNWIND $labels AS l CALL db.createLabel(l) "
        "WITH count(*) AS _ UNWIND $types AS t CALL db.createRelationshipType(t) "
        "WITH count(*) AS _ UNWIND $properties AS p CALL db.createProperty(p) "
        "RETURN count(*) AS n",
        {
            "labels": list(wanted.labels),
            "types": list(wanted.types),
            "properties": list(wanted.properties),
        },
    )
