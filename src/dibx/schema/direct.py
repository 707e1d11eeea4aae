"""A field's resolver in the form the compiled response path calls: without an Info.

strawberry hands each resolver an `Info` (graphql-core's resolve info, wrapped); building
both for every field of every object is most of what a nested field costs. A field whose
resolver needs from its Info only the request's context, its own arguments, its result key
(`dibx.graph.selection.result_key`) and its response path also declares that, in its
strawberry metadata, as a `Direct`: the same work, given those four things plainly. The
compiled response path (`dibx.schema.fastpath`) calls it; the executor calls the resolver.
Both forms share their body, so they cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Protocol

from graphql.pyutils import Path

DIRECT = "dibx.direct"


class Direct(Protocol):
    def __call__(
        self, source: Any, context: Any, args: dict[str, Any], key: str, path: Path, /
    ) -> Any: ...


def direct(resolve: Direct) -> dict[str, Any]:
    """The strawberry field metadata declaring the field's direct form."""
    return {DIRECT: resolve}


def direct_of(metadata: Any) -> Direct | None:
    found = (metadata or {}).get(DIRECT)
    return found if callable(found) else None
