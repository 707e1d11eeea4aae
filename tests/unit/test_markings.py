"""Table tests for dibx.auth.markings: syntax, rejection messages, decisions, roll-up."""

from __future__ import annotations

import copy
import pickle
from collections.abc import Set as AbstractSet

import pytest

from dibx.auth.markings import (
    PUBLIC,
    TETRAGRAPHS_KNOWN,
    Marking,
    MarkingError,
    canonicalize,
    combine,
    is_released,
    parse,
    release_clauses,
)

# Memberships used throughout (a plausible "as of" date; only consistency matters here).
TETRAS: dict[str, frozenset[str]] = {
    "FVEY": frozenset({"USA", "AUS", "CAN", "GBR", "NZL"}),
    "ACGU": frozenset({"USA", "AUS", "CAN", "GBR"}),
    "AUKUS": frozenset({"USA", "AUS", "GBR"}),
    "NTIB": frozenset({"USA", "AUS", "CAN", "GBR", "NZL"}),
    "NATO": frozenset({"USA", "CAN", "GBR", "POL", "DEU", "FRA"}),
    "MNNA": frozenset({"AUS", "JPN", "KOR", "NZL"}),
    "SOSA": frozenset({"AUS", "CAN", "GBR", "JPN", "KOR"}),
}

# Callers' groups built by hand: nation code plus every agreement the nation belongs to.
CALLERS: dict[str, frozenset[str]] = {
    "USA": frozenset({"USA", "FVEY", "ACGU", "AUKUS", "NTIB", "NATO"}),
    "GBR": frozenset({"GBR", "FVEY", "ACGU", "AUKUS", "NTIB", "NATO", "SOSA"}),
    "AUS": frozenset({"AUS", "FVEY", "ACGU", "AUKUS", "NTIB", "MNNA", "SOSA"}),
    "CAN": frozenset({"CAN", "FVEY", "ACGU", "NTIB", "NATO", "SOSA"}),
    "NZL": frozenset({"NZL", "FVEY", "NTIB", "MNNA"}),
    "JPN": frozenset({"JPN", "MNNA", "SOSA"}),
    "KOR": frozenset({"KOR", "MNNA", "SOSA"}),
    "POL": frozenset({"POL", "NATO"}),
    "unknown": frozenset({"ZZZ"}),  # a nation no agreement names
    "none": frozenset(),  # a caller with no groups at all
}
FVEY_NATIONS = "USA GBR AUS CAN NZL"


def cypher_check(clauses: tuple[str, ...], groups: AbstractSet[str]) -> bool:
    """What the graph evaluates: all(c IN clauses WHERE any(g IN split(c,'|') WHERE g IN $g))."""
    return all(any(g in groups for g in c.split("|")) for c in clauses)


def test_callers_are_consistent_with_memberships() -> None:
    for nation, groups in CALLERS.items():
        code = {"unknown": "ZZZ", "none": None}.get(nation, nation)
        expected = {t for t, members in TETRAS.items() if code in members}
        assert groups == (expected | {code} if code else set()), nation


# --- syntax ----------------------------------------------------------------------------------

VALID = [
    "PUBLIC",
    "CUI",
    "CUI//NOFORN",
    "CUI//SP-EXPT",
    "CUI//SP-EXPT//NOFORN",
    "CUI//SP-CTI/SP-EXPT/SP-PRVCY/CTI/EXPT/OPSEC/PROCURE/PROPIN/PRVCY",
    "CUI//REL TO USA, AUS, GBR",
    "CUI//REL TO USA, FVEY",
    "CUI//REL TO USA, ACGU, AUKUS, FVEY, MNNA, NATO, NTIB, SOSA",
    "CUI//FED ONLY",
    "CUI//FEDCON",
    "CUI//NOCON",
    "CUI//DL ONLY",
    "CUI//NOFORN/FED ONLY/FEDCON/NOCON/DL ONLY",
    "CUI//SP-EXPT/CTI//REL TO USA, GBR, NATO",
    "CUI//DISPLAY ONLY USA, JPN",
    "CUI//REL TO USA, GBR/DISPLAY ONLY USA, JPN, KOR",
    "CUI//PROPIN//FED ONLY/REL TO USA, CAN, FVEY",
]


