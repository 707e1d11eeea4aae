"""The selection compiler: every step of a compiled query carries a release check."""

from __future__ import annotations

import re
from datetime import date

from dibx.graph.compile import Compiler, merge
from dibx.graph.model import SUPPLIER
from dibx.graph.release import released
from dibx.graph.selection import Selected, result_key


def sel(name: str, *children: Selected, **args: object) -> Selected:
    return Selected(name, tuple(sorted(args.items())), children)


def test_release_predicate_falls_back_to_policy_default() -> None:
    text = released("n", "Supplier", "name")
    assert text == (
        "all(c IN coalesce(n.release_name, $dr.Supplier_name) "
        "WHERE any(g IN split(c, '|') WHERE g IN $groups))"
    )


def test_every_field_and_hop_is_checked() -> None:
    c = Compiler(as_of=date(2026, 1, 1), nested_limit=50)
    query = c.node(
        "n0",
        SUPPLIER,
        [
            sel("name"),
            sel("suppliers", sel("edges", sel("sole"), sel("node", sel("city"))), first=5),
        ],
    )
    # name, sole, city released per field; SOURCES_FROM edge and the far supplier per record
    assert "release_name" in query
    assert "release_sole" in query
    assert "release_city" in query
    assert re.search(r"coalesce\(e\d+\.release, \$dr\.SOURCES_FROM\)", query)
    assert re.search(r"coalesce\(n\d+\.release, \$dr\.Supplier\)", query)
    # the caller's values travel as parameters, never as text
    assert c.params == {"p0": 6, "p1": 5}


def test_identifiers_come_from_the_model_not_the_selection() -> None:
    c = Compiler(as_of=date(2026, 1, 1), nested_limit=50)
    query = c.node("n0", SUPPLIER, [sel("name} RETURN 1 //"), sel("name")])
    assert "RETURN 1" not in query


def test_nested_first_is_capped_at_the_nested_limit() -> None:
    c = Compiler(as_of=date(2026, 1, 1), nested_limit=10)
    c.node("n0", SUPPLIER, [sel("capabilities", sel("totalCount"), first=500)])
    assert c.params["p0"] == 11  # limit + 1 row to tell whether there is a next page


def test_merge_combines_repeated_fields() -> None:
    merged = merge([sel("owners", sel("nodes")), sel("owners", sel("totalCount"))])
    assert len(merged) == 1
    assert [c.name for c in merged[0].children] == ["nodes", "totalCount"]


def test_result_key_depends_on_arguments_only() -> None:
    assert result_key("owners", {}) == "owners"
    assert result_key("owners", {"first": 5}) == result_key("owners", {"first": 5})
    assert result_key("owners", {"first": 5}) != result_key("owners", {"first": 6})
