"""HTTP API of the enrolment service: learners, offerings (as learned), enrolments, bulk uploads.

Authorisation: operators see and do everything; registrars act for their institution (learners they
registered or whose home it is, enrolments in offerings it takes part in; diploma reviews for the
offerings it coordinates); learners only on their own data (token subject = learner id).
"""

from __future__ import annotations

import csv
import io
import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from starlette.datastructures import UploadFile

from tessera_enrolment.adapters import enrolments_sql, learners_sql, offerings_sql
from tessera_enrolment.application import access, bulk, enrolling, learners
from tessera_enrolment.application.deps import Deps, in_transaction
from tessera_enrolment.domain.enrolment import EnrolmentStatus
from tessera_enrolment.domain.offering import OfferingStatus
from tessera_enrolment.entrypoints.schemas import (
    BulkOut,
    EnrolmentIn,
    EnrolmentOut,
    EnrolmentPage,
    LearnerIn,
    LearnerOut,
    LearnerPage,
    LearnerPatch,
    OfferingOut,
    OfferingPage,
    ReasonIn,
    ReviewIn,
    SeatsOut,
)
from tessera_shared.kernel.aggregate import DomainError, Forbidden, NotFound
from tessera_shared.kernel.auth import Principal, require
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import EventStore
from tessera_shared.kernel.runtime import Runtime

router = APIRouter()

ANYONE = require()  # any valid token
LEARNER_OR_STAFF = require("learner", "registrar", "operator")
STAFF = require("registrar", "operator")
Limit = Annotated[int, Query(ge=1, le=500)]
Offset = Annotated[int, Query(ge=0)]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _deps(request: Request) -> Deps:
    deps: Deps = request.app.state.services["deps"]
    return deps


def _store(request: Request) -> EventStore:
    store = _runtime(request).store
    assert store is not None
    return store


async def _tx(request: Request, work: Any) -> Any:
    pool = _runtime(request).pool
    assert pool is not None
    return await in_transaction(pool, work)


async def _read(request: Request, work: Any) -> Any:
    pool = _runtime(request).pool
    assert pool is not None
    async with pool.acquire() as conn:
        return await work(conn)


def _page(items: list[Any], total: int, limit: int, offset: int) -> dict[str, Any]:
    next_offset = offset + len(items) if offset + len(items) < total else None
    return {"items": items, "total": total, "limit": limit, "offset": offset, "next_offset": next_offset}


def _is_staff(principal: Principal) -> bool:
    return principal.is_operator or principal.has("registrar")


# ------------------------------------------------------------------------------------- learners


@router.post("/learners", status_code=201, response_model=LearnerOut, tags=["learners"])
async def register_learner(
    body: LearnerIn, request: Request, principal: Principal = Depends(LEARNER_OR_STAFF)
) -> dict[str, Any]:
    """A learner registers themself (id = token subject) or a registrar/operator registers a learner."""
    data = learners.LearnerInput(**body.model_dump())

    async def work(conn: Conn) -> dict[str, Any]:
        profile = await learners.register(conn, _store(request), _deps(request), principal, data)
        row = await learners_sql.get_learner(conn, profile.learner_id)
        assert row is not None
        return row

    result: dict[str, Any] = await _tx(request, work)
    return result


@router.get("/learners/me", response_model=LearnerOut, tags=["learners"])
async def my_profile(request: Request, principal: Principal = Depends(require("learner"))) -> dict[str, Any]:
    async def work(conn: Conn) -> dict[str, Any]:
        return await learners.ensure_may_see(conn, principal, principal.subject)

    result: dict[str, Any] = await _read(request, work)
    return result


@router.get("/learners", response_model=LearnerPage, tags=["learners"])
async def list_learners(
    request: Request,
    email: str | None = None,
    home_institution: str | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
    principal: Principal = Depends(STAFF),
) -> dict[str, Any]:
    """Registrars: learners of their institution or enrolled in its offerings; operators: all."""
    institution = None if principal.is_operator else (principal.institution or "")

    async def work(conn: Conn) -> dict[str, Any]:
        rows, total = await learners_sql.list_learners(
            conn, institution=institution, email=email, home_institution=home_institution, limit=limit, offset=offset
        )
        return _page(rows, total, limit, offset)

    result: dict[str, Any] = await _read(request, work)
    return result


@router.get("/learners/{learner_id}", response_model=LearnerOut, tags=["learners"])
async def get_learner(
    learner_id: str, request: Request, principal: Principal = Depends(LEARNER_OR_STAFF)
) -> dict[str, Any]:
    async def work(conn: Conn) -> dict[str, Any]:
        return await learners.ensure_may_see(conn, principal, learner_id)

    result: dict[str, Any] = await _read(request, work)
    return result


