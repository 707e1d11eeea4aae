"""Hypothesis strategies shared by the marking property tests and the noninterference tests."""

from __future__ import annotations

from hypothesis import strategies as st

from dibx.auth.markings import CATEGORIES, CONTROLS, PUBLIC, TETRAGRAPHS_KNOWN, Marking

# A small pool so that random lists overlap often enough for intersections to be interesting.
NATION_POOL = ("USA", "GBR", "AUS", "CAN", "NZL", "JPN", "KOR", "POL", "DEU", "FRA")
TETRA_POOL = tuple(sorted(TETRAGRAPHS_KNOWN))
FOREIGN_CODES = NATION_POOL[1:] + TETRA_POOL

# Strategies are built once: constructing them per draw dominates the run time otherwise.
_kinds = st.sampled_from(["public", "basic", "noforn", "rel", "display", "rel+display"])
_codes = st.frozensets(st.sampled_from(FOREIGN_CODES), min_size=1, max_size=4)
_categories = st.frozensets(st.sampled_from(sorted(CATEGORIES)), max_size=3)
# Often no control at all, as most data carries none.
_controls = st.just(frozenset[str]()) | st.frozensets(st.sampled_from(sorted(CONTROLS)), max_size=2)


@st.composite
def marking_st(draw: st.DrawFn) -> Marking:
    kind = draw(_kinds)
    if kind == "public":
        return PUBLIC
    rel_to = display_only = None
    if "rel" in kind:
        rel_to = frozenset({"USA"}) | draw(_codes)
    if "display" in kind:
        # DISPLAY ONLY may not repeat a REL TO code; fall back to one that is free.
        extra = draw(_codes) - (rel_to or frozenset())
        free = next(c for c in FOREIGN_CODES if c not in (rel_to or ()))
        display_only = frozenset({"USA"}) | (extra or {free})
    return Marking(
        cui=True,
        categories=draw(_categories),
        noforn=kind == "noforn",
        rel_to=rel_to,
        display_only=display_only,
        controls=draw(_controls),
    )