@pytest.mark.parametrize("text", VALID)
def test_canonical_text_round_trips(text: str) -> None:
    m = parse(text)
    assert str(m) == text
    assert canonicalize(text) == text
    assert parse(text, strict_order=True) == m
    assert parse(f"  {text}\n") == m  # surrounding whitespace is tolerated


def test_parse_fields() -> None:
    m = parse("CUI//SP-EXPT/CTI//FED ONLY/REL TO USA, GBR, NATO/DISPLAY ONLY USA, JPN")
    assert m == Marking(
        cui=True,
        categories=frozenset({"SP-EXPT", "CTI"}),
        noforn=False,
        rel_to=frozenset({"USA", "GBR", "NATO"}),
        display_only=frozenset({"USA", "JPN"}),
        controls=frozenset({"FED ONLY"}),
    )
    assert parse("PUBLIC") is PUBLIC
    assert str(PUBLIC) == "PUBLIC"
    assert not PUBLIC.cui
    assert "ACGU" in TETRAGRAPHS_KNOWN


@pytest.mark.parametrize(
    ("text", "canonical", "misplaced"),
    [
        ("CUI//CTI/SP-EXPT", "CUI//SP-EXPT/CTI", "SP-EXPT"),
        ("CUI//PROPIN/CTI", "CUI//CTI/PROPIN", "CTI"),
        ("CUI//REL TO USA, GBR, AUS", "CUI//REL TO USA, AUS, GBR", "AUS"),
        ("CUI//REL TO USA, NATO, GBR", "CUI//REL TO USA, GBR, NATO", "GBR"),
        ("CUI//REL TO USA, NATO, FVEY", "CUI//REL TO USA, FVEY, NATO", "FVEY"),
        ("CUI//DL ONLY/FED ONLY", "CUI//FED ONLY/DL ONLY", "FED ONLY"),
        ("CUI//REL TO USA, GBR/NOCON", "CUI//NOCON/REL TO USA, GBR", "NOCON"),
        (
            "CUI//DISPLAY ONLY USA, JPN/REL TO USA, GBR",
            "CUI//REL TO USA, GBR/DISPLAY ONLY USA, JPN",
            "REL TO USA, GBR",
        ),
    ],
)
def test_misorder_is_canonicalized_or_rejected_when_strict(
    text: str, canonical: str, misplaced: str
) -> None:
    assert canonicalize(text) == canonical
    assert parse(text) == parse(canonical)
    with pytest.raises(MarkingError) as err:
        parse(text, strict_order=True)
    assert err.value.token == misplaced


