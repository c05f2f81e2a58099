"""Persistence of ComponentResults records: batched loading from the event store, the read models
``records`` and ``results``, and the projection that rebuilds them.

The read models are written from the *aggregate state* in the command's own transaction
(read-your-writes; one statement per table however many records a bulk upload touched).
Each row carries the stream version it reflects and an upsert only ever moves it forward, so the
projection ``assessment-records`` — which the kernel's runner applies after commit and ``tessera
assessment rebuild`` replays from scratch — finds the rows current and leaves them alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from tessera_assessment.domain.grading import GradeResult
from tessera_assessment.domain.result import AttendanceEntry, ComponentResults, ResultEntry, Withdrawal
from tessera_shared.contract.assessment import AttendanceRecorded, ResultCorrected, ResultRecorded, ResultWithdrawn
from tessera_shared.contract.base import parse_data
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import (
    Append,
    EventStore,
    StoredEvent,
    conflicts,
    insert_events_sql,
    insert_outbox_sql,
)
from tessera_shared.kernel.metrics import EVENTS_APPENDED
from tessera_shared.kernel.projections import Projection

RESULT_EVENT_TYPES = tuple(t.event_type for t in (ResultRecorded, ResultCorrected, ResultWithdrawn, AttendanceRecorded))


# --- loading -----------------------------------------------------------------------------------


async def load_records(conn: Conn, stream_ids: Iterable[str]) -> dict[str, ComponentResults]:
    """Rehydrate many records in one query (the batched form of ``EventStore.load``); a stream
    without events gives an empty record."""
    ids = sorted(set(stream_ids))
    rows = await conn.fetch(
        """SELECT stream_id, event_type, data FROM events
           WHERE stream_id = ANY($1::text[]) ORDER BY stream_id, stream_version""",
        ids,
    )
    history: dict[str, list[Any]] = {sid: [] for sid in ids}
    for r in rows:
        history[r["stream_id"]].append(parse_data(r["event_type"], r["data"]))
    return {sid: ComponentResults.rehydrate(sid, events) for sid, events in history.items()}


async def load_record(conn: Conn, stream_id: str) -> ComponentResults:
    return (await load_records(conn, [stream_id]))[stream_id]


HISTORY_OF = """(SELECT json_agg(json_build_array(h.event_type, h.data) ORDER BY h.stream_version)::text
                 FROM events h WHERE h.stream_id = {stream_id})"""
"""A subquery giving a stream's events as one JSON text (``[[type, data], ...]``, NULL without
events), for queries that load a record together with what its decision needs (:func:`record_of`)."""


def record_of(stream_id: str, history: str | None) -> ComponentResults:
    """The record rehydrated from a :data:`HISTORY_OF` column."""
    events = [parse_data(event_type, data) for event_type, data in orjson.loads(history)] if history else []
    return ComponentResults.rehydrate(stream_id, events)


# --- saving ------------------------------------------------------------------------------------


def _grade(grade: GradeResult) -> dict[str, Any]:
    return {
        "grade": grade.native,
        "scheme_id": grade.scheme_id,
        "scheme_kind": grade.scheme_kind,
        "normalised_score": grade.normalised_score,
        "passed": grade.passed,
    }


def _status(entry: ResultEntry, effective: ResultEntry | None) -> str:
    if entry.withdrawn:
        return "withdrawn"
    return "effective" if effective is not None and effective.result_id == entry.result_id else "superseded"


@dataclass(frozen=True)
class Saved:
    """A record as it stands after ``version`` events (the version its rows will carry)."""

    record: ComponentResults
    version: int


def _withdrawal(w: Withdrawal) -> dict[str, str]:
    return {"reason": w.reason, "withdrawn_by": w.withdrawn_by, "withdrawn_by_institution": w.withdrawn_by_institution}


def result_row(record: ComponentResults, entry: ResultEntry, effective: ResultEntry | None = None) -> dict[str, Any]:
    """One result as the ``results`` table and the API show it (``effective``: ``record.effective``,
    when the caller has it at hand)."""
    effective = effective or record.effective
    key = record.key
    assert key is not None
    w = entry.withdrawal
    return {
        "result_id": entry.result_id,
        "learner_id": key.learner_id,
        "offering_id": key.offering_id,
        "component_code": key.component_code,
        "micro_credential_id": key.micro_credential_id,
        "micro_credential_version": key.micro_credential_version,
        "attempt": entry.attempt,
        "grade": entry.grade.native,
        "scheme_id": entry.grade.scheme_id,
        "scheme_kind": entry.grade.scheme_kind,
        "normalised_score": entry.grade.normalised_score,
        "passed": entry.grade.passed,
        "assessed_on": entry.assessed_on,
        "assessor_id": entry.assessor_id,
        "assessor_institution": entry.assessor_institution,
        "remarks": entry.remarks,
        "status": _status(entry, effective),
        "original": _grade(entry.original_grade),
        "corrections": [
            {
                "reason": c.reason,
                "corrected_by": c.corrected_by,
                "corrected_by_institution": c.corrected_by_institution,
                "previous": {**_grade(c.previous_grade), "assessed_on": c.previous_assessed_on.isoformat()},
                "corrected": {**_grade(c.grade), "assessed_on": c.assessed_on.isoformat()},
                "remarks": c.remarks,
            }
            for c in entry.corrections
        ],
        "withdrawal": None
        if w is None
        else {
            "reason": w.reason,
            "withdrawn_by": w.withdrawn_by,
            "withdrawn_by_institution": w.withdrawn_by_institution,
        },
    }


_RESULT_COLUMNS = (
    "result_id", "stream_id", "learner_id", "offering_id", "component_code", "micro_credential_id",
    "micro_credential_version", "attempt", "grade", "scheme_id", "scheme_kind", "normalised_score", "passed",
    "assessed_on", "assessor_id", "assessor_institution", "remarks", "status", "original", "corrections",
    "withdrawal", "record_version",
)  # fmt: skip
_RESULT_UPDATES = (
    "grade", "scheme_id", "scheme_kind", "normalised_score", "passed", "assessed_on", "remarks", "status",
    "corrections", "withdrawal", "record_version",
)  # fmt: skip
_RECORD_COLUMNS = (
    "stream_id", "learner_id", "offering_id", "component_code", "micro_credential_id", "micro_credential_version",
    "version", "effective_result_id", "attendance_percentage", "attendance_period_start", "attendance_period_end",
    "attendance_history",
)  # fmt: skip
_RECORD_UPDATES = _RECORD_COLUMNS[6:]


def _upsert(
    table: str, columns: tuple[str, ...], key: str, updates: tuple[str, ...], guard: str, param: str = "$1"
) -> str:
    """One statement for all rows: they travel as one JSON array that PostgreSQL unpacks
    (``json_populate_recordset``) — far cheaper than a bound array per column."""
    names = ", ".join(columns)
    return f"""
        INSERT INTO {table} ({names})
        SELECT {names} FROM json_populate_recordset(NULL::{table}, {param}::text::json)
        ON CONFLICT ({key}) DO UPDATE
           SET {", ".join(f"{c} = EXCLUDED.{c}" for c in updates)}, updated_at = clock_timestamp()
         WHERE {guard}"""


def _upsert_records(param: str = "$1") -> str:
    return _upsert(
        "records", _RECORD_COLUMNS, "stream_id", _RECORD_UPDATES, "records.version < EXCLUDED.version", param
    )


def _upsert_results(param: str = "$1") -> str:
    return _upsert(
        "results",
        _RESULT_COLUMNS,
        "result_id",
        _RESULT_UPDATES,
        "results.record_version < EXCLUDED.record_version AND results.stream_id = EXCLUDED.stream_id",
        param,
    )


_UPSERT_RECORDS = _upsert_records()
_UPSERT_RESULTS = _upsert_results()


def _read_model_rows(saved: Sequence[Saved]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The ``records`` and ``results`` rows of ``saved``."""
    records: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for s in saved:
        record, key = s.record, s.record.key
        if key is None:
            continue
        effective, attendance = record.effective, record.attendance
        records.append(
            {
                "stream_id": record.stream_id,
                "learner_id": key.learner_id,
                "offering_id": key.offering_id,
                "component_code": key.component_code,
                "micro_credential_id": key.micro_credential_id,
                "micro_credential_version": key.micro_credential_version,
                "version": s.version,
                "effective_result_id": effective.result_id if effective else None,
                "attendance_percentage": attendance.percentage if attendance else None,
                "attendance_period_start": attendance.period_start if attendance else None,
                "attendance_period_end": attendance.period_end if attendance else None,
                "attendance_history": [attendance_view(a) for a in record.attendance_history],
            }
        )
        for entry in record.results:
            row = result_row(record, entry, effective)
            row["stream_id"] = record.stream_id
            row["record_version"] = s.version
            results.append(row)
    return records, results


