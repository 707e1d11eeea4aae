"""What a field's resolver does, declared for the compiled response writer.

The writer (`dibx.schema.fastpath.writer`) turns a compiled read's rows straight into the
response, without calling resolvers below the root. It may write a field only where it
reproduces the field's resolver exactly, so a field says which of the resolvers it has, in
its strawberry metadata beside the resolver itself (as `dibx.schema.direct` does for the
direct form): `writes(Writes.VALUE, "name")` on a marked field, and so on. A field selected
without a declaration is not written: the operation falls back to the executor. Changing
what a declared resolver does means changing the writer's step for it too; the differential
test (`tests/security/test_compiled_response.py`) compares the two on random documents.
"""

from __future__ import annotations

from enum import Enum
from typing import Any

WRITES = "dibx.writes"


class Writes(Enum):
    # A record's (node's or relation edge's) fields.
    VALUE = "value"  # a marked field (`fields.release_value`); the argument: its model name
    MARKING = "marking"  # the record's own marking (`fields.record_marking`)
    FIELD_MARKINGS = "fieldMarkings"  # `fields.field_markings_for`
    ID = "id"  # a node's global id; the argument: its type's name
    KEY = "key"  # a node's key
    ONE = "one"  # a to-one relation (`types._one`)
    MANY = "many"  # a to-many relation's page (`types._many`); the argument: its connection
    EDGE_CURSOR = "edgeCursor"  # a relation edge's cursor (`types._edge_cursor`)
    FAR_NODE = "farNode"  # the node at a relation edge's far end (`types._far_node`)
    # A connection's fields (`connection.Connection`), for a root page or a relation's.
    TOTAL = "totalCount"
    EDGES = "edges"
    NODES = "nodes"
    PAGE_INFO = "pageInfo"
    # A root page's edge (`connection.Edge`).
    CURSOR = "cursor"
    NODE = "node"


def writes(kind: Writes, argument: str = "") -> dict[str, Any]:
    """The strawberry field metadata declaring what the field's resolver does."""
    return {WRITES: (kind, argument)}


def writes_of(metadata: Any) -> tuple[Writes, str] | None:
    found = (metadata or {}).get(WRITES)
    return found if isinstance(found, tuple) else None
