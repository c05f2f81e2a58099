"""The public catalogue (no token): published micro-credentials, offerings, pathways, institutions.

Served from the read models, localised by ``Accept-Language`` (with fallback), with a strong ETag
over the body and 304 for a matching ``If-None-Match``.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Request, Response

from tessera_catalogue.adapters import queries, views
from tessera_catalogue.adapters.views import Localiser
from tessera_catalogue.domain.annex_i import published_completeness
from tessera_catalogue.entrypoints.negotiation import cached_json, preferred_languages
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.values import Semester
from tessera_shared.kernel.aggregate import NotFound
from tessera_shared.kernel.auth import public

router = APIRouter(prefix="/catalogue", tags=["public catalogue"])
CODE = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"
Id = Annotated[str, Path(pattern=CODE)]
AcceptLanguage = Annotated[str | None, Header(alias="Accept-Language")]
Page = Annotated[int, Query(ge=1, le=10_000)]
PageSize = Annotated[int, Query(ge=1, le=100)]
ACADEMIC_YEAR = r"^\d{4}-\d{4}$"


def _today(request: Request) -> date:
    return datetime.now(request.app.state.services["zone"]).date()


def _pool(request: Request) -> Any:
    return request.app.state.runtime.pool


def _paged(items: list[Any], total: int, page: int, page_size: int) -> dict[str, Any]:
    return {
        "items": items,
        "total": total,
        "page": page,
        "page_size": page_size,
        "pages": (total + page_size - 1) // page_size,
    }


def _offering(row: Any, loc: Localiser, today: date, names: dict[str, str] | None = None) -> dict[str, Any]:
    return views.offering_view(cat.OfferingScheduled.model_validate(row["scheduled"]), row, loc, today, names)


def _entry(row: Any, offering_rows: list[Any], loc: Localiser, today: date, annex_i: Any = None) -> dict[str, Any]:
    definition = cat.MicroCredentialDefinition.model_validate(row["definition"])
    if annex_i is None:
        annex_i = views.annex_i_view(published_completeness(definition))
    names = {p.institution_id: loc(p.name) or p.institution_id for p in definition.partners}
    offers = [_offering(o, loc, today, names) for o in offering_rows]
    return views.entry_view(
        row["micro_credential_id"],
        row["version"],
        definition,
        annex_i,
        row["published_at"],
        row["retired"],
        offers,
        loc,
    )


@router.get("/micro-credentials", openapi_extra=public())
async def search_micro_credentials(
    request: Request,
    q: Annotated[str | None, Query(max_length=200, description="free text: every word, as a prefix")] = None,
    field: Annotated[str | None, Query(pattern=r"^\d{2,4}$", description="ISCED-F code or prefix")] = None,
    ects_min: Annotated[Decimal | None, Query(ge=0)] = None,
    ects_max: Annotated[Decimal | None, Query(ge=0)] = None,
    eqf: Annotated[int | None, Query(ge=1, le=8)] = None,
    language: Annotated[str | None, Query(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,4})*$")] = None,
    mode: cat.ParticipationMode | None = None,
    evening: bool | None = None,
    distance: bool | None = None,
    institution: Annotated[str | None, Query(max_length=253, description="a partner, in any role")] = None,
    role: Annotated[cat.PartnerRole | None, Query(description="with institution: in this role")] = None,
    academic_year: Annotated[str | None, Query(pattern=ACADEMIC_YEAR)] = None,
    semester: Annotated[Semester | None, Query(description="with an offering running in this period")] = None,
    open: Annotated[bool | None, Query(description="with an offering open for enrolment today")] = None,
    include_retired: bool = False,
    sort: queries.Sort | None = None,
    page: Page = 1,
    page_size: PageSize = 20,
    accept_language: AcceptLanguage = None,
) -> Response:
    """Search published micro-credentials (their latest version). Filters combine with AND."""
    loc = Localiser(preferred_languages(accept_language))
    today = _today(request)
    filters = queries.SearchFilters(
        q=q,
        field=field,
        ects_min=ects_min,
        ects_max=ects_max,
        eqf=eqf,
        language=language,
        mode=mode.value if mode else None,
        evening=evening,
        distance=distance,
        institution=institution,
        role=role.value if role else None,
        academic_year=academic_year,
        semester=semester.value if semester else None,
        open=open,
        include_retired=include_retired,
    )
    sort_lang = (loc.preferred[0].split("-")[0] if loc.preferred else "en").lower()
    async with _pool(request).acquire() as conn:
        rows, total = await queries.search(
            conn,
            filters,
            sort=sort,
            lang=sort_lang,
            limit=page_size,
            offset=(page - 1) * page_size,
            today=today,
        )
        offering_rows = await queries.offerings_of(conn, [r["micro_credential_id"] for r in rows])
    by_mc: dict[str, list[Any]] = {}
    for o in offering_rows:
        by_mc.setdefault(o["micro_credential_id"], []).append(o)
    items = [_entry(r, by_mc.get(r["micro_credential_id"], []), loc, today, r["annex_i"]) for r in rows]
    return cached_json(request, _paged(items, total, page, page_size))


@router.get("/micro-credentials/{mc_id}", openapi_extra=public())
async def latest_micro_credential(request: Request, mc_id: Id, accept_language: AcceptLanguage = None) -> Response:
    """The latest published version, with every current offering (of any version) and the version list."""
    loc = Localiser(preferred_languages(accept_language))
    async with _pool(request).acquire() as conn:
        row = await queries.latest_entry(conn, mc_id)
        if row is None:
            raise NotFound(f"micro-credential {mc_id} has no published version")
        offering_rows = await queries.offerings_of(conn, [mc_id])
        versions = await queries.versions_of(conn, mc_id)
    entry = _entry(row, offering_rows, loc, _today(request), row["annex_i"])
    return cached_json(request, {**entry, "versions": versions})


@router.get("/micro-credentials/{mc_id}/versions/{version}", openapi_extra=public())
async def micro_credential_version(
    request: Request, mc_id: Id, version: Annotated[int, Path(ge=1)], accept_language: AcceptLanguage = None
) -> Response:
    """One published version exactly as signed off, with every offering pinned to it."""
    loc = Localiser(preferred_languages(accept_language))
    async with _pool(request).acquire() as conn:
        row = await queries.version_row(conn, mc_id, version)
        if row is None:
            raise NotFound(f"micro-credential {mc_id} has no published version {version}")
        offering_rows = await queries.offerings_of(conn, [mc_id], version=version, current_only=False)
    entry = _entry(row, offering_rows, loc, _today(request))
    return cached_json(request, {**entry, "approvals": row["approvals"]})


@router.get("/offerings", openapi_extra=public())
async def list_offerings(
    request: Request,
    micro_credential_id: Annotated[str | None, Query(pattern=CODE)] = None,
    academic_year: Annotated[str | None, Query(pattern=ACADEMIC_YEAR)] = None,
    period: Semester | None = None,
    status: Annotated[str | None, Query(pattern="^(scheduled|open|closed|running|finished|cancelled)$")] = None,
    page: Page = 1,
    page_size: PageSize = 20,
    accept_language: AcceptLanguage = None,
) -> Response:
    loc = Localiser(preferred_languages(accept_language))
    today = _today(request)
    async with _pool(request).acquire() as conn:
        rows, total = await queries.offerings(
            conn,
            micro_credential_id=micro_credential_id,
            academic_year=academic_year,
            period=period.value if period else None,
            status=status,
            limit=page_size,
            offset=(page - 1) * page_size,
        )
    return cached_json(request, _paged([_offering(r, loc, today) for r in rows], total, page, page_size))


@router.get("/offerings/{offering_id}", openapi_extra=public())
async def get_offering(request: Request, offering_id: Id, accept_language: AcceptLanguage = None) -> Response:
    """An offering's terms, fee and cancellation rules, with the award criteria pinned to it."""
    loc = Localiser(preferred_languages(accept_language))
    async with _pool(request).acquire() as conn:
        row = await queries.offering_row(conn, offering_id)
        if row is None:
            raise NotFound(f"offering {offering_id} does not exist")
        version = await queries.version_row(conn, row["micro_credential_id"], row["micro_credential_version"])
    names: dict[str, str] = {}
    narrative = None
    if version is not None:
        definition = cat.MicroCredentialDefinition.model_validate(version["definition"])
        names = {p.institution_id: loc(p.name) or p.institution_id for p in definition.partners}
        narrative = loc(definition.criteria_narrative)
    view = _offering(row, loc, _today(request), names)
    return cached_json(request, {**view, "criteria_narrative": narrative})


