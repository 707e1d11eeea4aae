"""Settings, read from DIBX_* environment variables in this module only.

`Settings` declares every setting once: its variable, type, default and bounds; `load(env)`
builds it from a mapping (the environment by default), so tests pass their own. A bad value
stops the service with a ConfigError naming the variable. Every other layer receives what it
needs as arguments, so tests can build any layer directly.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import pycountry
from pydantic import BeforeValidator, ValidationError, model_validator
from pydantic import Field as Setting
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from dibx import data as shipped

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # a checkout's root; absent when installed


class ConfigError(ValueError):
    """A setting is missing or malformed; the service refuses to start."""


class _Bad(ValueError):
    """A value's fault; the message follows the variable's name (`='x': expected ...`)."""


def _blank(raw: object) -> bool:
    return raw is None or (isinstance(raw, str) and raw.strip() == "")


def _int(low: int, high: int) -> BeforeValidator:
    def check(raw: object) -> int:
        if _blank(raw):
            raise PydanticUseDefault
        try:
            value: int = int(raw)  # type: ignore[call-overload]
        except (TypeError, ValueError):
            raise _Bad(f"={raw!r}: expected an integer") from None
        if not low <= value <= high:
            raise _Bad(f"={value}: expected {low}..{high}")
        return value

    return BeforeValidator(check)


def _bool(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    value = str(raw).strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise _Bad(f"={raw!r}: expected true or false")


def _codes(raw: object) -> tuple[str, ...]:
    if _blank(raw):
        raise PydanticUseDefault
    if isinstance(raw, tuple):
        return raw
    codes = tuple(c.strip() for c in str(raw).split(",") if c.strip())
    known = {c.alpha_3 for c in pycountry.countries}
    bad = [c for c in codes if c not in known]
    if bad:
        raise _Bad(f": not ISO 3166-1 alpha-3 codes: {', '.join(bad)}")
    return codes


def _or_none(raw: object) -> object:
    return None if _blank(raw) else raw


def _or_default(raw: object) -> object:
    if _blank(raw):
        raise PydanticUseDefault
    return raw


def _absolute(raw: object) -> Path:
    # Relative to where dibx runs (the checkout's root for `make demo`), installed or not.
    return Path(str(raw)).absolute()


Int = Callable[[int, int], BeforeValidator]
OrNone = BeforeValidator(_or_none)
OrDefault = BeforeValidator(_or_default)
Flag = BeforeValidator(_bool)
ENVIRONMENTS = ("development", "test", "production")


@dataclass(frozen=True, slots=True)
class ExplorerOidc:
    """Where the explorer sends a user to sign in, and the public client it signs in as."""

    authorize_url: str
    token_url: str
    client_id: str
    redirect_url: str
    scope: str


_EXPLORER_OIDC = (
    "DIBX_EXPLORER_AUTHORIZE_URL",
    "DIBX_EXPLORER_TOKEN_URL",
    "DIBX_EXPLORER_CLIENT_ID",
    "DIBX_EXPLORER_REDIRECT_URL",
)
DEFAULT_EXPLORER_SCOPE = "supplier:read supply_chain:read marking:challenge"


def _web_url(env: Mapping[str, Any], name: str) -> str:
    raw = str(env[name]).strip()
    parts = urlsplit(raw)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ConfigError(f"{name}={raw!r}: expected an https URL (http only on loopback)")
    return raw


def _explorer_oidc(env: Mapping[str, Any]) -> ExplorerOidc | None:
    given = [name for name in _EXPLORER_OIDC if str(env.get(name) or "").strip()]
    if not given:
        return None
    if len(given) != len(_EXPLORER_OIDC):
        missing = ", ".join(n for n in _EXPLORER_OIDC if n not in given)
        raise ConfigError(f"explorer sign-in is partly configured: also set {missing}")
    return ExplorerOidc(
        authorize_url=_web_url(env, "DIBX_EXPLORER_AUTHORIZE_URL"),
        token_url=_web_url(env, "DIBX_EXPLORER_TOKEN_URL"),
        client_id=str(env["DIBX_EXPLORER_CLIENT_ID"]).strip(),
        redirect_url=_web_url(env, "DIBX_EXPLORER_REDIRECT_URL"),
        scope=str(env.get("DIBX_EXPLORER_SCOPE") or "").strip() or DEFAULT_EXPLORER_SCOPE,
    )


@dataclass(frozen=True, slots=True)
class RateLimitSettings:
    """Request rates, per minute, a token bucket each; 0 switches a limit off.

    Buckets live in each process: the rates are divided by `instances`, the number of API
    processes (replicas x workers) the traffic is spread over, so together they never admit
    more than the configured rate (see dibx.app.ratelimit for what that costs)."""

    per_token: int = 600  # one subject of one client, whatever token it holds
    per_token_burst: int = 60
    per_address: int = 3000  # one client address, before the token is even looked at
    per_address_burst: int = 200
    instances: int = 1


@dataclass(frozen=True, slots=True)
class ShutdownSettings:
    """On SIGTERM: answer /readyz 503 for `drain_delay_s` while still serving (a load balancer
    stops sending), then stop accepting and give requests in flight up to `grace_s` to end.
    Together they must stay under the orchestrator's kill timeout."""

    drain_delay_s: int = 5
    grace_s: int = 25


