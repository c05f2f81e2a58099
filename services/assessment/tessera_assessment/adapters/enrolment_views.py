"""What the assessment service knows of enrolments: who is admitted to which offering.

Written by the enrolment consumer. The status only moves forward (``status_rank``), so a late or
redelivered earlier event never undoes a later one (a cancellation arriving before the admission
stays a cancellation).
"""

from __future__ import annotations

from collections.abc import Iterable

from tessera_shared.kernel.db import Conn

ENROLMENT_STATUS_RANK = {
    "requested": 0,
    "waitlisted": 0,
    "pending_review": 0,
    "promoted": 1,
    "admitted": 2,
    "rejected": 3,
    "cancelled": 4,
    "withdrawn": 4,
    "not_completed": 4,
    "completed": 5,  # an award after the offering finished turns not-completed into completed
}
ADMITTED = frozenset({"admitted", "completed", "not_completed"})
"""Statuses that count as "holds an admitted enrolment": admitted and not cancelled or withdrawn.
A completed or not-completed learner was admitted and may still get (resit) results recorded."""


async def advance_enrolment(
    conn: Conn,
    *,
    enrolment_id: str,
    learner_id: str,
    offering_id: str,
    micro_credential_id: str,
    micro_credential_version: int,
    status: str,
) -> None:
    await conn.execute(
        """INSERT INTO enrolments (enrolment_id, learner_id, offering_id, micro_credential_id,
                                   micro_credential_version, status, status_rank)
           VALUES ($1, $2, $3, $4, $5, $6, $7)
           ON CONFLICT (enrolment_id) DO UPDATE
              SET status = EXCLUDED.status, status_rank = EXCLUDED.status_rank, updated_at = clock_timestamp()
            WHERE enrolments.status_rank < EXCLUDED.status_rank""",
        enrolment_id,
        learner_id,
        offering_id,
        micro_credential_id,
        micro_credential_version,
        status,
        ENROLMENT_STATUS_RANK[status],
    )


async def enrolment_statuses(conn: Conn, offering_id: str, learner_ids: Iterable[str]) -> dict[str, str]:
    """Per learner, the status that decides: ``admitted`` if any enrolment in the offering counts as
    admitted, else the status of the most advanced one. Learners without an enrolment are absent."""
    rows = await conn.fetch(
        """SELECT learner_id, status, status_rank FROM enrolments
           WHERE offering_id = $1 AND learner_id = ANY($2::text[])""",
        offering_id,
        list(set(learner_ids)),
    )
    best: dict[str, tuple[int, str]] = {}
    for r in rows:
        rank = 10 if r["status"] in ADMITTED else r["status_rank"]
        if r["learner_id"] not in best or rank > best[r["learner_id"]][0]:
            best[r["learner_id"]] = (rank, "admitted" if r["status"] in ADMITTED else r["status"])
    return {learner: status for learner, (_, status) in best.items()}
