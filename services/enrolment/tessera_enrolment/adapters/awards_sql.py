"""Read model of the credential service's awards: one row per award id, any arrival order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

from tessera_enrolment.adapters.enrolments_sql import completable_sql
from tessera_enrolment.domain.admission import AwardRecord, valid_micro_credentials
from tessera_shared.contract.credential import AwardRevoked, AwardSuperseded, CredentialAwarded
from tessera_shared.kernel.db import Conn

_INSERT = """INSERT INTO awards (award_id, learner_id, micro_credential_id, micro_credential_version, offering_id,
                                 enrolment_id, awarded_at, revoked_at, superseded_by, superseded_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
             ON CONFLICT (award_id) DO UPDATE SET
                 enrolment_id = COALESCE(awards.enrolment_id, EXCLUDED.enrolment_id),
                 awarded_at = COALESCE(awards.awarded_at, EXCLUDED.awarded_at),
                 revoked_at = COALESCE(awards.revoked_at, EXCLUDED.revoked_at),
                 superseded_by = COALESCE(awards.superseded_by, EXCLUDED.superseded_by),
                 superseded_at = COALESCE(awards.superseded_at, EXCLUDED.superseded_at)"""


# The award, the award it supersedes, and the enrolment it may complete, locked: one round trip.
_RECORD_AWARDED = f"""
    WITH award AS ({_INSERT} RETURNING revoked_at IS NOT NULL AS revoked),
         superseded AS (
             UPDATE awards SET superseded_by = COALESCE(superseded_by, $1), superseded_at = COALESCE(superseded_at, $7)
             WHERE award_id = $11),
         {completable_sql(learner="$2", offering="$5", enrolment="$6")}
    SELECT (SELECT revoked FROM award) AS revoked, (SELECT enrolment_id FROM completable) AS enrolment_id"""


async def record_awarded(conn: Conn, e: CredentialAwarded) -> tuple[bool, str | None]:
    """Record the award (and, on the award it supersedes, by whom) and lock the enrolment it may
    complete (:func:`..enrolments_sql.completable_sql`). Returns whether its revocation arrived
    first (then it completes nothing) and the enrolment found, if any."""
    row = await conn.fetchrow(
        _RECORD_AWARDED,
        e.award_id,
        e.learner_id,
        e.micro_credential_id,
        e.micro_credential_version,
        e.offering_id,
        e.enrolment_id,
        e.awarded_at,
        None,
        None,
        None,
        e.supersedes,
    )
    assert row is not None
    return bool(row["revoked"]), row["enrolment_id"]


async def record_revoked(conn: Conn, e: AwardRevoked) -> None:
    await conn.execute(
        _INSERT,
        e.award_id,
        e.learner_id,
        e.micro_credential_id,
        e.micro_credential_version,
        e.offering_id,
        None,
        None,
        e.revoked_at,
        None,
        None,
    )


async def record_superseded(conn: Conn, e: AwardSuperseded) -> None:
    await conn.execute(
        _INSERT,
        e.award_id,
        e.learner_id,
        e.micro_credential_id,
        e.micro_credential_version,
        e.offering_id,
        None,
        None,
        None,
        e.superseded_by,
        e.superseded_at,
    )


async def held_micro_credentials(conn: Conn, learner_ids: Iterable[str]) -> dict[str, set[str]]:
    """For each learner, the micro-credentials they hold a valid credential for."""
    rows = await conn.fetch(
        """SELECT learner_id, award_id, micro_credential_id, awarded_at IS NOT NULL AS awarded,
                  revoked_at IS NOT NULL AS revoked, superseded_by
           FROM awards WHERE learner_id = ANY($1)""",
        list(set(learner_ids)),
    )
    by_learner: dict[str, list[AwardRecord]] = defaultdict(list)
    for r in rows:
        by_learner[r["learner_id"]].append(
            AwardRecord(r["award_id"], r["micro_credential_id"], r["awarded"], r["revoked"], r["superseded_by"])
        )
    return {learner: valid_micro_credentials(awards) for learner, awards in by_learner.items()}


async def valid_awards_in_offering(conn: Conn, offering_id: str) -> dict[str, str]:
    """learner id -> an award id, for awards of this offering that were awarded and not revoked."""
    rows = await conn.fetch(
        """SELECT learner_id, award_id FROM awards
           WHERE offering_id = $1 AND awarded_at IS NOT NULL AND revoked_at IS NULL
           ORDER BY awarded_at""",
        offering_id,
    )
    return {r["learner_id"]: r["award_id"] for r in rows}
