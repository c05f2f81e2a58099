"""HTTP API of the assessment service (docs/assessment.md has the reference and the rules).

Every route needs a bearer token with one of the listed roles (``require``), except the grading
scheme descriptions, which are public. Errors are problem+json naming the field.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints

from tessera_assessment.adapters.upload_formats import COLUMNS, UploadTooLarge
from tessera_assessment.application import bulk, commands, reads
from tessera_assessment.application.rules import Refused, ResultInput
from tessera_assessment.config import AssessmentSettings
from tessera_assessment.domain.grading import REGISTRY, UnknownScheme, get_scheme, parse_grade
from tessera_shared.kernel import problems
from tessera_shared.kernel.auth import Principal, public, require
from tessera_shared.kernel.runtime import Runtime


async def _no_nul_in_url(request: Request) -> None:
    """PostgreSQL text cannot hold NUL: refuse it in the path and query here (bodies: ``_no_nul``).
    ``async`` so that FastAPI runs it on the event loop, not in its thread pool (a thread hop per
    request)."""
    if "\x00" in request.url.path or any("\x00" in v for v in request.query_params.values()):
        raise Refused("the URL contains a NUL character", field="url", code="format")


router = APIRouter(dependencies=[Depends(_no_nul_in_url)])

STAFF_READERS = ("assessor", "registrar", "catalogue-editor", "operator")
Status = Literal["effective", "superseded", "withdrawn"]
Limit = Annotated[int, Query(ge=1, le=1000, description="page size")]
Cursor = Annotated[str | None, Query(max_length=1000, description="next_cursor of the previous page")]


def _runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


def _settings(runtime: Runtime) -> AssessmentSettings:
    settings = runtime.settings
    assert isinstance(settings, AssessmentSettings)
    return settings


# --- bodies -------------------------------------------------------------------------------------


def _grade_text(value: Any) -> Any:
    """A grade may be sent as a JSON string or number (``14``, ``7.5``); it is parsed as text."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain a NUL character")
    return value


Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), AfterValidator(_no_nul)]
Code = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
Grade = Annotated[
    str,
    BeforeValidator(_grade_text),
    StringConstraints(strip_whitespace=True, min_length=1, max_length=50),
    AfterValidator(_no_nul),
]
Remarks = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)]
Reason = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000), AfterValidator(_no_nul)
]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RecordResultBody(_Body):
    learner_id: Text
    component_code: Code
    attempt: int = Field(ge=1, le=1000, description="1 for the first sitting, 2 for the first resit, ...")
    grade: Grade = Field(description="native grade in the scheme: '14', '7,5', '2.3', 'B', 'pass'")
    scheme_id: Text | None = Field(
        default=None, description="grading scheme; default: the teaching institution's first declared scheme"
    )
    assessed_on: date
    remarks: Remarks | None = None


class CorrectionBody(_Body):
    reason: Reason
    grade: Grade | None = Field(default=None, description="the corrected grade")
    scheme_id: Text | None = Field(default=None, description="default: the result's current scheme")
    assessed_on: date | None = None
    remarks: Remarks | None = Field(default=None, description="new remarks; '' clears them")


class WithdrawalBody(_Body):
    reason: Reason


class AttendanceBody(_Body):
    learner_id: Text
    component_code: Code
    percentage: float = Field(ge=0, le=100, description="share of the compulsory sessions attended, cumulative")
    period_start: date
    period_end: date
    remarks: Remarks | None = None


# --- results ------------------------------------------------------------------------------------


@router.post("/offerings/{offering_id}/results", status_code=201, tags=["results"])
async def record_result(
    offering_id: str,
    body: RecordResultBody,
    request: Request,
    response: Response,
    principal: Principal = Depends(require("assessor")),
) -> dict[str, Any]:
    """Record one attempt (assessor of the institution teaching the component)."""
    row = ResultInput(
        learner_id=body.learner_id,
        component_code=body.component_code,
        attempt=body.attempt,
        grade=body.grade,
        scheme_id=body.scheme_id,
        assessed_on=body.assessed_on,
        remarks=body.remarks,
    )
    result = await commands.record_result(_runtime(request), principal, offering_id, row)
    response.headers["Location"] = f"/results/{result['result_id']}"
    return result


