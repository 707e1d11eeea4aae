"""A development token issuer: a local signing key and demo client-credentials clients.

Tokens are made by Authlib's RFC 9068 generator (`authlib.oauth2.rfc9068`), which signs with
joserfc, the library that validates them (dibx.auth.tokens).

Never for production: the demo client secrets below are public, on purpose. Tokens issued
here take the same validation path (TokenValidator) as tokens from a real issuer.
"""

from __future__ import annotations

import hmac
import json
import os
import secrets
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from authlib.oauth2.rfc9068 import JWTBearerTokenGenerator
from joserfc import jwk

from dibx.auth.principal import (
    ALL_SCOPES,
    MARKING_CHALLENGE,
    SUPPLIER_READ,
    SUPPLY_CHAIN_READ,
)
from dibx.auth.tokens import is_nation_code

DEFAULT_TTL: Final = 3600
MAX_TTL: Final = 24 * 3600
_ALLY_SCOPES: Final = frozenset({SUPPLIER_READ, SUPPLY_CHAIN_READ, MARKING_CHALLENGE})


@dataclass(frozen=True, slots=True)
class DemoClient:
    """A client-credentials client of the development issuer."""

    client_id: str
    secret: str = field(repr=False)
    nation: str
    org: str
    scopes: frozenset[str]
    attributes: frozenset[str] = frozenset()


def _demo(
    nation: str, org: str, scopes: frozenset[str] = _ALLY_SCOPES, attributes: Iterable[str] = ()
) -> DemoClient:
    client_id = f"demo-{nation.lower()}"
    # Development only: the secret is derivable from the client id and documented.
    secret = f"{client_id}-secret"
    return DemoClient(client_id, secret, nation, org, scopes, frozenset(attributes))


# The US acquisition workforce holds every scope; allies read and may challenge markings.
DEMO_CLIENTS: Final[Mapping[str, DemoClient]] = MappingProxyType(
    {
        client.client_id: client
        for client in (
            _demo("USA", "US Department of Defense (demo)", ALL_SCOPES, ("FED",)),
            _demo("GBR", "UK Ministry of Defence (demo)"),
            _demo("AUS", "Australian Department of Defence (demo)"),
            _demo("CAN", "Department of National Defence, Canada (demo)"),
            _demo("NZL", "New Zealand Ministry of Defence (demo)"),
            _demo("JPN", "Japan Ministry of Defense (demo)"),
            _demo("KOR", "Republic of Korea Ministry of National Defense (demo)"),
            _demo("POL", "Poland Ministry of National Defence (demo)"),
        )
    }
)


def load_or_create_keys(path: Path) -> jwk.KeySet:
    """The private signing key set at `path`, created (RSA 2048, mode 0600) on first use."""
    if not path.exists():
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        key = jwk.RSAKey.generate_key(2048, {"use": "sig", "alg": "RS256"}, auto_kid=True)
        _create_private_file(path, json.dumps(jwk.KeySet([key]).as_dict(private=True)))
    key_set = jwk.KeySet.import_key_set(json.loads(path.read_text(encoding="utf-8")))
    if not all(key.is_private and key.kid for key in key_set):
        raise ValueError(f"{path}: expected private keys, each with a kid")
    return key_set


def _create_private_file(path: Path, text: str) -> None:
    # Write a private temporary file, then link it into place: the key file appears whole and
    # never readable by others, and a concurrent first start keeps whichever key won.
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.link(tmp, path)
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _algorithm(key: jwk.Key) -> str:
    declared = key.alg
    if declared:
        return declared
    if isinstance(key, jwk.RSAKey):
        return "RS256"
    if isinstance(key, jwk.ECKey) and key.curve_name == "P-256":
        return "ES256"
    raise ValueError("the development signing key must be RSA or EC P-256")


class _Caller:
    """The client and subject of a token, as Authlib's generator asks for them (its client
    and user models: `get_client_id`, `get_allowed_scope`, `get_user_id`)."""

    def __init__(self, client_id: str, subject: str) -> None:
        self.client_id = client_id
        self.subject = subject

    def get_client_id(self) -> str:
        return self.client_id

    def get_allowed_scope(self, scope: str) -> str:
        return scope  # the token endpoint granted it already (oauth_routes)

    def get_user_id(self) -> str:
        return self.subject


