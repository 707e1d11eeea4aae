"""Versioned, idempotent schema migrations, applied at start.

Each `migrations/NNNN_name.cypher` file holds `;`-separated schema statements written with
IF NOT EXISTS, so replaying one is harmless; a `(:Migration {version})` node records what ran.
Every start also creates the names the queries use (`dibx.graph.tokens`), for the model served.
"""

from __future__ import annotations

import re
from importlib import resources

from dibx.graph import generation, tokens
from dibx.graph.driver import Graph, compiled
from dibx.graph.model import MODEL, Model

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.cypher$")


def _statements(text: str) -> list[str]:
    lines = [line for line in text.splitlines() if not line.strip().startswith("//")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def available() -> list[tuple[int, str, list[str]]]:
    """(version, file name, statements) of every migration shipped with the package."""
    found = []
    for entry in resources.files("dibx.graph").joinpath("migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, _statements(entry.read_text())))
    return sorted(found)


async def apply(graph: Graph, model: Model = MODEL) -> list[str]:
    """Apply the migrations not yet recorded, then make the names `model`'s queries use;
    returns the names of the migrations applied."""
    rows = await graph.read("MATCH (m:Migration) RETURN m.version AS version")
    done = {int(row["version"]) for row in rows}
    applied = []
    for version, name, statements in available():
        if version in done:
            continue
        for statement in statements:
            # Schema statements come from files shipped in the package, never from input.
            await graph.write(compiled(statement))
        await graph.write(
            "MERGE (m:Migration {version: $version}) SET m.name = $name, m.applied = datetime()",
            {"version": version, "name": name},
        )
        applied.append(name)
    if applied:
        # A migration may rewrite records: answers cached before it are not served after.
        await graph.write(generation.BUMP_EXISTING)
    await tokens.ensure(graph, model)
    return applied
