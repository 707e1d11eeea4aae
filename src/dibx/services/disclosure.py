"""What one response released and withheld: the banner and the `withheld` list.

Filled by the resolvers as they hand out values (so it reflects exactly what the caller
selected, under the caller's aliases), read once at the end for the response extensions and
the audit record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field

from dibx.auth import markings


@dataclass
class Disclosure:
    released: Counter[str] = field(default_factory=Counter)
    withheld: list[tuple[str, str]] = field(default_factory=list)

    def release(self, marking: str | None) -> None:
        # A released value always has a marking (stored or policy default): the check passed.
        self.released[marking or "UNMARKED"] += 1

    def withhold(self, path: str, marking: str | None) -> None:
        self.withheld.append((path, marking or "UNMARKED"))

    def banner(self, tetragraphs: Mapping[str, frozenset[str]]) -> str:
        """The combined marking of everything released (PUBLIC when nothing is marked)."""
        parsed = []
        for text in self.released:
            try:
                parsed.append(markings.parse(text))
            except markings.MarkingError:
                # Cannot happen for released data (it passed the check); fail safe if it does.
                parsed.append(markings.parse("CUI//NOFORN"))
        return str(markings.combine(parsed, tetragraphs))

    @property
    def released_count(self) -> int:
        return sum(self.released.values())

    @property
    def markings_involved(self) -> list[str]:
        return sorted(set(self.released) | {m for _, m in self.withheld})
