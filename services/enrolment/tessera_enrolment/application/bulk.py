"""Bulk enrolment by a registrar: thousands of rows, each with its own result, idempotent by key.

One transaction per upload: the batch row (unique per submitter and ``Idempotency-Key``) is inserted
first, so a concurrent or later re-send of the same upload waits for it and then returns the stored
results without changing anything. Rows are validated one by one; valid rows go through the same
:func:`enrolling.enrol` as single requests, which decides them in order and writes all state rows,
seats and events with a few set-based statements. A row that fails writes nothing (not even the
learner it would have registered) and carries its error.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationError, model_validator

from tessera_enrolment.adapters import learners_sql
from tessera_enrolment.application import learners
from tessera_enrolment.application.deps import Deps
from tessera_enrolment.application.enrolling import EnrolRequest, enrol
from tessera_enrolment.domain.learner import Learner
from tessera_enrolment.domain.values import Esi, Name
from tessera_shared.contract.values import Code, EqfLevel, InstitutionId
from tessera_shared.kernel.aggregate import Conflict, DomainError
from tessera_shared.kernel.auth import Principal
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import EventStore

COLUMNS = (
    "offering_id",
    "learner_id",
    "email",
    "given_name",
    "family_name",
    "european_student_identifier",
    "home_institution",
    "consent_accepted",
    "consent_terms_version",
    "diploma_title",
    "diploma_eqf_level",
    "diploma_awarded_by",
    "diploma_year",
)


class BulkRow(BaseModel):
    """One row of an upload (a CSV line or a JSON object). The learner is named by ``learner_id``, or
    by ``email``: an unknown email with ``given_name`` and ``family_name`` registers the learner."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    offering_id: Code
    learner_id: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = None
    given_name: Name | None = None
    family_name: Name | None = None
    european_student_identifier: Esi | None = None
    home_institution: InstitutionId | None = None
    consent_accepted: bool
    consent_terms_version: str = Field(min_length=1, max_length=100)
    diploma_title: str | None = Field(default=None, min_length=1, max_length=300)
    diploma_eqf_level: EqfLevel | None = None
    diploma_awarded_by: str | None = Field(default=None, max_length=300)
    diploma_year: int | None = Field(default=None, ge=1900, le=2100)

    @model_validator(mode="after")
    def _learner_named(self) -> BulkRow:
        if self.learner_id is None and self.email is None:
            raise ValueError("name the learner: learner_id, or email (with given_name and family_name to register)")
        if self.diploma_eqf_level is not None and self.diploma_title is None:
            raise ValueError("diploma_title is required with diploma_eqf_level")
        return self

    def diploma(self) -> dict[str, Any] | None:
        if self.diploma_eqf_level is None:
            return None
        return {
            "title": self.diploma_title,
            "eqf_level": self.diploma_eqf_level,
            "awarded_by": self.diploma_awarded_by,
            "year": self.diploma_year,
        }


def request_hash(rows: Sequence[dict[str, Any]]) -> str:
    return hashlib.sha256(json.dumps(list(rows), sort_keys=True, default=str).encode()).hexdigest()


def _error(
    row: int, field: str | None, message: str, offering_id: Any = None, learner_id: Any = None
) -> dict[str, Any]:
    return {
        "row": row,
        "outcome": "error",
        "enrolment_id": None,
        "learner_id": learner_id if isinstance(learner_id, str) else None,
        "offering_id": offering_id if isinstance(offering_id, str) else None,
        "fee_eur": None,
        "waitlist_position": None,
        "field": field,
        "error": message,
    }


def _validation_error(row: int, raw: dict[str, Any], exc: ValidationError) -> dict[str, Any]:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first["loc"]) or None
    message = "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'row'}: {e['msg']}" for e in exc.errors(include_url=False)
    )
    return _error(row, field, message, raw.get("offering_id"), raw.get("learner_id"))


async def submit(
    conn: Conn, store: EventStore, deps: Deps, principal: Principal, key: str, rows: Sequence[dict[str, Any]]
) -> tuple[dict[str, Any], bool]:
    """Process an upload; returns (the batch with every row's result, whether this was a replay)."""
    digest = request_hash(rows)
    now = deps.clock.now()
    batch_id = str(uuid.uuid4())
    inserted = await conn.fetchval(
        """INSERT INTO bulk_batches (batch_id, submitted_by, institution, idempotency_key, request_hash, row_count,
                                     submitted_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (submitted_by, idempotency_key) DO NOTHING RETURNING batch_id""",
        batch_id,
        principal.subject,
        principal.institution,
        key,
        digest,
        len(rows),
        now,
    )
    if inserted is None:
        existing = await conn.fetchrow(
            "SELECT batch_id, request_hash FROM bulk_batches WHERE submitted_by = $1 AND idempotency_key = $2",
            principal.subject,
            key,
        )
        assert existing is not None
        if existing["request_hash"] != digest:
            raise DomainError(
                "this Idempotency-Key was already used for a different upload; use a new key",
                field="Idempotency-Key",
            )
        stored = await load(conn, existing["batch_id"])
        assert stored is not None
        return stored, True

    results: dict[int, dict[str, Any]] = {}
    parsed: list[tuple[int, BulkRow]] = []
    for n, raw in enumerate(rows, start=1):
        try:
            parsed.append((n, BulkRow.model_validate(raw)))
        except ValidationError as exc:
            results[n] = _validation_error(n, raw, exc)

    requests, to_register = await _resolve_learners(conn, deps, principal, parsed, results)
    outcomes = await enrol(conn, store, deps, principal, requests, batch_id=batch_id, register=to_register)
    for o in outcomes:
        r = o.request
        if o.error is not None:
            results[r.row] = _error(r.row, o.error.field, str(o.error), r.offering_id, r.learner_id)
            continue
        e = o.enrolment
        assert e is not None and e.status is not None
        results[r.row] = {
            "row": r.row,
            "outcome": e.status.value,
            "enrolment_id": e.enrolment_id,
            "learner_id": e.learner_id,
            "offering_id": e.offering_id,
            "fee_eur": e.fee,
            "waitlist_position": e.waitlist_ticket,
            "field": None,
            "error": e.reason,
        }
    ordered = [results[n] for n in sorted(results)]
    summary = dict(Counter(r["outcome"] for r in ordered))
    await _store_results(conn, batch_id, ordered, summary)
    return {
        "batch_id": batch_id,
        "idempotency_key": key,
        "submitted_by": principal.subject,
        "submitted_at": now,
        "rows": len(rows),
        "summary": summary,
        "results": ordered,
    }, False