@pytest.mark.parametrize(
    ("text", "token", "says"),
    [
        ("", "", "PUBLIC or CUI"),
        ("   ", "", "PUBLIC or CUI"),
        ("cui", "cui", "upper case"),
        ("CUI//noforn", "noforn", "upper case"),
        ("CUI//REL TO USA, gbr", "gbr", "upper case"),
        ("public", "public", "upper case"),
        ("UNCLASSIFIED", "UNCLASSIFIED", "PUBLIC"),
        ("SECRET//NOFORN", "SECRET", "PUBLIC or CUI"),
        ("PUBLIC//NOFORN", "PUBLIC", "CUI"),
        ("CUI/SP-EXPT", "CUI/SP-EXPT", "//"),
        ("CUI // NOFORN", "CUI ", "whitespace"),
        ("CUI//NOFORN /FED ONLY", "NOFORN ", "whitespace"),
        ("CUI//", "", "empty"),
        ("CUI//SP-EXPT//", "", "empty"),
        ("CUI///NOFORN", "", "empty"),
        ("CUI//FOO", "FOO", "dissemination control"),
        ("CUI//SP-EXPT/FOO", "FOO", "CUI category"),
        ("CUI//SP-FOO", "SP-FOO", "CUI category"),
        ("CUI//SP-EXPT//FOO", "FOO", "dissemination control"),
        ("CUI//NOFORN/FOUO", "FOUO", "dissemination control"),
        ("CUI//SP-EXPT/NOFORN", "NOFORN", "after //"),
        ("CUI//NOFORN/SP-EXPT", "SP-EXPT", "directly after CUI//"),
        ("CUI//NOFORN//SP-EXPT", "SP-EXPT", "directly after CUI//"),
        ("CUI//CTI//SP-EXPT", "SP-EXPT", "directly after CUI//"),
        ("CUI//NOFORN//FED ONLY", "FED ONLY", "one segment"),
        ("CUI//REL TO USA", "REL TO USA", "write NOFORN"),
        ("CUI//DISPLAY ONLY USA", "DISPLAY ONLY USA", "write NOFORN"),
        ("CUI//NOFORN/REL TO USA, GBR", "NOFORN", "REL TO"),
        ("CUI//NOFORN/DISPLAY ONLY USA, JPN", "NOFORN", "DISPLAY ONLY"),
        ("CUI//REL TO GBR, USA", "GBR", "start with USA"),
        ("CUI//REL TO GBR, AUS", "GBR", "start with USA"),
        ("CUI//DISPLAY ONLY JPN", "JPN", "start with USA"),
        ("CUI//REL TO USA, XYZ", "XYZ", "ISO 3166-1 alpha-3"),
        ("CUI//REL TO USA, ABCD", "ABCD", "known tetragraph"),
        ("CUI//REL TO USA, GB", "GB", "trigraph"),
        ("CUI//REL TO USA,GBR", "USA,GBR", "', '"),
        ("CUI//REL TO USA, GBR,", "GBR,", "', '"),
        ("CUI//REL TO USA,  GBR", "REL TO USA,  GBR", "whitespace"),
        ("CUI//REL TO /NOFORN", "REL TO ", "whitespace"),
        ("CUI//REL TO", "REL TO", "followed by a list"),
        ("CUI//NOFORN/DISPLAY ONLY", "DISPLAY ONLY", "followed by a list"),
        ("CUI//REL TO USA, GBR, GBR", "GBR", "once"),
        ("CUI//REL TO USA, USA, GBR", "USA", "once"),
        ("CUI//NOFORN/NOFORN", "NOFORN", "once"),
        ("CUI//NOFORN/FED ONLY/NOFORN", "NOFORN", "once"),
        ("CUI//CTI/CTI", "CTI", "once"),
        ("CUI//REL TO USA, GBR/REL TO USA, AUS", "REL TO USA, AUS", "once"),
        ("CUI//REL TO USA, GBR/DISPLAY ONLY USA, GBR", "GBR", "drop it from DISPLAY ONLY"),
    ],
)
def test_rejections_name_the_token(text: str, token: str, says: str) -> None:
    with pytest.raises(MarkingError) as err:
        parse(text)
    assert err.value.token == token
    assert repr(token) in str(err.value)
    assert says in str(err.value)
    assert isinstance(err.value, ValueError)


def test_marking_error_survives_copy_and_pickle() -> None:
    err = MarkingError("XYZ", "a trigraph")
    for clone in (copy.copy(err), pickle.loads(pickle.dumps(err))):  # noqa: S301 (own data)
        assert (clone.token, clone.expected, str(clone)) == (err.token, err.expected, str(err))


@pytest.mark.parametrize(
    "fields",
    [
        {"cui": False, "noforn": True},
        {"cui": False, "rel_to": frozenset({"USA", "GBR"})},
        {"noforn": True, "rel_to": frozenset({"USA", "GBR"})},
        {"rel_to": frozenset({"GBR"})},
        {"rel_to": frozenset({"USA"})},
        {"rel_to": frozenset()},
        {"display_only": frozenset({"USA", "XYZ"})},
        {"categories": frozenset({"FOUO"})},
        {"controls": frozenset({"NOFORN"})},
    ],
)
def test_invalid_markings_cannot_be_constructed(fields: dict[str, object]) -> None:
    base: dict[str, object] = {
        "cui": True,
        "categories": frozenset(),
        "noforn": False,
        "rel_to": None,
        "display_only": None,
        "controls": frozenset(),
    }
    with pytest.raises(MarkingError):
        Marking(**(base | fields))  # type: ignore[arg-type]


