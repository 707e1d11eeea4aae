"""Per-request context handed to every resolver."""

from dataclasses import dataclass, field
from typing import Any

from dibx.auth.policy import Policy
from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.services.analytics.limits import AnalyticsLimits
from dibx.services.audit import WriteAudit
from dibx.services.budget import RequestBudget
from dibx.services.challenges import DEFAULT_DUE_DAYS
from dibx.services.directory import Directory
from dibx.services.disclosure import Disclosure


@dataclass
class Context:
    principal: Principal
    scope: ReleaseScope
    policy: Policy
    directory: Directory
    disclosure: Disclosure = field(default_factory=Disclosure)
    # Agreement code -> member nations today as released to the caller, to expand REL TO
    # lists in the banner.
    tetragraphs: dict[str, frozenset[str]] = field(default_factory=dict)
    request: Any = None
    response: Any = None
    # Bounds and defaults of the supply-chain analytics (depth, nodes, time, nations of concern).
    analytics: AnalyticsLimits = field(default_factory=AnalyticsLimits)
    # Days an adjudicator has to decide a marking challenge (and an arbiter an escalated one):
    # a configuration choice, 32 CFR 2002.50 leaves the timetable to the agency's procedure.
    challenge_due_days: int = DEFAULT_DUE_DAYS
    # Audits each graph write durably before it commits (a write without one is refused).
    writes: WriteAudit | None = None
    # Server secret keying the challenger tags (never shown in any field).
    challenge_key: bytes = b""
    # What the whole request may spend (records fetched, analysis time), shared by its root
    # fields and aliases; `directory` and `analytics` are bound to it.
    budget: RequestBudget = field(default_factory=RequestBudget)