class _AccessTokens(JWTBearerTokenGenerator):  # type: ignore[misc]
    """Authlib's RFC 9068 generator: `iss`, `exp`, `iat`, `jti`, `client_id`, `scope`, `sub`
    (the client itself under client credentials, RFC 9068 2.2), `aud`, header `typ: at+jwt`
    and the signing key's `kid`; plus dibx's claims (`nation`, `org`, `attr`) and `nbf`."""

    def __init__(
        self,
        key: jwk.Key,
        alg: str,
        issuer: str,
        audience: str,
        claims: Mapping[str, Any],
        ttl: int,
    ) -> None:
        super().__init__(issuer, alg=alg, expires_generator=ttl)
        self.key = key
        self.audience = audience
        self.claims = claims

    def get_jwks(self) -> jwk.KeySet:
        return jwk.KeySet([self.key])

    def get_audiences(self, client: Any, user: Any, scope: str) -> str:
        return self.audience

    def get_extra_claims(
        self, client: Any, grant_type: str, user: Any, scope: str
    ) -> dict[str, Any]:
        return {"nbf": int(time.time()), **self.claims}


class DevIssuer:
    """Issues RFC 9068 access tokens signed with the first key of a private key set."""

    def __init__(
        self,
        keys: jwk.KeySet,
        issuer: str,
        audience: str,
        *,
        clients: Mapping[str, DemoClient] = DEMO_CLIENTS,
        token_ttl: int = DEFAULT_TTL,
    ) -> None:
        if not keys.keys or not keys.keys[0].is_private:
            raise ValueError("the issuer needs a private signing key")
        self._keys = keys
        self._signing_key = keys.keys[0]
        self._alg = _algorithm(self._signing_key)
        self.issuer = issuer
        self.audience = audience
        self.clients = clients
        self.token_ttl = token_ttl

    @classmethod
    def from_path(cls, path: Path, issuer: str, audience: str) -> DevIssuer:
        return cls(load_or_create_keys(path), issuer, audience)

    def public_jwks(self) -> dict[str, Any]:
        """The key set to publish at /.well-known/jwks.json: public parts only."""
        return dict(self._keys.as_dict(private=False))

    def authenticate(self, client_id: str, secret: str) -> DemoClient | None:
        client = self.clients.get(client_id)
        # Compare against something even for an unknown client, so timing says little.
        expected = client.secret if client else secrets.token_hex(16)
        matches = hmac.compare_digest(secret.encode(), expected.encode())
        return client if client is not None and matches else None

    def token_response(self, client: DemoClient, scopes: Iterable[str]) -> dict[str, Any]:
        """The client-credentials token response (RFC 6749 4.4.3, 5.1) for `client`, made by
        Authlib's generator: access_token, token_type, expires_in, scope; no refresh token."""
        generator = self._generator(
            client.nation, client.org, client.attributes, ttl=self.token_ttl
        )
        response: dict[str, Any] = generator.generate(
            "client_credentials",
            _Caller(client.client_id, client.client_id),
            scope=_space_separated(scopes),
            include_refresh_token=False,
        )
        return response

    def issue(
        self,
        subject: str,
        client_id: str,
        nation: str,
        scopes: Iterable[str],
        org: str | None = None,
        attributes: Iterable[str] = (),
        ttl: int | None = None,
        *,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> str:
        """A signed access token (`typ: at+jwt`) for the given caller."""
        ttl = self.token_ttl if ttl is None else ttl
        if not 0 < ttl <= MAX_TTL:
            raise ValueError(f"ttl must be 1..{MAX_TTL} seconds")
        generator = self._generator(
            nation, org, attributes, ttl=ttl, issuer=issuer, audience=audience
        )
        caller = _Caller(client_id, subject)
        token: str = generator.access_token_generator(
            caller, "client_credentials", caller, _space_separated(scopes)
        )
        return token

    def _generator(
        self,
        nation: str,
        org: str | None,
        attributes: Iterable[str],
        *,
        ttl: int,
        issuer: str | None = None,
        audience: str | None = None,
    ) -> _AccessTokens:
        if not is_nation_code(nation):
            raise ValueError(f"not an upper-case ISO 3166-1 alpha-3 code: {nation!r}")
        claims: dict[str, Any] = {"nation": nation}
        if org:
            claims["org"] = org
        if attr := _space_separated(attributes):
            claims["attr"] = attr
        return _AccessTokens(
            self._signing_key,
            self._alg,
            issuer or self.issuer,
            audience or self.audience,
            claims,
            ttl,
        )


def _space_separated(items: Iterable[str]) -> str:
    values = sorted(set(items))
    if any(not value or any(c.isspace() for c in value) for value in values):
        raise ValueError("scopes and attributes must be non-empty and contain no spaces")
    return " ".join(values)
