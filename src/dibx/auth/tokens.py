"""Bearer access tokens: RFC 6750 transport, RFC 9068 JWT profile, RFC 8725 practices.

Errors::

    TokenError                 no usable token: 401 (400 for a malformed header)
     ├── MissingTokenError     no Bearer credentials at all: 401, bare challenge (RFC 6750 3.1)
     └── KeysUnavailableError  the issuer's key set cannot be fetched: the server's fault, 503
    InsufficientScope          a valid token lacks the scope an operation needs: 403

Descriptions are fixed text meant for a developer; they never quote the token or its claims.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

import httpx
import pycountry
from joserfc import jwk, jws, jwt
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
    UnsupportedAlgorithmError,
)
from joserfc.jwa import JWSAlgModel

from dibx.auth.principal import Principal

log = logging.getLogger(__name__)

PublicKey = jwk.RSAKey | jwk.ECKey | jwk.OKPKey

DEFAULT_ALGORITHMS: Final = ("RS256", "ES256", "PS256", "EdDSA")
# Asymmetric only: with an HMAC algorithm anyone holding the published key could sign tokens.
ASYMMETRIC_ALGORITHMS: Final = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"}
    | {"EdDSA", "Ed25519", "Ed448"}
)
MAX_TOKEN_LENGTH: Final = 8192
DEFAULT_MAX_LIFETIME: Final = 24 * 3600
_MAX_JWKS_BYTES: Final = 256 * 1024
_MAX_CLAIM_LENGTH: Final = 256
_MIN_RSA_BITS: Final = 2048
_TOKEN_TYPES: Final = frozenset({"at+jwt", "application/at+jwt"})
_B64TOKEN: Final = re.compile(r"[A-Za-z0-9\-._~+/]+=*")  # RFC 6750 2.1
_SCOPE_TOKEN: Final = re.compile(r"[\x21\x23-\x5B\x5D-\x7E]+")  # RFC 6749 3.3
_REQUIRED: Final[jwt.ClaimsOption] = {"essential": True}
# Anything hostile input can make the JOSE layer raise; all of it means "not a valid token".
_UNUSABLE: Final = (JoseError, ValueError, TypeError, KeyError, IndexError, RecursionError)
_CLAIM_PROBLEMS: Final = {
    "iss": "the token issuer is not accepted",
    "aud": "the token audience does not include this service",
    "exp": "the token expiry (exp) is not a number",
    "nbf": "the token is not valid yet (nbf)",
    "iat": "the token issue time (iat) is in the future or not a number",
}


class TokenError(Exception):
    """The request does not carry a usable access token."""

    def __init__(
        self, description: str, *, error: str = "invalid_token", status_code: int = 401
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status_code = status_code

    def __str__(self) -> str:
        return f"{self.error}: {self.description}"

    def www_authenticate(self, realm: str = "dibx") -> str:
        """The `WWW-Authenticate` value for the 401/400 response (RFC 6750 3)."""
        challenge = f'Bearer realm="{realm}", error="{self.error}"'
        return f'{challenge}, error_description="{self.description}"'


class MissingTokenError(TokenError):
    def __init__(self, description: str = "a Bearer access token is required") -> None:
        super().__init__(description)

    def www_authenticate(self, realm: str = "dibx") -> str:
        # RFC 6750 3.1: a request without credentials gets a challenge but no error code.
        return f'Bearer realm="{realm}"'


class KeysUnavailableError(TokenError):
    def __init__(self) -> None:
        super().__init__(
            "the token issuer's signing keys are unavailable, try again later",
            error="temporarily_unavailable",
            status_code=503,
        )


class InsufficientScope(Exception):
    """A valid token lacks the scope the operation requires."""

    error = "insufficient_scope"
    status_code = 403

    def __init__(self, scope: str) -> None:
        super().__init__(scope)
        self.scope = scope
        self.description = f"this operation requires the scope {scope}"

    def __str__(self) -> str:
        return f"{self.error}: {self.description}"

    def www_authenticate(self, realm: str = "dibx") -> str:
        return f'Bearer realm="{realm}", error="{self.error}", scope="{self.scope}"'


def require_scope(principal: Principal, scope: str) -> None:
    if not principal.has_scope(scope):
        raise InsufficientScope(scope)


def bearer_token(authorization_header: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header (RFC 6750 2.1)."""
    if authorization_header is None or not authorization_header.strip():
        raise MissingTokenError()
    scheme, _, credentials = authorization_header.strip().partition(" ")
    if scheme.lower() != "bearer":
        raise MissingTokenError("the Authorization scheme must be Bearer")
    token = credentials.lstrip(" ")
    if not _B64TOKEN.fullmatch(token):
        raise TokenError(
            "the Authorization header must be: Bearer <token>",
            error="invalid_request",
            status_code=400,
        )
    return token


