"""The enrolment aggregate: lifecycle, fees at admission, refunds by the offering's dated policy."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tessera_enrolment.domain.enrolment import Enrolment, EnrolmentStatus
from tessera_enrolment.domain.offering import OfferingStatus, OfferingView
from tessera_shared.contract import enrolment as ev
from tessera_shared.contract.catalogue import Prerequisites
from tessera_shared.contract.terms import ComponentTerms, OfferingTerms
from tessera_shared.kernel.aggregate import Conflict, DomainError
from tests.enrolment.enrolment_builders import COMPONENTS, terms

pytestmark = pytest.mark.unit
AT = datetime(2025, 6, 15, 10, tzinfo=UTC)
S = EnrolmentStatus


def offering(status=OfferingStatus.OPEN, **terms_kw) -> OfferingView:
    return OfferingView(
        offering_id="off-1",
        micro_credential_id="mc-1",
        micro_credential_version=2,
        status=status,
        coordinator_id="ugent.be",
        terms=OfferingTerms.model_validate(terms(**terms_kw)),
        components=tuple(ComponentTerms.model_validate(c) for c in COMPONENTS),
        prerequisites=Prerequisites(),
        partners=("ugent.be", "uva.nl"),
    )


def requested(view: OfferingView | None = None) -> Enrolment:
    consent = ev.Consent(terms_version="2025-1", accepted_at=AT, partners=("ugent.be", "uva.nl"))
    return Enrolment.request(
        "e-1", learner_id="l-1", offering=view or offering(), consent=consent, requested_by="l-1", at=AT
    )


def admitted(view: OfferingView | None = None) -> Enrolment:
    enrolment = requested(view)
    enrolment.admit(fee=(view or offering()).fee(), at=AT)
    return enrolment


def replay(enrolment: Enrolment) -> Enrolment:
    history = enrolment.take_pending()
    return Enrolment.rehydrate(enrolment.stream_id, history)


def test_the_fee_is_per_ects_with_institution_rates():
    # C1 4.5 ECTS at ugent.be's 37.50 + C2 3 ECTS at uva.nl's 40
    assert offering().fee() == Decimal("288.75")
    flat = offering(tariff={"kind": "flat", "amount": "500"})
    assert flat.fee() == Decimal("500.00")


def test_admission_fixes_the_fee_and_is_recorded():
    enrolment = replay(admitted())
    assert (enrolment.status, enrolment.fee, enrolment.version) == (S.ADMITTED, Decimal("288.75"), 2)
    assert enrolment.route is ev.AdmissionRoute.DIRECT


@pytest.mark.parametrize(
    ("day", "refund", "rule"),
    [
        (date(2025, 6, 20), "288.75", "full"),
        (date(2025, 11, 30), "288.75", "full"),
        (date(2025, 12, 1), "120.00", "second_semester_credits"),
        (date(2026, 3, 14), "120.00", "second_semester_credits"),
        (date(2026, 3, 15), "0.00", "none"),
        (date(2026, 6, 1), "0.00", "none"),
    ],
)
def test_refunds_follow_the_seed_policy(day, refund, rule):
    enrolment = replay(admitted())
    result = enrolment.cancel(offering=offering(), by="l-1", at=AT, cancellation_date=day)
    assert (result.amount, result.rule.value, result.fee) == (Decimal(refund), rule, Decimal("288.75"))
    [event] = enrolment.take_pending()
    assert isinstance(event, ev.EnrolmentCancelled)
    assert (event.refund_eur, event.cancellation_date) == (Decimal(refund), day)


def test_second_semester_refund_of_a_flat_fee_is_by_credits():
    view = offering(tariff={"kind": "flat", "amount": "500"})
    enrolment = replay(admitted(view))
    result = enrolment.cancel(offering=view, by="l-1", at=AT, cancellation_date=date(2026, 1, 10))
    assert result.amount == Decimal("200.00")  # 3 of 7.5 ECTS


def test_an_offering_cancelled_by_the_coordinator_refunds_in_full_whatever_the_date():
    enrolment = replay(admitted())
    result = enrolment.cancel(
        offering=offering(), by="coord", at=AT, cancellation_date=date(2026, 5, 1), offering_cancelled=True
    )
    assert (result.amount, result.rule) == (Decimal("288.75"), ev.RefundRuleApplied.OFFERING_CANCELLED)


def test_nothing_is_refunded_when_nothing_was_charged():
    enrolment = requested()
    enrolment.waitlist(ticket=3, at=AT)
    result = enrolment.cancel(offering=offering(), by="l-1", at=AT, cancellation_date=date(2025, 7, 1))
    assert (result.amount, result.fee, result.rule) == (Decimal("0.00"), None, ev.RefundRuleApplied.NOTHING_CHARGED)


def test_waitlisted_learners_are_promoted_with_their_ticket_and_the_fee():
    enrolment = requested()
    enrolment.waitlist(ticket=7, at=AT)
    enrolment.promote(fee=Decimal("288.75"), at=AT)
    promoted, admission = enrolment.take_pending()[-2:]
    assert isinstance(promoted, ev.EnrolmentPromoted) and promoted.position == 7
    assert isinstance(admission, ev.EnrolmentAdmitted) and admission.route is ev.AdmissionRoute.WAITLIST
    assert enrolment.status is S.ADMITTED


def test_review_admits_or_rejects_with_a_reason():
    enrolment = requested()
    enrolment.await_review(declared_eqf_level=7, required_eqf_level=6)
    with pytest.raises(DomainError):
        enrolment.reject(reason="  ", at=AT, by="reg")
    enrolment.reject(reason="unrelated", at=AT, by="reg")
    assert (enrolment.status, enrolment.reason, enrolment.ended_by) == (S.REJECTED, "unrelated", "reg")


def test_transitions_that_the_lifecycle_does_not_allow_are_conflicts():
    enrolment = replay(admitted())
    with pytest.raises(Conflict):
        enrolment.waitlist(ticket=1, at=AT)
    with pytest.raises(Conflict):
        enrolment.promote(fee=Decimal(1), at=AT)
    enrolment.withdraw(by="reg", at=AT, reason="absent")
    for command in (
        lambda: enrolment.cancel(offering=offering(), by="x", at=AT, cancellation_date=date(2025, 7, 1)),
        lambda: enrolment.withdraw(by="x", at=AT),
        lambda: enrolment.complete(award_id="a", at=AT),
    ):
        with pytest.raises(Conflict):
            command()
    rejected = requested()
    rejected.reject(reason="no", at=AT)
    with pytest.raises(Conflict):
        rejected.admit(fee=Decimal(1), at=AT)


def test_completion_by_award_also_after_not_completed_and_only_once():
    enrolment = replay(admitted())
    enrolment.not_complete(at=AT)
    assert enrolment.complete(award_id="a-1", at=AT) is True
    assert enrolment.complete(award_id="a-1", at=AT) is False
    assert [type(e) for e in enrolment.take_pending()] == [ev.EnrolmentNotCompleted, ev.EnrolmentCompleted]
    assert (enrolment.status, enrolment.award_id) == (S.COMPLETED, "a-1")


def test_enrolment_needs_an_open_offering_and_today_in_the_window():
    offering().ensure_open_for_enrolment(date(2025, 5, 1))
    offering().ensure_open_for_enrolment(date(2025, 9, 15))
    for view, day in [
        (offering(), date(2025, 4, 30)),
        (offering(), date(2025, 9, 16)),
        (offering(OfferingStatus.SCHEDULED), date(2025, 6, 1)),
        (offering(OfferingStatus.CLOSED), date(2025, 6, 1)),
        (OfferingView("off-2", "mc-1", 1, OfferingStatus.OPEN), date(2025, 6, 1)),
    ]:
        with pytest.raises(Conflict) as refused:
            view.ensure_open_for_enrolment(day)
        assert refused.value.field == "offering_id"


def test_the_institutions_taking_part_in_an_offering():
    assert offering().institutions == {"ugent.be", "uva.nl"}
    assert offering().takes_part("uva.nl") and not offering().takes_part("kuleuven.be")
    assert not offering().takes_part(None)
