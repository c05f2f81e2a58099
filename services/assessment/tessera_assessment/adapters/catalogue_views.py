"""What the assessment service knows of the catalogue: institutions with their grading schemes,
micro-credential versions with their components, offerings with their status.

Written by the catalogue consumer (:mod:`tessera_assessment.application.catalogue_events`); every
write is an idempotent upsert that tolerates events arriving out of order (see the migration).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import orjson

from tessera_shared.contract.terms import ComponentTerms
from tessera_shared.kernel.db import Conn

OFFERING_STATUS_RANK = {"scheduled": 0, "open": 1, "closed": 2, "running": 3, "finished": 4, "cancelled": 5}


@dataclass(frozen=True)
class ComponentInfo:
    code: str
    ects: Decimal
    semester: str
    teaching_institution: str
    title: dict[str, str] | None = None


@dataclass(frozen=True)
class OfferingInfo:
    """An offering as far as assessment needs it: its pinned version and that version's components."""

    offering_id: str
    micro_credential_id: str
    micro_credential_version: int
    coordinator_id: str | None
    status: str
    title: dict[str, str] | None
    academic_year: str | None
    attendance_compulsory: bool | None
    components: dict[str, ComponentInfo] = field(default_factory=dict)

    def taught_by(self, institution: str | None) -> frozenset[str]:
        return frozenset(c.code for c in self.components.values() if c.teaching_institution == institution)


# --- writes (consumer) ---------------------------------------------------------------------------


async def upsert_institution(conn: Conn, institution_id: str, scheme_ids: Sequence[str], source_version: int) -> None:
    await conn.execute(
        """INSERT INTO institutions (institution_id, grading_scheme_ids, source_version)
           VALUES ($1, $2, $3)
           ON CONFLICT (institution_id) DO UPDATE
              SET grading_scheme_ids = EXCLUDED.grading_scheme_ids,
                  source_version = EXCLUDED.source_version,
                  updated_at = clock_timestamp()
            WHERE institutions.source_version <= EXCLUDED.source_version""",
        institution_id,
        list(scheme_ids),
        source_version,
    )


_INSERT_COMPONENTS = """
    INSERT INTO components (micro_credential_id, version, code, title, ects, semester, teaching_institution)
    SELECT $1, $2, c, t, e, s, i
    FROM unnest($3::text[], $4::jsonb[], $5::numeric[], $6::text[], $7::text[]) AS u(c, t, e, s, i)
    ON CONFLICT (micro_credential_id, version, code) """
_COMPONENTS_FROM_VERSION = (
    _INSERT_COMPONENTS + "DO UPDATE SET title = EXCLUDED.title, ects = EXCLUDED.ects, semester = EXCLUDED.semester,"
    " teaching_institution = EXCLUDED.teaching_institution"
)
_COMPONENTS_FROM_OFFERING = _INSERT_COMPONENTS + "DO NOTHING"


def _component_columns(
    components: Iterable[ComponentTerms], titles: dict[str, dict[str, str]] | None
) -> tuple[list[Any], ...]:
    rows = list(components)
    titles = titles or {}
    return (
        [c.code for c in rows],
        [titles.get(c.code) for c in rows],
        [c.ects for c in rows],
        [c.semester.value for c in rows],
        [c.teaching_institution for c in rows],
    )


async def insert_version(
    conn: Conn,
    micro_credential_id: str,
    version: int,
    coordinator_id: str,
    title: dict[str, str],
    components: Iterable[ComponentTerms],
    titles: dict[str, dict[str, str]],
) -> None:
    """A published version and its components, in one statement. A version is immutable: the first
    snapshot's row is kept; its components overwrite what an offering of the version filled in
    before the snapshot arrived (an offering only fills gaps: :func:`upsert_scheduled_offering`)."""
    await conn.execute(
        f"""WITH version AS (
                INSERT INTO micro_credential_versions (micro_credential_id, version, coordinator_id, title)
                VALUES ($1, $2, $8, $9) ON CONFLICT DO NOTHING
            )
            {_COMPONENTS_FROM_VERSION}""",
        micro_credential_id,
        version,
        *_component_columns(components, titles),
        coordinator_id,
        title,
    )


async def upsert_scheduled_offering(
    conn: Conn,
    *,
    offering_id: str,
    micro_credential_id: str,
    micro_credential_version: int,
    coordinator_id: str,
    title: dict[str, str],
    academic_year: str,
    attendance_compulsory: bool,
    components: Iterable[ComponentTerms],
) -> None:
    """The offering's scheduled facts and, where the version's snapshot has not filled them yet, its
    version's components (one statement)."""
    await conn.execute(
        f"""WITH components_known AS (
                {_COMPONENTS_FROM_OFFERING}
            )
            INSERT INTO offerings (offering_id, micro_credential_id, micro_credential_version, coordinator_id, title,
                                   academic_year, attendance_compulsory, scheduled, status, status_rank)
            VALUES ($8, $1, $2, $9, $10, $11, $12, true, 'scheduled', 0)
            ON CONFLICT (offering_id) DO UPDATE
               SET micro_credential_id = EXCLUDED.micro_credential_id,
                   micro_credential_version = EXCLUDED.micro_credential_version,
                   coordinator_id = EXCLUDED.coordinator_id,
                   title = EXCLUDED.title,
                   academic_year = EXCLUDED.academic_year,
                   attendance_compulsory = EXCLUDED.attendance_compulsory,
                   scheduled = true,
                   updated_at = clock_timestamp()""",
        micro_credential_id,
        micro_credential_version,
        *_component_columns(components, None),
        offering_id,
        coordinator_id,
        title,
        academic_year,
        attendance_compulsory,
    )


