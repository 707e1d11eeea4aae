"""Token validation: what a valid access token yields, and how keys are loaded and cached.

The negative cases (attacks, malformed tokens) live in tests/security/test_token_attacks.py.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc import jwk, jwt
from joserfc.errors import SecurityWarning

from dibx.auth.principal import MARKING_CHALLENGE, SUPPLIER_READ, SUPPLIER_WRITE, Principal
from dibx.auth.tokens import (
    InsufficientScope,
    KeySet,
    KeysUnavailableError,
    MissingTokenError,
    RemoteKeySet,
    TokenError,
    TokenValidator,
    bearer_token,
    import_public_keys,
    require_scope,
)

ISSUER = "https://issuer.example"
AUDIENCE = "dibx"
NOW = 1_800_000_000
KID = "rsa-1"


@pytest.fixture(scope="module")
def rsa_key() -> jwk.RSAKey:
    return jwk.RSAKey.generate_key(2048, {"kid": KID, "use": "sig"})


@pytest.fixture(scope="module")
def validator(rsa_key: jwk.RSAKey) -> TokenValidator:
    keys = KeySet.from_dict({"keys": [rsa_key.as_dict(private=False)]})
    return TokenValidator(ISSUER, AUDIENCE, keys, clock=lambda: NOW)


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "alice",
        "client_id": "demo-gbr",
        "nation": "GBR",
        "org": "UK MOD",
        "scope": "supplier:read marking:challenge",
        "attr": "FED EXPORT_AUTH",
        "jti": "token-1",
        "iat": NOW - 10,
        "nbf": NOW - 10,
        "exp": NOW + 600,
    }
    base.update(overrides)
    return {name: value for name, value in base.items() if value is not None}


def sign(payload: dict[str, Any], key: jwk.Key, alg: str = "RS256", kid: str = KID) -> str:
    return jwt.encode({"alg": alg, "kid": kid, "typ": "at+jwt"}, payload, key, algorithms=[alg])


def test_valid_token_yields_principal(validator: TokenValidator, rsa_key: jwk.RSAKey) -> None:
    principal = validator.validate(sign(claims(), rsa_key))
    assert principal == Principal(
        subject="alice",
        client_id="demo-gbr",
        nation="GBR",
        org="UK MOD",
        scopes=frozenset({SUPPLIER_READ, MARKING_CHALLENGE}),
        attributes=frozenset({"FED", "EXPORT_AUTH"}),
        token_id="token-1",
    )
    assert principal.has_scope(SUPPLIER_READ)
    assert not principal.has_scope(SUPPLIER_WRITE)


def test_optional_claims_may_be_absent(validator: TokenValidator, rsa_key: jwk.RSAKey) -> None:
    token = sign(claims(org=None, scope=None, attr=None, nbf=None), rsa_key)
    principal = validator.validate(token)
    assert principal.org is None
    assert principal.scopes == frozenset()
    assert principal.attributes == frozenset()


def test_audience_list_containing_ours_is_accepted(
    validator: TokenValidator, rsa_key: jwk.RSAKey
) -> None:
    token = sign(claims(aud=["other-api", AUDIENCE]), rsa_key)
    assert validator.validate(token).nation == "GBR"


@pytest.mark.parametrize("typ", ["at+jwt", "AT+JWT", "application/at+jwt", "Application/AT+JWT"])
def test_typ_forms_of_at_jwt_are_accepted(
    validator: TokenValidator, rsa_key: jwk.RSAKey, typ: str
) -> None:
    header = {"alg": "RS256", "kid": KID, "typ": typ}
    token = jwt.encode(header, claims(), rsa_key, algorithms=["RS256"])
    assert validator.validate(token).subject == "alice"


def test_clock_skew_within_leeway_is_tolerated(
    validator: TokenValidator, rsa_key: jwk.RSAKey
) -> None:
    token = sign(claims(exp=NOW - 20, iat=NOW + 20, nbf=NOW + 20), rsa_key)
    assert validator.validate(token).subject == "alice"


def test_scope_with_repeated_spaces_is_split(
    validator: TokenValidator, rsa_key: jwk.RSAKey
) -> None:
    token = sign(claims(scope="  supplier:read   marking:challenge "), rsa_key)
    assert validator.validate(token).scopes == {SUPPLIER_READ, MARKING_CHALLENGE}


def test_ps256_token_validates(validator: TokenValidator, rsa_key: jwk.RSAKey) -> None:
    assert validator.validate(sign(claims(), rsa_key, alg="PS256")).nation == "GBR"


def test_es256_token_validates() -> None:
    key = jwk.ECKey.generate_key("P-256", {"kid": "ec-1"})
    keys = KeySet.from_dict({"keys": [key.as_dict(private=False)]})
    validator = TokenValidator(ISSUER, AUDIENCE, keys, clock=lambda: NOW)
    assert validator.validate(sign(claims(), key, alg="ES256", kid="ec-1")).nation == "GBR"


def test_eddsa_token_validates_without_warning() -> None:
    key = jwk.OKPKey.generate_key("Ed25519", {"kid": "ed-1"})
    keys = KeySet.from_dict({"keys": [key.as_dict(private=False)]})
    validator = TokenValidator(ISSUER, AUDIENCE, keys, clock=lambda: NOW)
    # joserfc warns when signing with EdDSA (deprecated by RFC 9864); validation must not.
    with pytest.warns(SecurityWarning):
        token = sign(claims(), key, alg="EdDSA", kid="ed-1")
    assert validator.validate(token).nation == "GBR"


@pytest.mark.parametrize("algorithms", [(), ("HS256",), ("none",), ("RS256", "HS512")])
def test_validator_refuses_non_asymmetric_algorithms(algorithms: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        TokenValidator(ISSUER, AUDIENCE, KeySet({}), algorithms=algorithms)


def test_configured_allow_list_is_enforced(rsa_key: jwk.RSAKey) -> None:
    keys = KeySet.from_dict({"keys": [rsa_key.as_dict(private=False)]})
    validator = TokenValidator(ISSUER, AUDIENCE, keys, algorithms=("ES256",), clock=lambda: NOW)
    with pytest.raises(TokenError, match="algorithm"):
        validator.validate(sign(claims(), rsa_key))


# --- bearer_token -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header", ["Bearer abc.def-_~+/=", "bearer abc.def-_~+/=", "BEARER   abc.def-_~+/="]
)
def test_bearer_token_parses_rfc6750_header(header: str) -> None:
    assert bearer_token(header) == "abc.def-_~+/="


@pytest.mark.parametrize("header", [None, "", "   ", "Basic dXNlcjpwYXNz", "Token abc"])
def test_bearer_token_without_bearer_credentials(header: str | None) -> None:
    with pytest.raises(MissingTokenError) as caught:
        bearer_token(header)
    assert caught.value.status_code == 401
    assert caught.value.www_authenticate() == 'Bearer realm="dibx"'


@pytest.mark.parametrize("header", ["Bearer", "Bearer ", "Bearer a b", "Bearer a,b", "Bearer =a"])
def test_bearer_token_malformed_is_invalid_request(header: str) -> None:
    with pytest.raises(TokenError) as caught:
        bearer_token(header)
    assert caught.value.error == "invalid_request"
    assert caught.value.status_code == 400


def test_token_error_challenge_carries_code_and_description() -> None:
    error = TokenError("the token has expired")
    assert error.status_code == 401
    assert error.www_authenticate() == (
        'Bearer realm="dibx", error="invalid_token", error_description="the token has expired"'
    )


def test_require_scope_raises_insufficient_scope(
    validator: TokenValidator, rsa_key: jwk.RSAKey
) -> None:
    principal = validator.validate(sign(claims(), rsa_key))
    require_scope(principal, SUPPLIER_READ)
    with pytest.raises(InsufficientScope) as caught:
        require_scope(principal, SUPPLIER_WRITE)
    assert caught.value.scope == SUPPLIER_WRITE
    assert caught.value.status_code == 403
    assert 'error="insufficient_scope", scope="supplier:write"' in caught.value.www_authenticate()


# --- key sets -----------------------------------------------------------------------------


def test_key_set_keeps_only_public_parts(rsa_key: jwk.RSAKey) -> None:
    keys = KeySet.from_dict({"keys": [rsa_key.as_dict(private=True)]})
    key = keys.get(KID)
    assert key is not None
    assert not key.is_private
    assert "d" not in key.as_dict()


def test_key_set_skips_keys_it_must_not_trust(rsa_key: jwk.RSAKey) -> None:
    public = rsa_key.as_dict(private=False)
    no_kid = {k: v for k, v in public.items() if k != "kid"}
    jwks = {
        "keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {**public, "kid": "enc", "use": "enc"},
            no_kid,
            {"kty": "RSA", "kid": "broken", "n": "!!", "e": "AQAB"},
            {"kty": "PQC", "kid": "future"},
            public,
        ]
    }
    assert KeySet.from_dict(jwks).kids == {KID}


def test_key_set_rejects_short_rsa_keys() -> None:
    with pytest.warns(SecurityWarning):
        short = jwk.RSAKey.generate_key(1024, {"kid": "short"})
    with pytest.raises(ValueError, match="no usable"):  # and no SecurityWarning on import
        import_public_keys({"keys": [short.as_dict(private=False)]})


@pytest.mark.parametrize("jwks", [{}, {"keys": {}}, [], {"keys": []}])
def test_key_set_rejects_malformed_jwks(jwks: Any) -> None:
    with pytest.raises(ValueError, match="JWKS"):
        import_public_keys(jwks)


def test_key_set_rejects_duplicate_kids(rsa_key: jwk.RSAKey) -> None:
    public = rsa_key.as_dict(private=False)
    with pytest.raises(ValueError, match="two keys"):
        import_public_keys({"keys": [public, public]})


def test_key_set_from_file(tmp_path: Path, rsa_key: jwk.RSAKey) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps({"keys": [rsa_key.as_dict(private=False)]}), encoding="utf-8")
    assert KeySet.from_file(path).kids == {KID}


class FakeIssuer:
    """A JWKS endpoint for httpx.MockTransport that counts requests and can fail."""

    def __init__(self, jwks: dict[str, Any]) -> None:
        self.jwks = jwks
        self.requests = 0
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        return httpx.Response(self.status, json=self.jwks)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def remote(issuer: FakeIssuer, clock: Callable[[], float]) -> RemoteKeySet:
    client = httpx.Client(transport=httpx.MockTransport(issuer))
    return RemoteKeySet("https://issuer.example/jwks", client=client, ttl=300, clock=clock)


def test_remote_key_set_caches_within_ttl(rsa_key: jwk.RSAKey) -> None:
    issuer, clock = FakeIssuer({"keys": [rsa_key.as_dict(private=False)]}), Clock()
    keys = remote(issuer, clock)
    assert keys.get(KID) is not None
    clock.now += 299
    assert keys.get(KID) is not None
    assert issuer.requests == 1
    clock.now += 1
    assert keys.get(KID) is not None
    assert issuer.requests == 2


def test_remote_key_set_refetches_unknown_kid_at_most_once_a_minute(rsa_key: jwk.RSAKey) -> None:
    issuer, clock = FakeIssuer({"keys": [rsa_key.as_dict(private=False)]}), Clock()
    keys = remote(issuer, clock)
    assert keys.get(KID) is not None
    clock.now += 60
    assert keys.get("rotated") is None
    assert issuer.requests == 2
    for kid in ("made-up-1", "made-up-2", "made-up-3"):
        clock.now += 1
        assert keys.get(kid) is None
    assert issuer.requests == 2
    rotated = jwk.ECKey.generate_key("P-256", {"kid": "rotated"})
    issuer.jwks["keys"].append(rotated.as_dict(private=False))
    clock.now += 60
    assert keys.get("rotated") is not None
    assert issuer.requests == 3


def test_remote_key_set_serves_stale_keys_while_issuer_is_down(rsa_key: jwk.RSAKey) -> None:
    issuer, clock = FakeIssuer({"keys": [rsa_key.as_dict(private=False)]}), Clock()
    keys = remote(issuer, clock)
    keys.refresh()
    issuer.status = 503
    clock.now += 301
    assert keys.get(KID) is not None
    clock.now += 3600
    with pytest.raises(KeysUnavailableError) as caught:
        keys.get(KID)
    assert caught.value.status_code == 503


def test_remote_key_set_without_any_keys_is_unavailable() -> None:
    issuer, clock = FakeIssuer({"keys": []}), Clock()
    keys = remote(issuer, clock)
    with pytest.raises(KeysUnavailableError):
        keys.get(KID)
    with pytest.raises(KeysUnavailableError):
        keys.get(KID)
    assert issuer.requests == 1  # a failing issuer is not retried on every request


def test_remote_key_set_rejects_oversized_response(rsa_key: jwk.RSAKey) -> None:
    padding = "x" * 300_000
    issuer = FakeIssuer({"keys": [rsa_key.as_dict(private=False)], "padding": padding})
    with pytest.raises(KeysUnavailableError):
        remote(issuer, Clock()).refresh()


@pytest.mark.parametrize(
    "url", ["http://issuer.example/jwks", "ftp://issuer.example/jwks", "https:///jwks"]
)
def test_remote_key_set_requires_https(url: str) -> None:
    with pytest.raises(ValueError, match="https"):
        RemoteKeySet(url)


def test_remote_key_set_allows_http_to_loopback() -> None:
    RemoteKeySet("http://127.0.0.1:8000/.well-known/jwks.json").close()


def test_validator_with_remote_keys(rsa_key: jwk.RSAKey) -> None:
    issuer = FakeIssuer({"keys": [rsa_key.as_dict(private=False)]})
    validator = TokenValidator(ISSUER, AUDIENCE, remote(issuer, Clock()), clock=lambda: NOW)
    assert validator.validate(sign(claims(), rsa_key)).nation == "GBR"


YEAR_3000 = 32_503_680_000


def test_token_living_until_the_year_3000_is_rejected(
    validator: TokenValidator, rsa_key: jwk.RSAKey
) -> None:
    token = sign(claims(exp=YEAR_3000), rsa_key)
    with pytest.raises(TokenError, match=r"lifetime \(exp - iat\) is longer"):
        validator.validate(token)


def test_token_lifetime_is_bounded_by_configuration(rsa_key: jwk.RSAKey) -> None:
    keys = KeySet.from_dict({"keys": [rsa_key.as_dict(private=False)]})
    hourly = TokenValidator(ISSUER, AUDIENCE, keys, clock=lambda: NOW, max_lifetime=3600)
    assert hourly.validate(sign(claims(iat=NOW, exp=NOW + 3600), rsa_key)).subject == "alice"
    with pytest.raises(TokenError, match="lifetime"):
        hourly.validate(sign(claims(iat=NOW, exp=NOW + 3601), rsa_key))
