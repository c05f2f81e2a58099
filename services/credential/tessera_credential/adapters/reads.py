"""Read queries behind the HTTP API (awards, pathway awards, evaluations)."""

from __future__ import annotations

from typing import Any

from tessera_shared.kernel.db import Conn

_AWARD = """SELECT a.award_id::text, a.learner_id, a.micro_credential_id, a.micro_credential_version, a.offering_id,
                   a.enrolment_id, a.status, a.awarded_at, a.grade_summary, a.explanation, a.supersedes::text,
                   a.superseded_by::text, a.ended_at, a.end_reason, coalesce(o.partner_ids, '{}') AS partner_ids
            FROM awards a LEFT JOIN award_offerings o ON o.offering_id = a.offering_id"""

_PATHWAY_AWARD = """SELECT p.award_id::text, p.learner_id, p.pathway_id, p.pathway_version, p.status,
                           p.constituent_award_ids::text[] AS constituent_award_ids, p.explanation, p.awarded_at,
                           p.revoked_at, p.revocation_reason,
                           ARRAY(SELECT jsonb_array_elements(w.definition -> 'partners') ->> 'institution_id')
                               AS partner_ids
                    FROM pathway_awards p
                    JOIN award_pathways w ON w.pathway_id = p.pathway_id AND w.version = p.pathway_version"""


async def award(conn: Conn, award_id: str) -> dict[str, Any] | None:
    r = await conn.fetchrow(_AWARD + " WHERE a.award_id = $1::uuid", award_id)
    return dict(r) if r is not None else None


async def awards_of_learner(conn: Conn, learner_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(_AWARD + " WHERE a.learner_id = $1 ORDER BY a.awarded_at, a.award_id", learner_id)
    return [dict(r) for r in rows]


async def pathway_award(conn: Conn, award_id: str) -> dict[str, Any] | None:
    r = await conn.fetchrow(_PATHWAY_AWARD + " WHERE p.award_id = $1::uuid", award_id)
    return dict(r) if r is not None else None


async def pathway_awards_of_learner(conn: Conn, learner_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(_PATHWAY_AWARD + " WHERE p.learner_id = $1 ORDER BY p.awarded_at, p.award_id", learner_id)
    return [dict(r) for r in rows]


async def evaluation(conn: Conn, learner_id: str, offering_id: str) -> dict[str, Any] | None:
    r = await conn.fetchrow(
        """SELECT outcome, met, explanation, award_id::text, evaluated_by, evaluated_at
           FROM award_learner_offerings WHERE learner_id = $1 AND offering_id = $2""",
        learner_id,
        offering_id,
    )
    return dict(r) if r is not None else None


async def evaluations_of_offering(conn: Conn, offering_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        """SELECT learner_id, outcome, met, award_id::text, evaluated_at
           FROM award_learner_offerings WHERE offering_id = $1 ORDER BY learner_id""",
        offering_id,
    )
    return [dict(r) for r in rows]


async def active_award_id(conn: Conn, learner_id: str, mc_id: str, version: int) -> str | None:
    value: str | None = await conn.fetchval(
        """SELECT award_id::text FROM awards WHERE learner_id = $1 AND micro_credential_id = $2
           AND micro_credential_version = $3 AND status = 'active'""",
        learner_id,
        mc_id,
        version,
    )
    return value


async def pending_issuance(conn: Conn, limit: int = 100) -> list[dict[str, Any]]:
    """The queue as part 2 will read it (oldest first); used by operators and tests."""
    rows = await conn.fetch(
        """SELECT id, award_kind, action, award_id::text, event_id::text FROM issuance_queue
           WHERE done_at IS NULL ORDER BY id LIMIT $1""",
        limit,
    )
    return [dict(r) for r in rows]
