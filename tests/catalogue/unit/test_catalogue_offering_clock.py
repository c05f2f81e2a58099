"""The offering clock: which lifecycle steps an offering's own dates make due on a given day."""

from datetime import date

import pytest

from tessera_catalogue.domain import Offering, OfferingStatus
from tessera_catalogue.domain.offering_clock import due_steps
from tests.catalogue.unit.catalogue_builders import GENT, OPERATOR_ACTOR, editor, publish_v1
from tests.catalogue.unit.test_catalogue_offering import terms

pytestmark = pytest.mark.unit
S = OfferingStatus
# terms(): enrolment 2025-05-01 .. 2025-09-15, teaching 2025-09-22 .. 2026-06-30


@pytest.mark.parametrize(
    ("status", "today", "expected"),
    [
        (S.SCHEDULED, date(2025, 4, 30), []),
        (S.SCHEDULED, date(2025, 5, 1), ["open"]),
        (S.OPEN, date(2025, 9, 15), []),  # the window includes its last day
        (S.OPEN, date(2025, 9, 16), ["close"]),
        (S.CLOSED, date(2025, 9, 21), []),
        (S.CLOSED, date(2025, 9, 22), ["start"]),
        (S.RUNNING, date(2026, 6, 30), []),
        (S.RUNNING, date(2026, 7, 1), ["finish"]),
        (S.FINISHED, date(2030, 1, 1), []),
        (S.CANCELLED, date(2025, 6, 1), []),
        # a missed window still shows consumers every step, in order
        (S.SCHEDULED, date(2025, 9, 30), ["open", "close", "start"]),
        (S.SCHEDULED, date(2027, 1, 1), ["open", "close", "start", "finish"]),
    ],
)
def test_due_steps(status, today, expected):
    assert due_steps(status, terms(), today) == expected


def test_late_enrolment_starts_teaching_only_once_enrolment_closed():
    late = terms(enrolment={"opens_on": "2025-05-01", "closes_on": "2025-10-01"})
    assert due_steps(S.OPEN, late, date(2025, 9, 25)) == []
    assert due_steps(S.OPEN, late, date(2025, 10, 2)) == ["close", "start"]


def test_the_operator_clock_may_take_every_due_step_but_never_cancel():
    offering = Offering("off-1")
    offering.schedule(editor(GENT), publish_v1(), 1, terms())
    for step in due_steps(offering.status, terms(), date(2027, 1, 1)):
        getattr(offering, step)(OPERATOR_ACTOR)
    assert offering.status is S.FINISHED
