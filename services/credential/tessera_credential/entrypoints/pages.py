"""Learner and employer pages: server-rendered HTML, the PDF certificate and the SVG badge.

* GET ``/c/{key}`` (public: the share link): the verification page: achievement, ECTS, EQF level,
  learning outcomes, awarding bodies with logos, live verification, status, downloads;
* GET ``/c/{key}.pdf`` (public): the printable certificate, with a QR code to the page;
* GET ``/achievements/{mc}/v{n}/badge.svg`` (public): the achievement's badge image
  (``/achievements/{mc}/badge.svg``: the latest published version's);
* GET ``/backpack`` (learner: bearer header or backpack cookie): the learner's own credentials with
  share, LinkedIn, JSON and PDF links, and progress per offering;
* POST ``/backpack/session`` (public: the form carries the learner token): sets the backpack
  cookie, 303 to ``/backpack``;
* POST ``/backpack/sign-out`` (public): clears the cookie, 303 to ``/backpack``.

Every page takes ``?lang=en|nl|de|fr`` and otherwise follows ``Accept-Language``. ``{key}`` is the
UUID at the end of the credential's id (``<PUBLIC_BASE_URL>/credentials/<uuid>``). The lead engineer
calls :func:`wire_pages` from ``bootstrap.build``. See docs/credential-pages.md.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import RedirectResponse, Response
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer

from tessera_credential.application import queries
from tessera_credential.documents.alignments import eqf_level
from tessera_credential.documents.common import decimal_text, pick_text
from tessera_credential.pages import reads
from tessera_credential.pages.badge import badge_svg
from tessera_credential.pages.context import SERVICE_KEY, PagesContext, PagesSettings
from tessera_credential.pages.i18n import LANGUAGES, Translator, negotiate
from tessera_credential.pages.progress import ProgressView, progress_view
from tessera_credential.pages.session import COOKIE, BackpackAuth, authenticate
from tessera_credential.pages.views import (
    credential_id_of,
    credential_key,
    credential_view,
    linkedin_for,
    parse_key,
    verification_view,
)
from tessera_shared.contract.catalogue import MicroCredentialDefinition, PartnerRole
from tessera_shared.kernel.aggregate import Forbidden, NotFound
from tessera_shared.kernel.app import request_pool
from tessera_shared.kernel.auth import Principal, TokenVerifier, public
from tessera_shared.kernel.runtime import ServiceDefinition

router = APIRouter(tags=["pages"])

Lang = Annotated[str | None, Query(description="en | nl | de | fr (else Accept-Language)")]
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
_FORM_MAX_BYTES = 16_384
_bearer = HTTPBearer(auto_error=False, description="a learner token (role learner)")
_cookie = APIKeyCookie(
    name=COOKIE, auto_error=False, description="the backpack cookie set by POST /backpack/session (a learner token)"
)
_FORM_BODY = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "properties": {"token": {"type": "string"}, "lang": {"type": "string"}},
                "required": ["token"],
            }
        }
    },
}


def _context(request: Request) -> PagesContext:
    context: PagesContext = request.app.state.services[SERVICE_KEY]
    return context


def _translator(request: Request, lang: str | None) -> Translator:
    return Translator(negotiate(lang, request.headers.get("accept-language")))


def _not_modified(request: Request, etag: str) -> bool:
    match = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in match.split(",") if tag.strip()}
    return etag.removeprefix("W/") in tags or "*" in tags


def _institution_ids(rows: Iterable[dict[str, Any]]) -> list[str]:
    ids: dict[str, None] = {}
    for row in rows:
        ids[row["issuer_id"]] = None
        ids.update(dict.fromkeys(row.get("co_signer_ids") or []))
    return list(ids)


async def _credential_row(request: Request, key: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
    context = _context(request)
    async with request_pool(request).acquire() as conn:
        row = await reads.credential(conn, credential_id_of(context.dids, key))
        if row is None:
            return None
        profiles = await reads.institution_profiles(conn, _institution_ids([row]))
    return row, profiles


# ------------------------------------------------------------------------------ public verification page


@router.get("/c/{credential_key}.pdf", openapi_extra=public(), response_class=Response)
async def certificate(credential_key: str, request: Request, lang: Lang = None) -> Response:
    """The printable certificate (PDF) with a QR code pointing to the verification page."""
    context = _context(request)
    key = parse_key(credential_key)
    found = await _credential_row(request, key) if key else None
    if found is None:
        raise HTTPException(404, "credential not found")
    t = _translator(request, lang)
    view = credential_view(context.dids, *found)
    body = await context.certificates.pdf(view, t)
    etag = '"' + hashlib.sha256(body).hexdigest()[:40] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"private, max-age={context.settings.pages_max_age_seconds}",
        "Content-Disposition": f'attachment; filename="tessera-credential-{key}.pdf"',
        "Content-Language": t.language,
        "Vary": "Accept-Language",
        "X-Content-Type-Options": "nosniff",
        "X-Robots-Tag": "noindex",
    }
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/pdf", headers=headers)


@router.get("/c/{credential_key}", openapi_extra=public(), response_class=Response)
async def credential_page(credential_key: str, request: Request, lang: Lang = None) -> Response:
    """The credential's public page (its share link): what it states, who awarded it, and the result
    of verifying it now — signatures of every awarding body, status, validity."""
    context = _context(request)
    t = _translator(request, lang)
    key = parse_key(credential_key)
    found = await _credential_row(request, key) if key else None
    if key is None or found is None:
        return context.renderer.page(
            "message.html",
            t=t,
            path=f"/c/{key}" if key else "/c/",
            status_code=404,
            heading=t("not_found_title"),
            text=t("not_found_text"),
            back=None,
        )
    row, profiles = found
    view = credential_view(context.dids, row, profiles)
    report = await context.verifier.report(request_pool(request), row)
    verification = verification_view(report, t)
    response = context.renderer.page(
        "credential.html",
        t=t,
        path=f"/c/{key}",
        cache_control=f"private, max-age={context.settings.pages_max_age_seconds}",
        c=view,
        v=verification,
    )
    etag = 'W/"' + hashlib.sha256(bytes(response.body)).hexdigest()[:40] + '"'
    response.headers["ETag"] = etag
    if _not_modified(request, etag):
        return Response(status_code=304, headers={k: v for k, v in response.headers.items() if k != "content-length"})
    return response


# ------------------------------------------------------------------------------ badge image


@router.get("/achievements/{mc_id}/v{version}/badge.svg", openapi_extra=public(), response_class=Response)
async def badge(mc_id: str, version: int, request: Request, lang: Lang = None) -> Response:
    """The achievement's badge (SVG). Deterministic per version and ``?lang=`` (Accept-Language is not
    consulted: an image named in a credential must not change with the viewer); without ``lang``
    the title is in the definition's first language of instruction."""
    if not _CODE.fullmatch(mc_id) or not 1 <= version < 2**31:
        raise HTTPException(404, "micro-credential version not found")
    async with request_pool(request).acquire() as conn:
        raw = await reads.definition(conn, mc_id, version)
    if raw is None:
        raise HTTPException(404, "micro-credential version not found")
    return _badge_response(request, mc_id, version, raw, lang, cache_control="public, max-age=86400")


