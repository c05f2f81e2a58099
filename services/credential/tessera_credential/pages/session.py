"""Who is looking at the backpack: the learner's bearer token, from a header or a short-lived cookie.

A browser cannot send an ``Authorization`` header when the learner follows a link, and a token in a
URL ends up in logs, history and ``Referer`` headers. So the backpack accepts the learner token in
two ways, and never in a query string:

1. ``Authorization: Bearer <token>`` (API clients, a portal rendering the page server-side, tests);
2. the ``tessera_backpack`` cookie, set by ``POST /backpack/session`` (a form field ``token``, as the
   learner portal or the sign-in form posts it) and answered with a 303 redirect to ``/backpack``.
   The cookie is ``HttpOnly`` (no script can read it), ``SameSite=Lax`` (not sent on cross-site
   sub-requests or POSTs), ``Secure`` whenever the public URL is https, scoped to ``/backpack``, and
   lives at most ``max_seconds`` (default 30 minutes) and never beyond the token's own expiry.

Either way the token is verified exactly like any bearer token of the consortium (the kernel's
``TokenVerifier``: signature, issuer, audience, expiry) on **every** request, and must carry the
``learner`` role; the page shows the credentials of the token's subject only. Tokens are never
logged and never written into a page.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import jwt
from fastapi import HTTPException
from starlette.responses import Response

from tessera_shared.kernel.auth import Principal, TokenVerifier

COOKIE = "tessera_backpack"
MAX_TOKEN_LENGTH = 8192


@dataclass(frozen=True)
class BackpackAuth:
    principal: Principal | None
    problem: str | None  # None | "missing" | "invalid" | "not_learner"
    via_cookie: bool = False


def authenticate(verifier: TokenVerifier, header_token: str | None, cookie_token: str | None) -> BackpackAuth:
    """The header wins over the cookie; an invalid header is not rescued by a valid cookie."""
    via_cookie = header_token is None
    token = header_token if header_token is not None else cookie_token
    if not token:
        return BackpackAuth(None, "missing", via_cookie)
    if len(token) > MAX_TOKEN_LENGTH:
        return BackpackAuth(None, "invalid", via_cookie)
    try:
        principal = verifier.verify(token)
    except HTTPException:  # the kernel's Unauthorized (expired, bad signature, wrong audience, ...)
        return BackpackAuth(None, "invalid", via_cookie)
    if not principal.is_learner:
        return BackpackAuth(principal, "not_learner", via_cookie)
    return BackpackAuth(principal, None, via_cookie)


def seconds_left(token: str, now: float | None = None) -> int:
    """Seconds until the (already verified) token expires; 0 when it has no usable ``exp``."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return 0
    exp = claims.get("exp")
    if not isinstance(exp, int | float):
        return 0
    return max(0, int(exp - (now if now is not None else time.time())))


@dataclass(frozen=True)
class CookiePolicy:
    """Where and how the backpack cookie is set, derived from ``PUBLIC_BASE_URL``."""

    path: str
    secure: bool
    max_seconds: int

    @classmethod
    def for_base(cls, public_base: str, max_seconds: int) -> CookiePolicy:
        parts = urlsplit(public_base)
        return cls(path=parts.path.rstrip("/") + "/backpack", secure=parts.scheme == "https", max_seconds=max_seconds)

    def set(self, response: Response, token: str) -> bool:
        """Set the cookie for ``token``; False (nothing set) when the token is about to expire."""
        lifetime = min(self.max_seconds, seconds_left(token))
        if lifetime <= 0:
            return False
        response.set_cookie(
            COOKIE,
            token,
            max_age=lifetime,
            path=self.path,
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )
        return True

    def clear(self, response: Response) -> None:
        response.delete_cookie(COOKIE, path=self.path, secure=self.secure, httponly=True, samesite="lax")
