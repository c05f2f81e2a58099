"""Commands from HTTP: record, correct and withdraw a result; record attendance.

Each runs load → decide → append → update read models in two round trips: one query loads
everything the decision needs (:mod:`tessera_assessment.adapters.recording`), one statement writes
the events, their outbox rows and the read models (:func:`commit_records`), atomically without an
explicit transaction. A concurrent append to the same record makes that statement fail its version
check and the command is decided again (``retry_on_conflict``), so nothing is ever half-written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg

from tessera_assessment.adapters import recording
from tessera_assessment.adapters.records import attendance_view, commit_records, result_row
from tessera_assessment.application.rules import RecordingContext, Refused, ResultInput
from tessera_assessment.domain.result import ComponentResults
from tessera_shared.kernel.auth import Principal
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import EventStore, retry_on_conflict
from tessera_shared.kernel.runtime import Runtime


def _parts(runtime: Runtime) -> tuple[asyncpg.Pool, EventStore]:
    assert runtime.pool is not None and runtime.store is not None
    return runtime.pool, runtime.store


async def _commit(conn: Conn, store: EventStore, record: ComponentResults) -> ComponentResults:
    """Append the record's pending events with their outbox rows and update its read-model rows
    (one statement)."""
    await commit_records(conn, store, [record])
    return record


def _result_view(record: ComponentResults, result_id: str) -> dict[str, Any]:
    view = result_row(record, record.result(result_id))
    view["assessed_on"] = view["assessed_on"].isoformat()
    effective = record.effective
    view["effective_result_id"] = effective.result_id if effective else None
    return view


async def record_result(runtime: Runtime, principal: Principal, offering_id: str, row: ResultInput) -> dict[str, Any]:
    pool, store = _parts(runtime)

    async def attempt() -> dict[str, Any]:
        stream_id = ComponentResults.stream_id_for(row.learner_id, offering_id, row.component_code)
        async with pool.acquire() as conn:
            loaded = await recording.for_learner(conn, offering_id, row.learner_id, stream_id)
            ctx = RecordingContext.of(loaded, principal, offering_id)
            ctx.check_open()
            key, grade = ctx.check_result(row)
            record = loaded.record
            result_id = str(uuid.uuid4())
            record.record(
                result_id,
                key=key,
                attempt=row.attempt,
                grade=grade,
                assessed_on=row.assessed_on,
                assessor_id=principal.subject,
                assessor_institution=principal.institution or "",
                remarks=row.remarks,
            )
            await _commit(conn, store, record)
            return _result_view(record, result_id)

    return await retry_on_conflict(attempt)


@dataclass(frozen=True)
class CorrectionInput:
    reason: str
    grade: str | None = None
    scheme_id: str | None = None
    assessed_on: date | None = None
    remarks: str | None = None


async def _located(conn: Conn, principal: Principal, result_id: str) -> tuple[RecordingContext, ComponentResults]:
    """The record holding ``result_id``, after checking the principal teaches its component."""
    loaded = await recording.for_result(conn, result_id)
    if loaded is None:
        raise Refused(f"no result {result_id!r}", field="result_id", code="not_found", status=404)
    record = loaded.record
    assert record.key is not None
    ctx = RecordingContext.of(loaded, principal, record.key.offering_id)
    ctx.component(record.key.component_code)
    return ctx, record


async def correct_result(
    runtime: Runtime, principal: Principal, result_id: str, change: CorrectionInput
) -> dict[str, Any]:
    pool, store = _parts(runtime)

    async def attempt() -> dict[str, Any]:
        async with pool.acquire() as conn:
            ctx, record = await _located(conn, principal, result_id)
            assert record.key is not None
            current = record.result(result_id)
            grade = None
            if change.grade is not None:
                component = ctx.component(record.key.component_code)
                grade = ctx.grade(component, change.scheme_id or current.grade.scheme_id, change.grade)
            elif change.scheme_id is not None:
                raise Refused("a new scheme_id needs the grade in that scheme", field="grade", code="required")
            if change.assessed_on is not None:
                ctx.check_date(change.assessed_on, "assessed_on")
            record.correct(
                result_id,
                reason=change.reason,
                corrected_by=principal.subject,
                corrected_by_institution=principal.institution or "",
                grade=grade,
                assessed_on=change.assessed_on,
                remarks=change.remarks,
            )
            await _commit(conn, store, record)
            return _result_view(record, result_id)

    return await retry_on_conflict(attempt)


async def withdraw_result(runtime: Runtime, principal: Principal, result_id: str, reason: str) -> dict[str, Any]:
    pool, store = _parts(runtime)

    async def attempt() -> dict[str, Any]:
        async with pool.acquire() as conn:
            _, record = await _located(conn, principal, result_id)
            record.withdraw(
                result_id,
                reason=reason,
                withdrawn_by=principal.subject,
                withdrawn_by_institution=principal.institution or "",
            )
            await _commit(conn, store, record)
            return _result_view(record, result_id)

    return await retry_on_conflict(attempt)


@dataclass(frozen=True)
class AttendanceInput:
    learner_id: str
    component_code: str
    percentage: float
    period_start: date
    period_end: date
    remarks: str | None = None


async def record_attendance(
    runtime: Runtime, principal: Principal, offering_id: str, row: AttendanceInput
) -> dict[str, Any]:
    pool, store = _parts(runtime)

    async def attempt() -> dict[str, Any]:
        stream_id = ComponentResults.stream_id_for(row.learner_id, offering_id, row.component_code)
        async with pool.acquire() as conn:
            loaded = await recording.for_learner(conn, offering_id, row.learner_id, stream_id)
            ctx = RecordingContext.of(loaded, principal, offering_id)
            ctx.check_open()
            ctx.component(row.component_code)
            ctx.admitted(row.learner_id)
            ctx.check_date(row.period_end, "period_end")
            key = ctx.key(row.learner_id, row.component_code)
            record = loaded.record
            event = record.record_attendance(
                str(uuid.uuid4()),
                key=key,
                percentage=row.percentage,
                period_start=row.period_start,
                period_end=row.period_end,
                recorded_by=principal.subject,
                recorded_by_institution=principal.institution or "",
                remarks=row.remarks,
            )
            await _commit(conn, store, record)
            current = record.attendance
            assert current is not None
            return {
                "learner_id": key.learner_id,
                "offering_id": key.offering_id,
                "component_code": key.component_code,
                "recorded": attendance_view(record.attendance_history[-1]),
                "current": attendance_view(current),
                "attendance_id": event.attendance_id,
            }

    return await retry_on_conflict(attempt)
