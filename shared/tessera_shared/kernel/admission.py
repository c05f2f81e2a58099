"""Admission control: bounded work in flight, and a prompt 503 with ``Retry-After`` beyond it.

Why: without a bound, a service offered more than it can do accepts every request and lets each
wait, longer and longer, until clients time out without knowing whether their write happened. A
service now runs at most ``HTTP_MAX_IN_FLIGHT`` requests at once; a request that cannot start
within ``HTTP_QUEUE_SECONDS`` (its deadline) is answered at once with ``503 Service Unavailable``
(problem+json) and ``Retry-After``, before it has done anything, so retrying it is always safe. An
integrator backs off and retries; what was accepted is answered within its deadline plus its work.
(In the benchmark's steady phases no request waited that long: the slow answers seen there once
were the load generator's own client; see docs/benchmarks.md.)

Operations endpoints (``/health``, ``/metrics``, ``/admin``) are never refused: an operator must
see an overloaded service. ``HTTP_MAX_IN_FLIGHT=0`` turns admission control off.
"""

from __future__ import annotations

import asyncio
import math

from prometheus_client import Counter
from starlette.types import ASGIApp, Receive, Scope, Send

from tessera_shared.kernel import problems

REQUESTS_REFUSED = Counter(
    "tessera_http_requests_refused_total",
    "HTTP requests answered 503 because they could not start within HTTP_QUEUE_SECONDS",
    ["service"],
)
EXEMPT_PREFIXES = ("/health", "/metrics", "/admin")


def _exempt(path: str) -> bool:
    """``/health`` and ``/health/live``, not ``/healthy``."""
    return any(path == p or path.startswith(p + "/") for p in EXEMPT_PREFIXES)


class AdmissionMiddleware:
    """A pure ASGI middleware (see ``app.CorrelationMiddleware`` for why not ``BaseHTTPMiddleware``)."""

    def __init__(self, app: ASGIApp, *, service: str, max_in_flight: int, queue_seconds: float) -> None:
        self.app = app
        self.service = service
        self.max_in_flight = max_in_flight
        self.queue_seconds = queue_seconds
        self.retry_after = str(max(1, math.ceil(queue_seconds)))
        self._slots = asyncio.Semaphore(max_in_flight) if max_in_flight > 0 else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._slots is None or scope["type"] != "http" or _exempt(scope["path"]):
            await self.app(scope, receive, send)
            return
        try:
            if self._slots.locked():  # wait, up to the deadline (a free slot needs no timer task)
                await asyncio.wait_for(self._slots.acquire(), timeout=self.queue_seconds)
            else:
                await self._slots.acquire()
        except TimeoutError:
            REQUESTS_REFUSED.labels(self.service).inc()
            response = problems.problem(
                503,
                f"the service is at capacity ({self.max_in_flight} requests in progress) and this request could "
                f"not start within {self.queue_seconds:g} s; nothing was done: retry after {self.retry_after} s",
                headers={"Retry-After": self.retry_after},
            )
            await response(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            self._slots.release()
