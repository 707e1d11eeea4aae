"""The caller's release scope: the one value every graph read requires.

Only `dibx.auth.policy.Policy.scope_for` can make one (it holds the seal), so a read that
forgets the caller cannot be written by accident: every read function in `dibx.graph` takes a
`ReleaseScope`, and the compiled Cypher checks each record, edge and field against its groups.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

_SEAL = object()
# The group the policy grants for its CUI release determination (`[cui_release]`).
CUI_REL = "@CUI_REL"


@dataclass(frozen=True, slots=True)
class ReleaseScope:
    nation: str
    # Nation code, agreement codes as of `as_of`, policy determinations and honoured
    # attributes (prefixed "@"): a clause of a marking is met when it names one of these.
    groups: frozenset[str]
    as_of: date
    policy_version: str
    # Default release clauses per "Type" / "Type_field" for data stored without a marking.
    default_release: Mapping[str, tuple[str, ...]]
    default_marking: Mapping[str, str]
    _seal: object
    # The agreements among `groups` (its nation's memberships on `as_of`) and the groups
    # whose membership grants the policy's CUI release determination (`CUI_REL`): the change
    # feed works out what a membership starting or ending changes for this caller.
    member_of: frozenset[str] = frozenset()
    cui_release_groups: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self._seal is not _SEAL:
            raise TypeError("a ReleaseScope is made only by dibx.auth.policy.Policy.scope_for")

    def standing_groups(self) -> frozenset[str]:
        """The groups that do not follow the nation's memberships: its nation and honoured
        token attributes. The change feed binds its cursors to these, so a cursor outlives
        a membership that starts or ends (what the feed shows then)."""
        return self.groups - self.member_of - {CUI_REL}

    def cypher_params(self) -> dict[str, object]:
        """The parameters every compiled read takes: groups and deny-by-default fallbacks."""
        return {
            "groups": sorted(self.groups),
            "dr": {k: list(v) for k, v in self.default_release.items()},
            "dm": dict(self.default_marking),
        }


def _seal() -> object:
    """For dibx.auth.policy only."""
    return _SEAL
