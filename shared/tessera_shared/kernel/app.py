"""One app factory for all four services: FastAPI + the kernel's runtime in its lifespan."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from tessera_shared.contract.base import model_for, registered_types
from tessera_shared.kernel import context, problems
from tessera_shared.kernel.auth import Principal, TokenVerifier, load_public_key, public, require
from tessera_shared.kernel.logging import configure as configure_logging
from tessera_shared.kernel.runtime import Runtime, ServiceDefinition


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

    @app.middleware("http")
    async def correlation(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        incoming = request.headers.get("traceparent")
        ctx = context.MessageContext(
            correlation_id=request.headers.get("x-correlation-id") or str(uuid.uuid4()),
            traceparent=context.new_traceparent(incoming),
        )
        token = context.bind(ctx)
        try:
            response = await call_next(request)
        finally:
            context.reset(token)
        response.headers["X-Correlation-ID"] = ctx.correlation_id
        return response

    @app.get("/health/live", tags=["operations"], openapi_extra=public())
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/health/ready", tags=["operations"], openapi_extra=public())
    async def ready() -> JSONResponse:
        checks = await runtime.readiness()
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ok" if ok else "unavailable", "checks": checks}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], openapi_extra=public())
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
    return app
