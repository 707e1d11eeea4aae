"""What one response released and withheld: the banner and the `withheld` list.

Filled by the resolvers as they hand out values (so it reflects exactly what the caller
selected, under the caller's aliases), read once at the end for the response extensions and
the audit record.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace

from dibx.auth import markings


def _as_determined(m: markings.Marking, basic_release: AbstractSet[str]) -> markings.Marking:
    foreign_control = m.noforn or m.rel_to is not None or m.display_only is not None
    if not m.cui or foreign_control or not basic_release:
        return m
    return replace(m, rel_to=frozenset({"USA", *basic_release}))


# The few markings a deployment uses come back in every response: each is parsed once.
_parse = functools.lru_cache(maxsize=1024)(markings.parse)


@dataclass
class Disclosure:
    released: Counter[str] = field(default_factory=Counter)
    withheld: list[tuple[str, str]] = field(default_factory=list)

    def release(self, marking: str | None) -> None:
        # A released value always has a marking (stored or policy default): the check passed.
        self.released[marking or "UNMARKED"] += 1

    def withhold(self, path: str, marking: str | None) -> None:
        self.withheld.append((path, marking or "UNMARKED"))

    def banner(
        self,
        tetragraphs: Mapping[str, frozenset[str]],
        basic_release: AbstractSet[str] = frozenset(),
    ) -> str:
        """The combined marking of everything released (PUBLIC when nothing is marked).

        CUI with no dissemination control reaches foreign callers only through the policy's
        release determination (`basic_release` groups): for the roll-up it is read as
        `REL TO USA, <those groups>`, which is what was actually decided. Without that, one
        basic-CUI value would make every foreign caller's banner NOFORN.
        """
        parsed = []
        for text in self.released:
            try:
                marking = _parse(text)
            except markings.MarkingError:
                # Cannot happen for released data (it passed the check); fail safe if it does.
                marking = markings.parse("CUI//NOFORN")
            parsed.append(_as_determined(marking, basic_release))
        return str(markings.combine(parsed, tetragraphs))

    @property
    def released_count(self) -> int:
        return sum(self.released.values())

    @property
    def markings_involved(self) -> list[str]:
        return sorted(set(self.released) | {m for _, m in self.withheld})
