"""The four services' public HTTP APIs as the demo calls them, with operator-minted tokens."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, TypeVar

import httpx

from tessera_shared.kernel import auth

SERVICES = ("catalogue", "enrolment", "assessment", "credential")
T = TypeVar("T")


class DemoError(Exception):
    """The demo could not complete a step (the message says which and what the service answered)."""


@dataclass(frozen=True)
class Endpoints:
    """Where each service's API is reached."""

    catalogue: str
    enrolment: str
    assessment: str
    credential: str

    @classmethod
    def local(cls, base: str = "http://127.0.0.1", ports: Mapping[str, int] | None = None) -> Endpoints:
        from tessera_shared.launcher import service_ports

        ports = ports or service_ports()
        base = base.rstrip("/")
        return cls(**{name: f"{base}:{ports[name]}" for name in SERVICES})

    def of(self, service: str) -> str:
        url: str = getattr(self, service)
        return url.rstrip("/")


@dataclass(frozen=True)
class Who:
    """Whose token a call carries."""

    subject: str
    roles: tuple[str, ...]
    institution: str | None = None


OPERATOR = Who("tessera-demo", ("operator",))


def editor(institution: str) -> Who:
    return Who(f"editor@{institution}", ("catalogue-editor",), institution)


def assessor(institution: str) -> Who:
    return Who(f"assessor@{institution}", ("assessor",), institution)


def problem_text(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        errors = body.get("errors") or []
        fields = "; ".join(f"{e.get('field')}: {e.get('message')}" for e in errors if isinstance(e, dict))
        return str(body.get("detail") or body.get("title") or body) + (f" [{fields}]" if fields else "")
    return str(body)[:300]


def problem_fields(response: httpx.Response) -> set[str]:
    try:
        body = response.json()
    except ValueError:
        return set()
    if not isinstance(body, dict):
        return set()
    return {str(e.get("field")) for e in body.get("errors") or [] if isinstance(e, dict)}


@dataclass
class Api:
    """HTTP clients for the four services (given ones are used as they are, e.g. in-process ASGI
    clients in tests; missing ones are opened on the endpoints) and cached bearer tokens."""

    endpoints: Endpoints
    private_pem: bytes
    clients: dict[str, httpx.AsyncClient] = field(default_factory=dict)
    request_timeout: float = 30.0
    _owned: list[httpx.AsyncClient] = field(default_factory=list)
    _tokens: dict[Who, tuple[float, str]] = field(default_factory=dict)

    async def __aenter__(self) -> Api:
        for name in SERVICES:
            if name not in self.clients:
                client = httpx.AsyncClient(base_url=self.endpoints.of(name), timeout=self.request_timeout)
                self.clients[name] = client
                self._owned.append(client)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        for client in self._owned:
            await client.aclose()

    def headers(self, who: Who | None) -> dict[str, str]:
        if who is None:
            return {}
        now = time.time()
        cached = self._tokens.get(who)
        if cached is None or now - cached[0] > 1800:
            token = auth.mint_token(
                self.private_pem, subject=who.subject, roles=who.roles, institution=who.institution, ttl_seconds=7200
            )
            cached = self._tokens[who] = (now, token)
        return {"Authorization": f"Bearer {cached[1]}"}

    async def request(
        self,
        service: str,
        method: str,
        path: str,
        *,
        who: Who | None = OPERATOR,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        expect: tuple[int, ...] = (200, 201),
        allow: tuple[int, ...] = (),
    ) -> httpx.Response:
        """One call; connection errors and 502/503/504 are retried a few times (a service that has
        just become ready, or one at capacity: after its ``Retry-After``); any status outside
        ``expect`` and ``allow`` is a :class:`DemoError`."""
        client = self.clients[service]
        last = ""
        for attempt in range(8):
            try:
                response = await client.request(method, path, json=json, params=params, headers=self.headers(who))
            except httpx.TransportError as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code in expect or response.status_code in allow:
                    return response
                if response.status_code not in (502, 503, 504):
                    raise DemoError(
                        f"{method} {service} {path} answered {response.status_code}: {problem_text(response)}"
                    )
                last = f"{response.status_code}: {problem_text(response)}"
                retry_after = response.headers.get("retry-after", "")
                if retry_after.isdigit():  # an overloaded service says when to come back (kernel admission)
                    await asyncio.sleep(min(float(retry_after), 30.0))
                    continue
            await asyncio.sleep(min(0.25 * 2**attempt, 3.0))
        raise DemoError(f"{method} {service} {path} failed: {last}")

    async def get_json(self, service: str, path: str, *, who: Who | None = OPERATOR, **params: Any) -> Any:
        return (await self.request(service, "GET", path, who=who, params=params or None, expect=(200,))).json()


async def until(check: Callable[[], Awaitable[T | None]], what: str, deadline: float, interval: float = 0.3) -> T:
    """Poll ``check`` until it returns something other than None/False; DemoError at ``deadline``
    (``time.monotonic()``). A bounded wait for asynchronous delivery, not a timing assertion."""
    while True:
        value = await check()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            raise DemoError(f"gave up waiting for {what}")
        await asyncio.sleep(interval)
