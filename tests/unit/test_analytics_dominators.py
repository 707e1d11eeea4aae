"""Single points of failure as dominators, on small graphs whose answers are known by hand."""

from __future__ import annotations

import networkx as nx

from dibx.services.analytics.dominators import dominance


def test_diamond_has_no_single_supplier_on_every_path_to_its_base() -> None:
    # root -> a -> c and root -> b -> c: two ways to reach c, so neither a nor b is needed.
    g = nx.DiGraph([("root", "a"), ("root", "b"), ("a", "c"), ("b", "c")])
    result = dominance(g, "root", target="c")
    assert result.reachable
    assert result.on_every_path == ()


def test_diamond_without_target_names_its_only_input() -> None:
    g = nx.DiGraph([("root", "a"), ("root", "b"), ("a", "c"), ("b", "c")])
    result = dominance(g, "root")
    assert result.on_every_path == ("c",)
    assert result.inputs == 1


def test_two_disjoint_branches_have_no_single_point() -> None:
    g = nx.DiGraph([("root", "a"), ("root", "b"), ("a", "x"), ("b", "y")])
    assert dominance(g, "root").on_every_path == ()


def test_chain_every_supplier_is_a_dominator_nearest_first() -> None:
    g = nx.DiGraph([("root", "a"), ("a", "b"), ("b", "c")])
    assert dominance(g, "root").on_every_path == ("a", "b", "c")
    to_c = dominance(g, "root", target="c")
    assert to_c.on_every_path == ("a", "b")  # the target itself is not its own failure point
    assert to_c.dominates == {"a": 2, "b": 1}


def test_dominator_below_a_diamond() -> None:
    # Parallel at tier 1, then everything funnels through m: m is the single point.
    g = nx.DiGraph([("r", "a"), ("r", "b"), ("a", "m"), ("b", "m"), ("m", "x"), ("m", "y")])
    result = dominance(g, "r")
    assert result.on_every_path == ("m",)
    assert result.dominates["m"] == 2


def test_nation_is_a_single_point_when_every_path_crosses_it() -> None:
    # No single supplier sits on every path, but both branches pass through China.
    g = nx.DiGraph([("r", "a"), ("r", "b"), ("a", "x"), ("b", "y")])
    nations = {"a": "CHN", "b": "CHN", "x": "USA", "y": "GBR"}
    result = dominance(g, "r", nations=nations)
    assert result.on_every_path == ()
    assert result.nations == ("CHN",)


def test_nation_with_an_alternative_path_is_not_a_single_point() -> None:
    g = nx.DiGraph([("r", "a"), ("r", "b"), ("a", "x"), ("b", "x")])
    result = dominance(g, "r", nations={"a": "CHN", "b": "GBR", "x": "USA"})
    assert "CHN" not in result.nations
    assert "GBR" not in result.nations
    assert result.nations == ("USA",)  # the only input is American


def test_unknown_nation_is_never_removed() -> None:
    g = nx.DiGraph([("r", "a"), ("r", "b"), ("a", "x"), ("b", "x")])
    result = dominance(g, "r", nations={"a": "CHN"})  # b's nation withheld
    assert result.nations == ()


def test_unreachable_target() -> None:
    g = nx.DiGraph([("r", "a")])
    g.add_node("z")
    result = dominance(g, "r", target="z")
    assert not result.reachable
    assert result.on_every_path == ()


def test_closed_loop_has_no_inputs() -> None:
    g = nx.DiGraph([("r", "a"), ("a", "b"), ("b", "a")])
    result = dominance(g, "r")
    assert result.inputs == 0
    assert result.on_every_path == ()


def test_cycle_with_exit_still_finds_the_funnel() -> None:
    g = nx.DiGraph([("r", "a"), ("a", "b"), ("b", "a"), ("b", "x")])
    assert dominance(g, "r").on_every_path == ("a", "b", "x")
