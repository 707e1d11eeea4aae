"""Starlette app factory: /graphql, /healthz, /readyz, /metrics, /explorer/, dev OAuth."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date

import neo4j
import strawberry
import structlog
from prometheus_client import Counter
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dibx import config
from dibx.app import startup, warm
from dibx.app.admission import LargeDocuments
from dibx.app.explorer import explorer_routes
from dibx.app.export_route import ExportEndpoint, export_routes
from dibx.app.graphql_view import DibxGraphQL
from dibx.app.imports import ImportRoutes
from dibx.app.live import LiveGraphQL
from dibx.app.metrics import Metrics
from dibx.app.observe import CountedSink, ObservedApp, RequestAudit
from dibx.app.persisted import ManifestError, PersistedOperations
from dibx.app.ratelimit import AddressLimit, RateLimits
from dibx.app.shutdown import Drain, DrainAware
from dibx.auth import policy as policy_module
from dibx.auth.dev_issuer import DevIssuer
from dibx.auth.oauth_routes import oauth_routes
from dibx.auth.principal import Principal
from dibx.auth.server_secret import load_or_create
from dibx.auth.tokens import TokenValidator
from dibx.errors import DibxError
from dibx.exchange.jobs import ImportJobs, JobSettings, default_engine
from dibx.graph import migrations, outbox, tallies
from dibx.graph.cursors import Sealer
from dibx.graph.driver import Graph, Timeouts, connect
from dibx.graph.model import MODEL, Model
from dibx.graph.read_cache import ReadCache
from dibx.schema import build_schema
from dibx.schema.context import Context, Services
from dibx.services.analytics import Analytics
from dibx.services.analytics.limits import AnalyticsLimits
from dibx.services.audit import AuditSink, sink_from
from dibx.services.budget import HeavyWork, RequestBudget
from dibx.services.challenges import ChallengeService
from dibx.services.changes import ChangeFeed
from dibx.services.directory import Directory
from dibx.services.live import LiveHub, LiveLimits
from dibx.services.memberships import MembershipDirectory
from dibx.services.stewardship import StewardshipService

log = structlog.get_logger("dibx.app")


@dataclass
class Runtime:
    """Everything a running app holds; built at start, closed at stop."""

    settings: config.Settings
    graph: Graph
    policy: policy_module.Policy
    validator: TokenValidator
    issuer: DevIssuer | None
    audit: AuditSink
    memberships: MembershipDirectory
    directory: Directory
    challenge_key: bytes  # keys the challenger tags (dibx.services.challenges)
    services: Services  # built once here, bound per request in the GraphQL context
    model: Model = MODEL  # the schema and the read compiler both derive from it
    drain: Drain = field(default_factory=Drain)  # set on SIGTERM (dibx.app.shutdown)
    live: LiveHub | None = None  # this process's subscription poller, made by create_app


def neo4j_uri(settings: config.Settings) -> str:
    return settings.neo4j_uri or f"bolt://127.0.0.1:{settings.embedded_port}"


def build_runtime(
    settings: config.Settings,
    *,
    graph: Graph | None = None,
    audit: AuditSink | None = None,
    model: Model = MODEL,
) -> Runtime:
    # Files first (policy, audit sink, keys): a bad one must stop the service before anything.
    checked = startup.preflight(settings, model)
    try:
        challenge_key = load_or_create(settings.challenge_key_file)
    except (OSError, ValueError) as exc:
        raise config.ConfigError(f"challenge key: {exc}") from None
    if graph is None:
        driver = connect(
            neo4j_uri(settings),
            settings.neo4j_user,
            settings.neo4j_password,
            timeouts=Timeouts(
                connect=settings.neo4j_connect_timeout_s,
                acquire=settings.neo4j_acquire_timeout_s,
                retry=settings.neo4j_retry_time_s,
            ),
            pool_size=settings.neo4j_pool_size,
        )
        graph = Graph(
            driver,
            settings.neo4j_database,
            tx_timeout=settings.neo4j_tx_timeout_s,
            retry_s=settings.neo4j_retry_time_s,
        )
    memberships = MembershipDirectory(graph)
    audit = audit or sink_from(settings.audit_sink)
    # Page cursors are sealed under a key derived from the same server secret (its own HKDF
    # label), so every API process of a deployment opens the others' cursors.
    cursors = Sealer(challenge_key)
    analytics = AnalyticsLimits(
        max_depth=settings.analytics_max_depth,
        max_nodes=settings.analytics_max_nodes,
        time_limit_s=float(settings.analytics_time_limit_s),
        # Each read an analysis runs at once holds a heavy-work slot: no more than there are.
        parallel_reads=min(settings.analytics_parallel_reads, settings.heavy_concurrency),
        nations_of_concern=settings.nations_of_concern,
    )
    services = Services(
        analytics=Analytics(
            graph,
            memberships,
            analytics,
            cache=ReadCache(
                graph,
                max_bytes=settings.analytics_cache_mb * 2**20,
                max_age_s=float(settings.analytics_cache_s),
            ),
        ),
        challenges=ChallengeService(
            graph,
            checked.policy,
            challenger_key=challenge_key,
            due_days=settings.challenge_due_days,
            max_page_size=settings.max_page_size,
            cursors=cursors,
        ),
        stewardship=StewardshipService(graph, checked.policy, model=model),
        imports=ImportJobs(
            graph,
            checked.policy,
            audit,
            engine=default_engine(),
            settings=JobSettings(
                max_bytes=settings.import_max_bytes,
                lease_s=float(settings.import_lease_s),
                poll_s=float(settings.import_poll_s),
                max_attempts=settings.import_max_attempts,
                max_rejects=settings.import_max_rejects,
                rows_max=settings.import_rows_max,
                batch_rows=settings.import_batch_rows,
                parallel=settings.import_parallel,
            ),
            policy_version=checked.policy.version,
        ),
        changes=ChangeFeed(
            graph,
            cursors,
            model=model,
            retention_days=settings.changes_retention_days,
            max_page_size=settings.max_page_size,
        ),
    )
    return Runtime(
        settings=settings,
        graph=graph,
        policy=checked.policy,
        validator=TokenValidator(
            settings.issuer,
            settings.audience,
            checked.keys,
            max_lifetime=settings.token_max_lifetime_s,
        ),
        issuer=checked.issuer,
        audit=audit,
        memberships=memberships,
        directory=Directory(
            graph,
            memberships,
            max_page_size=settings.max_page_size,
            max_cost=settings.max_cost,
            model=model,
            cursors=cursors,
        ),
        challenge_key=challenge_key,
        services=services,
        model=model,
    )


# How often each API process drops events past retention from the change feed (idempotent:
# replicas may overlap).
COMPACT_EVERY_S = 3600.0


# What a background step of the API may meet and outlive: it is logged and retried next round.
_PASSING = (DibxError, neo4j.exceptions.Neo4jError, neo4j.exceptions.DriverError)


async def _step(name: str, run: Callable[[], Awaitable[int | None]], done: str) -> None:
    """Run one background step; log what it did as `done` (when it did something) and a
    failure as `<name>_failed`, and return either way."""
    try:
        count = await run()
    except _PASSING as exc:
        log.warning(f"{name}_failed", error=str(exc))
        return
    if count:
        log.info(done, count=count)


async def compact_changes(runtime: Runtime, every_s: float = COMPACT_EVERY_S) -> None:
    """Plan the feed's query, then compact the change feed and mark dated memberships that
    took effect, now and every `every_s` seconds, until cancelled."""
    feed = runtime.services.changes
    if feed is None:
        return
    await _step("changes_warm", feed.warm, "changes_warmed")
    while True:
        await _step("changes_compaction", feed.compact, "changes_compacted")
        # Dated memberships that started or ended today become events (docs/changes.md).
        await _step("membership_dates", feed.mark_membership_dates, "membership_dates_marked")
        await asyncio.sleep(every_s)


# How often each API process recounts the release tallies that writes made stale
# (`dibx.graph.tallies`): until then those owners' totals are counted link by link (exact,
# only slower), so this bounds how long a write slows its owners' totalCount. A round with
# nothing stale is one small read per tallied relation.
TALLY_REFRESH_S = 2.0


async def refresh_tallies(runtime: Runtime, every_s: float = TALLY_REFRESH_S) -> None:
    """Recount stale release tallies now (a database from before tallies has none) and
    every `every_s` seconds, until cancelled; logs `tallies_refreshed` with the number of
    owners when it recounted some."""

    async def once() -> int:
        return await tallies.refresh(runtime.graph, runtime.model)

    while True:
        await _step("tally_refresh", once, "tallies_refreshed")
        await asyncio.sleep(every_s)


def schema_for(settings: config.Settings, model: Model) -> strawberry.Schema:
    """The GraphQL schema an app with these settings serves (immutable once built)."""
    return build_schema(
        model,
        max_depth=settings.max_depth,
        max_aliases=settings.max_aliases,
        max_tokens=settings.max_tokens,
        max_list_args=settings.max_list_args,
        introspection=settings.introspection,
        offload_bytes=settings.large_document_bytes,
    )


def create_app(
    runtime: Runtime,
    *,
    own_graph: bool = True,
    clock: Callable[[], float] = time.monotonic,
    schema: strawberry.Schema | None = None,
) -> Starlette:
    """`clock` drives the rate limits' token buckets (tests pass their own); `schema`, if
    given, is `schema_for(runtime.settings, runtime.model)` built before (tests reuse one)."""
    settings = runtime.settings
    heavy = HeavyWork(
        concurrency=settings.heavy_concurrency,
        per_subject=settings.heavy_per_token,
        wait_s=float(settings.heavy_wait_s),
    )
    observed = Metrics(lambda: runtime.graph.stats, lambda: heavy.held)
    runtime.graph.stats.observe = lambda kind, s: observed.neo4j_duration.labels(kind).observe(s)
    runtime.graph.stats.on_retry = lambda code: observed.write_retries.labels(code).inc()
    cache = runtime.services.analytics.cache
    if cache is not None:
        cache.observe = lambda outcome: observed.analytics_reads.labels(outcome).inc()
    # Every audit write, request records and graph writes alike, counts its failures.
    audit = CountedSink(runtime.audit, observed.audit_failures.inc)
    request_audit = RequestAudit(
        audit, policy_version=runtime.policy.version, observe=observed.audited
    )
    rate_limited = Counter(
        "dibx_rate_limited_total",
        "Requests refused by a rate limit",
        ["reason"],
        registry=observed.registry,
    )
    limits = RateLimits(
        settings.rate_limits, clock=clock, refused=lambda reason: rate_limited.labels(reason).inc()
    )

    def budget(principal: Principal) -> RequestBudget:
        return RequestBudget(
            max_cost=settings.max_cost,
            analytics_s=float(settings.analytics_time_limit_s),
            heavy_cost=settings.heavy_cost,
            gate=heavy,
            subject=principal.subject,
        )

    schema = schema or schema_for(settings, runtime.model)
    persisted = _persisted(settings)
    graphql = DibxGraphQL(
        schema,
        validator=runtime.validator,
        policy=runtime.policy,
        directory=runtime.directory,
        memberships=runtime.memberships,
        audit=audit,
        request_audit=request_audit,
        graphiql=settings.graphiql,
        services=runtime.services,
        budget=budget,
        max_body_bytes=settings.max_body_bytes,
        large_documents=LargeDocuments(
            threshold=settings.large_document_bytes,
            concurrency=settings.large_document_concurrency,
            wait_s=float(settings.heavy_wait_s),
        ),
        limits=limits,
        persisted=persisted,
        max_tokens=settings.max_tokens,
    )

    # Subscriptions (dibx.app.live): the WebSocket side of /graphql, one poller per process.
    hub = runtime.live = LiveHub(
        lambda: outbox.last_seq(runtime.graph),  # the feed's counter, one cheap read
        LiveLimits(
            interval_s=settings.live_poll_ms / 1000,
            queue_size=settings.live_queue,
            page_size=min(settings.live_page, settings.live_queue),
            max_subscribers=settings.live_max_subscribers,
        ),
    )
    live = LiveGraphQL(
        schema,
        validator=runtime.validator,
        policy=runtime.policy,
        directory=runtime.directory,
        memberships=runtime.memberships,
        services=runtime.services,
        hub=hub,
        request_audit=request_audit,
        limits=limits,
        budget=budget,
        init_timeout_s=float(settings.live_init_timeout_s),
        max_per_connection=settings.live_per_socket,
        max_per_principal=settings.live_per_principal,
        persisted=persisted,
        max_message_bytes=settings.max_body_bytes,
        max_tokens=settings.max_tokens,
        large_documents=graphql.large_documents,
    )

    warmed = asyncio.Event()
    to_warm = bool(settings.warm_timeout_s and persisted.trusted)
    if not to_warm:
        warmed.set()  # nothing to plan: ready as soon as Neo4j answers
    observed.warming.set(0 if warmed.is_set() else 1)

    def warm_context(principal: Principal, today: date) -> Context:
        return Context.bound(
            principal=principal,
            scope=runtime.policy.scope_for(principal, (), today),
            policy=runtime.policy,
            directory=runtime.directory,
            services=runtime.services,
            budget=budget(principal),
        )

    async def warm_trusted() -> None:
        """Plan the trusted reads (dibx.app.warm), then let /readyz answer ready."""
        if not to_warm:
            return
        try:
            done = await asyncio.wait_for(
                warm.warm(schema, persisted.trusted.items(), warm_context),
                settings.warm_timeout_s,
            )
            log.info(
                "trusted_documents_warmed",
                ran=len(done.ran),
                skipped=done.skipped,
                seconds=round(done.seconds, 2),
            )
        except TimeoutError:
            log.warning("trusted_documents_warm_timeout", timeout_s=settings.warm_timeout_s)
        except _PASSING as exc:
            log.warning("trusted_documents_warm_failed", error=str(exc))
        finally:
            warmed.set()
            observed.warming.set(0)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        if runtime.drain.started:
            # Shutting down: the load balancer stops sending while requests still get answers.
            return JSONResponse({"status": "draining"}, status_code=503)
        if not warmed.is_set():
            # Trusted reads are being planned (dibx.app.warm): callers would wait for them.
            return JSONResponse({"status": "warming"}, status_code=503)
        if await runtime.graph.ping():
            return JSONResponse({"status": "ready", "neo4j": "reachable"})
        return JSONResponse({"status": "not ready", "neo4j": "unreachable"}, status_code=503)

    async def metrics(request: Request) -> Response:
        # A scraper sends `Authorization: Bearer $DIBX_METRICS_TOKEN`. Without a configured
        # token the endpoint is open outside production and absent in production.
        expected = settings.metrics_token
        if expected is None and settings.production:
            return Response(status_code=404)
        if expected is not None:
            sent = request.headers.get("authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {expected}".encode()):
                return Response(
                    status_code=401, headers={"WWW-Authenticate": 'Bearer realm="metrics"'}
                )
        return Response(observed.scrape(), media_type=CONTENT_TYPE_LATEST)

    routes: list[BaseRoute] = [
        Route("/healthz", healthz),
        Route("/readyz", readyz),
        Route("/metrics", metrics),
        Route("/graphql", graphql),
        WebSocketRoute("/graphql", live),
    ]
    routes += export_routes(
        ExportEndpoint(
            graph=runtime.graph,
            policy=runtime.policy,
            validator=runtime.validator,
            memberships=runtime.memberships,
            audit=request_audit,
            limits=limits,
            heavy=heavy,
            model=runtime.model,
        )
    )
    imports = runtime.services.imports
    # Job audit records go through the counted sink too (dibx_audit_failures_total).
    imports.sink = audit
    routes.extend(
        ImportRoutes(
            imports,
            validator=runtime.validator,
            policy=runtime.policy,
            request_audit=request_audit,
            limits=limits,
        ).routes()
    )
    if runtime.issuer is not None:
        routes.extend(oauth_routes(runtime.issuer))
    routes.extend(explorer_routes(settings, runtime.issuer))

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        applied = await migrations.apply(runtime.graph, runtime.model)
        log.info(
            "started",
            neo4j=runtime.graph.database,
            migrations=applied,
            policy=runtime.policy.version,
        )
        # Queued and orphaned import jobs are taken up now and whenever the poll comes round.
        imports.start()
        compaction = asyncio.create_task(compact_changes(runtime))
        tally_refresh = asyncio.create_task(refresh_tallies(runtime))
        warming = asyncio.create_task(warm_trusted())
        try:
            yield
        finally:
            await hub.close()
            for task in (compaction, tally_refresh, warming):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await imports.stop()
            if own_graph:
                await runtime.graph.close()

    async def address_refused(scope: Scope, code: str) -> None:
        await request_audit.refused(None, status=429, code=code)

    app = ObservedApp(
        routes=routes,
        lifespan=lifespan,
        middleware=[
            Middleware(DrainAware, drain=runtime.drain),
            Middleware(AddressLimit, limits=limits, on_refused=address_refused),
            Middleware(NoStore),
        ],
    )
    app.metrics = observed
    app.state.heavy = heavy  # the process-wide heavy-work gate (operators' and tests' view)
    app.state.request_audit = request_audit  # for refusals outside /graphql (observe.py)
    app.state.limits = limits
    app.state.compiled = graphql.compiled  # the compiled response path (tests switch it off)
    app.state.warm_up = warm_trusted  # what the lifespan starts (tests run it themselves)
    return app


def _persisted(settings: config.Settings) -> PersistedOperations:
    try:
        return PersistedOperations.load(settings.trusted_documents_file, settings.trusted_documents)
    except ManifestError as exc:
        raise config.ConfigError(f"trusted documents: {exc}") from None


class NoStore:
    """`Cache-Control: no-store` on every response: GraphQL answers carry CUI and the token
    endpoint carries credentials (RFC 6749 5.1); no shared or browser cache may keep them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_no_store(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"cache-control"
                ]
                headers += [(b"cache-control", b"no-store"), (b"pragma", b"no-cache")]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_no_store)