@router.get("/pathways", openapi_extra=public())
async def list_pathways(
    request: Request, page: Page = 1, page_size: PageSize = 20, accept_language: AcceptLanguage = None
) -> Response:
    loc = Localiser(preferred_languages(accept_language))
    async with _pool(request).acquire() as conn:
        rows, total = await queries.pathways(conn, page_size, (page - 1) * page_size)
    items = [_pathway(r, loc) for r in rows]
    return cached_json(request, _paged(items, total, page, page_size))


def _pathway(row: Any, loc: Localiser) -> dict[str, Any]:
    definition = cat.PathwayDefinition.model_validate(row["definition"])
    return views.pathway_view(row["pathway_id"], row["version"], definition, row["published_at"], loc)


@router.get("/pathways/{pathway_id}", openapi_extra=public())
async def latest_pathway(request: Request, pathway_id: Id, accept_language: AcceptLanguage = None) -> Response:
    return await _pathway_response(request, pathway_id, None, accept_language)


@router.get("/pathways/{pathway_id}/versions/{version}", openapi_extra=public())
async def pathway_version(
    request: Request, pathway_id: Id, version: Annotated[int, Path(ge=1)], accept_language: AcceptLanguage = None
) -> Response:
    return await _pathway_response(request, pathway_id, version, accept_language)


async def _pathway_response(request: Request, pathway_id: str, version: int | None, accept: str | None) -> Response:
    loc = Localiser(preferred_languages(accept))
    async with _pool(request).acquire() as conn:
        row = await queries.pathway_row(conn, pathway_id, version)
    if row is None:
        raise NotFound(f"pathway {pathway_id} has no published version{f' {version}' if version else ''}")
    return cached_json(request, _pathway(row, loc))


@router.get("/institutions", openapi_extra=public())
async def list_institutions(request: Request, accept_language: AcceptLanguage = None) -> Response:
    loc = Localiser(preferred_languages(accept_language))
    async with _pool(request).acquire() as conn:
        rows = await queries.institutions(conn)
    items = [
        views.institution_view(cat.InstitutionProfile.model_validate(r["profile"]), r["revision"], loc) for r in rows
    ]
    return cached_json(request, {"items": items, "total": len(items)})


@router.get("/institutions/{institution_id}", openapi_extra=public())
async def get_institution(request: Request, institution_id: str, accept_language: AcceptLanguage = None) -> Response:
    loc = Localiser(preferred_languages(accept_language))
    async with _pool(request).acquire() as conn:
        row = await queries.institution(conn, institution_id)
    if row is None:
        raise NotFound(f"institution {institution_id} is not registered")
    profile = cat.InstitutionProfile.model_validate(row["profile"])
    return cached_json(request, views.institution_view(profile, row["revision"], loc))