# --- decision --------------------------------------------------------------------------------

ALL = " ".join(CALLERS)
NATIONS_ONLY = " ".join(c for c in CALLERS if c != "none")

# (marking, attributes every caller except "none" holds, callers released)
DECISIONS = [
    ("PUBLIC", "", ALL),
    ("CUI", "", "USA"),
    ("CUI", "@CUI_REL", NATIONS_ONLY),
    ("CUI//CTI/PROPIN", "@CUI_REL", NATIONS_ONLY),
    ("CUI//NOFORN", "", "USA"),
    ("CUI//NOFORN", "@CUI_REL @EXPORT_AUTH @FED @GOV @DL", "USA"),
    ("CUI//REL TO USA, GBR", "", "USA GBR"),
    ("CUI//REL TO USA, AUS, GBR", "", "USA GBR AUS"),
    ("CUI//REL TO USA, AUS, JPN", "", "USA AUS JPN"),
    ("CUI//REL TO USA, KOR, POL", "", "USA KOR POL"),
    ("CUI//REL TO USA, FVEY", "", FVEY_NATIONS),
    ("CUI//REL TO USA, FVEY", "@CUI_REL", FVEY_NATIONS),
    ("CUI//REL TO USA, ACGU", "", "USA GBR AUS CAN"),
    ("CUI//REL TO USA, AUKUS", "", "USA GBR AUS"),
    ("CUI//REL TO USA, NTIB", "", FVEY_NATIONS),
    ("CUI//REL TO USA, NATO", "", "USA GBR CAN POL"),
    ("CUI//REL TO USA, MNNA", "", "USA AUS NZL JPN KOR"),
    ("CUI//REL TO USA, JPN, FVEY", "", f"{FVEY_NATIONS} JPN"),
    ("CUI//DISPLAY ONLY USA, JPN", "", "USA"),
    ("CUI//DISPLAY ONLY USA, JPN", "@CUI_REL", "USA"),
    ("CUI//REL TO USA, GBR/DISPLAY ONLY USA, JPN", "", "USA GBR"),
    ("CUI//SP-EXPT", "", "USA"),
    ("CUI//SP-EXPT", "@CUI_REL", "USA"),
    ("CUI//SP-EXPT", "@CUI_REL @EXPORT_AUTH", NATIONS_ONLY),
    ("CUI//EXPT//REL TO USA, FVEY", "", "USA"),
    ("CUI//SP-EXPT//REL TO USA, FVEY", "@EXPORT_AUTH", FVEY_NATIONS),
    ("CUI//SP-EXPT//NOFORN", "@EXPORT_AUTH", "USA"),
    ("CUI//FED ONLY", "", ""),
    ("CUI//FED ONLY", "@FED", "USA"),
    ("CUI//FED ONLY", "@FEDCON @GOV @DL @CUI_REL", ""),
    ("CUI//FED ONLY/REL TO USA, GBR", "@FED", "USA GBR"),
    ("CUI//FEDCON", "@FEDCON", "USA"),
    ("CUI//FEDCON", "@FED", "USA"),
    ("CUI//FEDCON", "@GOV @DL", ""),
    ("CUI//NOCON", "@GOV", "USA"),
    ("CUI//NOCON", "@FED", "USA"),
    ("CUI//NOCON", "@FEDCON", ""),
    ("CUI//DL ONLY", "@DL", "USA"),
    ("CUI//DL ONLY", "@FED @GOV @FEDCON", ""),
    ("CUI//FEDCON/NOCON/REL TO USA, NATO", "@FEDCON", ""),
    ("CUI//FEDCON/NOCON/REL TO USA, NATO", "@FEDCON @GOV", "USA GBR CAN POL"),
    ("CUI//SP-EXPT//NOFORN/FED ONLY/DL ONLY", "@FED @DL @EXPORT_AUTH", "USA"),
]


