"""CUI/CAPCO-style markings: parse, print, combine, and decide release. Pure, no I/O.

The rules are those of `reference/markings.md`. Choices made where the rules leave room:

* Order. `parse` accepts categories, dissemination controls and list members in any order and
  `str()` prints the canonical order, so `canonicalize` is how a write path "says so" (store the
  canonical text, report it if it differs); `parse(text, strict_order=True)` rejects instead. Two
  things are never reordered: `CUI` first with categories before controls, and `USA` first in a
  list (a list not led by USA is rejected, as the reference requires).
* `UNCLASSIFIED` is rejected, not read as PUBLIC: uncontrolled unclassified data is not thereby
  approved for release to everyone, and markings are never guessed.
* A nation in both REL TO and DISPLAY ONLY is rejected: REL TO already lets it see the data.
* Combining basic CUI (foreign release only through a policy determination, `@CUI_REL`) with a
  REL TO / DISPLAY ONLY input gives NOFORN. The exact meet, "USA, or listed *and* determined",
  has no marking; NOFORN is the largest marking below both, so the roll-up stays sound.
* `combine` drops a trigraph that a kept tetragraph already covers under the given memberships
  (`REL TO USA, GBR, FVEY` rolls up to `REL TO USA, FVEY`). That keeps combining associative;
  the release decision is unchanged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Final

import pycountry

__all__ = [
    "CATEGORIES",
    "CONTROLS",
    "EXPORT_CATEGORIES",
    "NATIONS",
    "PUBLIC",
    "TETRAGRAPHS_KNOWN",
    "Marking",
    "MarkingError",
    "canonicalize",
    "combine",
    "is_released",
    "parse",
    "release_clauses",
]

# ISO 3166-1 alpha-3 codes, built from pycountry's bundled data (no I/O at call time).
NATIONS: Final[frozenset[str]] = frozenset(c.alpha_3 for c in pycountry.countries)

# Agreement codes usable in REL TO and as caller groups; which nations belong to which is data
# that varies by date, so it is passed in (`combine`) or resolved into the caller's groups.
TETRAGRAPHS_KNOWN: Final[frozenset[str]] = frozenset(
    {"ACGU", "AUKUS", "FVEY", "MNNA", "NATO", "NTIB", "SOSA"}
)

CATEGORIES: Final[frozenset[str]] = frozenset(
    {"SP-EXPT", "EXPT", "CTI", "PROPIN", "PROCURE", "OPSEC", "PRVCY", "SP-PRVCY", "SP-CTI"}
)
EXPORT_CATEGORIES: Final[frozenset[str]] = frozenset({"SP-EXPT", "EXPT"})

# CUI-registry order of the limited dissemination controls.
_NOFORN: Final = "NOFORN"
_REL_TO: Final = "REL TO"
_DISPLAY_ONLY: Final = "DISPLAY ONLY"
_CONTROL_ORDER: Final = ("FED ONLY", "FEDCON", "NOCON", "DL ONLY")
CONTROLS: Final[frozenset[str]] = frozenset(_CONTROL_ORDER)
_LDC_ORDER: Final = (_NOFORN, *_CONTROL_ORDER, _REL_TO, _DISPLAY_ONLY)

# Clause tokens. Groups are raw codes ("GBR", "FVEY") and "@"-attributes the policy grants.
_USA: Final = "USA"
_CONTROL_CLAUSES: Final[Mapping[str, str]] = {
    "FED ONLY": "@FED",
    "FEDCON": "@FED|@FEDCON",
    "NOCON": "@FED|@GOV",
    "DL ONLY": "@DL",
}


class MarkingError(ValueError):
    """A marking that is malformed or contradictory; names the token and what was expected."""

    def __init__(self, token: str, expected: str) -> None:
        super().__init__(f"invalid marking token {token!r}: {expected}")
        self.token = token
        self.expected = expected

    def __reduce__(self) -> tuple[type[MarkingError], tuple[str, str]]:
        # Keep copy/pickle working despite the two-argument constructor.
        return (MarkingError, (self.token, self.expected))


def _category_key(category: str) -> tuple[bool, str]:
    return (not category.startswith("SP-"), category)


def _list_key(code: str) -> tuple[int, str]:
    if code == _USA:
        return (0, code)
    return (1 if code in NATIONS else 2, code)


def _list_text(codes: AbstractSet[str]) -> str:
    return ", ".join(sorted(codes, key=_list_key))


@dataclass(frozen=True, slots=True)
class Marking:
    """A parsed marking. Construction validates, so an invalid Marking cannot exist."""

    cui: bool
    categories: frozenset[str]
    noforn: bool
    rel_to: frozenset[str] | None
    display_only: frozenset[str] | None
    controls: frozenset[str]

    def __post_init__(self) -> None:
        if not self.cui:
            extra = self.categories or self.controls or self.noforn
            if extra or self.rel_to is not None or self.display_only is not None:
                raise MarkingError("PUBLIC", "PUBLIC alone: categories and controls need CUI")
            return
        for category in sorted(self.categories):
            if category not in CATEGORIES:
                raise MarkingError(category, f"a CUI category, one of {_known(CATEGORIES)}")
        for control in sorted(self.controls):
            if control not in CONTROLS:
                raise MarkingError(control, f"a dissemination control, one of {_known(CONTROLS)}")
        for name, codes in ((_REL_TO, self.rel_to), (_DISPLAY_ONLY, self.display_only)):
            if codes is None:
                continue
            if self.noforn:
                raise MarkingError(_NOFORN, f"NOFORN cannot be combined with {name}")
            for code in sorted(codes):
                _check_code(code, name)
            if _USA not in codes:
                raise MarkingError(f"{name} {_list_text(codes)}", "a list that starts with USA")
            if codes == {_USA}:
                raise MarkingError(f"{name} USA", "a USA-only list means NOFORN: write NOFORN")
        if self.rel_to is not None and self.display_only is not None:
            both = (self.rel_to & self.display_only) - {_USA}
            if both:
                raise MarkingError(
                    min(both), "a code in REL TO already sees the data; drop it from DISPLAY ONLY"
                )

    def __str__(self) -> str:
        if not self.cui:
            return "PUBLIC"
        parts = ["CUI"]
        if self.categories:
            parts.append("/".join(sorted(self.categories, key=_category_key)))
        ldcs = [_NOFORN] if self.noforn else []
        ldcs += [c for c in _CONTROL_ORDER if c in self.controls]
        if self.rel_to is not None:
            ldcs.append(f"{_REL_TO} {_list_text(self.rel_to)}")
        if self.display_only is not None:
            ldcs.append(f"{_DISPLAY_ONLY} {_list_text(self.display_only)}")
        if ldcs:
            parts.append("/".join(ldcs))
        return "//".join(parts)


def _known(names: Iterable[str]) -> str:
    return ", ".join(sorted(names, key=_category_key))


def _check_code(code: str, where: str) -> None:
    if code in NATIONS or code in TETRAGRAPHS_KNOWN:
        return
    if code.upper() != code:
        raise MarkingError(code, "markings are upper case")
    if len(code) == 3 and code.isalpha():
        raise MarkingError(code, f"an ISO 3166-1 alpha-3 trigraph in {where}")
    raise MarkingError(
        code, f"a trigraph or a known tetragraph ({_known(TETRAGRAPHS_KNOWN)}) in {where}"
    )


PUBLIC: Final = Marking(
    cui=False,
    categories=frozenset(),
    noforn=False,
    rel_to=None,
    display_only=None,
    controls=frozenset(),
)

_NOFORN_LISTS: Final = (frozenset({_USA}), frozenset({_USA}))


# --- parsing -------------------------------------------------------------------------------


def parse(text: str, *, strict_order: bool = False) -> Marking:
    """Parse a banner or portion marking; raise MarkingError naming the first bad token.

    Surrounding whitespace is ignored; everything inside is exact (upper case, `//`, `/`, `, `).
    Misordered categories, controls and list members are put in canonical order unless
    `strict_order`, which rejects them instead.
    """
    body = text.strip()
    if body == "PUBLIC":
        return PUBLIC
    segments = body.split("//")
    head = segments[0]
    if head != "CUI":
        raise MarkingError(head, _head_expected(head))
    categories: frozenset[str] = frozenset()
    ldcs: list[str] = []
    seen_ldcs = False
    for segment in segments[1:]:
        tokens = segment.split("/")
        for token in tokens:
            _check_token_shape(token)
        if tokens[0] in CATEGORIES:
            if seen_ldcs or categories:
                raise MarkingError(segment, "categories once, directly after CUI//")
            categories = _parse_categories(tokens, strict_order)
        else:
            if seen_ldcs:
                raise MarkingError(segment, "at most one segment of dissemination controls")
            seen_ldcs = True
            ldcs = tokens
    return _build(categories, ldcs, strict_order, may_be_category=len(segments) == 2)


def canonicalize(text: str) -> str:
    """The canonical text of a marking (order fixed); raises MarkingError like `parse`."""
    return str(parse(text))


def _head_expected(head: str) -> str:
    if head == "":
        return "a marking: PUBLIC or CUI[//categories][//controls]"
    if head.upper() in {"CUI", "PUBLIC"} and head.upper() != head:
        return "markings are upper case"
    if head != head.strip():
        return "no stray whitespace around // and / separators"
    if head.startswith("CUI/"):
        return "CUI, then // before categories or controls"
    if head == "PUBLIC":
        return "PUBLIC alone: categories and controls need a CUI banner"
    if head.startswith("UNCLASSIFIED") or head in {"U", "UNCLASS"}:
        return "PUBLIC for data approved for public release, or CUI; UNCLASSIFIED is ambiguous"
    return "a marking that starts with PUBLIC or CUI"


def _check_token_shape(token: str) -> None:
    if token == "":
        raise MarkingError(token, "a category or control between separators, not an empty one")
    if token != token.strip() or "  " in token:
        raise MarkingError(token, "no stray whitespace around // and / separators")
    # List codes are case-checked one by one, so the message names the bad code.
    if token.upper() != token and not token.startswith((f"{_REL_TO} ", f"{_DISPLAY_ONLY} ")):
        raise MarkingError(token, "markings are upper case")


def _parse_categories(tokens: Sequence[str], strict_order: bool) -> frozenset[str]:
    seen: list[str] = []
    for token in tokens:
        if token not in CATEGORIES:
            if _is_ldc(token):
                raise MarkingError(token, "a category; put dissemination controls after //")
            raise MarkingError(token, f"a CUI category, one of {_known(CATEGORIES)}")
        if token in seen:
            raise MarkingError(token, "each category once")
        if strict_order and seen and _category_key(token) < _category_key(seen[-1]):
            raise MarkingError(token, "categories in order: SP- first, each group alphabetical")
        seen.append(token)
    return frozenset(seen)


def _is_ldc(token: str) -> bool:
    return token in _LDC_ORDER or token.startswith((f"{_REL_TO} ", f"{_DISPLAY_ONLY} "))


def _build(
    categories: frozenset[str], ldcs: Sequence[str], strict_order: bool, *, may_be_category: bool
) -> Marking:
    seen: set[str] = set()
    lists: dict[str, frozenset[str]] = {}
    last = -1
    for token in ldcs:
        name = next(
            (n for n in (_REL_TO, _DISPLAY_ONLY) if token.startswith(f"{n} ")),
            token,
        )
        if name not in _LDC_ORDER:
            raise MarkingError(token, _ldc_expected(token, may_be_category))
        if token in (_REL_TO, _DISPLAY_ONLY):
            raise MarkingError(token, f"{token} followed by a list: {token} USA, ...")
        if name in seen:
            raise MarkingError(token, "each dissemination control once")
        rank = _LDC_ORDER.index(name)
        if strict_order and rank < last:
            raise MarkingError(token, f"controls in CUI-registry order: {', '.join(_LDC_ORDER)}")
        last = max(last, rank)
        seen.add(name)
        if name in (_REL_TO, _DISPLAY_ONLY):
            lists[name] = _parse_list(name, token[len(name) + 1 :], strict_order)
    return Marking(
        cui=True,
        categories=categories,
        noforn=_NOFORN in seen,
        rel_to=lists.get(_REL_TO),
        display_only=lists.get(_DISPLAY_ONLY),
        controls=frozenset(seen & CONTROLS),
    )


def _ldc_expected(token: str, may_be_category: bool) -> str:
    if token in CATEGORIES:
        return "a category, directly after CUI//"
    controls = f"a dissemination control, one of {', '.join(_LDC_ORDER)}"
    if may_be_category:
        return f"a CUI category, one of {_known(CATEGORIES)}, or {controls}"
    return controls


def _parse_list(name: str, text: str, strict_order: bool) -> frozenset[str]:
    codes = text.split(", ")
    for code in codes:
        if code == "" or code != code.strip() or "," in code or " " in code:
            raise MarkingError(code, f"a code in {name}; codes are separated by ', '")
        _check_code(code, name)
    if codes[0] != _USA:
        raise MarkingError(codes[0], f"{name} lists start with USA: {name} USA, ...")
    seen: list[str] = []
    for code in codes:
        if code in seen:
            raise MarkingError(code, f"each code once in {name}")
        if strict_order and seen and _list_key(code) < _list_key(seen[-1]):
            raise MarkingError(
                code, f"{name} order: USA, trigraphs alphabetically, then tetragraphs"
            )
        seen.append(code)
    # USA alone, NOFORN with a list, and REL TO / DISPLAY ONLY overlap are checked by Marking.
    return frozenset(seen)


# --- release decision ----------------------------------------------------------------------


def release_clauses(m: Marking) -> tuple[str, ...]:
    """The marking as CNF over caller groups, stored with the data and checked in Cypher.

    Each clause is a sorted `|`-joined list of groups any one of which satisfies it; the caller
    sees the data iff every clause has a group in its groups. PUBLIC gives no clause.
    """
    if not m.cui:
        return ()
    clauses: set[str] = set()
    if m.noforn:
        clauses.add(_USA)
    elif m.rel_to is not None:
        clauses.add("|".join(sorted(m.rel_to)))
    elif m.display_only is not None:
        clauses.add(_USA)  # an API response is a copy, not a display
    else:
        clauses.add("|".join(sorted({"@CUI_REL", _USA})))
    if m.categories & EXPORT_CATEGORIES:
        clauses.add("|".join(sorted({"@EXPORT_AUTH", _USA})))
    clauses.update(_CONTROL_CLAUSES[c] for c in m.controls)
    return tuple(sorted(clauses))


def is_released(m: Marking, groups: AbstractSet[str]) -> bool:
    """Reference decision, written from the rules and not from `release_clauses`.

    Deny by default: every rule that applies must grant, and none is assumed to.
    """
    if not m.cui:
        return True
    us = _USA in groups
    if m.noforn:
        foreign_ok = us
    elif m.rel_to is not None:
        # A nation is in a tetragraph exactly when its groups carry that code.
        foreign_ok = any(code in groups for code in m.rel_to)
    elif m.display_only is not None:
        foreign_ok = us
    else:
        foreign_ok = us or "@CUI_REL" in groups
    if not foreign_ok:
        return False
    if not m.categories.isdisjoint(EXPORT_CATEGORIES) and not (us or "@EXPORT_AUTH" in groups):
        return False
    fed = "@FED" in groups
    needs = {
        "FED ONLY": fed,
        "FEDCON": fed or "@FEDCON" in groups,
        "NOCON": fed or "@GOV" in groups,
        "DL ONLY": "@DL" in groups,
    }
    return all(needs[c] for c in m.controls)


# --- combining -----------------------------------------------------------------------------


def _expand(codes: AbstractSet[str], tetragraphs: Mapping[str, frozenset[str]]) -> set[str]:
    """The nations a list reaches; a tetragraph missing from the mapping reaches nobody."""
    nations = {c for c in codes if c in NATIONS}
    for code in codes - nations:
        nations |= tetragraphs.get(code, frozenset()) & NATIONS
    return nations


def _combine_rel_to(
    lists: Sequence[frozenset[str]], tetragraphs: Mapping[str, frozenset[str]]
) -> frozenset[str]:
    """Meet of release lists: the codes every list reaches, tetragraphs kept where shared.

    A tetragraph in every list stays a tetragraph (membership is resolved per request); the
    rest is intersected as nations. Trigraphs a kept tetragraph covers are dropped, so the
    result depends only on (shared tetragraphs, shared nations): that pair meets by plain
    intersection, which is what makes `combine` associative.
    """
    shared = frozenset.intersection(*lists) & TETRAGRAPHS_KNOWN
    nations = set.intersection(*(_expand(codes, tetragraphs) for codes in lists))
    covered = _expand(shared, tetragraphs)
    return frozenset({_USA} | shared | (nations - covered))


def _lists(m: Marking) -> tuple[frozenset[str], frozenset[str]] | None:
    """(release list, display list), USA-only meaning no foreign release; None for basic CUI.

    The display list includes the release list: what may be released may be displayed.
    """
    if m.noforn:
        return _NOFORN_LISTS
    if m.rel_to is None and m.display_only is None:
        return None
    release = m.rel_to if m.rel_to is not None else frozenset({_USA})
    return release, release | (m.display_only or frozenset())


def combine(markings: Iterable[Marking], tetragraphs: Mapping[str, frozenset[str]]) -> Marking:
    """Roll-up: a marking at least as restrictive as every input (PUBLIC is neutral).

    `tetragraphs` maps agreement code to member nations as of the request date. Commutative,
    associative and idempotent on the result (`combine([m])` may drop redundant trigraphs).
    """
    cuis = [m for m in markings if m.cui]
    if not cuis:
        return PUBLIC
    lists = [_lists(m) for m in cuis]
    fixed = [pair for pair in lists if pair is not None]
    rel_to: frozenset[str] | None = None
    display_only: frozenset[str] | None = None
    noforn = False
    if fixed:
        # Basic CUI meeting a list has no exact marking: NOFORN is the sound choice.
        pairs = fixed if len(fixed) == len(lists) else [_NOFORN_LISTS]
        release = _combine_rel_to([r for r, _ in pairs], tetragraphs)
        display = (_combine_rel_to([d for _, d in pairs], tetragraphs) - release) | {_USA}
        rel_to = release if release != {_USA} else None
        display_only = display if display != {_USA} else None
        noforn = rel_to is None and display_only is None
    return Marking(
        cui=True,
        categories=frozenset[str]().union(*(m.categories for m in cuis)),
        noforn=noforn,
        rel_to=rel_to,
        display_only=display_only,
        controls=frozenset[str]().union(*(m.controls for m in cuis)),
    )
