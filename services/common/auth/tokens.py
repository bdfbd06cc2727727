"""Bearer tokens: verifying them against the configured keys, and minting
them against the local dev secret.

Keys are read once, when a service starts (a JWKS file again only when a
token names a key id it does not know yet, so that a rotated key is picked
up); each call then costs one signature check. Every key is bound to one
algorithm, so a token cannot choose how it is checked (no "alg": "none", no
RS256 public key used as an HS256 secret).
"""

from __future__ import annotations

import json
import secrets
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from crm_common.auth.principal import Principal
from crm_common.auth.roles import SERVICE
from crm_common.config import SuiteSettings

DEV_ALGORITHM = "HS256"
# Tokens from other machines: a clock a little ahead or behind is no reason to refuse.
LEEWAY_SECONDS = 30
ROLES_CLAIM = "roles"
REQUIRED_CLAIMS = ("exp", "sub", "iss", "aud")
# HS256 is only as strong as its secret: at least 256 bits.
DEV_SECRET_MIN_BYTES = 32
_ASYMMETRIC = frozenset({"RS256", "ES256"})
_JWKS_RELOAD_SECONDS = 30.0
# Verified tokens remembered: a client sends the same token with every call.
_VERIFIED_CACHE_SIZE = 10_000


class AuthenticationError(Exception):
    """The call's credentials do not establish who is calling. The message is
    for the client and never contains the token."""


class AuthConfigError(Exception):
    """The auth settings cannot work; the service must not start."""


@dataclass(frozen=True)
class _Verified:
    """A token that verified: whom it names, and the times it is valid between
    (the leeway included), the only checks that change while it is remembered."""

    principal: Principal
    valid_from: float
    valid_until: float

    def holds_at(self, now: float) -> bool:
        return self.valid_from <= now < self.valid_until


@dataclass(frozen=True)
class VerificationKey:
    key: Any
    algorithm: str
    key_id: str | None = None


class TokenVerifier:
    """Turns a bearer token into the Principal it was issued to."""

    def __init__(
        self,
        keys: Sequence[VerificationKey],
        issuer: str,
        audience: str,
        jwks_file: Path | None = None,
    ) -> None:
        self._static = list(keys)
        self._issuer = issuer
        self._audience = audience
        self._jwks_file = jwks_file
        self._jwks: list[VerificationKey] = _read_jwks(jwks_file) if jwks_file else []
        self._jwks_read_at = time.monotonic()
        self._verified: dict[str, _Verified] = {}
        if not self._static and not self._jwks:
            raise AuthConfigError(
                "no key to verify tokens with: set CRM_AUTH_PUBLIC_KEY_FILE or "
                "CRM_AUTH_JWKS_FILE (or, for local development, CRM_AUTH_DEV_MODE "
                "with CRM_AUTH_DEV_SECRET)"
            )

    def verify(self, token: str) -> Principal:
        """The principal; a token seen before costs a dictionary lookup and a
        clock check instead of parsing and a signature check."""
        verified = self._verified.get(token)
        if verified is not None and verified.holds_at(time.time()):
            return verified.principal
        principal, claims = self._verify(token)
        self._remember(token, principal, claims)
        return principal

    def _remember(self, token: str, principal: Principal, claims: dict[str, Any]) -> None:
        if len(self._verified) >= _VERIFIED_CACHE_SIZE:
            del self._verified[next(iter(self._verified))]  # the oldest
        # As PyJWT compares them: whole seconds, each with the leeway.
        not_before = max(int(claims.get(claim, 0)) for claim in ("nbf", "iat"))
        self._verified[token] = _Verified(
            principal, not_before - LEEWAY_SECONDS, int(claims["exp"]) + LEEWAY_SECONDS
        )

    def _verify(self, token: str) -> tuple[Principal, dict[str, Any]]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthenticationError("the bearer token is not a well-formed JWT") from None
        candidates = self._keys_for(header.get("alg"), header.get("kid"))
        if not candidates:
            raise AuthenticationError(
                "the bearer token is signed with a key or algorithm this service does not accept"
            )
        claims = self._decode(token, candidates)
        return _principal(claims), claims

    def _keys_for(self, algorithm: object, key_id: object) -> list[VerificationKey]:
        found = _matching([*self._static, *self._jwks], algorithm, key_id)
        if not found and key_id and self._jwks_file and self._jwks_stale():
            self._jwks = _read_jwks(self._jwks_file)
            self._jwks_read_at = time.monotonic()
            self._verified.clear()  # a key may have gone: tokens it signed must verify again
            found = _matching(self._jwks, algorithm, key_id)
        return found

    def _jwks_stale(self) -> bool:
        return time.monotonic() - self._jwks_read_at > _JWKS_RELOAD_SECONDS

    def _decode(self, token: str, candidates: Sequence[VerificationKey]) -> dict[str, Any]:
        for index, candidate in enumerate(candidates):
            try:
                return jwt.decode(
                    token,
                    candidate.key,
                    algorithms=[candidate.algorithm],
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=LEEWAY_SECONDS,
                    options={"require": list(REQUIRED_CLAIMS)},
                )
            except jwt.InvalidSignatureError:
                if index == len(candidates) - 1:
                    raise AuthenticationError(
                        "the bearer token's signature does not verify"
                    ) from None
            except jwt.PyJWTError as error:
                raise AuthenticationError(_reason(error)) from None
        raise AssertionError("unreachable: candidates is never empty")


