"""The idempotency record of bulk uploads: one row per (subject, Idempotency-Key) with its report.

An upload takes a transaction-scoped advisory lock on its key first, so a concurrent duplicate
waits until the first commits (or rolls back) and then finds its report; the UNIQUE constraint is
the backstop. The report is stored as the JSON text it was sent as, and a replay sends it again.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

from tessera_shared.kernel.db import Conn

_LOCK_CLASS = 20551  # two-key advisory locks: (class, hash of subject + key)


@dataclass(frozen=True)
class StoredUpload:
    upload_id: str
    subject: str
    institution: str | None
    offering_id: str
    digest: str
    report_json: str


async def lock_key(conn: Conn, subject: str, key: str) -> None:
    await conn.execute("SELECT pg_advisory_xact_lock($1, hashtext($2))", _LOCK_CLASS, f"{subject}\n{key}")


_SELECT = "SELECT upload_id, subject, institution, offering_id, digest, report::text AS report FROM uploads"


def _stored(r: asyncpg.Record) -> StoredUpload:
    return StoredUpload(
        upload_id=str(r["upload_id"]),
        subject=r["subject"],
        institution=r["institution"],
        offering_id=r["offering_id"],
        digest=r["digest"],
        report_json=r["report"],
    )


async def find_upload(conn: Conn, subject: str, key: str) -> StoredUpload | None:
    row = await conn.fetchrow(f"{_SELECT} WHERE subject = $1 AND idempotency_key = $2", subject, key)
    return _stored(row) if row else None


async def get_upload(conn: Conn, upload_id: str) -> StoredUpload | None:
    try:
        uid = uuid.UUID(upload_id)
    except ValueError:
        return None
    row = await conn.fetchrow(f"{_SELECT} WHERE upload_id = $1", uid)
    return _stored(row) if row else None


async def insert_upload(
    conn: Conn,
    *,
    upload_id: str,
    subject: str,
    institution: str | None,
    key: str,
    offering_id: str,
    digest: str,
    fmt: str,
    received: int,
    accepted: int,
    rejected: int,
    report_json: str,
) -> None:
    await conn.execute(
        """INSERT INTO uploads (upload_id, subject, institution, idempotency_key, offering_id, digest, format,
                                rows_received, rows_accepted, rows_rejected, report)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb)""",
        uuid.UUID(upload_id),
        subject,
        institution,
        key,
        offering_id,
        digest,
        fmt,
        received,
        accepted,
        rejected,
        report_json,
    )
