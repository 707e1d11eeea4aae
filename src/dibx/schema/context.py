"""Per-request context handed to every resolver."""

from dataclasses import dataclass, field
from typing import Any

from dibx.auth.policy import Policy
from dibx.auth.principal import Principal
from dibx.auth.release import ReleaseScope
from dibx.exchange.jobs import ImportJobs
from dibx.services.analytics import Analytics
from dibx.services.analytics.limits import AnalyticsLimits
from dibx.services.audit import WriteAudit
from dibx.services.budget import RequestBudget
from dibx.services.challenges import ChallengeService
from dibx.services.changes import ChangeFeed
from dibx.services.directory import Directory
from dibx.services.disclosure import Disclosure
from dibx.services.live import LiveSession
from dibx.services.stewardship import StewardshipService


@dataclass(frozen=True, slots=True)
class Services:
    """The use cases, built once per runtime; a resolver binds one to its request
    (`Analytics.with_limits`, `ChallengeService.for_request`)."""

    analytics: Analytics
    challenges: ChallengeService
    stewardship: StewardshipService
    imports: ImportJobs
    changes: ChangeFeed | None = None


@dataclass
class Context:
    principal: Principal
    scope: ReleaseScope
    policy: Policy
    directory: Directory
    services: Services
    disclosure: Disclosure = field(default_factory=Disclosure)
    # Agreement code -> member nations today as released to the caller, to expand REL TO
    # lists in the banner.
    tetragraphs: dict[str, frozenset[str]] = field(default_factory=dict)
    request: Any = None
    response: Any = None
    # Bounds and defaults of the supply-chain analytics (depth, nodes, time, nations of concern).
    analytics: AnalyticsLimits = field(default_factory=AnalyticsLimits)
    # Audits each graph write durably before it commits (a write without one is refused).
    writes: WriteAudit | None = None
    # What the whole request may spend (records fetched, analysis time), shared by its root
    # fields and aliases; `directory` and `analytics` are bound to it.
    budget: RequestBudget = field(default_factory=RequestBudget)
    # A subscription's socket (dibx.app.live); None over HTTP.
    live: LiveSession | None = None

    @classmethod
    def bound(
        cls,
        *,
        principal: Principal,
        scope: ReleaseScope,
        policy: Policy,
        directory: Directory,
        services: Services,
        budget: RequestBudget,
        **extra: Any,
    ) -> "Context":
        """A request's context with what it may spend bound in one place: the directory's
        reads and the analyses' limits draw on `budget`. Every transport (HTTP, the
        subscription socket, the start-up warm-up) builds its context here, so a resource
        bound later to the budget reaches all of them; `extra` is what one transport adds
        (its request and response, audit of writes, live session, tetragraphs)."""
        return cls(
            principal=principal,
            scope=scope,
            policy=policy,
            directory=directory.for_request(budget),
            services=services,
            analytics=services.analytics.limits.bound(budget),
            budget=budget,
            **extra,
        )
