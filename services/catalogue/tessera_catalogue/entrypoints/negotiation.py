"""HTTP details of the catalogue API: Accept-Language, ETag / If-None-Match, If-Match, problem details."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from fastapi import Request, Response
from fastapi.responses import JSONResponse

from tessera_shared.contract.values import normalise_language_tag
from tessera_shared.kernel.aggregate import DomainError


def preferred_languages(header: str | None) -> list[str]:
    """``nl-BE,nl;q=0.9,en;q=0.5,*;q=0.1`` -> ``['nl-BE', 'nl', 'en']`` (by weight, q=0 and ``*`` dropped,
    malformed entries ignored)."""
    weighted: list[tuple[float, int, str]] = []
    for i, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if not tag or tag == "*" or q <= 0:
            continue
        try:
            weighted.append((-q, i, normalise_language_tag(tag)))
        except ValueError:
            continue
    return list(dict.fromkeys(tag for _, _, tag in sorted(weighted)))


def _matches(header: str, etag: str) -> bool:
    candidates = [c.strip().removeprefix("W/") for c in header.split(",")]
    return "*" in candidates or etag in candidates


def cached_json(request: Request, payload: Any) -> Response:
    """A public read: a strong ETag over the exact body (so it changes with the data and with the
    language negotiated), 304 when If-None-Match names it; caches revalidate every time."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "public, no-cache", "Vary": "Accept-Language"}
    if_none_match = request.headers.get("if-none-match")
    if if_none_match and _matches(if_none_match, etag):
        return Response(status_code=304, headers=headers)
    return Response(content=body, media_type="application/json", headers=headers)


def expected_version(if_match: str | None, body_value: int | None) -> int | None:
    """The stream version a command was decided on: ``If-Match: "7"`` or ``expected_version`` in the
    body (they must agree when both are given); ``*`` or neither means "any"."""
    header: int | None = None
    if if_match and if_match.strip() != "*":
        value = if_match.strip().removeprefix("W/").strip('"')
        if not value.isdigit():
            raise DomainError(f'If-Match {if_match!r} is not a version such as "7"', field="If-Match")
        header = int(value)
    if header is not None and body_value is not None and header != body_value:
        raise DomainError(f"If-Match ({header}) and expected_version ({body_value}) disagree", field="expected_version")
    return header if header is not None else body_value


def command_response(view: dict[str, Any], *, status: int = 200, location: str | None = None) -> JSONResponse:
    headers = {"ETag": f'"{view["version"]}"'}
    if location:
        headers["Location"] = location
    return JSONResponse(view, status_code=status, headers=headers)