_LOG_LEVELS = ("debug", "info", "warning", "error")


def _log_level(raw: object) -> str:
    if _blank(raw):
        raise PydanticUseDefault
    level = str(raw).strip().lower()
    if level not in _LOG_LEVELS:
        raise ConfigError(f"DIBX_LOG_LEVEL={level!r}: expected one of {', '.join(_LOG_LEVELS)}")
    return level


def _trusted_mode(raw: object) -> str:
    if _blank(raw):
        raise PydanticUseDefault
    mode = str(raw).strip().lower()
    if mode not in ("optional", "require"):
        raise ConfigError(f"DIBX_TRUSTED_DOCUMENTS={mode!r}: expected optional or require")
    return mode


def _var(name: str, default: Any = None, **kw: Any) -> Any:
    """The setting read from environment variable `name`."""
    return Setting(default, validation_alias=name, **kw)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        frozen=True, extra="ignore", arbitrary_types_allowed=True, case_sensitive=True
    )

    # Neo4j: unset URI means "start the embedded server under data_dir".
    neo4j_uri: Annotated[str | None, OrNone] = _var("DIBX_NEO4J_URI")
    neo4j_user: str = _var("DIBX_NEO4J_USER", "neo4j")
    neo4j_password: str = _var("DIBX_NEO4J_PASSWORD", "")
    neo4j_database: str = _var("DIBX_NEO4J_DATABASE", "neo4j")
    embedded_port: Annotated[int, _int(1024, 65535)] = _var("DIBX_NEO4J_PORT", 7687)
    # Fail fast when Neo4j is down (seconds): the driver's defaults add up to about a minute.
    neo4j_connect_timeout_s: Annotated[int, _int(1, 120)] = _var("DIBX_NEO4J_CONNECT_TIMEOUT", 3)
    neo4j_acquire_timeout_s: Annotated[int, _int(1, 120)] = _var("DIBX_NEO4J_ACQUIRE_TIMEOUT", 5)
    neo4j_retry_time_s: Annotated[int, _int(0, 120)] = _var("DIBX_NEO4J_RETRY_TIME", 3)
    neo4j_pool_size: Annotated[int, _int(4, 1000)] = _var("DIBX_NEO4J_POOL_SIZE", 50)
    # Server-side timeout of each transaction (seconds): Neo4j stops a runaway query itself.
    neo4j_tx_timeout_s: Annotated[int, _int(1, 3600)] = _var("DIBX_NEO4J_TX_TIMEOUT", 30)
    data_dir: Annotated[Path, BeforeValidator(_absolute)] = _var(
        "DIBX_DATA_DIR", "var", validate_default=True
    )
    # HTTP
    host: str = _var("DIBX_HOST", "127.0.0.1")
    port: Annotated[int, _int(1, 65535)] = _var("DIBX_PORT", 8000)
    environment: str = _var("DIBX_ENV", "development")
    # Development surfaces: on unless DIBX_ENV=production (filled in by `_environment`).
    graphiql: Annotated[bool, Flag] = _var("DIBX_GRAPHIQL", True)
    introspection: Annotated[bool, Flag] = _var("DIBX_INTROSPECTION", True)
    # GraphQL limits
    max_page_size: Annotated[int, _int(1, 1000)] = _var("DIBX_MAX_PAGE_SIZE", 100)
    max_depth: Annotated[int, _int(2, 32)] = _var("DIBX_MAX_DEPTH", 12)
    max_aliases: Annotated[int, _int(1, 500)] = _var("DIBX_MAX_ALIASES", 30)
    max_tokens: Annotated[int, _int(50, 100_000)] = _var("DIBX_MAX_TOKENS", 2000)
    # Values one list argument takes (ids, nations, types, changes of one applyChanges, ...).
    max_list_args: Annotated[int, _int(1, 10_000)] = _var("DIBX_MAX_LIST_ARGS", 100)
    # Records one request may fetch, summed over its root fields.
    max_cost: Annotated[int, _int(10, 10_000_000)] = _var("DIBX_MAX_COST", 20_000)
    max_body_bytes: Annotated[int, _int(1024, 100_000_000)] = _var("DIBX_MAX_BODY_BYTES", 1_000_000)
    # Heavy work (analytics, and reads that could fetch `heavy_cost` records or more) holds at
    # most `heavy_concurrency` driver connections, the rest of the pool is kept for light
    # requests; one token (subject) runs at most `heavy_per_token` heavy requests at a time.
    heavy_cost: Annotated[int, _int(1, 10_000_000)] = _var("DIBX_HEAVY_COST", 1_000)
    heavy_concurrency: Annotated[int, _int(1, 500)] = _var("DIBX_HEAVY_CONCURRENCY", 8)
    heavy_per_token: Annotated[int, _int(1, 500)] = _var("DIBX_HEAVY_PER_TOKEN", 2)
    heavy_wait_s: Annotated[int, _int(1, 600)] = _var("DIBX_HEAVY_WAIT", 10)
    # At start, run each trusted read once so Neo4j plans it before a caller waits
    # (dibx.app.warm); /readyz waits for it at most this long. 0: no warm-up.
    warm_timeout_s: Annotated[int, _int(0, 3600)] = _var("DIBX_WARM_TIMEOUT", 120)
    # Bodies over `large_document_bytes` are parsed and run `large_document_concurrency` at a
    # time (see dibx.app.admission), so floods of big documents cannot starve small queries.
    large_document_bytes: Annotated[int, _int(256, 10**8)] = _var("DIBX_LARGE_DOCUMENT_BYTES", 2048)
    large_document_concurrency: Annotated[int, _int(1, 500)] = _var(
        "DIBX_LARGE_DOCUMENT_CONCURRENCY", 2
    )
    # Supply-chain analytics: bounds, and whom a chain must not depend on.
    analytics_max_depth: Annotated[int, _int(1, 20)] = _var("DIBX_ANALYTICS_MAX_DEPTH", 8)
    analytics_max_nodes: Annotated[int, _int(10, 1_000_000)] = _var(
        "DIBX_ANALYTICS_MAX_NODES", 5_000
    )
    analytics_time_limit_s: Annotated[int, _int(1, 600)] = _var("DIBX_ANALYTICS_TIME_LIMIT", 10)
    # Queries one gap or disruption analysis runs at once (each uses one Neo4j core).
    analytics_parallel_reads: Annotated[int, _int(1, 16)] = _var("DIBX_ANALYTICS_PARALLEL_READS", 2)
    # Rows of the analyses' reads kept per process for identical reads (same statement, same
    # release parameters) until the data generation moves or they reach this age
    # (dibx.graph.read_cache). 0 MiB or 0 s: nothing is kept.
    analytics_cache_mb: Annotated[int, _int(0, 65_536)] = _var("DIBX_ANALYTICS_CACHE_MB", 64)
    analytics_cache_s: Annotated[int, _int(0, 86_400)] = _var("DIBX_ANALYTICS_CACHE_SECONDS", 300)
    nations_of_concern: Annotated[tuple[str, ...], NoDecode, BeforeValidator(_codes)] = _var(
        "DIBX_NATIONS_OF_CONCERN", ("CHN", "IRN", "PRK", "RUS")
    )
    # Marking challenges: days an adjudicator has to decide (the agency sets the timetable).
    challenge_due_days: Annotated[int, _int(1, 365)] = _var("DIBX_CHALLENGE_DUE_DAYS", 30)
    # Subscriptions (dibx.app.live, dibx.services.live): how often each process polls the
    # outbox, events held per subscriber before it is dropped, events per read, subscribers
    # per process, subscriptions per socket, seconds a socket may wait before connection_init.
    live_poll_ms: Annotated[int, _int(20, 10_000)] = _var("DIBX_LIVE_POLL_MS", 200)
    live_queue: Annotated[int, _int(1, 100_000)] = _var("DIBX_LIVE_QUEUE", 1000)
    live_page: Annotated[int, _int(1, 1000)] = _var("DIBX_LIVE_PAGE", 100)
    live_max_subscribers: Annotated[int, _int(1, 100_000)] = _var("DIBX_LIVE_MAX_SUBSCRIBERS", 2000)
    live_per_socket: Annotated[int, _int(1, 1000)] = _var("DIBX_LIVE_PER_SOCKET", 10)
    # Subscriptions one token holder (subject and nation) holds in a process, all sockets.
    live_per_principal: Annotated[int, _int(1, 100_000)] = _var("DIBX_LIVE_PER_PRINCIPAL", 20)
    live_init_timeout_s: Annotated[int, _int(1, 600)] = _var("DIBX_LIVE_INIT_TIMEOUT", 10)
    # Change feed: days a change stays in the feed (its history stays); older cursors expire.
    changes_retention_days: Annotated[int, _int(1, 3650)] = _var("DIBX_CHANGES_RETENTION_DAYS", 7)
    # Server secret for keyed hashes of challenger subjects (never shown); None: under data_dir.
    challenge_key_path: Annotated[Path | None, OrNone] = _var("DIBX_CHALLENGE_KEY_FILE")
    # Tokens
    issuer: str = _var("DIBX_ISSUER", "http://127.0.0.1:8000")
    audience: str = _var("DIBX_AUDIENCE", "dibx")
    jwks_url: Annotated[str | None, OrNone] = _var("DIBX_JWKS_URL")
    dev_issuer: Annotated[bool, Flag] = _var("DIBX_DEV_ISSUER", True)
    token_max_lifetime_s: Annotated[int, _int(60, 30 * 24 * 3600)] = _var(
        "DIBX_TOKEN_MAX_LIFETIME", 24 * 3600
    )
    # Bearer token a Prometheus scraper sends to /metrics; required in production.
    metrics_token: Annotated[str | None, OrNone] = _var("DIBX_METRICS_TOKEN")
    # Releasability
    policy_file: Annotated[Path, OrDefault] = Setting(
        default_factory=shipped.policy_file, validation_alias="DIBX_POLICY_FILE"
    )
    # Where audit records go (never the log stream): by default a file under data_dir
    # (filled in by `_environment`); several sinks comma-separated, each must take a record.
    audit_sink: str = _var("DIBX_AUDIT_SINK")
    reference_dir: Annotated[Path, OrDefault] = Setting(
        default_factory=shipped.reference_dir, validation_alias="DIBX_REFERENCE_DIR"
    )
    # Explorer sign-in against a real issuer (OAuth authorization code + PKCE): all or none,
    # from the DIBX_EXPLORER_* variables (built by `_environment`).
    explorer_oidc: ExplorerOidc | None = _var("_explorer_oidc")
    # Persisted operations (dibx.app.persisted): `require` runs registered documents only.
    trusted_documents: Annotated[str, BeforeValidator(_trusted_mode)] = _var(
        "DIBX_TRUSTED_DOCUMENTS", "optional"
    )
    trusted_documents_path: Annotated[Path | None, OrNone] = _var("DIBX_TRUSTED_DOCUMENTS_FILE")
    # HTTP import jobs (dibx.exchange.jobs): body limit, lease on a running job (a job
    # whose owner stops renewing it is taken over after this long), how often a process
    # looks for queued or orphaned jobs, attempts before a job is reported failed, rejects
    # kept in full per job, and rows the synchronous `importRows` mutation takes.
    import_max_bytes: Annotated[int, _int(1024, 1_000_000_000)] = _var(
        "DIBX_IMPORT_MAX_BYTES", 16_000_000
    )
    import_lease_s: Annotated[int, _int(2, 3600)] = _var("DIBX_IMPORT_LEASE", 60)
    import_poll_s: Annotated[int, _int(1, 3600)] = _var("DIBX_IMPORT_POLL", 10)
    import_max_attempts: Annotated[int, _int(1, 100)] = _var("DIBX_IMPORT_MAX_ATTEMPTS", 3)
    import_max_rejects: Annotated[int, _int(0, 100_000)] = _var("DIBX_IMPORT_MAX_REJECTS", 1000)
    import_rows_max: Annotated[int, _int(1, 100_000)] = _var("DIBX_IMPORT_ROWS_MAX", 2000)
    # Rows per write transaction of a job (the engine's batch).
    import_batch_rows: Annotated[int, _int(1, 100_000)] = _var("DIBX_IMPORT_BATCH_ROWS", 2000)
    # Batches of one entity a job writes at once (`dibx.exchange.importer`).
    import_parallel: Annotated[int, _int(1, 16)] = _var("DIBX_IMPORT_PARALLEL", 2)
    # Log lines (JSON, on stderr) at this level and above.
    log_level: Annotated[str, BeforeValidator(_log_level)] = _var("DIBX_LOG_LEVEL", "info")
    extra: dict[str, str] = Setting(default_factory=dict, validation_alias="_extra")

    @model_validator(mode="before")
    @classmethod
    def _environment(cls, data: Any) -> Any:
        """Settings that follow from others: the environment's defaults, explorer sign-in."""
        env = dict(data) if isinstance(data, Mapping) else {}
        environment = env.get("DIBX_ENV") or "development"
        if environment not in ENVIRONMENTS:
            raise ConfigError(f"DIBX_ENV={environment!r}: expected development, test or production")
        env["DIBX_ENV"] = environment
        for name in ("DIBX_GRAPHIQL", "DIBX_INTROSPECTION", "DIBX_DEV_ISSUER"):
            if _blank(env.get(name)):
                env[name] = environment != "production"
        env["_explorer_oidc"] = _explorer_oidc(env)
        if _blank(env.get("DIBX_AUDIT_SINK")):
            data_dir = Path(str(env.get("DIBX_DATA_DIR") or "var")).absolute()
            env["DIBX_AUDIT_SINK"] = f"file:{data_dir / 'audit' / 'audit.jsonl'}"
        return env

    # Rate limits (dibx.app.ratelimit), per minute; 0 switches a limit off.
    rate_per_token: Annotated[int, _int(0, 10_000_000)] = _var("DIBX_RATE_PER_TOKEN", 600)
    rate_per_token_burst: Annotated[int, _int(1, 1_000_000)] = _var("DIBX_RATE_PER_TOKEN_BURST", 60)
    rate_per_address: Annotated[int, _int(0, 10_000_000)] = _var("DIBX_RATE_PER_ADDRESS", 3000)
    rate_per_address_burst: Annotated[int, _int(1, 1_000_000)] = _var(
        "DIBX_RATE_PER_ADDRESS_BURST", 200
    )
    rate_instances: Annotated[int, _int(1, 1000)] = _var("DIBX_RATE_INSTANCES", 1)
    # Shutdown on SIGTERM (dibx.app.shutdown), seconds.
    drain_delay_s: Annotated[int, _int(0, 300)] = _var("DIBX_DRAIN_DELAY", 5)
    shutdown_grace_s: Annotated[int, _int(0, 3600)] = _var("DIBX_SHUTDOWN_GRACE", 25)

    @model_validator(mode="after")
    def _consistent(self) -> Settings:
        if self.production and self.dev_issuer:
            raise ConfigError("DIBX_DEV_ISSUER must be false in production")
        if self.production and not self.jwks_url:
            raise ConfigError("DIBX_JWKS_URL is required in production")
        for sink in self.audit_sink.split(","):
            _check_audit_sink(sink.strip())
        if self.heavy_concurrency > self.neo4j_pool_size // 2:
            raise ConfigError(
                f"DIBX_HEAVY_CONCURRENCY={self.heavy_concurrency}: at most half the Neo4j "
                f"pool (DIBX_NEO4J_POOL_SIZE={self.neo4j_pool_size}), so light requests keep "
                "connections"
            )
        if self.heavy_per_token > self.heavy_concurrency:
            raise ConfigError(
                f"DIBX_HEAVY_PER_TOKEN={self.heavy_per_token}: at most "
                f"DIBX_HEAVY_CONCURRENCY={self.heavy_concurrency}"
            )
        if self.metrics_token is not None and len(self.metrics_token) < 16:
            raise ConfigError("DIBX_METRICS_TOKEN: use at least 16 characters")
        return self

    @property
    def rate_limits(self) -> RateLimitSettings:
        return RateLimitSettings(
            per_token=self.rate_per_token,
            per_token_burst=self.rate_per_token_burst,
            per_address=self.rate_per_address,
            per_address_burst=self.rate_per_address_burst,
            instances=self.rate_instances,
        )

    @property
    def shutdown(self) -> ShutdownSettings:
        return ShutdownSettings(drain_delay_s=self.drain_delay_s, grace_s=self.shutdown_grace_s)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def keys_file(self) -> Path:
        return self.data_dir / "dev-keys" / "jwks-private.json"

    @property
    def trusted_documents_file(self) -> Path:
        return self.trusted_documents_path or self.data_dir / "trusted-documents.json"

    @property
    def challenge_key_file(self) -> Path:
        return self.challenge_key_path or self.data_dir / "dev-keys" / "challenger-hmac.key"


