"""RFC 9457 problem+json for every error a service returns; validation errors name the field.

:func:`install` adds the exception handlers; :func:`document` makes the app's OpenAPI document say
so (a ``Problem`` schema on the error responses of every JSON operation, see :func:`describe`).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tessera_shared.contract.base import UnknownEventType
from tessera_shared.kernel.aggregate import DomainError
from tessera_shared.kernel.context import MessageContext
from tessera_shared.kernel.eventstore import ConcurrencyError

log = structlog.get_logger(__name__)
MEDIA_TYPE = "application/problem+json"
CONTEXT_SCOPE_KEY = "tessera.message_context"
"""ASGI scope key where the HTTP middleware (``app.CorrelationMiddleware``) leaves the request's
:class:`MessageContext`: the 500 handler runs outside every middleware, after the context is reset."""
_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}


def problem(
    status: int, detail: str, *, instance: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """``("body", "title", "en")`` → ``title.en``; query/path parameters keep their name."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:] or parts
    return ".".join(parts)


def domain_errors(exc: DomainError) -> list[dict[str, str]]:
    """One ``{"field", "message"}`` per problem (problems read ``"field.path: message"``)."""
    errors: list[dict[str, str]] = []
    for item in exc.problems:
        field, sep, message = item.partition(": ")
        errors.append({"field": field, "message": message} if sep else {"field": "", "message": item})
    if not errors and exc.field:
        errors.append({"field": exc.field, "message": str(exc)})
    return errors


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": field_path(e["loc"]), "message": e["msg"], "type": e["type"]} for e in exc.errors()]
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
        return problem(422, detail, instance=request.url.path, errors=errors)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        return problem(
            exc.status,
            str(exc),
            instance=request.url.path,
            errors=domain_errors(exc) or None,
            problems=exc.problems or None,
        )

    @app.exception_handler(asyncpg.DataError)
    async def _data(request: Request, exc: asyncpg.DataError) -> JSONResponse:
        # Input that passed validation but that PostgreSQL cannot hold (a NUL character, a number
        # beyond the column's range): the transaction rolled back, nothing was written.
        message = str(exc).split("\n")[0][:200]
        return problem(422, f"a value cannot be stored: {message}", instance=request.url.path)

    @app.exception_handler(UnknownEventType)
    async def _unknown_type(request: Request, exc: UnknownEventType) -> JSONResponse:
        return problem(404, f"unknown event type {exc}", instance=request.url.path)

    @app.exception_handler(ConcurrencyError)
    async def _conflict(request: Request, exc: ConcurrencyError) -> JSONResponse:
        return problem(409, f"{exc}; reload and try again", instance=request.url.path)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(
            exc.status_code, str(exc.detail), instance=request.url.path, headers=getattr(exc, "headers", None)
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        ctx = request.scope.get(CONTEXT_SCOPE_KEY)
        if not isinstance(ctx, MessageContext):
            log.exception("unhandled error", path=request.url.path)
            return problem(500, "internal error", instance=request.url.path)
        trace = (ctx.traceparent or "").split("-")
        log.exception(
            "unhandled error",
            path=request.url.path,
            correlation_id=ctx.correlation_id,
            trace_id=trace[1] if len(trace) == 4 else None,
        )
        return problem(
            500,
            "internal error; the correlation id in the logs identifies it",
            instance=request.url.path,
            headers={"X-Correlation-ID": ctx.correlation_id},
        )


# ------------------------------------------------------------------------------ OpenAPI

PROBLEM_REF = "#/components/schemas/Problem"
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details; validation errors name each field in `errors`.",
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "a URI reference (about:blank)"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 100, "maximum": 599, "description": "the HTTP status"},
        "detail": {"type": "string"},
        "instance": {"type": "string", "description": "the request path"},
        "errors": {"type": "array", "items": {"$ref": "#/components/schemas/ProblemFieldError"}},
        "problems": {"type": "array", "items": {"type": "string"}},
    },
    "additionalProperties": True,
}
FIELD_ERROR_SCHEMA: dict[str, Any] = {
    "title": "ProblemFieldError",
    "type": "object",
    "required": ["field", "message"],
    "properties": {"field": {"type": "string"}, "message": {"type": "string"}, "type": {"type": "string"}},
    "additionalProperties": True,
}
_DESCRIPTIONS = {
    "401": "no valid bearer token (missing, malformed, wrong signature, expired)",
    "403": "the token lacks the role, or the resource belongs to another institution",
    "404": "not found",
    "422": "invalid input: `errors` names each field",
    "4XX": "any other client error",
    "5XX": "server error or service unavailable",
}
_FASTAPI_VALIDATION_REF = "#/components/schemas/HTTPValidationError"
_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}