async def save_records(conn: Conn, saved: Sequence[Saved]) -> None:
    """Upsert the ``records`` and ``results`` rows of ``saved``: two statements however many."""
    records, results = _read_model_rows(saved)
    if not records:
        return
    await conn.execute(_UPSERT_RECORDS, orjson.dumps(records).decode())
    if results:
        await conn.execute(_UPSERT_RESULTS, orjson.dumps(results).decode())


# --- committing a command: events, outbox and read models in one statement ----------------------

_COMMIT = f"""
    WITH appended AS ({insert_events_sql(1)}
        RETURNING 1
    ), published AS ({insert_outbox_sql(8)}
        RETURNING 1
    ), saved_records AS ({_upsert_records("$11")}
        RETURNING 1
    ), saved_results AS ({_upsert_results("$12")}
        RETURNING 1
    )
    SELECT count(*) FROM appended"""


async def commit_records(conn: Conn, store: EventStore, touched: Sequence[ComponentResults]) -> None:
    """Append the pending events of ``touched`` (each at the version it was loaded at), their
    outbox rows and the records' read-model rows — one statement, so one round trip and atomic
    without an explicit transaction.

    The kernel's rows (``EventStore.rows``, as ``append_many`` writes them) followed by
    :func:`save_records`, without the kernel's separate read of the streams' versions: the events
    go in at the versions the records were loaded at, and ``UNIQUE (stream_id, stream_version)``
    refuses them if another command appended meanwhile — the ``ConcurrencyError`` that makes
    ``retry_on_conflict`` decide again, as the kernel's own check does."""
    appends: list[Append] = []
    saved: list[Saved] = []
    loaded_at: dict[str, int] = {}
    for record in touched:
        events = record.take_pending()
        if events:
            appends.append(Append(record.stream_id, record.expected_version, events))
            saved.append(Saved(record, record.expected_version + len(events)))
            loaded_at[record.stream_id] = record.expected_version
    if not saved:
        return
    rows = store.rows(appends, loaded_at)
    records, results = _read_model_rows(saved)
    with conflicts(appends[0].stream_id, appends[0].expected_version):
        await conn.execute(
            _COMMIT,
            *rows.event_columns(),
            *rows.outbox_columns(),
            orjson.dumps(records).decode(),
            orjson.dumps(results).decode(),
        )
    EVENTS_APPENDED.labels(store.service).inc(len(rows.event_ids))