@functools.cache
def _alpha3_codes() -> frozenset[str]:
    return frozenset(country.alpha_3 for country in pycountry.countries)


def is_nation_code(value: object) -> bool:
    """An upper-case ISO 3166-1 alpha-3 code (pycountry's own lookup ignores case)."""
    return isinstance(value, str) and value in _alpha3_codes()


# --- keys ---------------------------------------------------------------------------------


class KeyProvider(Protocol):
    def get(self, kid: str) -> PublicKey | None: ...


def import_public_keys(jwks: object) -> dict[str, PublicKey]:
    """The usable signature keys of a JWKS by `kid`, public parts only.

    Keys that cannot verify our tokens are skipped (RFC 7517 5): symmetric keys (never trusted),
    keys without `kid` (a token must name its key), `use` other than `sig`, RSA under 2048 bits.
    """
    entries = jwks.get("keys") if isinstance(jwks, Mapping) else None
    if not isinstance(entries, list):
        raise ValueError("a JWKS must be a JSON object with a 'keys' array")
    keys: dict[str, PublicKey] = {}
    for entry in entries:
        key = _public_signing_key(entry)
        if key is None:
            continue
        kid = str(key.kid)
        if kid in keys:
            raise ValueError(f"the JWKS has two keys with kid {kid!r}")
        keys[kid] = key
    if not keys:
        raise ValueError("the JWKS has no usable signature keys")
    return keys


def _public_signing_key(entry: object) -> PublicKey | None:
    if not isinstance(entry, dict) or entry.get("kty") not in {"RSA", "EC", "OKP"}:
        return None
    kid = entry.get("kid")
    if not isinstance(kid, str) or not kid or entry.get("use", "sig") != "sig":
        return None
    try:
        # Sized before import: joserfc warns (SecurityWarning) on importing a short RSA key.
        if entry["kty"] == "RSA" and _rsa_bits(entry["n"]) < _MIN_RSA_BITS:
            return None
        # Re-import the public half so a private JWKS given by mistake never keeps secrets here.
        public = jwk.import_key(jwk.import_key(entry).as_dict(private=False))
    except _UNUSABLE:
        log.warning("skipping a malformed JWK (kid %r)", kid)
        return None
    return public if isinstance(public, jwk.RSAKey | jwk.ECKey | jwk.OKPKey) else None


def _rsa_bits(modulus: object) -> int:
    if not isinstance(modulus, str):
        raise TypeError("RSA modulus must be a base64url string")
    return int.from_bytes(
        base64.urlsafe_b64decode(modulus + "=" * (-len(modulus) % 4))
    ).bit_length()


class KeySet:
    """A fixed set of verification keys: from a dict (tests) or a local JWKS file (development)."""

    def __init__(self, keys: Mapping[str, PublicKey]) -> None:
        self._keys = dict(keys)

    @classmethod
    def from_dict(cls, jwks: Mapping[str, Any]) -> KeySet:
        return cls(import_public_keys(jwks))

    @classmethod
    def from_file(cls, path: Path) -> KeySet:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))

    @property
    def kids(self) -> frozenset[str]:
        return frozenset(self._keys)

    def get(self, kid: str) -> PublicKey | None:
        return self._keys.get(kid)


