"""The learners table: the one place (besides the learner events) holding personal data."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from tessera_shared.contract.enrolment import LearnerProfile
from tessera_shared.kernel.aggregate import Conflict
from tessera_shared.kernel.db import Conn

COLUMNS = """learner_id, given_name, family_name, email, email_verified, european_student_identifier,
             home_institution, registered_by, registered_by_institution, registered_at, updated_at"""


def _unique_conflict(exc: asyncpg.UniqueViolationError) -> Conflict:
    if exc.constraint_name == "learners_unique_email":
        return Conflict("a learner with this email is already registered", field="email")
    if exc.constraint_name == "learners_unique_esi":
        return Conflict(
            "a learner with this European Student Identifier is already registered",
            field="european_student_identifier",
        )
    return Conflict("this learner is already registered", field="learner_id")


async def insert_learners(
    conn: Conn, profiles: Sequence[LearnerProfile], *, by: str, by_institution: str | None, at: datetime
) -> None:
    if not profiles:
        return
    try:
        await conn.execute(
            f"""INSERT INTO learners ({COLUMNS}, version)
                SELECT l, g, f, e, v, esi, h, $8, $9, $10, $10, 1
                FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bool[], $6::text[], $7::text[])
                     AS u(l, g, f, e, v, esi, h)""",
            [p.learner_id for p in profiles],
            [p.given_name for p in profiles],
            [p.family_name for p in profiles],
            [str(p.email) for p in profiles],
            [p.email_verified for p in profiles],
            [p.european_student_identifier for p in profiles],
            [p.home_institution for p in profiles],
            by,
            by_institution,
            at,
        )
    except asyncpg.UniqueViolationError as exc:
        raise _unique_conflict(exc) from exc


async def update_learner(conn: Conn, profile: LearnerProfile, *, version: int, at: datetime) -> None:
    try:
        await conn.execute(
            """UPDATE learners SET given_name = $2, family_name = $3, email = $4, email_verified = $5,
                                   european_student_identifier = $6, home_institution = $7, updated_at = $8,
                                   version = $9
               WHERE learner_id = $1""",
            profile.learner_id,
            profile.given_name,
            profile.family_name,
            str(profile.email),
            profile.email_verified,
            profile.european_student_identifier,
            profile.home_institution,
            at,
            version,
        )
    except asyncpg.UniqueViolationError as exc:
        raise _unique_conflict(exc) from exc


async def get_learner(conn: Conn, learner_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(f"SELECT {COLUMNS} FROM learners WHERE learner_id = $1", learner_id)
    return dict(row) if row is not None else None


async def existing_learner_ids(conn: Conn, learner_ids: Iterable[str]) -> set[str]:
    rows = await conn.fetch("SELECT learner_id FROM learners WHERE learner_id = ANY($1)", list(set(learner_ids)))
    return {r["learner_id"] for r in rows}


async def learner_ids_by_email(conn: Conn, emails: Iterable[str]) -> dict[str, str]:
    """lower(email) -> learner id."""
    rows = await conn.fetch(
        "SELECT lower(email) AS email, learner_id FROM learners WHERE lower(email) = ANY($1)",
        [e.lower() for e in set(emails)],
    )
    return {r["email"]: r["learner_id"] for r in rows}


def visible_to_registrar_sql(param: str) -> str:
    """SQL condition: the learner ``l`` is visible to a registrar of institution ``param``: their home
    institution, the institution that registered them, or one taking part in an offering they are
    enrolled in."""
    return f"""(l.home_institution = {param} OR l.registered_by_institution = {param}
               OR EXISTS (SELECT 1 FROM enrolments e JOIN offerings o USING (offering_id)
                          WHERE e.learner_id = l.learner_id
                            AND ({param} = o.coordinator_id OR {param} = ANY(o.teaching_institutions)
                                 OR {param} = ANY(COALESCE(o.partners, '{{}}')))))"""


async def registrar_may_see(conn: Conn, learner_id: str, institution: str | None) -> bool:
    if institution is None:
        return False
    return bool(
        await conn.fetchval(
            f"SELECT 1 FROM learners l WHERE l.learner_id = $1 AND {visible_to_registrar_sql('$2')}",
            learner_id,
            institution,
        )
    )


async def list_learners(
    conn: Conn,
    *,
    institution: str | None,
    email: str | None,
    home_institution: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """``institution`` None: everything (operators); else what that institution's registrars see."""
    conditions = ["($1::text IS NULL OR lower(l.email) = lower($1))", "($2::text IS NULL OR l.home_institution = $2)"]
    if institution is not None:
        conditions.append(visible_to_registrar_sql("$3"))
    where = " AND ".join(conditions)
    args: list[Any] = [email, home_institution, institution]
    total = await conn.fetchval(f"SELECT count(*) FROM learners l WHERE {where} AND ($3::text IS NULL OR true)", *args)
    rows = await conn.fetch(
        f"""SELECT {COLUMNS} FROM learners l WHERE {where} AND ($3::text IS NULL OR true)
            ORDER BY l.registered_at, l.learner_id LIMIT $4 OFFSET $5""",
        *args,
        limit,
        offset,
    )
    return [dict(r) for r in rows], int(total)