@router.patch("/learners/{learner_id}", response_model=LearnerOut, tags=["learners"])
async def update_learner(
    learner_id: str, body: LearnerPatch, request: Request, principal: Principal = Depends(LEARNER_OR_STAFF)
) -> dict[str, Any]:
    """Change the given fields; a new email is unverified unless a registrar or operator says otherwise."""
    changes = body.model_dump(exclude_unset=True)
    for required in ("given_name", "family_name", "email", "email_verified"):
        if required in changes and changes[required] is None:
            raise DomainError(f"{required} cannot be cleared", field=required)
    if changes.get("email") is not None:
        changes["email"] = str(changes["email"])

    async def work(conn: Conn) -> dict[str, Any]:
        await learners.update(conn, _store(request), _deps(request), principal, learner_id, changes)
        row = await learners_sql.get_learner(conn, learner_id)
        assert row is not None
        return row

    result: dict[str, Any] = await _tx(request, work)
    return result


# ------------------------------------------------------------------------------------ offerings


def _offering_out(row: dict[str, Any]) -> dict[str, Any]:
    seats = None
    if row.get("capacity") is not None:
        seats = SeatsOut(
            capacity=row["capacity"],
            taken=row["taken"],
            available=row["capacity"] - row["taken"],
            waitlisted=row["waiting"],
        )
    return {**row, "fee_eur": None, "seats": seats, "components": row.get("components") or []}


@router.get("/offerings", response_model=OfferingPage, tags=["offerings"])
async def list_offerings(
    request: Request,
    status: OfferingStatus | None = None,
    micro_credential_id: str | None = None,
    institution: str | None = Query(default=None, description="offerings this institution takes part in"),
    limit: Limit = 50,
    offset: Offset = 0,
    principal: Principal = Depends(ANYONE),
) -> dict[str, Any]:
    """Offerings as learned from the catalogue, with seats and waitlist (any token)."""

    async def work(conn: Conn) -> dict[str, Any]:
        rows, total = await offerings_sql.list_offerings(
            conn,
            status=status.value if status else None,
            micro_credential_id=micro_credential_id,
            institution=institution,
            limit=limit,
            offset=offset,
        )
        items = []
        for row in rows:
            out = _offering_out(row)
            view = await offerings_sql.load_offering(conn, row["offering_id"])
            if view is not None and view.terms is not None:
                out["fee_eur"] = view.fee()
            items.append(out)
        return _page(items, total, limit, offset)

    result: dict[str, Any] = await _read(request, work)
    return result


@router.get("/offerings/{offering_id}", response_model=OfferingOut, tags=["offerings"])
async def get_offering(offering_id: str, request: Request, principal: Principal = Depends(ANYONE)) -> dict[str, Any]:
    """The offering as this service knows it from the catalogue, with its seats and waitlist."""

    async def work(conn: Conn) -> dict[str, Any]:
        row = await offerings_sql.offering_summary(conn, offering_id)
        if row is None:
            raise NotFound(f"offering {offering_id} is not known")
        out = _offering_out(row)
        view = await offerings_sql.load_offering(conn, offering_id)
        if view is not None and view.terms is not None:
            out["fee_eur"] = view.fee()
        return out

    result: dict[str, Any] = await _read(request, work)
    return result


# ----------------------------------------------------------------------------------- enrolments


def _enrolment_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "waitlist_position": row.get("waitlist_ticket")}


async def _enrolment_row(conn: Conn, enrolment_id: str) -> dict[str, Any]:
    row = await enrolments_sql.get(conn, enrolment_id)
    assert row is not None
    return _enrolment_out(row)


@router.post("/enrolments", status_code=201, response_model=EnrolmentOut, tags=["enrolments"])
async def request_enrolment(
    body: EnrolmentIn, request: Request, principal: Principal = Depends(LEARNER_OR_STAFF)
) -> dict[str, Any]:
    """Enrol a learner (yourself, as a learner) in an open offering inside its enrolment window.

    The result is admitted (with the fee), waitlisted (with a position), pending review (diploma-level
    programmes) or rejected (a required credential is missing, with the reason). 409 for an active
    enrolment already held, or a full offering that keeps no waitlist; 404 for an unknown offering.
    """
    learner_id = body.learner_id or principal.subject
    if body.learner_id is None and _is_staff(principal) and not principal.is_learner:
        raise DomainError("learner_id is required when a registrar or operator enrols a learner", field="learner_id")
    req = enrolling.EnrolRequest(
        offering_id=body.offering_id,
        learner_id=learner_id,
        consent_accepted=body.consent.accepted,
        consent_terms_version=body.consent.terms_version,
        consent_partners=body.consent.partners,
        diploma=body.diploma.model_dump() if body.diploma else None,
    )

    async def work(conn: Conn) -> dict[str, Any]:
        [outcome] = await enrolling.enrol(conn, _store(request), _deps(request), principal, [req])
        if outcome.error is not None:
            raise outcome.error
        assert outcome.enrolment is not None
        return await _enrolment_row(conn, outcome.enrolment.enrolment_id)

    result: dict[str, Any] = await _tx(request, work)
    return result