async def advance_offering(
    conn: Conn, *, offering_id: str, micro_credential_id: str, micro_credential_version: int, status: str
) -> None:
    """Move the offering to ``status`` unless it is already further along (late, reordered events)."""
    await conn.execute(
        """INSERT INTO offerings (offering_id, micro_credential_id, micro_credential_version, status, status_rank)
           VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (offering_id) DO UPDATE
              SET status = EXCLUDED.status, status_rank = EXCLUDED.status_rank, updated_at = clock_timestamp()
            WHERE offerings.status_rank < EXCLUDED.status_rank""",
        offering_id,
        micro_credential_id,
        micro_credential_version,
        status,
        OFFERING_STATUS_RANK[status],
    )


# --- reads ---------------------------------------------------------------------------------------


OFFERING_COLUMNS = """
    o.offering_id, o.micro_credential_id, o.micro_credential_version, o.status, o.academic_year,
    o.attendance_compulsory, COALESCE(o.title, v.title) AS title,
    COALESCE(o.coordinator_id, v.coordinator_id) AS coordinator_id,
    c.codes, c.ects, c.semesters, c.teachers, c.titles"""
"""The columns :func:`offering_of` reads, from :data:`OFFERING_JOINS` (``o`` the offering)."""

OFFERING_JOINS = """
    LEFT JOIN micro_credential_versions v
           ON v.micro_credential_id = o.micro_credential_id AND v.version = o.micro_credential_version
    LEFT JOIN LATERAL (
        SELECT array_agg(code ORDER BY code) AS codes, array_agg(ects ORDER BY code) AS ects,
               array_agg(semester ORDER BY code) AS semesters,
               array_agg(teaching_institution ORDER BY code) AS teachers,
               json_agg(title ORDER BY code)::text AS titles
        FROM components
        WHERE micro_credential_id = o.micro_credential_id AND version = o.micro_credential_version
    ) c ON true"""


def offering_of(row: Any) -> OfferingInfo | None:
    """The offering of a row with :data:`OFFERING_COLUMNS`, or ``None`` while the offering or its
    version's components are still unknown."""
    if row is None or row["offering_id"] is None or not row["codes"]:
        return None
    titles = orjson.loads(row["titles"])
    return OfferingInfo(
        offering_id=row["offering_id"],
        micro_credential_id=row["micro_credential_id"],
        micro_credential_version=row["micro_credential_version"],
        coordinator_id=row["coordinator_id"],
        status=row["status"],
        title=row["title"],
        academic_year=row["academic_year"],
        attendance_compulsory=row["attendance_compulsory"],
        components={
            code: ComponentInfo(code, ects, semester, teacher, title)
            for code, ects, semester, teacher, title in zip(
                row["codes"], row["ects"], row["semesters"], row["teachers"], titles, strict=True
            )
        },
    )


_LOAD_OFFERING = f"SELECT {OFFERING_COLUMNS} FROM offerings o {OFFERING_JOINS} WHERE o.offering_id = $1"


async def load_offering(conn: Conn, offering_id: str) -> OfferingInfo | None:
    """The offering with its version's components (one query), or ``None`` while either is still
    unknown."""
    return offering_of(await conn.fetchrow(_LOAD_OFFERING, offering_id))


async def grading_schemes_of(conn: Conn, institutions: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """The grading scheme ids each institution declared (first = default); absent when unknown."""
    rows = await conn.fetch(
        "SELECT institution_id, grading_scheme_ids FROM institutions WHERE institution_id = ANY($1::text[])",
        sorted(set(institutions)),
    )
    return {r["institution_id"]: tuple(r["grading_scheme_ids"]) for r in rows}


def offering_view(offering: OfferingInfo, schemes: dict[str, tuple[str, ...]]) -> dict[str, Any]:
    return {
        "offering_id": offering.offering_id,
        "micro_credential_id": offering.micro_credential_id,
        "micro_credential_version": offering.micro_credential_version,
        "coordinator_id": offering.coordinator_id,
        "status": offering.status,
        "title": offering.title,
        "academic_year": offering.academic_year,
        "attendance_compulsory": offering.attendance_compulsory,
        "components": [
            {
                "code": c.code,
                "title": c.title,
                "ects": str(c.ects),
                "semester": c.semester,
                "teaching_institution": c.teaching_institution,
                "grading_scheme_ids": list(schemes.get(c.teaching_institution, ())),
                "default_scheme_id": next(iter(schemes.get(c.teaching_institution, ())), None),
            }
            for c in offering.components.values()
        ],
    }