def attendance_view(entry: AttendanceEntry) -> dict[str, Any]:
    return {
        "attendance_id": entry.attendance_id,
        "percentage": entry.percentage,
        "period_start": entry.period_start.isoformat(),
        "period_end": entry.period_end.isoformat(),
        "recorded_by": entry.recorded_by,
        "recorded_by_institution": entry.recorded_by_institution,
        "remarks": entry.remarks,
    }


class RecordsProjection(Projection):
    """Rebuilds ``records`` and ``results`` from the event store (``tessera assessment rebuild``).

    While the service runs, every command has already written the rows of its events, so the
    runner finds them current: one query per batch reads the versions its records reflect (by
    primary key). Any event a record does not reflect yet rehydrates its whole record and saves it;
    the record's later events are then skipped by the version check."""

    name = "assessment-records"
    tables = ("results", "records")
    event_types = RESULT_EVENT_TYPES
    catch_up_every = 0.25  # the commands keep it current; a round per commit would only confirm that

    async def apply_batch(self, conn: Conn, events: Sequence[StoredEvent]) -> None:
        rows = await conn.fetch(
            "SELECT stream_id, version FROM records WHERE stream_id = ANY($1::text[])",
            list({e.stream_id for e in events}),
        )
        reflected = {r["stream_id"]: r["version"] for r in rows}
        for event in events:
            if reflected.get(event.stream_id, 0) >= event.stream_version:
                continue
            reflected[event.stream_id] = await self._save(conn, event.stream_id)

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        await self.apply_batch(conn, [event])

    @staticmethod
    async def _save(conn: Conn, stream_id: str) -> int:
        record = await load_record(conn, stream_id)
        await save_records(conn, [Saved(record, record.version)])
        return record.version
