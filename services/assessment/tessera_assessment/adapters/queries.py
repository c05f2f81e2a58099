"""Read queries over ``results`` and ``records``: filters, visibility scope and keyset paging.

A page is ordered by a unique key and continued with an opaque ``cursor`` (the last key, base64url
JSON), so pages stay stable while results are being added.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

import orjson

from tessera_shared.kernel.aggregate import DomainError
from tessera_shared.kernel.db import Conn

RESULT_STATUSES = ("effective", "superseded", "withdrawn")

_RESULT_COLUMNS = """result_id, learner_id, offering_id, component_code, micro_credential_id, micro_credential_version,
    attempt, grade, scheme_id, scheme_kind, normalised_score, passed, assessed_on, assessor_id, assessor_institution,
    remarks, status, original, corrections, withdrawal"""


@dataclass(frozen=True)
class Scope:
    """What a principal may see of an offering: ``components`` None = every component;
    ``learner_id`` set = only that learner's own results."""

    components: frozenset[str] | None = None
    learner_id: str | None = None


def encode_cursor(key: list[Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(key)).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...]) -> list[Any]:
    try:
        key = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        key = None
    if (
        not isinstance(key, list)
        or len(key) != len(types)
        or not all(type(k) is t for k, t in zip(key, types, strict=True))
    ):
        raise DomainError("cursor is not one this service handed out", field="cursor")
    return key


def result_view(row: Any) -> dict[str, Any]:
    view = dict(row)
    view["assessed_on"] = row["assessed_on"].isoformat()
    return view


class _Where:
    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *values: Any) -> None:
        """``clause`` uses ``{}`` for each value's placeholder."""
        names = []
        for value in values:
            self.params.append(value)
            names.append(f"${len(self.params)}")
        self.clauses.append(clause.format(*names))

    def sql(self) -> str:
        return " AND ".join(self.clauses) or "true"


async def list_results(
    conn: Conn,
    *,
    offering_id: str | None,
    scope: Scope,
    learner_id: str | None = None,
    component_code: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    """A page of results. With ``offering_id`` ordered by learner, component, attempt; without it (a
    learner's own results across offerings) by offering, component, attempt."""
    where = _Where()
    if offering_id is not None:
        where.add("offering_id = {}", offering_id)
        order = ["learner_id", "component_code", "attempt", "result_id"]
    else:
        order = ["offering_id", "component_code", "attempt", "result_id"]
    if scope.components is not None:
        where.add("component_code = ANY({}::text[])", sorted(scope.components))
    if scope.learner_id is not None:
        where.add("learner_id = {}", scope.learner_id)
    if learner_id is not None:
        where.add("learner_id = {}", learner_id)
    if component_code is not None:
        where.add("component_code = {}", component_code)
    if status is not None:
        where.add("status = {}", status)
    if cursor:
        key = decode_cursor(cursor, (str, str, int, str))
        where.add(f"({', '.join(order)}) > ({{}}, {{}}, {{}}::int, {{}})", *key)
    where.params.append(limit + 1)
    rows = await conn.fetch(
        f"SELECT {_RESULT_COLUMNS} FROM results WHERE {where.sql()} ORDER BY {', '.join(order)} "
        f"LIMIT ${len(where.params)}",
        *where.params,
    )
    items = [result_view(r) for r in rows[:limit]]
    next_cursor = encode_cursor([rows[limit - 1][c] for c in order]) if len(rows) > limit else None
    return {"items": items, "next_cursor": next_cursor}


async def get_result(conn: Conn, result_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {_RESULT_COLUMNS} FROM results WHERE result_id = $1", result_id)
    return result_view(row) if row else None


async def list_attendance(
    conn: Conn,
    *,
    offering_id: str,
    scope: Scope,
    learner_id: str | None = None,
    component_code: str | None = None,
    cursor: str | None = None,
    limit: int = 100,
) -> dict[str, Any]:
    where = _Where()
    where.add("offering_id = {}", offering_id)
    where.add("attendance_percentage IS NOT NULL")
    if scope.components is not None:
        where.add("component_code = ANY({}::text[])", sorted(scope.components))
    if scope.learner_id is not None:
        where.add("learner_id = {}", scope.learner_id)
    if learner_id is not None:
        where.add("learner_id = {}", learner_id)
    if component_code is not None:
        where.add("component_code = {}", component_code)
    if cursor:
        key = decode_cursor(cursor, (str, str))
        where.add("(learner_id, component_code) > ({}, {})", *key)
    where.params.append(limit + 1)
    rows = await conn.fetch(
        f"""SELECT learner_id, offering_id, component_code, attendance_percentage, attendance_period_start,
                   attendance_period_end, attendance_history
            FROM records WHERE {where.sql()} ORDER BY learner_id, component_code LIMIT ${len(where.params)}""",
        *where.params,
    )
    items = [
        {
            "learner_id": r["learner_id"],
            "offering_id": r["offering_id"],
            "component_code": r["component_code"],
            "percentage": r["attendance_percentage"],
            "period_start": r["attendance_period_start"].isoformat(),
            "period_end": r["attendance_period_end"].isoformat(),
            "history": r["attendance_history"],
        }
        for r in rows[:limit]
    ]
    last = rows[limit - 1] if len(rows) > limit else None
    next_cursor = encode_cursor([last["learner_id"], last["component_code"]]) if last else None
    return {"items": items, "next_cursor": next_cursor}