@pytest.mark.parametrize(("text", "attributes", "released"), DECISIONS)
def test_decision_per_caller(text: str, attributes: str, released: str) -> None:
    m = parse(text)
    clauses = release_clauses(m)
    for caller, groups in CALLERS.items():
        g = groups | frozenset(attributes.split()) if groups else groups
        expected = caller in released.split()
        assert is_released(m, g) is expected, caller
        assert cypher_check(clauses, g) is expected, caller


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("PUBLIC", ()),
        ("CUI", ("@CUI_REL|USA",)),
        ("CUI//NOFORN", ("USA",)),
        ("CUI//REL TO USA, GBR, FVEY", ("FVEY|GBR|USA",)),
        ("CUI//DISPLAY ONLY USA, JPN", ("USA",)),
        ("CUI//REL TO USA, GBR/DISPLAY ONLY USA, JPN", ("GBR|USA",)),
        ("CUI//SP-EXPT/EXPT", ("@CUI_REL|USA", "@EXPORT_AUTH|USA")),
        (
            "CUI//SP-EXPT//NOFORN/FED ONLY/FEDCON/NOCON/DL ONLY",
            ("@DL", "@EXPORT_AUTH|USA", "@FED", "@FED|@FEDCON", "@FED|@GOV", "USA"),
        ),
    ],
)
def test_release_clauses(text: str, clauses: tuple[str, ...]) -> None:
    got = release_clauses(parse(text))
    assert got == clauses
    assert all(" " not in c and c for c in got)
    assert all(c.split("|") == sorted(c.split("|")) for c in got)


def test_unknown_tetragraph_in_groups_only_matters_by_code() -> None:
    # A tetragraph no caller is ever given (e.g. no membership data) releases to nobody foreign.
    m = parse("CUI//REL TO USA, SOSA")
    assert not is_released(m, frozenset({"GBR", "FVEY", "NATO"}))
    assert is_released(m, frozenset({"USA"}))