@router.post("/results/{result_id}/corrections", tags=["results"])
async def correct_result(
    result_id: str, body: CorrectionBody, request: Request, principal: Principal = Depends(require("assessor"))
) -> dict[str, Any]:
    """Correct a live result's grade, date and/or remarks, with a reason (assessor of the teaching institution)."""
    change = commands.CorrectionInput(
        reason=body.reason,
        grade=body.grade,
        scheme_id=body.scheme_id,
        assessed_on=body.assessed_on,
        remarks=body.remarks,
    )
    return await commands.correct_result(_runtime(request), principal, result_id, change)


@router.post("/results/{result_id}/withdrawal", tags=["results"])
async def withdraw_result(
    result_id: str, body: WithdrawalBody, request: Request, principal: Principal = Depends(require("assessor"))
) -> dict[str, Any]:
    """Withdraw a result, with a reason; the previous live attempt counts again."""
    return await commands.withdraw_result(_runtime(request), principal, result_id, body.reason)


@router.get("/results/{result_id}", tags=["results"])
async def get_result(
    result_id: str, request: Request, principal: Principal = Depends(require(*reads.READERS))
) -> dict[str, Any]:
    """One result with its corrections and withdrawal (if visible to the caller)."""
    return await reads.one_result(_runtime(request), principal, result_id)


@router.get("/offerings/{offering_id}/results", tags=["results"])
async def list_results(
    offering_id: str,
    request: Request,
    learner_id: str | None = None,
    component_code: str | None = None,
    status: Status | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    principal: Principal = Depends(require(*reads.READERS)),
) -> dict[str, Any]:
    """Results of the offering the caller may see, ordered by learner, component, attempt."""
    return await reads.offering_results(
        _runtime(request),
        principal,
        offering_id,
        learner_id=learner_id,
        component_code=component_code,
        status=status,
        cursor=cursor,
        limit=limit,
    )


@router.get("/me/results", tags=["results"])
async def my_results(
    request: Request,
    offering_id: str | None = None,
    status: Status | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    principal: Principal = Depends(require("learner")),
) -> dict[str, Any]:
    """The calling learner's own results in every offering."""
    return await reads.my_results(
        _runtime(request), principal, offering_id=offering_id, status=status, cursor=cursor, limit=limit
    )


# --- bulk upload --------------------------------------------------------------------------------

_UPLOAD_ROW_SCHEMA = {
    "type": "object",
    "properties": {c: {"type": "string"} for c in COLUMNS} | {"attempt": {"type": "integer"}},
    "required": ["learner_id", "component_code", "attempt", "grade"],
    "additionalProperties": False,
}
_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {
                "schema": {"type": "string"},
                "example": "learner_id,component_code,attempt,grade,assessed_on\n",
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {"results": {"type": "array", "items": _UPLOAD_ROW_SCHEMA}},
                    "required": ["results"],
                }
            },
        },
    }
}


async def _read_capped(request: Request, limit: int) -> bytes:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise UploadTooLarge(f"the upload is larger than {limit} bytes; split it", field="body")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise UploadTooLarge(f"the upload is larger than {limit} bytes; split it", field="body")
        chunks.append(chunk)
    return b"".join(chunks)


def _format_of(request: Request) -> str:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fmt = {"text/csv": "csv", "application/csv": "csv", "application/json": "json"}.get(media)
    if fmt is None:
        raise Refused(
            f"send the upload as text/csv or application/json, not {media or 'no content type'}",
            field="Content-Type",
            code="unsupported_media_type",
            status=415,
        )
    return fmt


@router.post(
    "/offerings/{offering_id}/results/uploads",
    status_code=201,
    tags=["uploads"],
    openapi_extra=_UPLOAD_BODY,
    responses={200: {"description": "the same upload again: its stored report"}},
)
async def upload_results(
    offering_id: str,
    request: Request,
    idempotency_key: Annotated[str, Header(min_length=1, max_length=200)],
    scheme_id: Annotated[str | None, Query(max_length=200, description="for rows without a scheme_id")] = None,
    assessed_on: Annotated[date | None, Query(description="for rows without an assessed_on")] = None,
    atomic: Annotated[bool, Query(description="refuse the whole upload if any row is invalid")] = False,
    principal: Principal = Depends(require("assessor")),
) -> Response:
    """Record an exam session's results at once (CSV or JSON); returns the report of accepted rows
    and of errors per row (line, field, code, reason). Re-sending with the same Idempotency-Key
    returns the same report and records nothing new."""
    runtime = _runtime(request)
    settings = _settings(runtime)
    fmt = _format_of(request)
    body = await _read_capped(request, settings.upload_max_bytes)
    try:
        outcome = await bulk.upload_results(
            runtime,
            principal,
            offering_id,
            key=idempotency_key,
            fmt=fmt,
            body=body,
            defaults=bulk.Defaults(scheme_id=scheme_id, assessed_on=assessed_on),
            max_rows=settings.upload_max_rows,
            atomic=atomic,
        )
    except bulk.UploadRejected as exc:
        return problems.problem(422, str(exc), instance=request.url.path, errors=[e.as_dict() for e in exc.errors])
    return Response(
        outcome.report_json,
        status_code=200 if outcome.replayed else 201,
        media_type="application/json",
        headers={"Location": f"/uploads/{outcome.upload_id}", "Idempotent-Replayed": str(outcome.replayed).lower()},
    )