class RemoteKeySet:
    """The issuer's JWKS fetched over HTTPS, cached for `ttl` seconds.

    An unknown `kid` triggers a refetch (the issuer may have rotated keys) at most once per
    `min_refetch_interval`, so tokens with made-up kids cannot flood the issuer. If a refresh
    fails, the previous keys serve for up to `max_stale` more seconds, then KeysUnavailableError.
    `get` may block on the network: validate off the event loop, or `refresh()` at start-up.
    """

    def __init__(
        self,
        url: str,
        *,
        ttl: float = 300.0,
        min_refetch_interval: float = 60.0,
        max_stale: float = 3600.0,
        timeout: float = 5.0,
        client: httpx.Client | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        _check_jwks_url(url)
        self._url = url
        self._ttl = ttl
        self._min_refetch_interval = min_refetch_interval
        self._max_stale = max_stale
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)
        self._clock = clock
        self._keys: dict[str, PublicKey] = {}
        self._fetched_at: float | None = None
        self._attempted_at: float | None = None
        self._lock = threading.Lock()

    def get(self, kid: str) -> PublicKey | None:
        with self._lock:
            now = self._clock()
            fresh = self._fetched_at is not None and now - self._fetched_at < self._ttl
            may_fetch = (
                self._attempted_at is None or now - self._attempted_at >= self._min_refetch_interval
            )
            if (not fresh or kid not in self._keys) and may_fetch:
                self._fetch(now)
            if self._fetched_at is None or now - self._fetched_at >= self._ttl + self._max_stale:
                raise KeysUnavailableError()
            return self._keys.get(kid)

    def refresh(self) -> None:
        """Fetch now, regardless of the cache; raise KeysUnavailableError if there are no keys."""
        with self._lock:
            self._fetch(self._clock())
            if self._fetched_at is None:
                raise KeysUnavailableError()

    def close(self) -> None:
        self._client.close()

    def _fetch(self, now: float) -> None:
        self._attempted_at = now
        try:
            body = bytearray()
            with self._client.stream("GET", self._url, headers={"Accept": "application/json"}) as r:
                r.raise_for_status()
                for chunk in r.iter_bytes():
                    body += chunk
                    if len(body) > _MAX_JWKS_BYTES:
                        raise ValueError("JWKS response too large")
            keys = import_public_keys(json.loads(body))
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("JWKS fetch from %s failed: %s", self._url, exc)
            return
        self._keys = keys
        self._fetched_at = now


def _check_jwks_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme == "https" and parts.hostname:
        return
    # Plain HTTP only to this machine, where a development issuer may run.
    if parts.scheme == "http" and parts.hostname in {"localhost", "127.0.0.1", "::1"}:
        return
    raise ValueError(f"the JWKS URL must use https: {url!r}")


# --- validation ---------------------------------------------------------------------------


class _AllowListRegistry(jws.JWSRegistry):
    """A JWS registry that admits exactly the configured algorithms.

    joserfc's own registry warns (SecurityWarning) on every token signed with a deprecated
    algorithm such as EdDSA (RFC 9864); here the list is the operator's configured decision.
    """

    def get_alg(self, name: str) -> JWSAlgModel:
        if not self.allowed or name not in self.allowed or name not in self.algorithms:
            raise UnsupportedAlgorithmError(f"Algorithm of '{name}' is not allowed")
        return self.algorithms[name]


