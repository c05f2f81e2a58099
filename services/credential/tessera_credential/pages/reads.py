"""The pages' reads: issued credentials (part 2's table), institution profiles, the learner's offerings
and published definitions (part 1's tables). Read-only; no table of its own."""

from __future__ import annotations

from typing import Any

from tessera_shared.kernel.db import Conn

_CREDENTIAL = """SELECT credential_id, award_id, award_kind, learner_id, micro_credential_id, micro_credential_version,
                        pathway_id, pathway_version, issuer_id, co_signer_ids, achievement_id, document, status,
                        supersedes, superseded_by, revocation_reason, issued_at, ended_at
                 FROM issued_credentials"""


async def credential(conn: Conn, credential_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(_CREDENTIAL + " WHERE credential_id = $1", credential_id)
    return dict(row) if row is not None else None


async def credentials_of_learner(conn: Conn, learner_id: str) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        _CREDENTIAL + " WHERE learner_id = $1 ORDER BY issued_at DESC, credential_id LIMIT 500", learner_id
    )
    return [dict(r) for r in rows]


async def institution_profiles(conn: Conn, institution_ids: list[str]) -> dict[str, Any]:
    rows = await conn.fetch(
        "SELECT institution_id, profile FROM award_institutions WHERE institution_id = ANY($1::text[])",
        institution_ids,
    )
    return {r["institution_id"]: r["profile"] for r in rows}


async def learner_profile(conn: Conn, learner_id: str) -> dict[str, Any] | None:
    profile: dict[str, Any] | None = await conn.fetchval(
        "SELECT profile FROM award_learners WHERE learner_id = $1", learner_id
    )
    return profile


async def offerings_of_learner(conn: Conn, learner_id: str) -> list[dict[str, Any]]:
    """Every offering the learner is enrolled in or has facts in, with its title when known."""
    rows = await conn.fetch(
        """WITH mine AS (
               SELECT offering_id FROM award_enrolments WHERE learner_id = $1
               UNION SELECT offering_id FROM award_learner_offerings WHERE learner_id = $1)
           SELECT m.offering_id, o.title, o.micro_credential_id, o.micro_credential_version, o.scheduled_at
           FROM mine m LEFT JOIN award_offerings o ON o.offering_id = m.offering_id
           ORDER BY o.scheduled_at DESC NULLS LAST, m.offering_id LIMIT 200""",
        learner_id,
    )
    return [dict(r) for r in rows]


async def definition(conn: Conn, mc_id: str, version: int) -> dict[str, Any] | None:
    value: dict[str, Any] | None = await conn.fetchval(
        "SELECT definition FROM award_definitions WHERE micro_credential_id = $1 AND version = $2", mc_id, version
    )
    return value


async def latest_version(conn: Conn, mc_id: str) -> int | None:
    version: int | None = await conn.fetchval(
        "SELECT max(version) FROM award_definitions WHERE micro_credential_id = $1", mc_id
    )
    return version