@router.get("/achievements/{mc_id}/badge.svg", openapi_extra=public(), response_class=Response)
async def latest_badge(mc_id: str, request: Request, lang: Lang = None) -> Response:
    """The badge of the latest published version (changes when a new version is published)."""
    if not _CODE.fullmatch(mc_id):
        raise HTTPException(404, "micro-credential not found")
    async with request_pool(request).acquire() as conn:
        version = await reads.latest_version(conn, mc_id)
        raw = await reads.definition(conn, mc_id, version) if version is not None else None
    if version is None or raw is None:
        raise HTTPException(404, "micro-credential not found")
    return _badge_response(request, mc_id, version, raw, lang, cache_control="public, max-age=3600")


def _badge_response(
    request: Request, mc_id: str, version: int, raw: dict[str, Any], lang: str | None, *, cache_control: str
) -> Response:
    definition = MicroCredentialDefinition.model_validate(raw)
    wanted = lang.strip().lower() if lang else None
    preferred = [wanted, *definition.languages] if wanted else list(definition.languages)
    title_language, title = pick_text(definition.title, preferred)
    t = Translator(wanted if wanted in LANGUAGES else title_language if title_language in LANGUAGES else "en")
    coordinator = next((p for p in definition.partners if PartnerRole.COORDINATOR in p.roles), None)
    issuer = pick_text(coordinator.name, preferred)[1] if coordinator else None
    ects = decimal_text(definition.workload.ects)
    try:
        eqf: str | None = str(eqf_level(definition))
    except ValueError:
        eqf = None
    description = ". ".join(
        p
        for p in (
            f"{t('micro_credential')}: {title}",
            f"{t.number(ects)} ECTS",
            f"{t('eqf_level')} {eqf}" if eqf else None,
            issuer,
        )
        if p
    )
    svg = badge_svg(
        seed=f"{mc_id}/v{version}",
        title=title,
        label=t("micro_credential"),
        ects=t.number(ects),
        eqf=eqf,
        issuer=issuer,
        language=title_language,
        description=description,
    ).encode("utf-8")
    etag = '"' + hashlib.sha256(svg).hexdigest()[:40] + '"'
    headers = {
        "ETag": etag,
        "Cache-Control": cache_control,
        "Content-Security-Policy": "default-src 'none'",
        "X-Content-Type-Options": "nosniff",
    }
    if _not_modified(request, etag):
        return Response(status_code=304, headers=headers)
    return Response(svg, media_type="image/svg+xml", headers=headers)