def _check_audit_sink(sink: str) -> None:
    if sink == "file:":
        raise ConfigError("DIBX_AUDIT_SINK=file: names no file")
    if sink == "stdout" or sink.startswith("file:"):
        return
    if sink.startswith(("syslog+tcp://", "syslog+udp://")):
        url = urlsplit(sink)
        try:
            url.port  # noqa: B018 - parsing the port is the check
        except ValueError:
            raise ConfigError(f"DIBX_AUDIT_SINK: {sink!r} has a bad port") from None
        if url.hostname and url.path in ("", "/") and not url.query:
            return
    raise ConfigError(
        f"DIBX_AUDIT_SINK: {sink!r}: expected stdout, file:<path>, "
        "syslog+tcp://host[:port] or syslog+udp://host[:port] (several: comma-separated)"
    )


def _message(err: ValidationError) -> str:
    problems = []
    for e in err.errors(include_url=False):
        cause = e.get("ctx", {}).get("error")
        if isinstance(cause, ConfigError):
            problems.append(str(cause))
        elif isinstance(cause, _Bad):
            problems.append(f"{'.'.join(map(str, e['loc']))}{cause}")
        else:
            problems.append(f"{'.'.join(map(str, e['loc']))}: {e['msg']}")
    return "; ".join(problems)


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment, failing with a message that names the variable."""
    source = os.environ if env is None else env
    try:
        # model_validate reads only `source` (no other settings source): tests pass their own.
        return Settings.model_validate({k: v for k, v in source.items() if k.startswith("DIBX_")})
    except ValidationError as err:
        raise ConfigError(_message(err)) from None
