"""Typed rows: the compiled map is decoded once, in the graph layer, and nowhere else.

- A row without its marking does not decode at all (deny by default): nothing is handed out
  as released without saying under what marking.
- A field is `Released` only where the query returned its one-element list; null (or not
  fetched) is `Withheld`, carrying its marking.
- The compiler's reserved keys appear in no module outside `dibx.graph`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

import dibx
from dibx.graph import rows
from dibx.graph.rows import (
    EMPTY_RELATION,
    FieldMark,
    Link,
    RelationRow,
    Released,
    UndecodableRow,
    Withheld,
    decode_node,
)

SRC = Path(dibx.__file__).resolve().parent
GRAPH = SRC / "graph"
# A reserved key as a whole token: `__m` but not `__main__` or `__module__`.
RESERVED = re.compile(r"(?<![\w])(?:" + "|".join(map(re.escape, rows.RESERVED)) + r")(?![\w])")


def supplier(**extra: Any) -> dict[str, Any]:
    return {
        "__key": "s1",
        "__m": "CUI//REL TO USA, GBR",
        "__f": {"name": ["Acme"], "cage": None},
        "__mf": {"name": "PUBLIC", "cage": "CUI//NOFORN"},
        **extra,
    }


def test_a_row_without_its_marking_does_not_decode() -> None:
    unmarked = supplier()
    del unmarked["__m"]
    with pytest.raises(UndecodableRow, match="marking"):
        decode_node(unmarked)


def test_a_row_with_a_null_marking_does_not_decode() -> None:
    with pytest.raises(UndecodableRow, match="marking"):
        decode_node(supplier(__m=None))


def test_an_unmarked_edge_fails_the_whole_row() -> None:
    link = {"edge": {"__f": {}}, "node": supplier(__key="s2")}
    relation = {"items": [link], "first": 5, "total": None}
    with pytest.raises(UndecodableRow, match="marking"):
        decode_node(supplier(__r={"suppliers": relation}))


def test_a_row_without_its_key_does_not_decode() -> None:
    keyless = supplier()
    del keyless["__key"]
    with pytest.raises(UndecodableRow, match="key"):
        decode_node(keyless)


def test_fields_are_released_only_where_the_query_returned_a_value() -> None:
    row = decode_node(supplier())
    assert (row.key, row.marking) == ("s1", "CUI//REL TO USA, GBR")
    assert row.fields["name"] == Released("Acme", "PUBLIC")
    assert row.fields["cage"] == Withheld("CUI//NOFORN")
    # A field that was not fetched is not there; the resolver then withholds it.
    assert row.fields.get("website") is None
    assert set(row.fields) == {"name", "cage"}


def test_a_released_null_is_not_withheld() -> None:
    row = decode_node(supplier(__f={"name": [None]}, __mf={"name": "PUBLIC"}))
    assert row.fields["name"] == Released(None, "PUBLIC")


def test_relations_and_field_markings_decode_to_typed_rows() -> None:
    edge = {"__m": "PUBLIC", "__f": {"share": [0.5]}, "__mf": {"share": "CUI"}}
    link = {"edge": edge, "node": supplier(__key="s2")}
    row = decode_node(
        supplier(
            __fm={"name": ["PUBLIC", True], "cage": ["CUI//NOFORN", None]},
            __r={
                "suppliers": {"items": [link, link], "first": 1, "total": 7},
                "nation": {"edge": {"__m": "PUBLIC"}, "node": supplier(__key="USA")},
                "owner": None,
            },
        )
    )
    assert row.field_markings == (
        FieldMark("cage", "CUI//NOFORN", False),
        FieldMark("name", "PUBLIC", True),
    )
    many = row.relations["suppliers"]
    assert isinstance(many, RelationRow)
    # One link past the page says more follow; it is not handed out.
    assert (len(many.items), many.has_next, many.total) == (1, True, 7)
    assert many.items[0].edge.fields["share"] == Released(0.5, "CUI")
    assert many.items[0].node.key == "s2"
    one = row.relations["nation"]
    assert isinstance(one, Link)
    assert one.node.key == "USA"
    assert row.relations["owner"] is None
    assert (EMPTY_RELATION.items, EMPTY_RELATION.has_next) == ((), False)


def offenders(root: Path) -> list[str]:
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.resolve().is_relative_to(GRAPH):
            continue
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            found += [f"{path.relative_to(root)}:{number}: {m}" for m in RESERVED.findall(line)]
    return found


def test_no_module_outside_the_graph_layer_names_a_reserved_key() -> None:
    assert offenders(SRC) == []


def test_the_scan_finds_a_reserved_key_and_ignores_dunders(tmp_path: Path) -> None:
    (tmp_path / "stray.py").write_text(
        'if __name__ == "__main__":\n    key = row["__key"], row.get("__m")\n'
    )
    assert offenders(tmp_path) == ["stray.py:2: __key", "stray.py:2: __m"]
