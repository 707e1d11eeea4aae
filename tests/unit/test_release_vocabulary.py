"""One writer of release Cypher: `dibx.graph.release`. A second hand-written copy of the
predicate or of the marking in force could drift from it unnoticed, so none may exist."""

from __future__ import annotations

import ast
from pathlib import Path

import dibx
from dibx.graph import release

SRC = Path(dibx.__file__).resolve().parent
VOCABULARY = Path(release.__file__).resolve()
# The predicate's group test, the policy-default markings and the policy-default clauses.
FRAGMENTS = ("split(c, '|')", "$dm.", "$dr.")


def offenders(root: Path, fragments: tuple[str, ...]) -> list[str]:
    found = []
    for path in sorted(root.rglob("*")):
        if path.resolve() == VOCABULARY or path.suffix not in {".py", ".cypher"}:
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            for fragment in fragments:
                if fragment in line:
                    found.append(f"{path.relative_to(root)}:{number}: {fragment}")
    return found


def test_only_the_vocabulary_writes_release_cypher() -> None:
    assert offenders(SRC, FRAGMENTS) == []


def test_the_scan_finds_a_hand_written_copy(tmp_path: Path) -> None:
    stray = tmp_path / "stray.py"
    stray.write_text(f'Q = "MATCH (n) WHERE {release.visible("n", "Supplier")}"\n')
    assert len(offenders(tmp_path, FRAGMENTS)) == 2  # the group test and $dr.


def test_graph_modules_build_no_query_text_with_format_or_replace() -> None:
    calls = []
    for path in sorted((SRC / "graph").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"format", "replace"}
            ):
                calls.append(f"{path.name}:{node.lineno}: .{node.func.attr}(")
    assert calls == []


def test_a_field_check_names_its_stored_clauses_and_policy_default() -> None:
    assert release.released("x", "Supplier", "name") == (
        "all(c IN coalesce(x.release_name, $dr.Supplier_name) "
        "WHERE any(g IN split(c, '|') WHERE g IN $groups))"
    )
    assert release.marking_in_force("x", "PROVIDES") == "coalesce(x.marking, $dm.PROVIDES)"
