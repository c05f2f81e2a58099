"""Bulk upload of an exam session's results: validated row by row, written in one transaction.

Steps (docs/assessment.md, "Bulk upload"):

1. A known ``Idempotency-Key`` of the same principal returns the stored report (the same body) or,
   with another body, a 422; nothing new is created.
2. The file is parsed (CSV or JSON) and each row checked for syntax.
3. In **one transaction**, after an advisory lock on the key: the offering, the teaching
   institutions' schemes and the enrolments of every learner named are loaded in three queries, the
   touched records in one more; each row is checked and decided by its record; every accepted row's
   event goes through ``EventStore.append_many`` (a few statements per 5,000 rows), the read models
   through one upsert per table (the rows as one JSON array), and the report into ``uploads``.
   Either all of that commits or none of it.

``atomic=True`` refuses the whole upload (422, nothing written, no report kept) when any row fails.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

import orjson

from tessera_assessment.adapters import uploads
from tessera_assessment.adapters.records import Saved, load_records, save_records
from tessera_assessment.adapters.upload_formats import RawRow, RowError, parse
from tessera_assessment.application.rules import (
    RecordingContext,
    Refused,
    ResultInput,
    error_code,
    load_offering,
)
from tessera_assessment.domain.result import ComponentResults
from tessera_shared.kernel.aggregate import DomainError
from tessera_shared.kernel.auth import Principal
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import Append, EventStore, retry_on_conflict
from tessera_shared.kernel.runtime import Runtime

APPEND_CHUNK = 5000
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_DIGITS = re.compile(r"[0-9]{1,4}")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
MAX_TEXT = 200
MAX_REMARKS = 2000


@dataclass(frozen=True)
class Defaults:
    """Values for rows that leave them empty (query parameters of the upload)."""

    scheme_id: str | None = None
    assessed_on: date | None = None


@dataclass(frozen=True)
class Outcome:
    upload_id: str
    report_json: str
    replayed: bool


class UploadRejected(DomainError):
    """``atomic`` upload with row errors: nothing was written."""

    def __init__(self, errors: list[RowError], received: int) -> None:
        super().__init__(f"{len(errors)} of {received} rows are invalid; nothing was recorded", field="body")
        self.errors = errors


# --- row syntax ----------------------------------------------------------------------------------


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise TypeError("a boolean")
    if isinstance(value, str):
        if "\x00" in value:
            raise TypeError("text with a NUL character")
        return value.strip() or None
    if isinstance(value, int | float):
        return str(value)
    raise TypeError(f"a JSON {type(value).__name__}")


def coerce_row(raw: RawRow, defaults: Defaults) -> ResultInput | list[RowError]:
    """The row as a :class:`ResultInput`, or every syntax problem it has."""
    errors: list[RowError] = []
    text: dict[str, str | None] = {}
    for name, value in raw.values.items():
        try:
            text[name] = _text(value)
        except TypeError as exc:
            errors.append(RowError(raw.line, name, "format", f"must be text or a number, not {exc}"))
    if errors:
        return errors

    def problem(name: str, code: str, reason: str) -> None:
        errors.append(RowError(raw.line, name, code, reason, text.get(name)))

    learner_id = text.get("learner_id")
    if learner_id is None:
        problem("learner_id", "required", "learner_id is required")
    elif len(learner_id) > MAX_TEXT:
        problem("learner_id", "format", f"learner_id is longer than {MAX_TEXT} characters")
    component = text.get("component_code")
    if component is None:
        problem("component_code", "required", "component_code is required")
    elif not _CODE.fullmatch(component):
        problem("component_code", "format", "component_code is not a component code (letters, digits, . _ -)")
    attempt_text, attempt = text.get("attempt"), 0
    if attempt_text is None:
        problem("attempt", "required", "attempt is required")
    elif not _DIGITS.fullmatch(attempt_text) or not 1 <= int(attempt_text) <= 1000:
        problem("attempt", "format", "attempt must be a whole number from 1 to 1000")
    else:
        attempt = int(attempt_text)
    grade = text.get("grade")
    if grade is None:
        problem("grade", "required", "grade is required")
    elif len(grade) > 50:
        problem("grade", "format", "grade is longer than 50 characters")
    scheme_id = text.get("scheme_id") or defaults.scheme_id
    if scheme_id is not None and len(scheme_id) > MAX_TEXT:
        problem("scheme_id", "format", f"scheme_id is longer than {MAX_TEXT} characters")
    assessed_text, assessed_on = text.get("assessed_on"), defaults.assessed_on
    if assessed_text is not None:
        try:
            assessed_on = date.fromisoformat(assessed_text) if _DATE.fullmatch(assessed_text) else None
        except ValueError:
            assessed_on = None
        if assessed_on is None:
            problem("assessed_on", "format", "assessed_on must be a date YYYY-MM-DD")
    elif assessed_on is None:
        problem("assessed_on", "required", "assessed_on is required (in the row or as a query parameter)")
    remarks = text.get("remarks")
    if remarks is not None and len(remarks) > MAX_REMARKS:
        problem("remarks", "format", f"remarks are longer than {MAX_REMARKS} characters")
    if errors:
        return errors
    assert learner_id and component and grade and assessed_on
    return ResultInput(learner_id, component, attempt, grade, scheme_id, assessed_on, remarks)


def _row_error(line: int, exc: DomainError, row: ResultInput) -> RowError:
    value = {
        "learner_id": row.learner_id,
        "component_code": row.component_code,
        "attempt": str(row.attempt),
        "grade": row.grade,
        "scheme_id": row.scheme_id,
        "assessed_on": row.assessed_on.isoformat(),
    }.get(exc.field or "")
    return RowError(line, exc.field, error_code(exc), str(exc), value)


# --- the upload ----------------------------------------------------------------------------------


def digest_of(offering_id: str, fmt: str, defaults: Defaults, body: bytes) -> str:
    h = hashlib.sha256()
    for part in (offering_id, fmt, defaults.scheme_id or "", str(defaults.assessed_on or "")):
        h.update(part.encode())
        h.update(b"\x00")
    h.update(body)
    return h.hexdigest()


def _replay(stored: uploads.StoredUpload, digest: str, offering_id: str) -> Outcome:
    if stored.digest != digest:
        raise Refused(
            f"Idempotency-Key was already used for another upload ({stored.upload_id}, offering "
            f"{stored.offering_id}); use a new key for a different upload",
            field="Idempotency-Key",
            code="idempotency_key_reused",
        )
    return Outcome(stored.upload_id, stored.report_json, replayed=True)


async def upload_results(
    runtime: Runtime,
    principal: Principal,
    offering_id: str,
    *,
    key: str,
    fmt: str,
    body: bytes,
    defaults: Defaults,
    max_rows: int,
    atomic: bool = False,
) -> Outcome:
    assert runtime.pool is not None and runtime.store is not None
    pool, store = runtime.pool, runtime.store
    digest = digest_of(offering_id, fmt, defaults, body)
    async with pool.acquire() as conn:
        stored = await uploads.find_upload(conn, principal.subject, key)
    if stored is not None:
        return _replay(stored, digest, offering_id)

    parsed = parse(fmt, body, max_rows=max_rows)
    syntax_errors = list(parsed.errors)
    rows: list[tuple[int, ResultInput]] = []
    for raw in parsed.rows:
        coerced = coerce_row(raw, defaults)
        if isinstance(coerced, list):
            syntax_errors.extend(coerced)
        else:
            rows.append((raw.line, coerced))
    received = len(parsed.rows) + len(parsed.errors)

    async def attempt() -> Outcome:
        async with pool.acquire() as conn, conn.transaction():
            await uploads.lock_key(conn, principal.subject, key)
            again = await uploads.find_upload(conn, principal.subject, key)
            if again is not None:  # a concurrent duplicate committed first
                return _replay(again, digest, offering_id)
            offering = await load_offering(conn, offering_id)
            ctx = await RecordingContext.load(conn, offering, principal, (r.learner_id for _, r in rows))
            ctx.check_open()
            ctx.check_teaches_something()
            errors = list(syntax_errors)
            checked = []
            for line, row in rows:
                try:
                    checked.append((line, row, *ctx.check_result(row)))
                except DomainError as exc:
                    errors.append(_row_error(line, exc, row))
            loaded = await load_records(conn, (k.stream_id for _, _, k, _ in checked))
            accepted: list[dict[str, Any]] = []
            for line, row, k, grade in checked:
                record = loaded[k.stream_id]
                result_id = str(uuid.uuid4())
                try:
                    record.record(
                        result_id,
                        key=k,
                        attempt=row.attempt,
                        grade=grade,
                        assessed_on=row.assessed_on,
                        assessor_id=principal.subject,
                        assessor_institution=principal.institution or "",
                        remarks=row.remarks,
                    )
                except DomainError as exc:
                    errors.append(_row_error(line, exc, row))
                    continue
                accepted.append(
                    {
                        "line": line,
                        "result_id": result_id,
                        "learner_id": row.learner_id,
                        "component_code": row.component_code,
                        "attempt": row.attempt,
                        "grade": grade.native,
                        "scheme_id": grade.scheme_id,
                        "normalised_score": grade.normalised_score,
                        "passed": grade.passed,
                    }
                )
            errors.sort(key=lambda e: (e.line, e.field or ""))
            if atomic and errors:
                raise UploadRejected(errors, received)
            rejected = len({e.line for e in errors})
            await _write(conn, store, [r for r in loaded.values() if r.pending])
            upload_id = str(uuid.uuid4())
            report = {
                "upload_id": upload_id,
                "offering_id": offering_id,
                "idempotency_key": key,
                "format": fmt,
                "rows": received,
                "accepted": len(accepted),
                "rejected": rejected,
                "accepted_rows": accepted,
                "errors": [e.as_dict() for e in errors],
            }
            report_json = orjson.dumps(report).decode()
            await uploads.insert_upload(
                conn,
                upload_id=upload_id,
                subject=principal.subject,
                institution=principal.institution,
                key=key,
                offering_id=offering_id,
                digest=digest,
                fmt=fmt,
                received=received,
                accepted=len(accepted),
                rejected=rejected,
                report_json=report_json,
            )
            return Outcome(upload_id, report_json, replayed=False)

    return await retry_on_conflict(attempt)


async def _write(conn: Conn, store: EventStore, touched: Iterable[ComponentResults]) -> None:
    """Every touched record's events (``append_many`` in chunks) and read-model rows."""
    appends, saved = [], []
    for record in touched:
        events = record.take_pending()
        appends.append(Append(record.stream_id, record.expected_version, events))
        saved.append(Saved(record, record.version + len(events)))
    for start in range(0, len(appends), APPEND_CHUNK):
        await store.append_many(conn, appends[start : start + APPEND_CHUNK])
    await save_records(conn, saved)
