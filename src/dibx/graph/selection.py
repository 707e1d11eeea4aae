"""A caller's selection, as the graph layer sees it: field names and argument values only.

The schema layer turns a GraphQL selection (aliases, fragments, directives resolved) into
these trees; the compiler turns them into Cypher. Results are keyed by `result_key`, which
depends on the field name and its arguments only, so two aliases of one field with the same
arguments share a result and the resolver can find its data without knowing the alias.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


def result_key(field: str, args: Mapping[str, Any]) -> str:
    if not args:
        return field
    return _hashed_key(field, tuple(sorted((k, str(v)) for k, v in args.items())))


@functools.lru_cache(maxsize=4096)
def _hashed_key(field: str, args: tuple[tuple[str, str], ...]) -> str:
    # Looked up once per relation of every object of a response: the hash is remembered.
    canonical = json.dumps(dict(args), sort_keys=True)
    return f"{field}_{hashlib.sha1(canonical.encode()).hexdigest()[:10]}"  # noqa: S324


@dataclass(frozen=True, slots=True)
class Selected:
    name: str
    args: tuple[tuple[str, Any], ...] = ()
    children: tuple[Selected, ...] = ()

    @property
    def key(self) -> str:
        return result_key(self.name, dict(self.args))

    def arg(self, name: str, default: Any = None) -> Any:
        return dict(self.args).get(name, default)

    def child(self, name: str) -> Selected | None:
        return next((c for c in self.children if c.name == name), None)

    def find(self, *path: str) -> list[Selected]:
        """All descendants reached by following `path` (a field may be selected twice)."""
        level: list[Selected] = [self]
        for step in path:
            level = [c for s in level for c in s.children if c.name == step]
        return level
