"""Property tests for dibx.auth.markings: round-trip, combine algebra, soundness, and teeth."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from itertools import combinations

import pytest
from hypothesis import Phase, example, find, given, settings
from hypothesis import strategies as st

from dibx.auth import markings
from dibx.auth.markings import (
    PUBLIC,
    Marking,
    MarkingError,
    canonicalize,
    combine,
    is_released,
    parse,
    release_clauses,
)
from tests.support.strategies import NATION_POOL, TETRA_POOL, marking_st

# No example database: these tests must not write into the tree, and they run fast anyway.
SETTINGS = settings(max_examples=200, deadline=None, database=None)

ATTRIBUTES = ("@CUI_REL", "@EXPORT_AUTH", "@FED", "@FEDCON", "@GOV", "@DL")
CONTROL_ORDER = ("NOFORN", "FED ONLY", "FEDCON", "NOCON", "DL ONLY")

Tetras = Mapping[str, frozenset[str]]


@st.composite
def shuffled_text_st(draw: st.DrawFn) -> tuple[Marking, str]:
    """A marking and a text for it with categories, controls and list members in any order."""
    m = draw(marking_st())
    if not m.cui:
        return m, "PUBLIC"

    def perm(items: Sequence[str]) -> list[str]:
        return list(draw(st.permutations(list(items))))

    def listed(name: str, codes: frozenset[str] | None) -> list[str]:
        if codes is None:
            return []
        return [f"{name} {', '.join(['USA', *perm(sorted(codes - {'USA'}))])}"]

    ldcs = [c for c in CONTROL_ORDER if c in m.controls or (c == "NOFORN" and m.noforn)]
    ldcs += listed("REL TO", m.rel_to) + listed("DISPLAY ONLY", m.display_only)
    parts = ["CUI"]
    if m.categories:
        parts.append("/".join(perm(sorted(m.categories))))
    if ldcs:
        parts.append("/".join(perm(ldcs)))
    return m, "//".join(parts)


tetras_st = st.dictionaries(
    st.sampled_from(TETRA_POOL), st.frozensets(st.sampled_from(NATION_POOL), max_size=6)
)


ATTRIBUTE_SETS = tuple(
    frozenset(c) for r in range(len(ATTRIBUTES) + 1) for c in combinations(ATTRIBUTES, r)
)


def every_caller(tetras: Tetras) -> Iterator[frozenset[str]]:
    """Every caller consistent with `tetras`, exhaustively rather than one random draw.

    A nation from the pool, an unknown nation or none; exactly the agreements the mapping puts
    it in; and every subset of attributes. Checking all of them per example is cheap and finds
    a widening that needs one particular caller (e.g. foreign, with every attribute but one).
    """
    for nation in (*NATION_POOL, "ZZZ", None):
        base = frozenset[str]()
        if nation is not None:
            base = frozenset({nation}) | {t for t, ms in tetras.items() if nation in ms}
        for attrs in ATTRIBUTE_SETS:
            yield base | attrs


# Arbitrary groups, consistent or not, including strings that look like clause syntax.
any_groups_st = st.frozensets(
    st.sampled_from((*NATION_POOL, *TETRA_POOL, *ATTRIBUTES, "ZZZ", "", "GBR|USA", "@"))
)


def cypher_check(clauses: tuple[str, ...], groups: AbstractSet[str]) -> bool:
    return all(any(g in groups for g in c.split("|")) for c in clauses)


def redundant(m: Marking, tetras: Tetras) -> bool:
    """Whether `m` lists a trigraph that one of its own tetragraphs covers (combine drops it)."""
    rel, disp = m.rel_to or frozenset(), m.display_only or frozenset()

    def covered(codes: AbstractSet[str], by: AbstractSet[str]) -> bool:
        return any(c in tetras.get(t, ()) for c in codes - {"USA"} for t in by)

    return covered(rel, rel) or covered(disp, rel | disp)


# --- syntax ----------------------------------------------------------------------------------


@SETTINGS
@given(marking_st())
def test_print_parse_round_trip(m: Marking) -> None:
    text = str(m)
    assert parse(text) == m
    assert parse(text, strict_order=True) == m
    assert canonicalize(text) == text
    assert str(parse(text)) == text


@SETTINGS
@given(shuffled_text_st())
def test_any_order_parses_to_the_same_marking(case: tuple[Marking, str]) -> None:
    m, text = case
    assert parse(text) == m
    assert canonicalize(text) == str(m)
    if text != str(m):
        with pytest.raises(MarkingError):
            parse(text, strict_order=True)


@SETTINGS
@given(marking_st(), st.sampled_from(["cui", "CUI/", "//", " // ", "/X", ", XYZ", "NOFORN"]))
def test_trailing_junk_is_rejected_naming_it(m: Marking, junk: str) -> None:
    text = str(m) + junk
    with pytest.raises(MarkingError) as err:
        parse(text)
    assert err.value.token in text


# --- decision --------------------------------------------------------------------------------


@SETTINGS
@given(marking_st(), any_groups_st, tetras_st)
def test_release_clauses_agree_with_reference(
    m: Marking, groups: frozenset[str], tetras: Tetras
) -> None:
    clauses = release_clauses(m)
    for g in (groups, *every_caller(tetras)):
        assert cypher_check(clauses, g) == is_released(m, g), sorted(g)
    assert all(c and " " not in c and c.split("|") == sorted(c.split("|")) for c in clauses)
    assert list(clauses) == sorted(set(clauses))


@SETTINGS
@given(marking_st(), any_groups_st)
def test_noforn_only_ever_to_usa(m: Marking, groups: frozenset[str]) -> None:
    if (m.noforn or (m.display_only is not None and m.rel_to is None)) and is_released(m, groups):
        assert "USA" in groups


@SETTINGS
@given(marking_st(), st.frozensets(st.sampled_from(ATTRIBUTES)))
def test_deny_by_default(m: Marking, attrs: frozenset[str]) -> None:
    assert is_released(m, frozenset()) == (not m.cui)
    assert bool(release_clauses(m)) == m.cui
    # No attribute alone reaches data that carries a release list.
    if m.noforn or m.rel_to is not None or m.display_only is not None:
        assert not is_released(m, attrs)


# --- combine ---------------------------------------------------------------------------------


@SETTINGS
@given(st.lists(marking_st(), max_size=4), tetras_st, st.data())
def test_combine_is_commutative(ms: list[Marking], tetras: Tetras, data: st.DataObject) -> None:
    shuffled = data.draw(st.permutations(ms))
    assert combine(ms, tetras) == combine(shuffled, tetras)


@SETTINGS
@given(marking_st(), marking_st(), marking_st(), tetras_st)
# Keeping trigraphs that a shared tetragraph covers breaks associativity here.
@example(
    parse("CUI//REL TO USA, GBR/DISPLAY ONLY USA, FVEY"),
    parse("CUI//REL TO USA, FVEY"),
    parse("CUI//REL TO USA, AUS/DISPLAY ONLY USA, GBR, FVEY"),
    {"FVEY": frozenset({"USA", "AUS", "CAN", "GBR", "NZL"})},
)
def test_combine_is_associative(a: Marking, b: Marking, c: Marking, tetras: Tetras) -> None:
    flat = combine([a, b, c], tetras)
    assert combine([combine([a, b], tetras), c], tetras) == flat
    assert combine([a, combine([b, c], tetras)], tetras) == flat


@SETTINGS
@given(marking_st(), tetras_st)
def test_combine_is_idempotent(m: Marking, tetras: Tetras) -> None:
    once = combine([m], tetras)
    assert combine([m, m], tetras) == once
    assert combine([once], tetras) == once
    assert combine([once, m], tetras) == once
    if not redundant(m, tetras):
        assert once == m
    # Dropping a redundant trigraph never changes a decision.
    for groups in every_caller(tetras):
        assert is_released(once, groups) == is_released(m, groups), sorted(groups)


@SETTINGS
@given(st.lists(marking_st(), max_size=4), tetras_st)
def test_public_is_the_identity(ms: list[Marking], tetras: Tetras) -> None:
    assert combine([*ms, PUBLIC], tetras) == combine(ms, tetras)
    assert combine([PUBLIC, *ms, PUBLIC], tetras) == combine(ms, tetras)
    assert combine([PUBLIC], tetras) == PUBLIC


@SETTINGS
@given(st.lists(marking_st(), min_size=1, max_size=4), tetras_st)
def test_combined_marking_is_valid_and_round_trips(ms: list[Marking], tetras: Tetras) -> None:
    rolled = combine(ms, tetras)
    assert parse(str(rolled)) == rolled
    assert rolled.cui == any(m.cui for m in ms)
    assert rolled.categories == frozenset().union(*(m.categories for m in ms))
    assert rolled.noforn or not any(m.noforn for m in ms)


def widened(ms: list[Marking], tetras: Tetras) -> frozenset[str] | None:
    """A caller the roll-up releases to although some input withholds from it, if any."""
    rolled = combine(ms, tetras)
    for groups in every_caller(tetras):
        if is_released(rolled, groups) and not all(is_released(m, groups) for m in ms):
            return groups
    return None


never_widening_case = st.tuples(st.lists(marking_st(), min_size=1, max_size=4), tetras_st)


@SETTINGS
@given(never_widening_case)
def test_combine_never_widens(case: tuple[list[Marking], Tetras]) -> None:
    assert widened(*case) is None


# --- the suite has teeth ---------------------------------------------------------------------


def _union_rel_to(lists: Sequence[frozenset[str]], tetras: Tetras) -> frozenset[str]:
    return frozenset[str]().union(*lists)


_real_lists = markings._lists


def _basic_is_neutral(m: Marking) -> tuple[frozenset[str], frozenset[str]] | None:
    # Wrong: treats basic CUI as releasable to every nation instead of only via @CUI_REL.
    return _real_lists(m) or (frozenset(NATION_POOL), frozenset(NATION_POOL))


@pytest.mark.parametrize(
    ("attr", "broken"),
    [("_combine_rel_to", _union_rel_to), ("_lists", _basic_is_neutral)],
)
def test_a_widening_combine_is_caught(
    monkeypatch: pytest.MonkeyPatch, attr: str, broken: Callable[..., object]
) -> None:
    monkeypatch.setattr(markings, attr, broken)
    case = find(
        never_widening_case,
        lambda c: widened(*c) is not None,
        # Finding is quick; shrinking to a minimal case is not needed to prove the point.
        settings=settings(max_examples=2000, deadline=None, database=None, phases=[Phase.generate]),
    )
    ms, tetras = case
    groups = widened(ms, tetras)
    assert groups is not None
    assert is_released(markings.combine(ms, tetras), groups)
    monkeypatch.undo()
    assert widened(ms, tetras) is None
