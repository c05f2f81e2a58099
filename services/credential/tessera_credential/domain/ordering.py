"""Ordering guards: which of two events about the same fact is the newer one.

Events of one producer stream reach us in stream order only per durable consumer, and even then a
redelivery after a nak, a dead-letter redrive or a replay can bring an older event after a newer
one. So every fact we keep remembers the *position* of the event it came from, and an event is
applied only when it is newer than that position:

* **Same producer stream** (the envelope's ``subject``, e.g. the assessment record
  ``assessment-record:<offering>:<component>:<learner>``): the envelope's ``streamversion`` — the
  producer's optimistic-concurrency version, a gap-free total order of that aggregate's events.
  Every result and attendance event of one learner × offering × component lives in one such stream.
* **Otherwise** (a producer that does not stamp ``streamversion``, or different streams): the
  envelope's ``time``, ties broken by the event id — deterministic, though only as good as clocks.

Enrolment status needs no position at all: its lifecycle only moves forward, so the status of
highest :data:`ENROLMENT_RANK` is the latest whatever order the events arrive in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum


@dataclass(frozen=True)
class Position:
    """Where an event stands in its producer's history."""

    stream: str | None  # the producer's aggregate stream (envelope ``subject``)
    seq: int | None  # the event's version in that stream (envelope ``streamversion``)
    at: datetime  # envelope ``time``
    event_id: str

    def is_after(self, other: Position) -> bool:
        """Whether this event is newer than ``other`` (an equal position is not: nothing to apply)."""
        if self.stream is not None and self.stream == other.stream and self.seq is not None and other.seq is not None:
            return self.seq > other.seq
        return (self.at, self.event_id) > (other.at, other.event_id)


def attendance_is_newer(new_end: date, new: Position, old_end: date, old: Position) -> bool:
    """The assessment contract's rule: latest ``period_end`` counts; the same period goes to the later event."""
    if new_end != old_end:
        return new_end > old_end
    return new.is_after(old)


class EnrolmentStatus(StrEnum):
    REQUESTED = "requested"
    PENDING_REVIEW = "pending_review"
    WAITLISTED = "waitlisted"
    PROMOTED = "promoted"
    ADMITTED = "admitted"
    NOT_COMPLETED = "not_completed"
    COMPLETED = "completed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    WITHDRAWN = "withdrawn"


S = EnrolmentStatus
# The enrolment lifecycle only moves forward (see contract/enrolment.py), so a rank per status makes
# the latest status the one of highest rank, in whatever order the events arrive:
#   requested < pending review < waitlisted < promoted < admitted < not completed < completed,
#   and every end (rejected, cancelled, withdrawn) above all: nothing follows an end.
# (A promotion is always followed by an admission in the same commit; only the admission awards.)
ENROLMENT_RANK: dict[EnrolmentStatus, int] = {
    S.REQUESTED: 0,
    S.PENDING_REVIEW: 1,
    S.WAITLISTED: 2,
    S.PROMOTED: 3,
    S.ADMITTED: 4,
    S.NOT_COMPLETED: 5,
    S.COMPLETED: 6,
    S.REJECTED: 9,
    S.CANCELLED: 9,
    S.WITHDRAWN: 9,
}
AWARDABLE = frozenset({S.ADMITTED, S.NOT_COMPLETED, S.COMPLETED})
ENDED = frozenset({S.REJECTED, S.CANCELLED, S.WITHDRAWN})


def decides_nothing(
    before: EnrolmentStatus | None, after: EnrolmentStatus, *, admission_changed: bool, enrolments: int
) -> bool:
    """Whether an enrolment's change cannot change its learner-offering's decision or evaluation, so
    that it needs no re-evaluation: the enrolment is the learner's only one in the offering (with
    several, the rank decides which one counts), its admission time stays, and it moves between two
    awardable statuses. Decisions see an enrolment only as awardable or ended, its id and its
    admission time (domain/standing.py, decision.py). E.g. the enrolment service's
    ``EnrolmentCompleted`` after this service's own award: one per credential."""
    return enrolments == 1 and not admission_changed and before in AWARDABLE and after in AWARDABLE


def later_status(current: EnrolmentStatus | None, incoming: EnrolmentStatus) -> EnrolmentStatus:
    """The status after ``incoming`` arrives: the higher rank wins (ties keep ``current``)."""
    if current is None or ENROLMENT_RANK[incoming] > ENROLMENT_RANK[current]:
        return incoming
    return current