class TokenValidator:
    """Turns a bearer access token into a Principal, or raises TokenError.

    The algorithm allow-list comes from configuration, never from the token; only asymmetric
    algorithms may be configured, so `none` and HS* tokens are always rejected.
    """

    def __init__(
        self,
        issuer: str,
        audience: str,
        keys: KeyProvider,
        algorithms: Collection[str] = DEFAULT_ALGORITHMS,
        leeway: int = 30,
        clock: Callable[[], float] = time.time,
        max_lifetime: int = DEFAULT_MAX_LIFETIME,
    ) -> None:
        if not issuer or not audience:
            raise ValueError("issuer and audience are required")
        not_allowed = sorted(set(algorithms) - ASYMMETRIC_ALGORITHMS)
        if not algorithms or not_allowed:
            raise ValueError(f"only asymmetric signature algorithms may be allowed: {not_allowed}")
        if not 0 <= leeway <= 300:
            raise ValueError("leeway must be 0..300 seconds")
        if max_lifetime < 1:
            raise ValueError("max_lifetime must be at least 1 second")
        self._issuer = issuer
        self._audience = audience
        self._keys = keys
        self._algorithms = frozenset(algorithms)
        self._registry = _AllowListRegistry(algorithms=sorted(self._algorithms))
        self._leeway = leeway
        self._clock = clock
        self._max_lifetime = max_lifetime

    def validate(self, token: str) -> Principal:
        header = self._header(token)
        key = self._keys.get(header["kid"])
        if key is None:
            raise TokenError("the token's signing key (kid) is not known")
        try:
            claims = jwt.decode(token, key, registry=self._registry).claims
        except _UNUSABLE:
            raise TokenError("the token signature does not verify with its key") from None
        self._check_registered_claims(claims)
        return _principal(claims)

    def _header(self, token: str) -> dict[str, Any]:
        if not isinstance(token, str) or not token:
            raise TokenError("the token is empty")
        if len(token) > MAX_TOKEN_LENGTH:
            raise TokenError("the token is too long")
        try:
            header = jws.extract_compact(token.encode("ascii"), registry=self._registry).headers()
        except _UNUSABLE:  # UnicodeEncodeError (non-ASCII) is a ValueError
            raise TokenError("the token is not a JWS in compact form") from None
        # joserfc only checks that "alg" is *in* the header; a JSON string or array passes that.
        if not isinstance(header, dict):
            raise TokenError("the token is not a JWS in compact form")
        if header.get("alg") not in self._algorithms:
            raise TokenError("the token's signing algorithm (alg) is not accepted")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in _TOKEN_TYPES:
            raise TokenError("the token type (typ) must be at+jwt")
        if "crit" in header or "b64" in header:
            raise TokenError("the token uses unsupported JWS extensions (crit, b64)")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenError("the token names no signing key (kid)")
        return header

    def _check_registered_claims(self, claims: dict[str, Any]) -> None:
        registry = jwt.JWTClaimsRegistry(
            now=int(self._clock()),
            leeway=self._leeway,
            iss={"essential": True, "value": self._issuer},
            aud={"essential": True, "value": self._audience},
            **dict.fromkeys(("sub", "exp", "iat", "jti", "client_id", "nation"), _REQUIRED),
        )
        try:
            registry.validate(claims)
        except MissingClaimError as exc:
            raise TokenError(f"the token lacks required claims: {exc.claim}") from None
        except ExpiredTokenError:
            raise TokenError("the token has expired") from None
        except InvalidClaimError as exc:
            problem = _CLAIM_PROBLEMS.get(exc.claim, "the token has an empty or malformed claim")
            raise TokenError(problem) from None
        # RFC 8725 3.10 leaves the bound to the service: a leaked token that never expires
        # (exp in the year 3000) is a standing credential, so refuse long-lived ones outright.
        if claims["exp"] - claims["iat"] > self._max_lifetime:
            raise TokenError("the token lifetime (exp - iat) is longer than this service accepts")


def _principal(claims: dict[str, Any]) -> Principal:
    nation = claims["nation"]
    if not is_nation_code(nation):
        raise TokenError("the token nation must be an upper-case ISO 3166-1 alpha-3 code")
    org = claims.get("org")
    if org is not None and not _short_string(org):
        raise TokenError("the token org claim must be a short string")
    return Principal(
        subject=_required_string(claims, "sub"),
        client_id=_required_string(claims, "client_id"),
        nation=nation,
        org=org or None,
        scopes=_space_separated(claims, "scope"),
        attributes=_space_separated(claims, "attr"),
        token_id=_required_string(claims, "jti"),
        expires_at=int(claims["exp"]),
    )


def _short_string(value: object) -> bool:
    return isinstance(value, str) and len(value) <= _MAX_CLAIM_LENGTH


def _required_string(claims: Mapping[str, Any], name: str) -> str:
    value = claims[name]
    if not _short_string(value) or not value:
        raise TokenError(f"the token claim {name} must be a non-empty short string")
    return str(value)


def _space_separated(claims: Mapping[str, Any], name: str) -> frozenset[str]:
    value = claims.get(name)
    if value is None:
        return frozenset()
    if not isinstance(value, str) or len(value) > MAX_TOKEN_LENGTH:
        raise TokenError(f"the token claim {name} must be a space-separated string")
    items = value.split(" ")
    if not all(_SCOPE_TOKEN.fullmatch(item) for item in items if item):
        raise TokenError(f"the token claim {name} has characters not allowed in a scope")
    return frozenset(item for item in items if item)
