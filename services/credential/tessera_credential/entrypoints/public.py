"""Public HTTP surface of keys, status lists, issued credentials and verification.

* GET ``/institutions/{id}/did.json`` (public): the institution's did:web DID document, every key
  (active and retired);
* GET ``/status-lists/{list_id}`` (public): the signed ``BitstringStatusListCredential`` (ETag,
  short max-age);
* GET ``/credentials/{uuid}.json`` (public, an unguessable share link): the signed credential;
* GET ``/achievements/{mc}/v{n}/criteria.json`` (public): the published award criteria that the
  credential's ``criteria.id`` names;
* GET ``/pathways/{id}/v{n}/criteria.json`` (public): the same for a pathway credential;
* POST ``/verify`` (public): verification report of a submitted credential (size capped before
  parsing);
* POST ``/institutions/{id}/keys/rotate`` (operator): a new active key; the old one stays in the
  DID document.

Every GET answers ``If-None-Match`` with 304. Errors are problem+json (the kernel's handlers).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.responses import JSONResponse

from tessera_credential.issuance.pipeline import (
    achievement_id,
    criteria_url,
    pathway_achievement_id,
    pathway_criteria_url,
)
from tessera_credential.issuance.wiring import SERVICE_KEY, IssuanceContext
from tessera_credential.keys import store as key_store
from tessera_credential.keys.did import is_institution_id
from tessera_credential.keys.resolver import ConsortiumKeys
from tessera_credential.keys.sealing import KeyEncryptionError
from tessera_credential.proofs import JsonLimits, ProofError, UntrustedInputError, parse_untrusted_json
from tessera_credential.status import credential as status_credential
from tessera_credential.status import lists as status_lists
from tessera_credential.status.lookup import StatusSnapshot, snapshot_for
from tessera_credential.verification.report import IssuerPolicy, verify_credential
from tessera_shared.kernel import problems
from tessera_shared.kernel.auth import Principal, public, require

log = structlog.get_logger(__name__)
router = APIRouter(tags=["credentials (public)"])

VC_MEDIA_TYPE = "application/vc"
DID_MEDIA_TYPE = "application/did+ld+json"
_LIST_ID = re.compile(r"[0-9a-f]{32}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_FIRST_KEYS = ("@context", "id", "type")


def _context(request: Request) -> IssuanceContext:
    context: IssuanceContext = request.app.state.services[SERVICE_KEY]
    return context


def _pool(request: Request) -> asyncpg.Pool:
    pool: asyncpg.Pool | None = request.app.state.runtime.pool
    if pool is None:
        raise HTTPException(503, "the service is starting")
    return pool


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, f"{what} not found")


def _ordered(document: dict[str, Any]) -> dict[str, Any]:
    """``@context``, ``id``, ``type`` first (the database's jsonb keeps keys in its own order)."""
    head = {k: document[k] for k in _FIRST_KEYS if k in document}
    return {**head, **{k: v for k, v in document.items() if k not in head}}


def _json(request: Request, payload: Any, *, media_type: str, cache_control: str) -> Response:
    """The payload with a strong ETag over its bytes; 304 when the client already has them."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    headers = {"ETag": etag, "Cache-Control": cache_control, "X-Content-Type-Options": "nosniff"}
    match = request.headers.get("if-none-match", "")
    tags = {t.strip().removeprefix("W/") for t in match.split(",") if t.strip()}
    if etag in tags or "*" in tags:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=media_type, headers=headers)


# ------------------------------------------------------------------------------ DID documents


@router.get("/institutions/{institution_id}/did.json", openapi_extra=public(), response_model=None)
async def did_document(institution_id: str, request: Request) -> Response:
    """did:web DID document of an institution: every key it ever had (Multikey), usable for assertions."""
    context = _context(request)
    if not is_institution_id(institution_id):
        raise _not_found("institution")
    async with _pool(request).acquire() as conn:
        keys = await key_store.public_keys(conn, institution_id)
    if not keys:
        raise _not_found("DID document of this institution")
    document = context.dids.did_document(institution_id, keys)
    return _json(request, document, media_type=DID_MEDIA_TYPE, cache_control="public, max-age=300")


@router.post("/institutions/{institution_id}/keys/rotate", tags=["keys"])
async def rotate_key(
    institution_id: str, request: Request, principal: Principal = Depends(require("operator"))
) -> dict[str, Any]:
    """Retire the institution's active key and make a new one. Credentials signed with the old key
    keep verifying (it stays in the DID document); the institution's status lists are re-signed."""
    context = _context(request)
    if not is_institution_id(institution_id):
        raise _not_found("institution")
    try:
        kek = context.require_kek()
    except KeyEncryptionError:
        raise HTTPException(503, "key management has not started") from None
    async with _pool(request).acquire() as conn, conn.transaction():
        if not await key_store.is_known_institution(conn, institution_id):
            raise _not_found("institution")
        number, retired = await key_store.rotate(conn, kek, institution_id)
        await status_lists.touch_issuer(conn, institution_id)
        list_ids = [
            r["list_id"]
            for r in await conn.fetch("SELECT list_id FROM status_lists WHERE issuer_id = $1", institution_id)
        ]
        await status_credential.sign_lists(conn, kek, context.dids, list_ids)
        keys = await key_store.public_keys(conn, institution_id)
    log.info("institution key rotated", institution=institution_id, key_number=number, by=principal.subject)
    dids = context.dids
    return {
        "institution_id": institution_id,
        "did": dids.did(institution_id),
        "active_verification_method": dids.verification_method(institution_id, number),
        "retired_verification_method": dids.verification_method(institution_id, retired) if retired else None,
        "status_lists_resigned": len(list_ids),
        "did_document": dids.did_document(institution_id, keys),
    }


# ------------------------------------------------------------------------------ status lists


@router.get("/status-lists/{list_id}", openapi_extra=public(), response_model=None)
async def status_list(list_id: str, request: Request) -> Response:
    """The signed ``BitstringStatusListCredential`` (revocation; superseded credentials are set too)."""
    context = _context(request)
    if not _LIST_ID.fullmatch(list_id):
        raise _not_found("status list")
    async with _pool(request).acquire() as conn:
        credential = await status_lists.signed_credential(conn, list_id)
    if credential is None:
        raise _not_found("status list")
    max_age = context.settings.status_list_max_age_seconds
    return _json(request, _ordered(credential), media_type=VC_MEDIA_TYPE, cache_control=f"public, max-age={max_age}")


# ------------------------------------------------------------------------------ credentials


@router.get("/credentials/{credential_uuid}.json", openapi_extra=public(), response_model=None)
async def credential_json(credential_uuid: str, request: Request) -> Response:
    """The credential as issued and signed (its id is an unguessable URL: a share link)."""
    context = _context(request)
    try:
        parsed = uuid.UUID(credential_uuid)
    except ValueError:
        raise _not_found("credential") from None
    credential_id = f"{context.dids.public_base}/credentials/{parsed}"
    async with _pool(request).acquire() as conn:
        document = await conn.fetchval(
            "SELECT document FROM issued_credentials WHERE credential_id = $1", credential_id
        )
    if document is None:
        raise _not_found("credential")
    response = _json(request, _ordered(document), media_type=VC_MEDIA_TYPE, cache_control="private, max-age=300")
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.get("/achievements/{mc_id}/v{version}/criteria.json", openapi_extra=public(), response_model=None)
async def achievement_criteria(mc_id: str, version: int, request: Request) -> Response:
    """The award criteria of a published micro-credential version (what ``criteria.id`` points to)."""
    context = _context(request)
    if not _CODE.fullmatch(mc_id) or not 1 <= version < 2**31:
        raise _not_found("micro-credential version")
    async with _pool(request).acquire() as conn:
        definition = await conn.fetchval(
            "SELECT definition FROM award_definitions WHERE micro_credential_id = $1 AND version = $2", mc_id, version
        )
    if definition is None:
        raise _not_found("micro-credential version")
    payload = {
        "id": criteria_url(context.dids, mc_id, version),
        "achievement": achievement_id(context.dids, mc_id, version),
        "micro_credential_id": mc_id,
        "version": version,
        "criteria": definition.get("criteria"),
        "narrative": definition.get("criteria_narrative"),
    }
    return _json(request, payload, media_type="application/json", cache_control="public, max-age=86400, immutable")


@router.get("/pathways/{pathway_id}/v{version}/criteria.json", openapi_extra=public(), response_model=None)
async def pathway_criteria(pathway_id: str, version: int, request: Request) -> Response:
    """The stacking rule of a published pathway version (what a pathway credential's ``criteria.id`` names)."""
    context = _context(request)
    if not _CODE.fullmatch(pathway_id) or not 1 <= version < 2**31:
        raise _not_found("pathway version")
    async with _pool(request).acquire() as conn:
        definition = await conn.fetchval(
            "SELECT definition FROM award_pathways WHERE pathway_id = $1 AND version = $2", pathway_id, version
        )
    if definition is None:
        raise _not_found("pathway version")
    payload = {
        "id": pathway_criteria_url(context.dids, pathway_id, version),
        "achievement": pathway_achievement_id(context.dids, pathway_id, version),
        "pathway_id": pathway_id,
        "version": version,
        "members": definition.get("members"),
        "rule": definition.get("rule"),
        "narrative": definition.get("narrative"),
    }
    return _json(request, payload, media_type="application/json", cache_control="public, max-age=86400, immutable")


# ------------------------------------------------------------------------------ verification

_VERIFY_BODY = {
    "required": True,
    "content": {"application/json": {"schema": {"type": "object", "description": "an OB 3.0 credential"}}},
}


async def _read_limited(request: Request, limit: int) -> bytes:
    """The raw body, refusing (413) as soon as it is longer than ``limit`` — before any parsing."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HTTPException(400, "invalid Content-Length")
        if int(declared) > limit:
            raise HTTPException(413, f"a credential submitted for verification is at most {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise HTTPException(413, f"a credential submitted for verification is at most {limit} bytes")
    if not body:
        raise HTTPException(400, "submit the credential (JSON) as the request body")
    return bytes(body)


@router.post("/verify", openapi_extra=public(requestBody=_VERIFY_BODY), response_model=None)
async def verify(request: Request) -> Response:
    """Verify a credential: schemas, contexts, every proof and which awarding body made it, the
    issuer's proof first, key resolution (this consortium's did:web, did:key), status, dates.

    200 with the report for any credential-shaped JSON (valid or not: see ``verdict``); 413 for a
    body over the size cap, 422 for JSON too deep or not an object, 400 for anything not JSON."""
    context = _context(request)
    settings = context.settings
    raw = await _read_limited(request, settings.verify_max_bytes)
    limits = JsonLimits(max_bytes=settings.verify_max_bytes, max_depth=settings.verify_max_depth)
    try:
        document = parse_untrusted_json(raw, limits)  # capped; only to look up the status entry first
        async with _pool(request).acquire() as conn:
            keys = await ConsortiumKeys.load(conn, context.dids)
            statuses = (
                await snapshot_for(conn, context.dids, document) if isinstance(document, dict) else StatusSnapshot()
            )
        trusted = frozenset(context.dids.did(institution_id) for institution_id, _ in keys.keys)
        policy = IssuerPolicy(trusted_issuers=trusted, limits=limits)
        async with context.verify_slots:  # CPU bound (canonicalization): a few at a time, off the event loop
            report = await asyncio.to_thread(
                verify_credential,
                raw,
                resolve_key=keys.resolve_key,
                status_of=statuses.status_of,
                now=datetime.now(UTC),
                policy=policy,
            )
    except UntrustedInputError as exc:
        return problems.problem(exc.http_status, str(exc)[:500], instance=request.url.path)
    except (ProofError, ValueError, TypeError, RecursionError) as exc:  # never a 5xx for client input
        log.warning("verification refused input", error=type(exc).__name__)
        detail = f"the credential cannot be processed: {type(exc).__name__}"
        return problems.problem(422, detail, instance=request.url.path)
    return JSONResponse(report.to_dict())
