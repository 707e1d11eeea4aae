"""Settings, read from DIBX_* environment variables in this module only.

Every other layer receives what it needs as arguments, so tests can build any layer directly.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pycountry

from dibx import data as shipped

PROJECT_ROOT = Path(__file__).resolve().parents[2]  # a checkout's root; absent when installed


class ConfigError(ValueError):
    """A setting is missing or malformed; the service refuses to start."""


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name}={raw!r}: expected true or false")


def _int(env: Mapping[str, str], name: str, default: int, *, low: int, high: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected an integer") from None
    if not low <= value <= high:
        raise ConfigError(f"{name}={value}: expected {low}..{high}")
    return value


def _codes(env: Mapping[str, str], name: str, default: tuple[str, ...]) -> tuple[str, ...]:
    raw = env.get(name)
    if raw is None or raw.strip() == "":
        return default
    codes = tuple(c.strip() for c in raw.split(",") if c.strip())
    known = {c.alpha_3 for c in pycountry.countries}
    bad = [c for c in codes if c not in known]
    if bad:
        raise ConfigError(f"{name}: not ISO 3166-1 alpha-3 codes: {', '.join(bad)}")
    return codes


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


def _web_url(env: Mapping[str, str], name: str) -> str:
    raw = env[name].strip()
    parts = urlsplit(raw)
    loopback = parts.hostname in {"127.0.0.1", "localhost", "::1"}
    if not parts.netloc or not (parts.scheme == "https" or (parts.scheme == "http" and loopback)):
        raise ConfigError(f"{name}={raw!r}: expected an https URL (http only on loopback)")
    return raw


def _explorer_oidc(env: Mapping[str, str]) -> ExplorerOidc | None:
    given = [name for name in _EXPLORER_OIDC if env.get(name, "").strip()]
    if not given:
        return None
    if len(given) != len(_EXPLORER_OIDC):
        missing = ", ".join(n for n in _EXPLORER_OIDC if n not in given)
        raise ConfigError(f"explorer sign-in is partly configured: also set {missing}")
    return ExplorerOidc(
        authorize_url=_web_url(env, "DIBX_EXPLORER_AUTHORIZE_URL"),
        token_url=_web_url(env, "DIBX_EXPLORER_TOKEN_URL"),
        client_id=env["DIBX_EXPLORER_CLIENT_ID"].strip(),
        redirect_url=_web_url(env, "DIBX_EXPLORER_REDIRECT_URL"),
        scope=env.get("DIBX_EXPLORER_SCOPE", "").strip() or DEFAULT_EXPLORER_SCOPE,
    )


@dataclass(frozen=True, slots=True)
class Settings:
    # Neo4j: unset URI means "start the embedded server under data_dir".
    neo4j_uri: str | None = None
    neo4j_user: str = "neo4j"
    neo4j_password: str = ""
    neo4j_database: str = "neo4j"
    embedded_port: int = 7687
    # Fail fast when Neo4j is down (seconds): the driver's defaults add up to about a minute.
    neo4j_connect_timeout_s: int = 3
    neo4j_acquire_timeout_s: int = 5
    neo4j_retry_time_s: int = 3
    neo4j_pool_size: int = 50
    # Server-side timeout of each transaction (seconds): Neo4j stops a runaway query itself.
    neo4j_tx_timeout_s: int = 30
    data_dir: Path = Path("var")
    # HTTP
    host: str = "127.0.0.1"
    port: int = 8000
    environment: str = "development"
    graphiql: bool = True
    introspection: bool = True
    # GraphQL limits
    max_page_size: int = 100
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 2000
    max_cost: int = 20_000  # records one request may fetch, summed over its root fields
    max_body_bytes: int = 1_000_000
    # Heavy work (analytics, and reads that could fetch `heavy_cost` records or more) holds at
    # most `heavy_concurrency` driver connections, the rest of the pool is kept for light
    # requests; one token (subject) runs at most `heavy_per_token` heavy requests at a time.
    heavy_cost: int = 1_000
    heavy_concurrency: int = 8
    heavy_per_token: int = 2
    heavy_wait_s: int = 10
    # Bodies over `large_document_bytes` are parsed and run `large_document_concurrency` at a
    # time (see dibx.app.admission), so floods of big documents cannot starve small queries.
    large_document_bytes: int = 2048
    large_document_concurrency: int = 2
    # Supply-chain analytics: bounds, and whom a chain must not depend on.
    analytics_max_depth: int = 8
    analytics_max_nodes: int = 5_000
    analytics_time_limit_s: int = 10
    nations_of_concern: tuple[str, ...] = ("CHN", "IRN", "PRK", "RUS")
    # Marking challenges: days an adjudicator has to decide (the agency sets the timetable).
    challenge_due_days: int = 30
    # Server secret for keyed hashes of challenger subjects (never shown); None: under data_dir.
    challenge_key_path: Path | None = None
    # Tokens
    issuer: str = "http://127.0.0.1:8000"
    audience: str = "dibx"
    jwks_url: str | None = None
    dev_issuer: bool = True
    token_max_lifetime_s: int = 24 * 3600
    # Bearer token a Prometheus scraper sends to /metrics; required in production.
    metrics_token: str | None = None
    # Releasability
    policy_file: Path = field(default_factory=shipped.policy_file)
    # Where audit records go (never the log stream): by default a file under data_dir.
    audit_sink: str = "file:var/audit/audit.jsonl"
    reference_dir: Path = field(default_factory=shipped.reference_dir)
    # Explorer sign-in against a real issuer (OAuth authorization code + PKCE): all or none.
    explorer_oidc: ExplorerOidc | None = None
    # Log lines (JSON, on stderr) at this level and above.
    log_level: str = "info"
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def production(self) -> bool:
        return self.environment == "production"

    @property
    def keys_file(self) -> Path:
        return self.data_dir / "dev-keys" / "jwks-private.json"

    @property
    def challenge_key_file(self) -> Path:
        return self.challenge_key_path or self.data_dir / "dev-keys" / "challenger-hmac.key"


_LOG_LEVELS = ("debug", "info", "warning", "error")


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


def load(env: Mapping[str, str] | None = None) -> Settings:
    """Build settings from the environment, failing with a message that names the variable."""
    env = os.environ if env is None else env
    environment = env.get("DIBX_ENV", "development")
    if environment not in {"development", "test", "production"}:
        raise ConfigError(f"DIBX_ENV={environment!r}: expected development, test or production")
    production = environment == "production"
    # Relative to where dibx runs (the checkout's root for `make demo`), installed or not.
    data_dir = Path(env.get("DIBX_DATA_DIR", "var")).absolute()
    settings = Settings(
        neo4j_uri=env.get("DIBX_NEO4J_URI") or None,
        neo4j_user=env.get("DIBX_NEO4J_USER", "neo4j"),
        neo4j_password=env.get("DIBX_NEO4J_PASSWORD", ""),
        neo4j_database=env.get("DIBX_NEO4J_DATABASE", "neo4j"),
        embedded_port=_int(env, "DIBX_NEO4J_PORT", 7687, low=1024, high=65535),
        neo4j_connect_timeout_s=_int(env, "DIBX_NEO4J_CONNECT_TIMEOUT", 3, low=1, high=120),
        neo4j_acquire_timeout_s=_int(env, "DIBX_NEO4J_ACQUIRE_TIMEOUT", 5, low=1, high=120),
        neo4j_retry_time_s=_int(env, "DIBX_NEO4J_RETRY_TIME", 3, low=0, high=120),
        neo4j_pool_size=_int(env, "DIBX_NEO4J_POOL_SIZE", 50, low=4, high=1000),
        neo4j_tx_timeout_s=_int(env, "DIBX_NEO4J_TX_TIMEOUT", 30, low=1, high=3600),
        data_dir=data_dir,
        host=env.get("DIBX_HOST", "127.0.0.1"),
        port=_int(env, "DIBX_PORT", 8000, low=1, high=65535),
        environment=environment,
        graphiql=_bool(env, "DIBX_GRAPHIQL", not production),
        introspection=_bool(env, "DIBX_INTROSPECTION", not production),
        max_page_size=_int(env, "DIBX_MAX_PAGE_SIZE", 100, low=1, high=1000),
        max_depth=_int(env, "DIBX_MAX_DEPTH", 12, low=2, high=32),
        max_aliases=_int(env, "DIBX_MAX_ALIASES", 30, low=1, high=500),
        max_tokens=_int(env, "DIBX_MAX_TOKENS", 2000, low=50, high=100_000),
        max_cost=_int(env, "DIBX_MAX_COST", 20_000, low=10, high=10_000_000),
        max_body_bytes=_int(env, "DIBX_MAX_BODY_BYTES", 1_000_000, low=1024, high=100_000_000),
        heavy_cost=_int(env, "DIBX_HEAVY_COST", 1_000, low=1, high=10_000_000),
        heavy_concurrency=_int(env, "DIBX_HEAVY_CONCURRENCY", 8, low=1, high=500),
        heavy_per_token=_int(env, "DIBX_HEAVY_PER_TOKEN", 2, low=1, high=500),
        heavy_wait_s=_int(env, "DIBX_HEAVY_WAIT", 10, low=1, high=600),
        large_document_bytes=_int(env, "DIBX_LARGE_DOCUMENT_BYTES", 2048, low=256, high=10**8),
        large_document_concurrency=_int(env, "DIBX_LARGE_DOCUMENT_CONCURRENCY", 2, low=1, high=500),
        challenge_due_days=_int(env, "DIBX_CHALLENGE_DUE_DAYS", 30, low=1, high=365),
        challenge_key_path=Path(env["DIBX_CHALLENGE_KEY_FILE"])
        if env.get("DIBX_CHALLENGE_KEY_FILE")
        else None,
        analytics_max_depth=_int(env, "DIBX_ANALYTICS_MAX_DEPTH", 8, low=1, high=20),
        analytics_max_nodes=_int(env, "DIBX_ANALYTICS_MAX_NODES", 5_000, low=10, high=1_000_000),
        analytics_time_limit_s=_int(env, "DIBX_ANALYTICS_TIME_LIMIT", 10, low=1, high=600),
        nations_of_concern=_codes(env, "DIBX_NATIONS_OF_CONCERN", ("CHN", "IRN", "PRK", "RUS")),
        issuer=env.get("DIBX_ISSUER", "http://127.0.0.1:8000"),
        audience=env.get("DIBX_AUDIENCE", "dibx"),
        jwks_url=env.get("DIBX_JWKS_URL") or None,
        dev_issuer=_bool(env, "DIBX_DEV_ISSUER", not production),
        token_max_lifetime_s=_int(
            env, "DIBX_TOKEN_MAX_LIFETIME", 24 * 3600, low=60, high=30 * 24 * 3600
        ),
        metrics_token=env.get("DIBX_METRICS_TOKEN") or None,
        policy_file=Path(env.get("DIBX_POLICY_FILE") or shipped.policy_file()),
        audit_sink=env.get("DIBX_AUDIT_SINK") or f"file:{data_dir / 'audit' / 'audit.jsonl'}",
        reference_dir=Path(env.get("DIBX_REFERENCE_DIR") or shipped.reference_dir()),
        explorer_oidc=_explorer_oidc(env),
        log_level=env.get("DIBX_LOG_LEVEL", "info").strip().lower() or "info",
    )
    if production and settings.dev_issuer:
        raise ConfigError("DIBX_DEV_ISSUER must be false in production")
    if production and not settings.jwks_url:
        raise ConfigError("DIBX_JWKS_URL is required in production")
    for sink in settings.audit_sink.split(","):
        _check_audit_sink(sink.strip())
    if settings.log_level not in _LOG_LEVELS:
        raise ConfigError(
            f"DIBX_LOG_LEVEL={settings.log_level!r}: expected one of {', '.join(_LOG_LEVELS)}"
        )
    if settings.heavy_concurrency > settings.neo4j_pool_size // 2:
        raise ConfigError(
            f"DIBX_HEAVY_CONCURRENCY={settings.heavy_concurrency}: at most half the Neo4j "
            f"pool (DIBX_NEO4J_POOL_SIZE={settings.neo4j_pool_size}), so light requests keep "
            "connections"
        )
    if settings.heavy_per_token > settings.heavy_concurrency:
        raise ConfigError(
            f"DIBX_HEAVY_PER_TOKEN={settings.heavy_per_token}: at most "
            f"DIBX_HEAVY_CONCURRENCY={settings.heavy_concurrency}"
        )
    if settings.metrics_token is not None and len(settings.metrics_token) < 16:
        raise ConfigError("DIBX_METRICS_TOKEN: use at least 16 characters")
    return settings
