"""Public HTTP surface of keys, status lists, issued credentials and verification.

* GET ``/institutions/{id}/did.json`` (public): the institution's did:web DID document, every key
  (active and retired);
* GET ``/status-lists/{list_id}`` (public): the signed ``BitstringStatusListCredential`` (ETag,
  short max-age);
* GET ``/credentials/{uuid}.json`` (public, an unguessable share link): the signed credential;
* GET ``/achievements/{mc}/v{n}/criteria.json`` (public): the published award criteria that the
  credential's ``criteria.id`` names;
* GET ``/pathways/{id}/v{n}/criteria.json`` (public): the same for a pathway credential;
* POST ``/verify`` (public): verification report of a submitted credential (size and depth capped
  before parsing; the signature checks in worker processes and memoised by the bytes of the document
  and of its keys, status and dates looked up on every request: docs/verification.md);
* POST ``/institutions/{id}/keys/rotate`` (operator): a new active key; the old one stays in the
  DID document.

Every GET answers ``If-None-Match`` with 304. Errors are problem+json (the kernel's handlers). The
OpenAPI document names the media types the routes answer (``application/did+ld+json``,
``application/vc``).
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
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
from tessera_credential.proofs import JsonLimits, ProofError, UntrustedInputError
from tessera_credential.status import credential as status_credential
from tessera_credential.status import lists as status_lists
from tessera_credential.status.lookup import snapshot_for
from tessera_credential.verification.engine import Verifier, VerifierUnavailableError
from tessera_credential.verification.report import IssuerPolicy, parse_document
from tessera_credential.verification.settings import VerificationSettings
from tessera_shared.kernel import problems
from tessera_shared.kernel.app import request_pool
from tessera_shared.kernel.auth import Principal, public, require

log = structlog.get_logger(__name__)
VERIFIER_KEY = "credential_verifier"


@asynccontextmanager
async def _verifier_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The app's `Verifier` (worker processes of POST /verify): started after the runtime, stopped
    before it. A test may put its own in ``definition.services[VERIFIER_KEY]`` beforehand."""
    services: dict[str, Any] = app.state.services
    verifier = services.get(VERIFIER_KEY)
    if not isinstance(verifier, Verifier):
        context = services.get(SERVICE_KEY)
        concurrency = context.settings.verify_concurrency if isinstance(context, IssuanceContext) else 2
        verifier = Verifier(VerificationSettings(), thread_concurrency=concurrency)
        services[VERIFIER_KEY] = verifier
    verifier.start()
    try:
        yield
    finally:
        await verifier.stop()


router = APIRouter(tags=["credentials (public)"], lifespan=_verifier_lifespan)

VC_MEDIA_TYPE = "application/vc"
DID_MEDIA_TYPE = "application/did+ld+json"
_LIST_ID = re.compile(r"[0-9a-f]{32}")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_FIRST_KEYS = ("@context", "id", "type")


def _context(request: Request) -> IssuanceContext:
    context: IssuanceContext = request.app.state.services[SERVICE_KEY]
    return context


def _not_found(what: str) -> HTTPException:
    return HTTPException(404, f"{what} not found")


def _ordered(document: dict[str, Any]) -> dict[str, Any]:
    """``@context``, ``id``, ``type`` first (the database's jsonb keeps keys in its own order)."""
    head = {k: document[k] for k in _FIRST_KEYS if k in document}
    return {**head, **{k: v for k, v in document.items() if k not in head}}


# ------------------------------------------------------------------------------ OpenAPI: what the routes answer


class _DidDocumentResponse(JSONResponse):
    media_type = DID_MEDIA_TYPE  # only names the media type in the OpenAPI document (routes build their own)


class _CredentialResponse(JSONResponse):
    media_type = VC_MEDIA_TYPE


_NOT_MODIFIED = {"description": "Not Modified: the `If-None-Match` ETag matches (no body)"}
_CACHE_HEADERS = {
    "ETag": {"schema": {"type": "string"}, "description": "strong ETag of the body's bytes"},
    "Cache-Control": {"schema": {"type": "string"}},
}
_DID_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "W3C DID document (did:web): every key of the institution, active first, as Multikey",
    "required": ["@context", "id", "verificationMethod", "assertionMethod"],
    "properties": {
        "@context": {"type": "array", "items": {"type": "string"}},
        "id": {"type": "string"},
        "verificationMethod": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "type", "controller", "publicKeyMultibase"],
                "properties": {
                    "id": {"type": "string"},
                    "type": {"type": "string"},
                    "controller": {"type": "string"},
                    "publicKeyMultibase": {"type": "string"},
                },
            },
        },
        "assertionMethod": {"type": "array", "items": {"type": "string"}},
    },
}