@router.get("/enrolments", response_model=EnrolmentPage, tags=["enrolments"])
async def list_enrolments(
    request: Request,
    offering_id: str | None = None,
    learner_id: str | None = None,
    micro_credential_id: str | None = None,
    status: Annotated[list[EnrolmentStatus] | None, Query(description="repeat for several")] = None,
    limit: Limit = 50,
    offset: Offset = 0,
    principal: Principal = Depends(LEARNER_OR_STAFF),
) -> dict[str, Any]:
    """Learners: their own enrolments; registrars: enrolments in offerings their institution takes part
    in; operators: all. Ordered by request time."""
    institution: str | None = None
    if not principal.is_operator:
        if principal.has("registrar"):
            institution = principal.institution or ""
        else:
            if learner_id is not None and learner_id != principal.subject:
                raise Forbidden("learners see only their own enrolments", field="learner_id")
            learner_id = principal.subject

    async def work(conn: Conn) -> dict[str, Any]:
        rows, total = await enrolments_sql.search(
            conn,
            learner_id=learner_id,
            institution=institution,
            offering_id=offering_id,
            status=[s.value for s in status] if status else None,
            micro_credential_id=micro_credential_id,
            limit=limit,
            offset=offset,
        )
        return _page([_enrolment_out(r) for r in rows], total, limit, offset)

    result: dict[str, Any] = await _read(request, work)
    return result


@router.get("/enrolments/{enrolment_id}", response_model=EnrolmentOut, tags=["enrolments"])
async def get_enrolment(
    enrolment_id: str, request: Request, principal: Principal = Depends(LEARNER_OR_STAFF)
) -> dict[str, Any]:
    async def work(conn: Conn) -> dict[str, Any]:
        row = await enrolments_sql.get(conn, enrolment_id)
        if row is None:
            raise NotFound(f"enrolment {enrolment_id} does not exist")
        access.ensure_may_see_enrolment(principal, row["learner_id"], list(row["institutions"] or []))
        return _enrolment_out(row)

    result: dict[str, Any] = await _read(request, work)
    return result


@router.post("/enrolments/{enrolment_id}/review", response_model=EnrolmentOut, tags=["enrolments"])
async def review_enrolment(
    enrolment_id: str, body: ReviewIn, request: Request, principal: Principal = Depends(STAFF)
) -> dict[str, Any]:
    """The coordinator's registrar admits (a seat, else the waitlist) or rejects (with a reason) an
    enrolment pending review of its declared diploma."""

    async def work(conn: Conn) -> dict[str, Any]:
        await enrolling.review(
            conn,
            _store(request),
            _deps(request),
            principal,
            enrolment_id,
            admit=body.decision == "admit",
            reason=body.reason,
        )
        return await _enrolment_row(conn, enrolment_id)

    result: dict[str, Any] = await _tx(request, work)
    return result


@router.post("/enrolments/{enrolment_id}/cancel", response_model=EnrolmentOut, tags=["enrolments"])
async def cancel_enrolment(
    enrolment_id: str, request: Request, body: ReasonIn | None = None, principal: Principal = Depends(LEARNER_OR_STAFF)
) -> dict[str, Any]:
    """Cancel (the learner, a partner's registrar or an operator). An admitted learner is refunded by
    the offering's dated policy on today's date; the freed seat goes to the first on the waitlist."""
    reason = body.reason if body else None

    async def work(conn: Conn) -> dict[str, Any]:
        await enrolling.cancel(conn, _store(request), _deps(request), principal, enrolment_id, reason=reason)
        return await _enrolment_row(conn, enrolment_id)

    result: dict[str, Any] = await _tx(request, work)
    return result


