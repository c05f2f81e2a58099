"""One app factory for all four services: FastAPI + the kernel's runtime in its lifespan."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tessera_shared.contract.base import model_for, registered_types
from tessera_shared.kernel import context, problems
from tessera_shared.kernel.admission import AdmissionMiddleware
from tessera_shared.kernel.auth import Principal, TokenVerifier, load_public_key, public, require
from tessera_shared.kernel.logging import configure as configure_logging
from tessera_shared.kernel.runtime import Runtime, ServiceDefinition


def request_pool(request: Request) -> asyncpg.Pool:
    """The service's database pool for a route; 503 (problem+json) while the runtime is starting."""
    pool: asyncpg.Pool | None = request.app.state.runtime.pool
    if pool is None:
        raise HTTPException(503, "the service is starting")
    return pool


def create_app(definition: ServiceDefinition) -> FastAPI:
    settings = definition.settings
    configure_logging(settings.log_level, settings.log_format)
    runtime = Runtime(definition)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title=definition.title,
        version="0.1.0",
        lifespan=lifespan,
        description=f"Tessera {definition.name} service. Errors are RFC 9457 problem+json.",
    )
    app.state.runtime = runtime
    app.state.services = definition.services
    app.state.token_verifier = TokenVerifier(
        load_public_key(settings.token_public_key), issuer=settings.token_issuer, audience=settings.token_audience
    )
    problems.install(app)
    app.add_middleware(  # inside the correlation middleware: a refusal carries X-Correlation-ID too
        AdmissionMiddleware,
        service=definition.name,
        max_in_flight=settings.http_max_in_flight,
        queue_seconds=settings.http_queue_seconds,
    )
    app.add_middleware(CorrelationMiddleware)

    @app.get("/health/live", tags=["operations"], openapi_extra=public())
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["operations"], openapi_extra=public(), responses=_READY_RESPONSES)
    async def ready() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], openapi_extra=public(), response_class=_PrometheusText)
    async def metrics() -> Response:
        if runtime.relay is not None:
            await runtime.relay.lag()
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/admin/status", tags=["operations"])
    async def status(principal: Principal = Depends(require("operator"))) -> dict[str, Any]:
        """Relay lag, consumer lag, open dead letters and the last event (``tessera status``)."""
        return await runtime.status()

    @app.get("/contract/schemas/{event_type}", tags=["contract"], openapi_extra=public())
    async def event_schema(event_type: str) -> dict[str, Any]:
        """The JSON Schema of an event type's ``data`` (what ``dataschema`` names)."""
        return model_for(event_type).model_json_schema()

    @app.get("/contract/types", tags=["contract"], openapi_extra=public())
    async def event_types() -> list[str]:
        return sorted(t for t in registered_types() if t.split(".")[1] == definition.name)

    for router in definition.routers:
        app.include_router(router)
    problems.document(app)  # the OpenAPI document declares the problem+json errors the routes answer
    return app


class CorrelationMiddleware:
    """Correlation and trace context of an HTTP request, as a pure ASGI middleware.

    Takes ``X-Correlation-ID`` (or makes one) and continues the request's ``traceparent`` with a new
    span; makes that context current (``context.bind``: events appended while handling the request
    carry it, logs show it) for exactly the request; answers ``X-Correlation-ID``. It also leaves the
    context in the scope (``problems.CONTEXT_SCOPE_KEY``) for the 500 handler, which runs outside
    every middleware (Starlette's ``ServerErrorMiddleware``), after the context has been reset.

    Not ``@app.middleware("http")``: Starlette's ``BaseHTTPMiddleware`` runs the rest of the app in a
    separate task and streams the response through a memory channel, which cost ~40 % of a bare
    endpoint's throughput here (docs/benchmarks.md, finding 7).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        correlation_id = traceparent = None
        for name, value in scope["headers"]:  # ASGI: lower-case names, latin-1 bytes
            if name == b"x-correlation-id" and correlation_id is None:
                correlation_id = value.decode("latin-1")
            elif name == b"traceparent" and traceparent is None:
                traceparent = value.decode("latin-1")
        ctx = context.MessageContext(
            correlation_id=correlation_id or str(uuid.uuid4()),
            traceparent=context.new_traceparent(traceparent),
        )
        scope[problems.CONTEXT_SCOPE_KEY] = ctx
        header = (b"x-correlation-id", ctx.correlation_id.encode("latin-1"))

        async def send_with_correlation(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [(k, v) for k, v in message.get("headers", ()) if k.lower() != b"x-correlation-id"]
                headers.append(header)
                message = {**message, "headers": headers}
            await send(message)

        token = context.bind(ctx)
        try:
            await self.app(scope, receive, send_with_correlation)
        finally:
            context.reset(token)


class _PrometheusText(Response):
    media_type = "text/plain"  # what the OpenAPI document names; /metrics answers CONTENT_TYPE_LATEST


_READY_RESPONSES: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "not ready: a check failed (same shape as 200)",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["status", "checks"],
                    "properties": {"status": {"type": "string"}, "checks": {"type": "object"}},
                }
            }
        },
    }
}