def _vc_schema(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "required": ["@context", "id", "type", "issuer", "proof"],
        "properties": {"@context": {"type": "array"}, "id": {"type": "string"}, "type": {"type": "array"}},
    }


def _cached(media_type: str, schema: dict[str, Any]) -> dict[int | str, dict[str, Any]]:
    """The responses of a cacheable GET: 200 in ``media_type`` with its ETag, 304."""
    return {
        200: {"content": {media_type: {"schema": schema}}, "headers": _CACHE_HEADERS},
        304: _NOT_MODIFIED,
    }


_DID_RESPONSES = _cached(DID_MEDIA_TYPE, _DID_SCHEMA)
_STATUS_LIST_RESPONSES = _cached(
    VC_MEDIA_TYPE, _vc_schema("the signed BitstringStatusListCredential (VC Data Model 2.0, Data Integrity proof)")
)
_CREDENTIAL_RESPONSES = _cached(
    VC_MEDIA_TYPE, _vc_schema("the credential as issued: OB 3.0 AchievementCredential or CLR 2.0 ClrCredential")
)
_CRITERIA_RESPONSES = _cached("application/json", {"type": "object"})


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


@router.get(
    "/institutions/{institution_id}/did.json",
    openapi_extra=public(),
    response_model=None,
    response_class=_DidDocumentResponse,
    responses=_DID_RESPONSES,
)
async def did_document(institution_id: str, request: Request) -> Response:
    """did:web DID document of an institution: every key it ever had (Multikey), usable for assertions."""
    context = _context(request)
    if not is_institution_id(institution_id):
        raise _not_found("institution")
    async with request_pool(request).acquire() as conn:
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
    async with request_pool(request).acquire() as conn, conn.transaction():
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


@router.get(
    "/status-lists/{list_id}",
    openapi_extra=public(),
    response_model=None,
    response_class=_CredentialResponse,
    responses=_STATUS_LIST_RESPONSES,
)
async def status_list(list_id: str, request: Request) -> Response:
    """The signed ``BitstringStatusListCredential`` (revocation; superseded credentials are set too)."""
    context = _context(request)
    if not _LIST_ID.fullmatch(list_id):
        raise _not_found("status list")
    async with request_pool(request).acquire() as conn:
        credential = await status_lists.signed_credential(conn, list_id)
    if credential is None:
        raise _not_found("status list")
    max_age = context.settings.status_list_max_age_seconds
    return _json(request, _ordered(credential), media_type=VC_MEDIA_TYPE, cache_control=f"public, max-age={max_age}")


# ------------------------------------------------------------------------------ credentials


@router.get(
    "/credentials/{credential_uuid}.json",
    openapi_extra=public(),
    response_model=None,
    response_class=_CredentialResponse,
    responses=_CREDENTIAL_RESPONSES,
)
async def credential_json(credential_uuid: str, request: Request) -> Response:
    """The credential as issued and signed (its id is an unguessable URL: a share link)."""
    context = _context(request)
    try:
        parsed = uuid.UUID(credential_uuid)
    except ValueError:
        raise _not_found("credential") from None
    credential_id = f"{context.dids.public_base}/credentials/{parsed}"
    async with request_pool(request).acquire() as conn:
        document = await conn.fetchval(
            "SELECT document FROM issued_credentials WHERE credential_id = $1", credential_id
        )
    if document is None:
        raise _not_found("credential")
    response = _json(request, _ordered(document), media_type=VC_MEDIA_TYPE, cache_control="private, max-age=300")
    response.headers["X-Robots-Tag"] = "noindex"
    return response


@router.get(
    "/achievements/{mc_id}/v{version}/criteria.json",
    openapi_extra=public(),
    response_model=None,
    responses=_CRITERIA_RESPONSES,
)
async def achievement_criteria(mc_id: str, version: int, request: Request) -> Response:
    """The award criteria of a published micro-credential version (what ``criteria.id`` points to)."""
    context = _context(request)
    if not _CODE.fullmatch(mc_id) or not 1 <= version < 2**31:
        raise _not_found("micro-credential version")
    async with request_pool(request).acquire() as conn:
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


