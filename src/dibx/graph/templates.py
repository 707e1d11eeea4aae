"""Compiled root reads kept by what they are compiled from, so a repeated read binds only
its parameters.

A root read's text and its own parameters (page sizes, dates, filter values) follow from
the selection, the read's options, the page-size limit and the day the caller's dated
memberships are read for; the caller's release parameters (`ReleaseScope.cypher_params`)
and a record's key are bound on every request, never kept. A read that opens a cursor (the
root page's or a nested page's `after`/`before`) is never kept: a cursor is opened for one
viewer. Nor is a time-travel read, nor one whose inputs cannot be hashed.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from typing import Any, LiteralString

from dibx.graph.selection import Selected

# The text, its own parameters, and the renames of its rows' relation keys
# (`dibx.graph.compile.Compiler.renames`).
Compiled = tuple[LiteralString, dict[str, Any], dict[str, str]]
CURSORS = ("after", "before")


def opens_a_cursor(selections: Iterable[Selected]) -> bool:
    return any(
        any(name in CURSORS and value is not None for name, value in sel.args)
        or opens_a_cursor(sel.children)
        for sel in selections
    )


class Templates:
    """Compiled reads by their inputs; LRU. Entries hold the model they were compiled
    for, so its identity (in the key) is never reused while they live."""

    def __init__(self, size: int = 512) -> None:
        self.size = size
        self._kept: OrderedDict[Hashable, tuple[object, Compiled]] = OrderedDict()

    def get(self, key: tuple[Any, ...], model: object, build: Callable[[], Compiled]) -> Compiled:
        full = (id(model), *key)
        try:
            found = self._kept.get(full)
        except TypeError:  # an input that cannot be hashed (a list among the arguments)
            return build()
        if found is not None:
            self._kept.move_to_end(full)
            return found[1]
        compiled = build()
        self._kept[full] = (model, compiled)
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return compiled

    def __len__(self) -> int:
        return len(self._kept)


TEMPLATES = Templates()
