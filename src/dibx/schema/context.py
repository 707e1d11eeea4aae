"""Per-request context handed to every resolver."""

from dataclasses import dataclass, field
from typing import Any

from dibx.auth.policy import Policy
from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.services.directory import Directory
from dibx.services.disclosure import Disclosure


@dataclass
class Context:
    principal: Principal
    scope: ReleaseScope
    policy: Policy
    directory: Directory
    disclosure: Disclosure = field(default_factory=Disclosure)
    # Agreement code -> member nations today, to expand REL TO lists in the banner.
    tetragraphs: dict[str, frozenset[str]] = field(default_factory=dict)
    request: Any = None
    response: Any = None