@router.get(
    "/pathways/{pathway_id}/v{version}/criteria.json",
    openapi_extra=public(),
    response_model=None,
    responses=_CRITERIA_RESPONSES,
)
async def pathway_criteria(pathway_id: str, version: int, request: Request) -> Response:
    """The stacking rule of a published pathway version (what a pathway credential's ``criteria.id`` names)."""
    context = _context(request)
    if not _CODE.fullmatch(pathway_id) or not 1 <= version < 2**31:
        raise _not_found("pathway version")
    async with request_pool(request).acquire() as conn:
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


_VERIFY_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "the verification report (valid or not: see `verdict`)",
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["verdict", "checked_at", "proofs", "status", "validity", "problems", "retryable"],
                    "properties": {
                        "verdict": {"type": "string", "enum": ["valid", "invalid", "indeterminate"]},
                        "credential_id": {"type": ["string", "null"]},
                        "issuer": {"type": ["string", "null"]},
                        "checked_at": {"type": "string"},
                        "proofs": {"type": "array", "items": {"type": "object"}},
                        "status": {"type": "object"},
                        "validity": {"type": "object"},
                        "problems": {"type": "array", "items": {"type": "string"}},
                        "retryable": {"type": "array", "items": {"type": "string"}},
                    },
                }
            }
        },
    },
    400: {"description": "no body, or not JSON (invalid UTF-8, duplicate keys, NaN...)"},
    413: {"description": "the body is larger than VERIFY_MAX_BYTES (refused before parsing)"},
    422: {"description": "JSON nested deeper than VERIFY_MAX_DEPTH, not an object, or not processable"},
    503: {"description": "the service is starting or stopping, or a verification worker stopped: retry"},
}


def _verifier(request: Request) -> Verifier:
    verifier: Verifier | None = request.app.state.services.get(VERIFIER_KEY)
    if verifier is None:
        raise HTTPException(503, "the service is starting")
    return verifier


@router.post(
    "/verify", openapi_extra=public(requestBody=_VERIFY_BODY), response_model=None, responses=_VERIFY_RESPONSES
)
async def verify(request: Request) -> Response:
    """Verify a credential: schemas, contexts, every proof and which awarding body made it, the
    issuer's proof first, key resolution (this consortium's did:web, did:key), status, dates.

    200 with the report for any credential-shaped JSON (valid or not: see ``verdict``); 413 for a
    body over the size cap, 422 for JSON too deep or not an object, 400 for anything not JSON.
    The signature checks run in worker processes and are remembered by the bytes of the document
    and of its keys (docs/verification.md); keys, status and dates are looked up on every request."""
    context = _context(request)
    verifier = _verifier(request)
    settings = context.settings
    raw = await _read_limited(request, settings.verify_max_bytes)
    limits = JsonLimits(max_bytes=settings.verify_max_bytes, max_depth=settings.verify_max_depth)
    try:
        document = parse_document(raw, IssuerPolicy(limits=limits))  # caps first, before parsing
        async with request_pool(request).acquire() as conn:
            keys = await ConsortiumKeys.load(conn, context.dids)  # the keys as they are now
            statuses = await snapshot_for(conn, context.dids, document)  # the status as it is now
        trusted = frozenset(context.dids.did(institution_id) for institution_id, _ in keys.keys)
        report = await verifier.verify(
            raw,
            document,
            resolve_key=keys.resolve_key,
            status_of=statuses.status_of,
            now=datetime.now(UTC),
            policy=IssuerPolicy(trusted_issuers=trusted, limits=limits),
        )
    except UntrustedInputError as exc:
        return problems.problem(exc.http_status, str(exc)[:500], instance=request.url.path)
    except (ProofError, ValueError, TypeError, RecursionError) as exc:  # never a 5xx for client input
        log.warning("verification refused input", error=type(exc).__name__)
        detail = f"the credential cannot be processed: {type(exc).__name__}"
        return problems.problem(422, detail, instance=request.url.path)
    except VerifierUnavailableError as exc:
        return problems.problem(503, str(exc), instance=request.url.path, headers={"Retry-After": "1"})
    return JSONResponse(report.to_dict())
