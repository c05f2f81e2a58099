"""Ordering guards of the awarding engine: which event about a fact is the newer one."""

from datetime import UTC, date, datetime, timedelta
from itertools import permutations

import pytest

from tessera_credential.domain.ordering import (
    AWARDABLE,
    EnrolmentStatus,
    Position,
    attendance_is_newer,
    decides_nothing,
    later_status,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
STREAM = "assessment-record:off-1:C1:learner-1"


def pos(seq, *, stream=STREAM, at=T0, event_id="e"):
    return Position(stream, seq, at, event_id)


def test_same_stream_orders_by_stream_version_not_by_clock():
    # the newer event carries an *earlier* time (another replica's clock): the version decides
    newer = pos(3, at=T0 - timedelta(minutes=5), event_id="a")
    older = pos(2, at=T0, event_id="b")
    assert newer.is_after(older)
    assert not older.is_after(newer)


def test_the_same_position_is_not_newer():
    assert not pos(2).is_after(pos(2))


def test_without_stream_versions_time_then_event_id_decide():
    a = Position(None, None, T0, "a")
    b = Position(None, None, T0 + timedelta(seconds=1), "b")
    assert b.is_after(a) and not a.is_after(b)
    tie_low, tie_high = Position(None, None, T0, "a"), Position(None, None, T0, "b")
    assert tie_high.is_after(tie_low) and not tie_low.is_after(tie_high)


def test_versions_of_different_streams_are_not_compared():
    other = pos(99, stream="assessment-record:off-1:C2:learner-1", at=T0)
    later = pos(1, at=T0 + timedelta(seconds=1))
    assert later.is_after(other)


def test_attendance_latest_period_end_wins_then_the_later_event():
    early, late = date(2026, 1, 1), date(2026, 2, 1)
    assert attendance_is_newer(late, pos(1), early, pos(2))
    assert not attendance_is_newer(early, pos(3), late, pos(2))
    assert attendance_is_newer(late, pos(3), late, pos(2))
    assert not attendance_is_newer(late, pos(2), late, pos(3))


S = EnrolmentStatus


@pytest.mark.parametrize(
    ("history", "final"),
    [
        ((S.REQUESTED, S.ADMITTED), S.ADMITTED),
        ((S.REQUESTED, S.WAITLISTED, S.PROMOTED, S.ADMITTED), S.ADMITTED),
        ((S.REQUESTED, S.PENDING_REVIEW, S.WAITLISTED), S.WAITLISTED),
        ((S.REQUESTED, S.ADMITTED, S.CANCELLED), S.CANCELLED),
        ((S.REQUESTED, S.ADMITTED, S.WITHDRAWN), S.WITHDRAWN),
        ((S.REQUESTED, S.ADMITTED, S.NOT_COMPLETED, S.COMPLETED), S.COMPLETED),
        ((S.REQUESTED, S.REJECTED), S.REJECTED),
    ],
)
def test_enrolment_status_is_the_latest_in_any_arrival_order(history, final):
    for order in permutations(history):
        status = None
        for incoming in order:
            status = later_status(status, incoming)
        assert status == final, order


def test_only_admitted_enrolments_award():
    assert {S.ADMITTED, S.NOT_COMPLETED, S.COMPLETED} == AWARDABLE
    assert not AWARDABLE & {S.CANCELLED, S.WITHDRAWN, S.REJECTED, S.PROMOTED, S.REQUESTED}


@pytest.mark.parametrize(
    ("before", "after", "admission_changed", "enrolments", "nothing"),
    [
        (S.ADMITTED, S.COMPLETED, False, 1, True),  # the completion after this service's own award
        (S.ADMITTED, S.NOT_COMPLETED, False, 1, True),
        (S.COMPLETED, S.COMPLETED, False, 1, True),  # a duplicate
        (S.ADMITTED, S.COMPLETED, False, 2, False),  # with two, the rank decides which one counts
        (S.ADMITTED, S.ADMITTED, True, 1, False),  # the admission time is the award's fact time
        (None, S.COMPLETED, False, 1, False),  # a new enrolment
        (S.PROMOTED, S.ADMITTED, False, 1, False),  # becomes awardable
        (S.ADMITTED, S.WITHDRAWN, False, 1, False),  # ends
    ],
)
def test_an_enrolment_change_decides_nothing_only_between_awardable_statuses_of_the_only_enrolment(
    before, after, admission_changed, enrolments, nothing
) -> None:
    assert decides_nothing(before, after, admission_changed=admission_changed, enrolments=enrolments) is nothing