@router.post("/enrolments/{enrolment_id}/withdraw", response_model=EnrolmentOut, tags=["enrolments"])
async def withdraw_enrolment(
    enrolment_id: str, request: Request, body: ReasonIn | None = None, principal: Principal = Depends(STAFF)
) -> dict[str, Any]:
    """A partner's registrar withdraws an admitted learner (the fee stays due); the seat is freed."""
    reason = body.reason if body else None

    async def work(conn: Conn) -> dict[str, Any]:
        await enrolling.withdraw(conn, _store(request), _deps(request), principal, enrolment_id, reason=reason)
        return await _enrolment_row(conn, enrolment_id)

    result: dict[str, Any] = await _tx(request, work)
    return result


# ----------------------------------------------------------------------------------------- bulk


def _csv_rows(text: str) -> list[dict[str, Any]]:
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in (reader.fieldnames or [])]
    if not header:
        raise DomainError("the CSV upload has no header line", field="csv")
    unknown = [h for h in header if h not in bulk.COLUMNS]
    if unknown:
        raise DomainError(f"unknown CSV column(s): {', '.join(unknown)}; known: {', '.join(bulk.COLUMNS)}", field="csv")
    rows = []
    for line in reader:
        rows.append({k.strip(): v.strip() for k, v in line.items() if k is not None and v is not None and v.strip()})
    return rows


def _json_rows(raw: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise DomainError(f"the body is not JSON: {exc}", field="body") from exc
    if isinstance(data, dict):
        data = data.get("rows")
    if not isinstance(data, list):
        raise DomainError("expected a JSON array of rows, or an object with 'rows'", field="rows")
    return [row if isinstance(row, dict) else {"_row": row} for row in data]


async def _upload_rows(request: Request) -> list[dict[str, Any]]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "multipart/form-data":
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise DomainError("a multipart upload needs a 'file' part", field="file")
        raw = await upload.read()
        name = (upload.filename or "").lower()
        kind = "json" if name.endswith(".json") or (upload.content_type or "").endswith("json") else "csv"
    else:
        raw = await request.body()
        if content_type in ("application/json", ""):
            kind = "json"
        elif content_type in ("text/csv", "application/csv"):
            kind = "csv"
        else:
            raise HTTPException(415, f"send application/json, text/csv or multipart/form-data, not {content_type}")
    if kind == "json":
        return _json_rows(raw)
    try:
        return _csv_rows(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise DomainError("the CSV upload must be UTF-8", field="csv") from exc


@router.post(
    "/bulk-enrolments",
    status_code=201,
    response_model=BulkOut,
    tags=["bulk"],
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
                "text/csv": {"schema": {"type": "string"}},
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": {"file": {"type": "string", "format": "binary"}}}
                },
            }
        }
    },
)
async def bulk_enrol(
    request: Request,
    response: Response,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200)],
    principal: Principal = Depends(STAFF),
) -> dict[str, Any]:
    """Upload many enrolments (JSON rows or CSV with a header line; columns as in docs/enrolment.md).
    Every row gets its own result: admitted, waitlisted, pending_review, rejected or error (with the
    field and reason). The same upload re-sent with the same Idempotency-Key changes nothing and
    returns the same results (200, ``Idempotent-Replayed: true``)."""
    rows = await _upload_rows(request)
    deps = _deps(request)
    if not rows:
        raise DomainError("the upload has no rows", field="rows")
    if len(rows) > deps.settings.bulk_max_rows:
        raise HTTPException(413, f"{len(rows)} rows; at most {deps.settings.bulk_max_rows} per upload")

    async def work(conn: Conn) -> tuple[dict[str, Any], bool]:
        return await bulk.submit(conn, _store(request), deps, principal, idempotency_key, rows)

    result, replayed = await _tx(request, work)
    if replayed:
        response.status_code = 200
        response.headers["Idempotent-Replayed"] = "true"
    return dict(result)


@router.get("/bulk-enrolments/{batch_id}", response_model=BulkOut, tags=["bulk"])
async def get_bulk(batch_id: str, request: Request, principal: Principal = Depends(STAFF)) -> dict[str, Any]:
    """An earlier upload's results (its submitter, registrars of the same institution, operators)."""

    async def work(conn: Conn) -> dict[str, Any]:
        batch = await bulk.load(conn, batch_id)
        if batch is None:
            raise NotFound(f"bulk upload {batch_id} does not exist")
        if not (
            principal.is_operator
            or batch["submitted_by"] == principal.subject
            or (batch["institution"] is not None and batch["institution"] == principal.institution)
        ):
            raise Forbidden("this upload belongs to another institution")
        return batch

    result: dict[str, Any] = await _read(request, work)
    return result