def _is_json(media_type: str) -> bool:
    media = media_type.split(";")[0].strip().lower()
    return media == "application/json" or media.endswith("+json") or media in {"application/vc", "application/vp"}


def _problem_response(description: str) -> dict[str, Any]:
    return {"description": description, "content": {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}}


def _is_fastapi_validation(response: dict[str, Any]) -> bool:
    content = response.get("content") or {}
    return any((v.get("schema") or {}).get("$ref") == _FASTAPI_VALIDATION_REF for v in content.values())


def describe(openapi: dict[str, Any]) -> dict[str, Any]:
    """Declare in ``openapi`` (in place; also returned) the problem+json errors the kernel answers.

    Every operation: FastAPI's generated 422 (``HTTPValidationError`` as application/json) becomes
    the ``Problem`` schema as application/problem+json — what ``install``'s handler answers.
    JSON operations (a 2xx response with a JSON media type; not pages for people, whose errors may
    be HTML): 401 and 403 when the operation asks for a token, 404 when its path has parameters,
    422 when it takes parameters or a body, and ``4XX`` / ``5XX`` for every other error status;
    error responses a route declared without content get the ``Problem`` schema too. Responses a
    route declared with content of its own (``/health/ready``'s 503) are left as they are.
    """
    for path, item in (openapi.get("paths") or {}).items():
        for method, operation in item.items():
            if method not in _METHODS or not isinstance(operation, dict):
                continue
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, response in responses.items():
                if status.startswith(("4", "5")) and _is_fastapi_validation(response):
                    responses[status] = _problem_response(_DESCRIPTIONS.get(status, response.get("description", "")))
            json_api = any(
                status.startswith("2") and any(_is_json(media) for media in (response.get("content") or {}))
                for status, response in responses.items()
            )
            if not json_api:
                continue
            wanted = []
            if operation.get("security"):
                wanted += ["401", "403"]
            if "{" in path:
                wanted.append("404")
            if operation.get("parameters") or operation.get("requestBody"):
                wanted.append("422")
            for status in [*wanted, "4XX", "5XX"]:
                responses.setdefault(status, _problem_response(_DESCRIPTIONS[status]))
            for status, response in responses.items():
                if status.startswith(("4", "5")) and not response.get("content"):
                    response["content"] = {MEDIA_TYPE: {"schema": {"$ref": PROBLEM_REF}}}
                    response.setdefault("description", _DESCRIPTIONS.get(status, "error"))
            operation["responses"] = dict(sorted(responses.items()))
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    for name, schema in (("Problem", PROBLEM_SCHEMA), ("ProblemFieldError", FIELD_ERROR_SCHEMA)):
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"a model of the service is named {name!r}, the kernel's problem+json schema")
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's own, unused once replaced
        rest = {**openapi, "components": {**openapi["components"], "schemas": {**schemas}}}
        rest["components"]["schemas"].pop(name, None)
        if f'"#/components/schemas/{name}"' not in json.dumps(rest):
            schemas.pop(name, None)
    return openapi


def document(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and /openapi.json) the generated document passed through :func:`describe`."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
