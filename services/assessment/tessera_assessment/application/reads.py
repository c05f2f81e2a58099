"""Reads, each limited to what the principal may see (docs/assessment.md, "Authorisation").

* A **learner** sees their own results and attendance, and nobody else's (403).
* An **assessor** — or a registrar or catalogue editor of a partner that is not the coordinator —
  sees the results of the components their institution teaches in the offering; an institution
  that teaches none of them gets 403.
* The **coordinator** — a registrar or catalogue editor of the offering's coordinating institution
  — sees the whole offering.
* An **operator** sees everything.
"""

from __future__ import annotations

from typing import Any

import asyncpg

from tessera_assessment.adapters import catalogue_views, queries, uploads
from tessera_assessment.adapters.catalogue_views import OfferingInfo
from tessera_assessment.adapters.queries import Scope
from tessera_assessment.application.rules import Refused, load_offering, usable_schemes
from tessera_shared.kernel.auth import Principal
from tessera_shared.kernel.runtime import Runtime

STAFF = ("assessor", "registrar", "catalogue-editor")
COORDINATOR_ROLES = ("registrar", "catalogue-editor")
READERS = ("learner", *STAFF, "operator")


def _forbidden(message: str, field: str | None = None) -> Refused:
    return Refused(message, field=field, code="forbidden", status=403)


def read_scope(principal: Principal, offering: OfferingInfo) -> Scope:
    if principal.is_operator:
        return Scope()
    if principal.has(*STAFF) and principal.institution:
        if principal.institution == offering.coordinator_id and principal.has(*COORDINATOR_ROLES):
            return Scope()
        taught = offering.taught_by(principal.institution)
        if taught:
            return Scope(components=taught)
    if principal.is_learner:
        return Scope(learner_id=principal.subject)
    raise _forbidden(
        f"{principal.institution or 'your token'} neither coordinates offering {offering.offering_id} "
        "nor teaches any of its components"
    )


def _pool(runtime: Runtime) -> asyncpg.Pool:
    assert runtime.pool is not None
    return runtime.pool


def _only_self(scope: Scope, learner_id: str | None) -> None:
    if scope.learner_id is not None and learner_id is not None and learner_id != scope.learner_id:
        raise _forbidden("learners see only their own results", field="learner_id")


async def offering_results(
    runtime: Runtime,
    principal: Principal,
    offering_id: str,
    *,
    learner_id: str | None,
    component_code: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    async with _pool(runtime).acquire() as conn:
        offering = await load_offering(conn, offering_id)
        scope = read_scope(principal, offering)
        _only_self(scope, learner_id)
        return await queries.list_results(
            conn,
            offering_id=offering_id,
            scope=scope,
            learner_id=learner_id,
            component_code=component_code,
            status=status,
            cursor=cursor,
            limit=limit,
        )


async def my_results(
    runtime: Runtime,
    principal: Principal,
    *,
    offering_id: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    async with _pool(runtime).acquire() as conn:
        if offering_id is not None:
            await load_offering(conn, offering_id)
        page = await queries.list_results(
            conn,
            offering_id=offering_id,
            scope=Scope(learner_id=principal.subject),
            status=status,
            cursor=cursor,
            limit=limit,
        )
    return page


async def one_result(runtime: Runtime, principal: Principal, result_id: str) -> dict[str, Any]:
    async with _pool(runtime).acquire() as conn:
        result = await queries.get_result(conn, result_id)
        if result is None:
            raise Refused(f"no result {result_id!r}", field="result_id", code="not_found", status=404)
        offering = await load_offering(conn, result["offering_id"])
    scope = read_scope(principal, offering)
    if scope.learner_id is not None and scope.learner_id != result["learner_id"]:
        raise _forbidden("learners see only their own results", field="result_id")
    if scope.components is not None and result["component_code"] not in scope.components:
        raise _forbidden(f"component {result['component_code']} is taught by another institution", field="result_id")
    return result


async def offering_attendance(
    runtime: Runtime,
    principal: Principal,
    offering_id: str,
    *,
    learner_id: str | None,
    component_code: str | None,
    cursor: str | None,
    limit: int,
) -> dict[str, Any]:
    async with _pool(runtime).acquire() as conn:
        offering = await load_offering(conn, offering_id)
        scope = read_scope(principal, offering)
        _only_self(scope, learner_id)
        return await queries.list_attendance(
            conn,
            offering_id=offering_id,
            scope=scope,
            learner_id=learner_id,
            component_code=component_code,
            cursor=cursor,
            limit=limit,
        )


async def offering_info(runtime: Runtime, principal: Principal, offering_id: str) -> dict[str, Any]:
    """The offering as assessment knows it: components, teaching partners, their grading schemes."""
    async with _pool(runtime).acquire() as conn:
        offering = await load_offering(conn, offering_id)
        schemes = await catalogue_views.grading_schemes_of(
            conn, {c.teaching_institution for c in offering.components.values()}
        )
    return catalogue_views.offering_view(offering, {i: usable_schemes(d) for i, d in schemes.items()})


async def upload_report(runtime: Runtime, principal: Principal, upload_id: str) -> str:
    """The stored report of an upload: for its uploader, assessors of the same institution and operators."""
    async with _pool(runtime).acquire() as conn:
        stored = await uploads.get_upload(conn, upload_id)
    if stored is None:
        raise Refused(f"no upload {upload_id!r}", field="upload_id", code="not_found", status=404)
    if not (
        principal.is_operator
        or principal.subject == stored.subject
        or (principal.institution is not None and principal.institution == stored.institution)
    ):
        raise _forbidden("the report belongs to another institution's upload", field="upload_id")
    return stored.report_json