async def _resolve_learners(
    conn: Conn,
    deps: Deps,
    principal: Principal,
    parsed: list[tuple[int, BulkRow]],
    results: dict[int, dict[str, Any]],
) -> tuple[list[EnrolRequest], dict[str, Learner]]:
    """Name every row's learner by id; an unknown email with names registers a new learner (once per
    email in the upload; only if one of its rows is enrolled)."""
    emails = {str(r.email) for _, r in parsed if r.learner_id is None and r.email is not None}
    by_email = await learners_sql.learner_ids_by_email(conn, emails)
    esis = [r.european_student_identifier for _, r in parsed if r.european_student_identifier]
    taken_esis = {
        row["esi"]
        for row in await conn.fetch(
            "SELECT lower(european_student_identifier) AS esi FROM learners "
            "WHERE lower(european_student_identifier) = ANY($1)",
            [e.lower() for e in esis],
        )
    }
    new: dict[str, Learner] = {}  # lower(email) -> learner to register
    requests: list[EnrolRequest] = []
    for n, row in parsed:
        try:
            learner_id = row.learner_id
            if learner_id is None:
                assert row.email is not None
                email = str(row.email).lower()
                learner_id = by_email.get(email)
                if learner_id is None and email in new:
                    learner_id = new[email].stream_id.removeprefix("learner-")
                if learner_id is None:
                    learner = _registration(principal, row, taken_esis)
                    new[email] = learner
                    learner_id = learner.stream_id.removeprefix("learner-")
            requests.append(
                EnrolRequest(
                    offering_id=row.offering_id,
                    learner_id=learner_id,
                    consent_accepted=row.consent_accepted,
                    consent_terms_version=row.consent_terms_version,
                    diploma=row.diploma(),
                    row=n,
                )
            )
        except DomainError as exc:
            results[n] = _error(n, exc.field, str(exc), row.offering_id, row.learner_id)
    return requests, {learner.stream_id.removeprefix("learner-"): learner for learner in new.values()}


def _registration(principal: Principal, row: BulkRow, taken_esis: set[str]) -> Learner:
    if row.given_name is None or row.family_name is None:
        raise DomainError(
            f"no learner is registered with {row.email}; give given_name and family_name to register one",
            field="email",
        )
    esi = row.european_student_identifier
    if esi is not None:
        if esi.lower() in taken_esis:
            raise Conflict(
                "a learner with this European Student Identifier is already registered",
                field="european_student_identifier",
            )
        taken_esis.add(esi.lower())
    data = learners.LearnerInput(
        given_name=row.given_name,
        family_name=row.family_name,
        email=str(row.email),
        european_student_identifier=esi,
        home_institution=row.home_institution,
    )
    return learners.prepare_registration(principal, data, str(uuid.uuid4()))


async def _store_results(conn: Conn, batch_id: str, rows: list[dict[str, Any]], summary: dict[str, int]) -> None:
    await conn.execute(
        """INSERT INTO bulk_results (batch_id, row_no, outcome, enrolment_id, learner_id, offering_id, fee_eur,
                                     waitlist_ticket, field, error)
           SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::numeric[],
                                    $8::int[], $9::text[], $10::text[])""",
        batch_id,
        [r["row"] for r in rows],
        [r["outcome"] for r in rows],
        [r["enrolment_id"] for r in rows],
        [r["learner_id"] for r in rows],
        [r["offering_id"] for r in rows],
        [r["fee_eur"] for r in rows],
        [r["waitlist_position"] for r in rows],
        [r["field"] for r in rows],
        [r["error"] for r in rows],
    )
    await conn.execute("UPDATE bulk_batches SET summary = $2 WHERE batch_id = $1", batch_id, summary)


async def load(conn: Conn, batch_id: str) -> dict[str, Any] | None:
    batch = await conn.fetchrow("SELECT * FROM bulk_batches WHERE batch_id = $1", batch_id)
    if batch is None:
        return None
    rows = await conn.fetch(
        """SELECT row_no AS row, outcome, enrolment_id, learner_id, offering_id, fee_eur,
                  waitlist_ticket AS waitlist_position, field, error
           FROM bulk_results WHERE batch_id = $1 ORDER BY row_no""",
        batch_id,
    )
    return {
        "batch_id": batch["batch_id"],
        "idempotency_key": batch["idempotency_key"],
        "submitted_by": batch["submitted_by"],
        "institution": batch["institution"],
        "submitted_at": batch["submitted_at"],
        "rows": batch["row_count"],
        "summary": batch["summary"],
        "results": [dict(r) for r in rows],
    }