@router.get("/uploads/{upload_id}", tags=["uploads"])
async def get_upload(
    upload_id: str, request: Request, principal: Principal = Depends(require("assessor", "operator"))
) -> Response:
    """The report of an earlier upload (its uploader, assessors of the same institution, operators)."""
    report = await reads.upload_report(_runtime(request), principal, upload_id)
    return Response(report, media_type="application/json")


# --- attendance ---------------------------------------------------------------------------------


@router.post("/offerings/{offering_id}/attendance", status_code=201, tags=["attendance"])
async def record_attendance(
    offering_id: str, body: AttendanceBody, request: Request, principal: Principal = Depends(require("assessor"))
) -> dict[str, Any]:
    """Record a learner's cumulative attendance on a component over a period."""
    row = commands.AttendanceInput(
        learner_id=body.learner_id,
        component_code=body.component_code,
        percentage=body.percentage,
        period_start=body.period_start,
        period_end=body.period_end,
        remarks=body.remarks,
    )
    return await commands.record_attendance(_runtime(request), principal, offering_id, row)


@router.get("/offerings/{offering_id}/attendance", tags=["attendance"])
async def list_attendance(
    offering_id: str,
    request: Request,
    learner_id: str | None = None,
    component_code: str | None = None,
    cursor: Cursor = None,
    limit: Limit = 100,
    principal: Principal = Depends(require(*reads.READERS)),
) -> dict[str, Any]:
    """Current attendance per learner and component (with its history), as far as visible."""
    return await reads.offering_attendance(
        _runtime(request),
        principal,
        offering_id,
        learner_id=learner_id,
        component_code=component_code,
        cursor=cursor,
        limit=limit,
    )


# --- offerings and grading schemes --------------------------------------------------------------


@router.get("/offerings/{offering_id}", tags=["offerings"])
async def get_offering(
    offering_id: str, request: Request, principal: Principal = Depends(require(*reads.READERS))
) -> dict[str, Any]:
    """The offering as assessment knows it: components, teaching institutions, their grading schemes."""
    return await reads.offering_info(_runtime(request), principal, offering_id)


@router.get("/grading-schemes", tags=["grading"], openapi_extra=public())
async def list_schemes() -> dict[str, Any]:
    """Every named grading scheme, and the parameterised families (``percentage-<pass mark>``)."""
    return {
        "schemes": [d.model_dump(mode="json") for d in REGISTRY.describe()],
        "families": [
            {
                "prefix": f.prefix,
                "id_pattern": f"{f.prefix}<pass mark>",
                "template": f.template.describe().model_dump(mode="json"),
            }
            for f in REGISTRY.families
        ],
    }


@router.get("/grading-schemes/{scheme_id}", tags=["grading"], openapi_extra=public())
async def get_grading_scheme(scheme_id: str) -> dict[str, Any]:
    """One scheme's description (also ``percentage-55`` and the like)."""
    try:
        return get_scheme(scheme_id).describe().model_dump(mode="json")
    except UnknownScheme as exc:  # a 422 when a request names it; here the resource is missing
        raise Refused(str(exc), field="scheme_id", code="unknown_scheme", status=404) from None


@router.get("/grading-schemes/{scheme_id}/normalise", tags=["grading"], openapi_extra=public())
async def normalise(scheme_id: str, grade: Annotated[str, Query(min_length=1, max_length=50)]) -> dict[str, Any]:
    """Parse a native grade and show its normalised score and pass flag (docs/grading.md)."""
    result = parse_grade(scheme_id, grade)
    return {
        "grade": result.native,
        "scheme_id": result.scheme_id,
        "scheme_kind": result.scheme_kind,
        "normalised_score": result.normalised_score,
        "passed": result.passed,
    }
