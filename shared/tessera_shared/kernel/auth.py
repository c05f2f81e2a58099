"""Bearer JWTs signed by the consortium operator (EdDSA / Ed25519), verified with the public key.

Claims: ``sub`` (user or learner id), ``institution`` (SCHAC id; absent for learners without a home
institution), ``roles``, ``exp``, ``iat``, ``iss``, ``aud``. Missing, malformed, wrongly signed or
expired tokens get 401; a valid token without the right role or institution gets 403.
Routes without a token requirement must be declared with :func:`public` (a test enforces it).
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

ROLES = ("operator", "catalogue-editor", "registrar", "assessor", "credential-officer", "learner")
ALGORITHM = "EdDSA"


@dataclass(frozen=True)
class Principal:
    subject: str
    institution: str | None
    roles: frozenset[str]

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    @property
    def is_operator(self) -> bool:
        return "operator" in self.roles

    @property
    def is_learner(self) -> bool:
        return "learner" in self.roles


class Unauthorized(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=401, detail=detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(HTTPException):
    def __init__(self, detail: str) -> None:
        super().__init__(status_code=403, detail=detail)


def load_public_key(value: str) -> Ed25519PublicKey | None:
    """``value`` is PEM text or a path to a PEM file; empty means "no key configured"."""
    if not value:
        return None
    text = value if "BEGIN" in value else Path(value).read_text()
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the token verification key must be an Ed25519 public key")
    return key


class TokenVerifier:
    """Verifies bearer tokens; remembers the ones it accepted until they expire.

    A client sends the same token with every request, and checking its signature and claims again
    each time was a measurable share of a request's CPU. A token is only ever remembered after a
    full verification with this verifier's key, is looked up by its exact text (the signature
    covers all of it), and is verified again from scratch once past its ``exp``; tokens that fail
    are never remembered."""

    REMEMBERED = 4096  # distinct tokens kept (least recently used dropped first)

    def __init__(self, public_key: Ed25519PublicKey | None, *, issuer: str, audience: str, leeway: int = 30):
        self.public_key = public_key
        self.issuer = issuer
        self.audience = audience
        self.leeway = leeway
        self._accepted: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Principal:
        with self._lock:  # also called from threads (the pages, the CLI, tests)
            remembered = self._accepted.get(token)
            if remembered is not None:
                if time.time() < remembered[1]:  # pyjwt: expired once exp <= now - leeway
                    self._accepted.move_to_end(token)
                    return remembered[0]
                del self._accepted[token]
        principal, expires = self._verify(token)
        with self._lock:
            self._accepted[token] = (principal, expires + self.leeway)
            if len(self._accepted) > self.REMEMBERED:
                self._accepted.popitem(last=False)
        return principal

    def _verify(self, token: str) -> tuple[Principal, float]:
        if self.public_key is None:
            raise Unauthorized("this service has no token verification key configured")
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                leeway=self.leeway,
                options={"require": ["sub", "exp", "iat", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("token expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"invalid token: {exc}") from None
        roles = claims.get("roles", [])
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise Unauthorized("invalid token: roles must be a list of strings")
        institution = claims.get("institution")
        principal = Principal(str(claims["sub"]), str(institution) if institution else None, frozenset(roles))
        return principal, float(claims["exp"])


_bearer = HTTPBearer(auto_error=False)


# The dependencies are coroutines although they do not await: FastAPI runs a plain function in its
# thread pool, and that hop cost more than the (remembered) token check itself.
async def _principal(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Principal:
    if creds is None or creds.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(creds.credentials)


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency: a valid token holding any of ``roles`` (any role if none given)."""

    async def dependency(principal: Principal = Depends(_principal)) -> Principal:
        if roles and not principal.has(*roles):
            raise Forbidden(f"requires one of the roles: {', '.join(roles)}")
        return principal

    dependency.__tessera_auth__ = True  # type: ignore[attr-defined]
    return dependency


PUBLIC_MARK = "x-tessera-public"


def public(**extra: Any) -> dict[str, Any]:
    """``openapi_extra`` for a route that needs no token: ``@router.get(..., openapi_extra=public())``."""
    return {PUBLIC_MARK: True, **extra}


def ensure_same_institution(principal: Principal, institution: str, *, what: str = "this resource") -> None:
    if principal.is_operator:
        return
    if principal.institution != institution:
        raise Forbidden(f"{what} belongs to {institution}; your token is for {principal.institution}")


# --- keys and tokens (the operator's side; used by the CLI and tests) ---------------------------


def generate_keypair() -> tuple[bytes, bytes]:
    """A new Ed25519 key pair as (private PEM, public PEM)."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def mint_token(
    private_pem: bytes,
    *,
    subject: str,
    roles: Iterable[str],
    institution: str | None = None,
    ttl_seconds: int = 3600,
    issuer: str = "tessera-operator",
    audience: str = "tessera",
    now: float | None = None,
) -> str:
    key = serialization.load_pem_private_key(private_pem, password=None)
    issued = int(now if now is not None else time.time())
    claims: dict[str, Any] = {
        "sub": subject,
        "roles": sorted(set(roles)),
        "iat": issued,
        "exp": issued + ttl_seconds,
        "iss": issuer,
        "aud": audience,
        "jti": str(uuid.uuid4()),
    }
    if institution:
        claims["institution"] = institution
    return jwt.encode(claims, key, algorithm=ALGORITHM)  # type: ignore[arg-type]