# --- combine ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("inputs", "result"),
    [
        ([], "PUBLIC"),
        (["PUBLIC", "PUBLIC"], "PUBLIC"),
        (["PUBLIC", "CUI//REL TO USA, GBR"], "CUI//REL TO USA, GBR"),
        (["CUI//REL TO USA, GBR", "CUI//REL TO USA, AUS"], "CUI//NOFORN"),
        (["CUI//REL TO USA, AUS, GBR", "CUI//REL TO USA, GBR, JPN"], "CUI//REL TO USA, GBR"),
        (["CUI//REL TO USA, FVEY", "CUI//REL TO USA, FVEY, NATO"], "CUI//REL TO USA, FVEY"),
        (["CUI//REL TO USA, FVEY", "CUI//REL TO USA, FVEY"], "CUI//REL TO USA, FVEY"),
        (["CUI//REL TO USA, FVEY", "CUI//REL TO USA, GBR, JPN"], "CUI//REL TO USA, GBR"),
        (["CUI//REL TO USA, NATO", "CUI//REL TO USA, FVEY"], "CUI//REL TO USA, CAN, GBR"),
        (
            ["CUI//REL TO USA, ACGU, NATO", "CUI//REL TO USA, FVEY, NATO"],
            "CUI//REL TO USA, AUS, NATO",
        ),
        # A trigraph a kept tetragraph covers is redundant and dropped.
        (["CUI//REL TO USA, GBR, FVEY"], "CUI//REL TO USA, FVEY"),
        (["CUI//REL TO USA, JPN, FVEY", "CUI//REL TO USA, FVEY"], "CUI//REL TO USA, FVEY"),
        (["CUI//NOFORN", "CUI//REL TO USA, FVEY"], "CUI//NOFORN"),
        (["CUI//SP-EXPT//NOFORN", "CUI//CTI"], "CUI//SP-EXPT/CTI//NOFORN"),
        (["CUI//SP-EXPT", "CUI//CTI"], "CUI//SP-EXPT/CTI"),
        (["CUI//PROPIN//FED ONLY", "CUI//SP-CTI//DL ONLY"], "CUI//SP-CTI/PROPIN//FED ONLY/DL ONLY"),
        # Basic CUI with a release list: no exact marking, so NOFORN.
        (["CUI", "CUI//REL TO USA, GBR"], "CUI//NOFORN"),
        (["CUI//CTI", "CUI//DISPLAY ONLY USA, JPN"], "CUI//CTI//NOFORN"),
        (["CUI", "PUBLIC", "CUI//FED ONLY"], "CUI//FED ONLY"),
        (
            ["CUI//DISPLAY ONLY USA, JPN", "CUI//DISPLAY ONLY USA, JPN, KOR"],
            "CUI//DISPLAY ONLY USA, JPN",
        ),
        (["CUI//DISPLAY ONLY USA, JPN", "CUI//DISPLAY ONLY USA, KOR"], "CUI//NOFORN"),
        (["CUI//DISPLAY ONLY USA, JPN", "CUI//REL TO USA, GBR"], "CUI//NOFORN"),
        (
            ["CUI//DISPLAY ONLY USA, JPN", "CUI//REL TO USA, GBR, JPN"],
            "CUI//DISPLAY ONLY USA, JPN",
        ),
        # What may be released may be displayed: JPN may see the first input on screen.
        (
            ["CUI//REL TO USA, JPN/DISPLAY ONLY USA, KOR", "CUI//DISPLAY ONLY USA, JPN"],
            "CUI//DISPLAY ONLY USA, JPN",
        ),
        (
            ["CUI//REL TO USA, GBR/DISPLAY ONLY USA, JPN", "CUI//REL TO USA, GBR, JPN"],
            "CUI//REL TO USA, GBR/DISPLAY ONLY USA, JPN",
        ),
        (
            ["CUI//REL TO USA, FVEY/DISPLAY ONLY USA, JPN", "CUI//REL TO USA, AUKUS, MNNA"],
            "CUI//REL TO USA, AUS, GBR, NZL/DISPLAY ONLY USA, JPN",
        ),
    ],
)
def test_combine_examples(inputs: list[str], result: str) -> None:
    markings = [parse(t) for t in inputs]
    assert str(combine(markings, TETRAS)) == result
    assert str(combine(reversed(markings), TETRAS)) == result  # any iterable, any order


def test_combine_unknown_tetragraph_reaches_nobody() -> None:
    no_ntib = {k: v for k, v in TETRAS.items() if k != "NTIB"}
    a, b = parse("CUI//REL TO USA, NTIB"), parse("CUI//REL TO USA, GBR")
    assert combine([a, b], no_ntib) == parse("CUI//NOFORN")
    assert combine([a, b], TETRAS) == b
    assert combine([a, a], no_ntib) == a  # shared, so kept as written


@pytest.mark.parametrize(
    "inputs",
    [
        ["CUI//REL TO USA, GBR", "CUI//REL TO USA, AUS"],
        ["CUI", "CUI//REL TO USA, GBR"],
        ["CUI//DISPLAY ONLY USA, JPN", "CUI//REL TO USA, JPN"],
        ["CUI//SP-EXPT//REL TO USA, FVEY", "CUI//FED ONLY/REL TO USA, NATO"],
    ],
)
def test_combine_never_widens_for_any_caller(inputs: list[str]) -> None:
    markings = [parse(t) for t in inputs]
    rolled = combine(markings, TETRAS)
    attrs = frozenset({"@CUI_REL", "@EXPORT_AUTH", "@FED", "@FEDCON", "@GOV", "@DL"})
    for groups in CALLERS.values():
        for g in (groups, groups | attrs):
            if is_released(rolled, g):
                assert all(is_released(m, g) for m in markings)