# ------------------------------------------------------------------------------ learner backpack


async def _backpack_auth(  # a coroutine: no thread-pool hop
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    cookie: str | None = Depends(_cookie),
) -> BackpackAuth:
    verifier: TokenVerifier = request.app.state.token_verifier
    return authenticate(verifier, bearer.credentials if bearer else None, cookie)


def _learner_name(profile: dict[str, Any] | None, principal: Principal) -> str:
    if isinstance(profile, dict):
        name = f"{profile.get('given_name') or ''} {profile.get('family_name') or ''}".strip()
        if name:
            return name
    return principal.subject


async def _progress(
    request: Request, principal: Principal, offerings: list[dict[str, Any]], keys: dict[str, str], t: Translator
) -> list[ProgressView]:
    out = []
    for offering in offerings:
        offering_id = offering["offering_id"]
        try:  # the awarding engine's read, with its access rules (a learner sees their own only)
            explanation: dict[str, Any] | None = await queries.explanation(
                request_pool(request), principal, principal.subject, offering_id
            )
        except NotFound:
            explanation = None
        except Forbidden:
            continue
        title_map = offering.get("title")
        if isinstance(title_map, dict) and title_map:
            title_language, title = pick_text(title_map, [t.language])
        else:
            title_language, title = None, offering_id
        award_id = (explanation or {}).get("award_id") or (explanation or {}).get("held_award_id")
        out.append(
            progress_view(
                explanation,
                offering_id=offering_id,
                title=title,
                title_language=title_language,
                t=t,
                credential_key=keys.get(str(award_id)) if award_id else None,
            )
        )
    return out


@router.get("/backpack", response_class=Response)
async def backpack(request: Request, lang: Lang = None, auth: BackpackAuth = Depends(_backpack_auth)) -> Response:
    """The learner's own credentials and progress. Authenticated by the learner token, as a bearer
    header or the backpack cookie (see ``POST /backpack/session``); otherwise a sign-in page (401)."""
    context = _context(request)
    t = _translator(request, lang)
    if auth.principal is None or auth.problem is not None:
        status = 403 if auth.problem == "not_learner" else 401
        response = context.renderer.page(
            "signin.html",
            t=t,
            path="/backpack",
            status_code=status,
            problem=auth.problem or "missing",
            session_minutes=context.settings.backpack_session_max_seconds // 60,
            headers={"WWW-Authenticate": "Bearer"} if status == 401 else None,
        )
        if auth.via_cookie and auth.problem in ("invalid", "not_learner") and request.cookies.get(COOKIE):
            context.cookies.clear(response)
        return response
    principal = auth.principal
    learner_id = principal.subject
    async with request_pool(request).acquire() as conn:
        rows = await reads.credentials_of_learner(conn, learner_id)
        profile = await reads.learner_profile(conn, learner_id)
        offerings = await reads.offerings_of_learner(conn, learner_id)
        profiles = await reads.institution_profiles(conn, _institution_ids(rows))
    credentials = []
    keys: dict[str, str] = {}
    for row in rows:
        view = credential_view(context.dids, row, profiles)
        key = credential_key(context.dids, row["credential_id"])
        if key and row["status"] == "active":
            keys[str(row["award_id"])] = key
        credentials.append({"view": view, "linkedin": linkedin_for(view) if view.active else None})
    progress = await _progress(request, principal, offerings, keys, t)
    return context.renderer.page(
        "backpack.html",
        t=t,
        path="/backpack",
        cache_control="no-store",
        headers={"Vary": "Accept-Language, Authorization, Cookie"},
        learner_name=_learner_name(profile, principal),
        via_cookie=auth.via_cookie,
        credentials=credentials,
        progress=progress,
    )


