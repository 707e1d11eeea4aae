"""The marking of a derived figure: the roll-up of the markings of everything it used.

Only released inputs are ever added (a withheld field is not used, so its marking is not
either): the marking of a result therefore depends on visible data alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from dibx.auth import markings
from dibx.graph.supply import Offer, SupplierNode, Val

_FAIL_CLOSED = "CUI//NOFORN"


@lru_cache(maxsize=4096)
def _parse(text: str) -> markings.Marking:
    try:
        return markings.parse(text)
    except markings.MarkingError:
        # Cannot happen for released data (it was checked at write time); fail safe if it does.
        return markings.parse(_FAIL_CLOSED)


class Provenance:
    """A set of marking texts; `marking(tetragraphs)` combines them (PUBLIC when empty)."""

    __slots__ = ("texts",)

    def __init__(self, texts: Iterable[str | None] = ()) -> None:
        self.texts: set[str] = set()
        self.add(*texts)

    def add(self, *texts: str | None) -> Provenance:
        if None in texts:
            self.texts.update(text if text is not None else _FAIL_CLOSED for text in texts)
        else:
            self.texts.update(texts)  # type: ignore[arg-type]  # no None among them
        return self

    def value(self, val: Val[Any] | None) -> Provenance:
        if val is not None:
            self.add(*val.markings)
        return self

    def supplier(self, node: SupplierNode, *, name: bool = True, nation: bool = True) -> Provenance:
        self.add(node.marking)
        if name:
            self.value(node.name)
        if nation:
            self.value(node.nation)
        return self

    def offer(self, offer: Offer, *, capacity: bool = True, trl: bool = False) -> Provenance:
        self.add(offer.marking)
        self.supplier(offer.supplier)
        if capacity:
            self.value(offer.capacity)
        if trl:
            self.value(offer.trl)
        return self

    def merge(self, *others: Provenance) -> Provenance:
        for other in others:
            self.texts |= other.texts
        return self

    def marking(self, tetragraphs: Mapping[str, frozenset[str]]) -> str:
        return _combined(frozenset(self.texts), tuple(sorted(tetragraphs.items())))


# A report rolls up thousands of figures from a few distinct sets of markings (a nation-wide
# disruption: one per capability, offer and supplier): the roll-up is a function of the set
# and the request's agreement table alone, so each distinct pair is combined once.
@lru_cache(maxsize=65_536)
def _combined(texts: frozenset[str], tetragraphs: tuple[tuple[str, frozenset[str]], ...]) -> str:
    return str(markings.combine([_parse(t) for t in sorted(texts)], dict(tetragraphs)))
