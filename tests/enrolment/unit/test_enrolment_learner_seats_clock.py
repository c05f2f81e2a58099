"""Learner rules, the seat ledger, the consortium's calendar and the contract's personal-data rule."""

from datetime import UTC, datetime

import pytest

from tessera_enrolment.application.bulk import BulkRow, request_hash
from tessera_enrolment.domain.clock import Clock
from tessera_enrolment.domain.learner import Actor, Learner
from tessera_enrolment.domain.seats import SeatLedger
from tessera_shared.contract import enrolment as ev
from tessera_shared.kernel.aggregate import Conflict, DomainError, Forbidden

pytestmark = pytest.mark.unit

LEARNER = Actor("ada", "ugent.be")
REGISTRAR = Actor("reg", "ugent.be", is_registrar=True)


def profile(**kw) -> ev.LearnerProfile:
    return ev.LearnerProfile(
        **{"learner_id": "ada", "given_name": "Ada", "family_name": "Lovelace", "email": "ada@example.org", **kw}
    )


def test_learners_register_themselves_and_only_staff_verify_emails():
    learner = Learner("learner-ada")
    with pytest.raises(DomainError) as verified:
        learner.register(LEARNER, profile(email_verified=True))
    assert verified.value.field == "email_verified"
    with pytest.raises(Forbidden):
        Learner("learner-bob").register(LEARNER, profile(learner_id="bob"))
    learner.register(LEARNER, profile())
    with pytest.raises(Conflict):
        learner.register(LEARNER, profile())
    Learner("learner-bob").register(REGISTRAR, profile(learner_id="bob", email_verified=True))


def test_a_new_email_is_unverified_unless_staff_verify_it():
    learner = Learner("learner-ada")
    learner.register(REGISTRAR, profile(email_verified=True))
    learner.take_pending()
    assert learner.update(LEARNER, profile(email="new@example.org", email_verified=True)) is True
    assert learner.existing.email_verified is False
    assert learner.update(REGISTRAR, profile(email="new2@example.org", email_verified=True)) is True
    assert learner.existing.email_verified is True
    assert learner.update(LEARNER, learner.existing) is False  # no change, no event
    assert [type(e) for e in learner.take_pending()] == [ev.LearnerUpdated, ev.LearnerUpdated]


def test_the_seat_ledger_never_goes_beyond_capacity():
    ledger = SeatLedger("off", capacity=2, taken=1, tickets=4)
    assert ledger.take() is True and ledger.take() is False
    assert (ledger.free, ledger.next_ticket(), ledger.next_ticket()) == (0, 5, 6)
    ledger.release()
    assert ledger.free == 1 and ledger.taken - ledger.taken_before == 0


def test_today_is_the_consortiums_calendar_day():
    clock = Clock("Europe/Brussels")
    clock.freeze(datetime(2025, 11, 30, 23, 30, tzinfo=UTC))
    assert str(clock.today()) == "2025-12-01"
    clock.freeze(datetime(2026, 3, 14, 22, 59, tzinfo=UTC))  # CET: 23:59 on 14 March
    assert str(clock.today()) == "2026-03-14"
    with pytest.raises(ValueError):
        clock.freeze(datetime(2025, 1, 1))


def test_personal_data_travels_only_in_learner_events():
    personal = {"given_name", "family_name", "email", "european_student_identifier", "learner", "declared_diploma"}
    for event in ev.ENROLMENT_EVENTS:
        fields = set(event.model_fields)
        if event in (ev.LearnerRegistered, ev.LearnerUpdated):
            assert "learner" in fields
        else:
            assert not fields & personal, event.__name__


def test_bulk_rows_name_their_learner():
    base = {"offering_id": "off-1", "consent_accepted": "yes", "consent_terms_version": "2025-1"}
    assert BulkRow.model_validate({**base, "learner_id": "l-1"}).consent_accepted is True
    assert BulkRow.model_validate({**base, "email": "x@example.org"}).learner_id is None
    for bad in ({**base}, {**base, "learner_id": "l", "diploma_eqf_level": "6"}, {**base, "learner_id": "l", "x": 1}):
        with pytest.raises(ValueError):
            BulkRow.model_validate(bad)
    row = BulkRow.model_validate({**base, "learner_id": "l", "diploma_title": "BSc", "diploma_eqf_level": "6"})
    assert row.diploma() == {"title": "BSc", "eqf_level": 6, "awarded_by": None, "year": None}
    assert request_hash([{"a": 1, "b": 2}]) == request_hash([{"b": 2, "a": 1}]) != request_hash([{"a": 1}])
