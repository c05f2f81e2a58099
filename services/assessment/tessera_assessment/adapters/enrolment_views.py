"""What the assessment service knows of enrolments: who is admitted to which offering.

Written by the enrolment consumer. The status only moves forward (``status_rank``), so a late or
redelivered earlier event never undoes a later one (a cancellation arriving before the admission
stays a cancellation).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

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


_ADVANCE = """
    INSERT INTO enrolments (enrolment_id, learner_id, offering_id, micro_credential_id,
                            micro_credential_version, status, status_rank)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[])
    ON CONFLICT (enrolment_id) DO UPDATE
       SET status = EXCLUDED.status, status_rank = EXCLUDED.status_rank, updated_at = clock_timestamp()
     WHERE enrolments.status_rank < EXCLUDED.status_rank"""


@dataclass(frozen=True)
class EnrolmentFact:
    """What one enrolment event says: the enrolment, whose and where, and its status now."""

    enrolment_id: str
    learner_id: str
    offering_id: str
    micro_credential_id: str
    micro_credential_version: int
    status: str

    @property
    def rank(self) -> int:
        return ENROLMENT_STATUS_RANK[self.status]


def folded(facts: Iterable[EnrolmentFact]) -> list[EnrolmentFact]:
    """One fact per enrolment, leaving what applying ``facts`` one by one, in order, would: the
    first fact's row with the first status of the highest rank (a later fact of equal rank does not
    move the status, as the guard ``<`` of the upsert does not)."""
    first: dict[str, EnrolmentFact] = {}
    best: dict[str, EnrolmentFact] = {}
    for fact in facts:
        first.setdefault(fact.enrolment_id, fact)
        if fact.enrolment_id not in best or fact.rank > best[fact.enrolment_id].rank:
            best[fact.enrolment_id] = fact
    return [replace(row, status=best[enrolment_id].status) for enrolment_id, row in first.items()]


async def advance_enrolments(conn: Conn, facts: Iterable[EnrolmentFact]) -> None:
    """Apply enrolment events, in their order, in one statement: each moves its enrolment's status
    forward, never back (an upsert guarded by the rank). An upsert can touch a row only once, so
    the events of one enrolment are :func:`folded` first."""
    rows = folded(facts)
    if not rows:
        return
    await conn.execute(
        _ADVANCE,
        [f.enrolment_id for f in rows],
        [f.learner_id for f in rows],
        [f.offering_id for f in rows],
        [f.micro_credential_id for f in rows],
        [f.micro_credential_version for f in rows],
        [f.status for f in rows],
        [f.rank for f in rows],
    )


def decisive_statuses(rows: Iterable[tuple[str, str, int]]) -> dict[str, str]:
    """Per learner of ``(learner_id, status, status_rank)`` rows, the status that decides:
    ``admitted`` if any enrolment in the offering counts as admitted, else the status of the most
    advanced one. Learners without an enrolment are absent."""
    best: dict[str, tuple[int, str]] = {}
    for learner_id, status, status_rank in rows:
        rank = 10 if status in ADMITTED else status_rank
        if learner_id not in best or rank > best[learner_id][0]:
            best[learner_id] = (rank, "admitted" if status in ADMITTED else status)
    return {learner: status for learner, (_, status) in best.items()}


async def enrolment_statuses(conn: Conn, offering_id: str, learner_ids: Iterable[str]) -> dict[str, str]:
    """:func:`decisive_statuses` of the learners' enrolments in the offering."""
    rows = await conn.fetch(
        """SELECT learner_id, status, status_rank FROM enrolments
           WHERE offering_id = $1 AND learner_id = ANY($2::text[])""",
        offering_id,
        list(set(learner_ids)),
    )
    return decisive_statuses((r["learner_id"], r["status"], r["status_rank"]) for r in rows)
