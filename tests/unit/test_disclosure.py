"""The response banner: the combined marking of everything released."""

from __future__ import annotations

import pytest

from dibx.auth import markings
from dibx.services.disclosure import Disclosure

TETRAS = {
    "FVEY": frozenset({"USA", "GBR", "AUS", "CAN", "NZL"}),
    "NATO": frozenset({"USA", "GBR", "POL"}),
}


def banner(*released: str) -> str:
    d = Disclosure()
    for m in released:
        d.release(m)
    return d.banner(TETRAS)


def test_nothing_marked_is_public() -> None:
    assert banner() == "PUBLIC"
    assert banner("PUBLIC", "PUBLIC") == "PUBLIC"


def test_rel_to_lists_intersect() -> None:
    assert (
        banner("CUI//REL TO USA, GBR", "CUI//REL TO USA, FVEY", "PUBLIC") == "CUI//REL TO USA, GBR"
    )


def test_noforn_dominates() -> None:
    assert banner("CUI//REL TO USA, FVEY", "CUI//NOFORN") == "CUI//NOFORN"


def test_union_instead_of_intersection_would_be_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Teeth: a union roll-up widens the banner, and the intersection test above fails."""

    def union(lists, tetragraphs):  # type: ignore[no-untyped-def]
        merged: set[str] = set()
        for codes in lists:
            merged |= set(codes)
        return frozenset(merged)

    pair = ("CUI//REL TO USA, GBR", "CUI//REL TO USA, AUS")
    assert banner(*pair) == "CUI//NOFORN"  # GBR-only and AUS-only meet at USA alone
    monkeypatch.setattr(markings, "_combine_rel_to", union)
    assert banner(*pair) == "CUI//REL TO USA, AUS, GBR"  # the widening a union would cause


def test_basic_cui_rolls_up_as_its_release_determination() -> None:
    d = Disclosure()
    d.release("CUI")
    d.release("CUI//REL TO USA, FVEY")
    assert d.banner(TETRAS, {"FVEY"}) == "CUI//REL TO USA, FVEY"
    assert d.banner(TETRAS) == "CUI//NOFORN"  # no determination: basic CUI stays US-only


def test_withheld_markings_are_counted() -> None:
    d = Disclosure()
    d.release("CUI")
    d.withhold("a.b", "CUI//NOFORN")
    assert d.released_count == 1
    assert d.markings_involved == ["CUI", "CUI//NOFORN"]