async def _form(request: Request) -> dict[str, str]:
    """A small urlencoded form body, read with a cap (never logged)."""
    if not request.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        raise HTTPException(415, "send the form as application/x-www-form-urlencoded")
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > _FORM_MAX_BYTES):
        raise HTTPException(413, "form too large")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > _FORM_MAX_BYTES:
            raise HTTPException(413, "form too large")
    try:
        fields = parse_qs(body.decode("utf-8"), max_num_fields=8, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        raise HTTPException(400, "malformed form") from None
    return {name: values[0] for name, values in fields.items() if values}


def _backpack_url(context: PagesContext, lang: str | None) -> str:
    url = context.renderer.url("/backpack")
    return f"{url}?lang={lang}" if lang in LANGUAGES else url


@router.post("/backpack/session", openapi_extra=public(requestBody=_FORM_BODY), response_class=Response)
async def start_session(request: Request) -> Response:
    """Sign in to the backpack with a learner token (form field ``token``): sets the short-lived
    ``HttpOnly`` backpack cookie and redirects (303) to ``/backpack``. A token that is not a valid
    learner token gets the sign-in page again (401 / 403), and no cookie."""
    context = _context(request)
    form = await _form(request)
    lang = form.get("lang", "").strip().lower() or None
    t = _translator(request, lang)
    verifier: TokenVerifier = request.app.state.token_verifier
    token = form.get("token", "").strip()
    auth = authenticate(verifier, token or None, None)
    if auth.problem is None:
        response = RedirectResponse(_backpack_url(context, lang), status_code=303)
        response.headers["Cache-Control"] = "no-store"
        if context.cookies.set(response, token):
            return response
        auth = BackpackAuth(None, "invalid")
    status = 403 if auth.problem == "not_learner" else 401
    return context.renderer.page(
        "signin.html",
        t=t,
        path="/backpack",
        status_code=status,
        problem=auth.problem or "missing",
        session_minutes=context.settings.backpack_session_max_seconds // 60,
    )


@router.post("/backpack/sign-out", openapi_extra=public(), response_class=Response)
async def end_session(request: Request) -> Response:
    """Forget the backpack cookie and go back to the (sign-in) backpack page."""
    context = _context(request)
    lang = request.query_params.get("lang")
    if request.headers.get("content-type", "").lower().startswith("application/x-www-form-urlencoded"):
        lang = (await _form(request)).get("lang") or lang
    response = RedirectResponse(_backpack_url(context, (lang or "").strip().lower() or None), status_code=303)
    response.headers["Cache-Control"] = "no-store"
    context.cookies.clear(response)
    return response


# ------------------------------------------------------------------------------ wiring


def wire_pages(definition: ServiceDefinition, *, settings: PagesSettings | None = None) -> None:
    """Add the learner and employer pages to the credential service (called from ``bootstrap.build``).

    Independent of ``wire_issuance`` (the pages only read ``issued_credentials``), but the pages link
    to its ``/credentials/{uuid}.json``, so wire both. Wiring twice is harmless: the second call only
    replaces the settings when given.
    """
    wired = definition.services.get(SERVICE_KEY)
    if isinstance(wired, PagesContext):
        if settings is not None:
            definition.services[SERVICE_KEY] = PagesContext.create(definition.settings.public_base_url, settings)
        return
    context = PagesContext.create(definition.settings.public_base_url, settings or PagesSettings())
    definition.services[SERVICE_KEY] = context
    definition.routers = [*definition.routers, router]