def _matching(
    keys: Iterable[VerificationKey], algorithm: object, key_id: object
) -> list[VerificationKey]:
    return [
        key
        for key in keys
        if key.algorithm == algorithm and (key_id is None or key.key_id in (None, key_id))
    ]


def _reason(error: jwt.PyJWTError) -> str:
    """Why a token was refused, in words that never quote the token."""
    if isinstance(error, jwt.ExpiredSignatureError):
        return "the bearer token has expired; get a new one"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "the bearer token is not valid yet (nbf/iat in the future)"
    if isinstance(error, jwt.InvalidAudienceError):
        return "the bearer token is not meant for this service (wrong audience)"
    if isinstance(error, jwt.InvalidIssuerError):
        return "the bearer token comes from an issuer this service does not trust"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"the bearer token lacks the required '{error.claim}' claim"
    return "the bearer token is malformed"


def _principal(claims: dict[str, Any]) -> Principal:
    subject = claims.get("sub")
    roles = claims.get(ROLES_CLAIM, [])
    if not isinstance(subject, str) or not subject:
        raise AuthenticationError("the bearer token's 'sub' claim must be a non-empty string")
    if not isinstance(roles, list) or not all(isinstance(role, str) for role in roles):
        raise AuthenticationError(f"the bearer token's '{ROLES_CLAIM}' claim must list strings")
    token_id = claims.get("jti")
    return Principal(
        subject=subject,
        roles=frozenset(roles),
        kind="service" if SERVICE in roles else "user",
        token_id=token_id if isinstance(token_id, str) else "",
    )


# ------------------------------------------------------------------ keys


def verifier_from_settings(settings: SuiteSettings) -> TokenVerifier:
    """The verifier the settings describe; AuthConfigError if they cannot work."""
    keys: list[VerificationKey] = []
    if settings.auth_public_key_file:
        keys.append(_read_public_key(Path(settings.auth_public_key_file)))
    dev_secret = dev_secret_from_settings(settings)
    if dev_secret:
        keys.append(VerificationKey(dev_secret.encode(), DEV_ALGORITHM))
    jwks = Path(settings.auth_jwks_file) if settings.auth_jwks_file else None
    return TokenVerifier(keys, settings.auth_issuer, settings.auth_audience, jwks)


def dev_secret_from_settings(settings: SuiteSettings) -> str:
    """The HS256 dev secret ("" when none is configured); refuses one outside dev mode."""
    secret = settings.auth_dev_secret.get_secret_value()
    if settings.auth_dev_secret_file:
        secret = _read_text(Path(settings.auth_dev_secret_file), "CRM_AUTH_DEV_SECRET_FILE")
    if not secret:
        return ""
    if not settings.auth_dev_mode:
        raise AuthConfigError(
            "a dev secret (CRM_AUTH_DEV_SECRET[_FILE]) is set but CRM_AUTH_DEV_MODE is off: "
            "shared-secret tokens are for local development only"
        )
    if len(secret.encode()) < DEV_SECRET_MIN_BYTES:
        raise AuthConfigError(f"the dev secret must be at least {DEV_SECRET_MIN_BYTES} bytes")
    return secret


def _read_text(path: Path, setting: str) -> str:
    try:
        return path.read_text().strip()
    except OSError as error:
        raise AuthConfigError(f"{setting}: cannot read {path}: {error.strerror}") from None


def _read_public_key(path: Path) -> VerificationKey:
    try:
        key = load_pem_public_key(_read_text(path, "CRM_AUTH_PUBLIC_KEY_FILE").encode())
    except ValueError:
        raise AuthConfigError(f"CRM_AUTH_PUBLIC_KEY_FILE: {path} is not a PEM public key") from None
    if isinstance(key, rsa.RSAPublicKey):
        return VerificationKey(key, "RS256")
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return VerificationKey(key, "ES256")
    raise AuthConfigError(
        f"CRM_AUTH_PUBLIC_KEY_FILE: {path} holds neither an RSA nor a P-256 EC public key"
    )


def _read_jwks(path: Path) -> list[VerificationKey]:
    try:
        key_set = jwt.PyJWKSet.from_json(_read_text(path, "CRM_AUTH_JWKS_FILE"))
    except (jwt.PyJWKSetError, json.JSONDecodeError, jwt.PyJWKError) as error:
        raise AuthConfigError(f"CRM_AUTH_JWKS_FILE: {path} is not a usable JWKS: {error}") from None
    # Symmetric keys have no place in a published key set; they would let
    # anyone who can read it sign tokens.
    return [
        VerificationKey(jwk.key, jwk.algorithm_name, jwk.key_id)
        for jwk in key_set.keys
        if jwk.algorithm_name in _ASYMMETRIC
    ]


# ------------------------------------------------------------------ minting


def new_dev_secret() -> str:
    return secrets.token_urlsafe(DEV_SECRET_MIN_BYTES)


def mint_token(
    secret: str,
    subject: str,
    roles: Iterable[str],
    *,
    issuer: str,
    audience: str,
    ttl_seconds: float,
    now: float | None = None,
) -> str:
    """An HS256 token against the dev secret, as an identity provider would issue one."""
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": issuer,
        "aud": audience,
        "sub": subject,
        ROLES_CLAIM: sorted(set(roles)),
        "iat": issued,
        "nbf": issued,
        "exp": issued + int(ttl_seconds),
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(claims, secret, algorithm=DEV_ALGORITHM)
