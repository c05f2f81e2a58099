"""RFC 9457 problem+json for every error a service returns; validation errors name the field."""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from tessera_shared.contract.base import UnknownEventType
from tessera_shared.kernel.aggregate import DomainError
from tessera_shared.kernel.eventstore import ConcurrencyError

log = structlog.get_logger(__name__)
MEDIA_TYPE = "application/problem+json"
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
        log.exception("unhandled error", path=request.url.path)
        return problem(500, "internal error; the correlation id in the logs identifies it", instance=request.url.path)
