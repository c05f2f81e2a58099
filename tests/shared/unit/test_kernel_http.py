"""The kernel's HTTP layer without servers: the correlation middleware (pure ASGI) and the OpenAPI
document's problem+json error responses, checked against what the routes really answer."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
import structlog
from fastapi import APIRouter, Depends, FastAPI
from fastapi.responses import JSONResponse
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance
from starlette.middleware.base import BaseHTTPMiddleware

from tessera_shared.kernel import context, problems
from tessera_shared.kernel.admission import AdmissionMiddleware
from tessera_shared.kernel.app import CorrelationMiddleware, create_app
from tessera_shared.kernel.auth import Principal, generate_keypair, mint_token, public, require
from tessera_shared.kernel.runtime import ServiceDefinition
from tessera_shared.kernel.settings import ServiceSettings

pytestmark = pytest.mark.unit
PRIVATE, PUBLIC = generate_keypair()
PARENT = "00-" + "a" * 32 + "-" + "b" * 16 + "-01"


def _router() -> APIRouter:
    router = APIRouter()

    @router.get("/seen", openapi_extra=public())
    async def seen() -> dict[str, Any]:
        ctx = context.current()
        return {"ctx": [ctx.correlation_id, ctx.traceparent], "log": structlog.contextvars.get_contextvars()}

    @router.get("/own-header", openapi_extra=public())
    async def own_header() -> JSONResponse:
        return JSONResponse({}, headers={"X-Correlation-ID": "the route's"})

    @router.get("/boom", openapi_extra=public())
    async def boom() -> dict[str, str]:
        raise RuntimeError("unexpected")

    @router.get("/things/{thing_id}")
    async def thing(thing_id: int, principal: Principal = Depends(require("assessor"))) -> dict[str, int]:
        return {"thing_id": thing_id}

    return router


def _app() -> FastAPI:
    settings = ServiceSettings(service_name="kerneltest", token_public_key=PUBLIC.decode(), log_format="console")
    definition = ServiceDefinition(name="kerneltest", title="kernel", settings=settings, routers=[_router()])
    return create_app(definition)  # no lifespan entered: nothing connects


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app, raise_app_exceptions=False), base_url="http://k")


def test_the_kernel_middlewares_are_pure_asgi():
    app = _app()
    # outermost first: a refused request's 503 carries the correlation id too
    assert [m.cls for m in app.user_middleware] == [CorrelationMiddleware, AdmissionMiddleware]
    assert not any(issubclass(m.cls, BaseHTTPMiddleware) for m in app.user_middleware)


async def test_the_request_context_is_bound_for_the_request_and_answered():
    async with _client(_app()) as client:
        r = await client.get("/seen", headers={"X-Correlation-ID": "corr-7", "traceparent": PARENT})
        assert r.headers["X-Correlation-ID"] == "corr-7"
        (correlation_id, traceparent), logged = r.json()["ctx"], r.json()["log"]
        assert correlation_id == "corr-7"
        version, trace_id, span_id, flags = traceparent.split("-")
        assert (version, trace_id, flags) == ("00", "a" * 32, "01") and span_id != "b" * 16  # a new span
        assert logged == {"correlation_id": "corr-7", "trace_id": "a" * 32}

        fresh = await client.get("/seen")  # no headers: a new correlation id and a new trace
        made = fresh.json()["ctx"]
        assert fresh.headers["X-Correlation-ID"] == made[0] and len(made[0]) == 36
        assert made[1].split("-")[1] != "a" * 32
        empty = await client.get("/seen", headers={"X-Correlation-ID": ""})
        assert empty.headers["X-Correlation-ID"] == empty.json()["ctx"][0] != ""

        own = await client.get("/own-header", headers={"X-Correlation-ID": "corr-8"})
        assert own.headers.get_list("X-Correlation-ID") == ["corr-8"]  # replaced, as before
    assert structlog.contextvars.get_contextvars() == {}  # nothing leaks out of the request


async def test_errors_carry_the_correlation_id_and_an_unhandled_one_is_logged_with_it():
    async with _client(_app()) as client:
        denied = await client.get("/things/1", headers={"X-Correlation-ID": "corr-401"})
        assert denied.status_code == 401 and denied.headers["X-Correlation-ID"] == "corr-401"
        with structlog.testing.capture_logs() as logs:
            r = await client.get("/boom", headers={"X-Correlation-ID": "corr-500", "traceparent": PARENT})
    assert r.status_code == 500
    assert r.headers["content-type"] == problems.MEDIA_TYPE
    assert r.headers["X-Correlation-ID"] == "corr-500"
    [entry] = [e for e in logs if e["event"] == "unhandled error"]
    assert entry["correlation_id"] == "corr-500" and entry["trace_id"] == "a" * 32


async def test_other_scopes_pass_through_untouched():
    calls: list[str] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        calls.append(scope["type"])
        assert problems.CONTEXT_SCOPE_KEY not in scope

    await CorrelationMiddleware(inner)({"type": "lifespan"}, None, None)
    assert calls == ["lifespan"]


# ------------------------------------------------------------------------------ OpenAPI


def test_the_document_declares_problem_json_errors():
    document = _app().openapi()
    schemas = document["components"]["schemas"]
    assert schemas["Problem"] == problems.PROBLEM_SCHEMA
    assert "HTTPValidationError" not in schemas  # FastAPI's 422 body, which the kernel never answers
    guarded = document["paths"]["/things/{thing_id}"]["get"]["responses"]
    for status in ("401", "403", "404", "422", "4XX", "5XX"):
        assert guarded[status]["content"] == {problems.MEDIA_TYPE: {"schema": {"$ref": problems.PROBLEM_REF}}}
    public_op = document["paths"]["/seen"]["get"]["responses"]
    assert "401" not in public_op and "403" not in public_op and "4XX" in public_op
    ready = document["paths"]["/health/ready"]["get"]["responses"]
    assert "application/json" in ready["503"]["content"]  # its own body, not a problem
    assert set(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == {"text/plain"}


def test_describe_leaves_pages_and_declared_bodies_alone():
    document = {
        "paths": {
            "/page/{id}": {
                "get": {
                    "responses": {
                        "200": {"description": "HTML"},
                        "422": {
                            "description": "Validation Error",
                            "content": {
                                "application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}
                            },
                        },
                    }
                }
            },
            "/api": {
                "post": {
                    "requestBody": {"content": {"application/json": {"schema": {}}}},
                    "responses": {
                        "200": {"content": {"application/json": {"schema": {}}}},
                        "409": {"description": "conflict"},
                        "503": {"description": "x", "content": {"text/plain": {"schema": {}}}},
                    },
                }
            },
        },
        "components": {"schemas": {"HTTPValidationError": {}, "ValidationError": {}}},
    }
    problems.describe(document)
    page = document["paths"]["/page/{id}"]["get"]["responses"]
    assert set(page) == {"200", "422"} and problems.MEDIA_TYPE in page["422"]["content"]
    api = document["paths"]["/api"]["post"]["responses"]
    assert set(api) == {"200", "409", "422", "4XX", "503", "5XX"}
    assert problems.MEDIA_TYPE in api["409"]["content"] and set(api["503"]["content"]) == {"text/plain"}
    assert set(document["components"]["schemas"]) == {"Problem", "ProblemFieldError"}


async def test_the_error_responses_the_routes_give_match_the_document():
    app = _app()
    schema = schemathesis.openapi.from_dict(app.openapi())
    assessor = mint_token(PRIVATE, subject="a", roles=["assessor"], institution="ugent.be")
    learner = mint_token(PRIVATE, subject="l", roles=["learner"])
    cases = [
        ("/things/{thing_id}", {"thing_id": "1"}, {}, 401),
        ("/things/{thing_id}", {"thing_id": "1"}, {"Authorization": f"Bearer {learner}"}, 403),
        ("/things/{thing_id}", {"thing_id": "x"}, {"Authorization": f"Bearer {assessor}"}, 422),
        ("/contract/schemas/{event_type}", {"event_type": "no.such.type.v1"}, {}, 404),
        ("/things/{thing_id}", {"thing_id": "1"}, {"Authorization": f"Bearer {assessor}"}, 200),
    ]
    checks = [response_schema_conformance, content_type_conformance]
    async with _client(app) as client:
        for path, parameters, headers, status in cases:
            url = path.format(**parameters)
            r = await client.get(url, headers=headers)
            assert r.status_code == status, (url, r.text)
            schema[path]["GET"].Case(path_parameters=parameters, headers=headers).validate_response(r, checks=checks)
    # without the kernel's description, FastAPI's document does not match the 422 the kernel answers
    undescribed = _app()
    raw_schema = schemathesis.openapi.from_dict(FastAPI.openapi(undescribed))
    async with _client(undescribed) as client:
        r = await client.get("/things/x", headers={"Authorization": f"Bearer {assessor}"})
    with pytest.raises(FailureGroup, match="Undocumented Content-Type"):
        raw_schema["/things/{thing_id}"]["GET"].Case(path_parameters={"thing_id": "x"}).validate_response(
            r, checks=checks
        )
