"""Offerings: an edition of a published version with pinned terms, fees and a lifecycle."""

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tessera_catalogue.domain import MicroCredential, Offering, OfferingStatus
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.terms import OfferingTerms, RefundKind, seed_refund_policy
from tessera_shared.kernel.aggregate import Conflict, DomainError, Forbidden, NotFound
from tests.catalogue.unit.catalogue_builders import AMSTERDAM, GENT, OPERATOR_ACTOR, editor, publish_v1

pytestmark = pytest.mark.unit


def terms(**changes: Any) -> OfferingTerms:
    data: dict[str, Any] = {
        "academic_year": "2025-2026",
        "period": "full_year",
        "starts_on": "2025-09-22",
        "ends_on": "2026-06-30",
        "enrolment": {"opens_on": "2025-05-01", "closes_on": "2025-09-15"},
        "capacity": 50,
        "schedule": {"en": "Tuesday evenings 18:00-21:00, online; two lab weekends in Heidelberg"},
        "sessions": [
            {
                "starts_at": "2025-09-23T18:00:00+02:00",
                "ends_at": "2025-09-23T21:00:00+02:00",
                "component": "DE1",
                "online": True,
            }
        ],
        "attendance": {"compulsory": True, "description": {"en": "Both lab weekends are compulsory."}},
        "tariff": {"kind": "per_ects", "rate": "37.50"},
        "refund_policy": seed_refund_policy("2025-2026").model_dump(),
    }
    data.update(changes)
    return OfferingTerms.model_validate(data)


def scheduled(**changes: Any) -> Offering:
    offering = Offering("off-2025")
    offering.schedule(editor(GENT), publish_v1(), 1, terms(**changes))
    return offering


def test_scheduling_pins_version_terms_criteria_and_fee():
    mc = publish_v1()
    offering = Offering("off-2025")
    offering.schedule(editor(GENT), mc, 1, terms())
    [event] = offering.take_pending()
    assert isinstance(event, cat.OfferingScheduled)
    assert (event.micro_credential_id, event.micro_credential_version, event.coordinator_id) == (
        "mc-data-ethics",
        1,
        GENT,
    )
    assert event.fee == Decimal("375.00")  # 10 ECTS at EUR 37.50
    assert event.ects == Decimal(10)
    assert event.criteria == mc.version_definition(1).criteria
    assert event.prerequisites.kind == "none"
    assert [p.institution_id for p in event.partners] == [GENT, AMSTERDAM, "uni-heidelberg.de"]
    assert [(c.code, c.semester.value, c.teaching_institution) for c in event.components] == [
        ("DE1", "first", GENT),
        ("DE2", "second", AMSTERDAM),
        ("DE3", "second", "uni-heidelberg.de"),
    ]
    assert event.terms.refund_policy.rules[0].refund is RefundKind.FULL
    assert offering.status is OfferingStatus.SCHEDULED


def test_per_institution_tariff_changes_the_fee():
    offering = scheduled(tariff={"kind": "per_ects", "rate": "37.50", "institution_rates": {AMSTERDAM: "50"}})
    assert offering.take_pending()[0].fee == Decimal("412.50")  # 7 x 37.50 + 3 x 50


def test_scheduling_refuses_terms_with_every_problem():
    with pytest.raises(DomainError) as error:
        scheduled(
            period="first",
            ends_on="2025-09-01",
            enrolment={"opens_on": "2025-10-01", "closes_on": "2025-09-30"},
            attendance={"compulsory": True},
            tariff={"kind": "per_ects", "rate": "37.50", "institution_rates": {"kuleuven.be": "40"}},
            sessions=[
                {"starts_at": "2026-09-23T18:00:00+02:00", "ends_at": "2026-09-23T17:00:00+02:00", "component": "XX"}
            ],
        )
    assert error.value.problems == [
        "terms.ends_on: 2025-09-01 is not after starts_on 2025-09-22",
        "terms.enrolment.closes_on: 2025-09-30 is before opens_on 2025-10-01",
        "terms.enrolment.opens_on: enrolment must open before the offering starts (2025-09-22)",
        "terms.enrolment.closes_on: enrolment cannot close after the offering ends (2025-09-01)",
        "terms.sessions[0].ends_at: the session ends before it starts",
        "terms.sessions[0].starts_at: the session lies outside 2025-09-22 - 2025-09-01",
        "terms.sessions[0].component: unknown component 'XX'",
        "terms.attendance.description: compulsory attendance must be described in advance",
        "terms.period: the offering runs in the first semester only, but components[1] (DE2) is taught in the "
        "second semester",
        "terms.period: the offering runs in the first semester only, but components[2] (DE3) is taught in the "
        "second semester",
        "terms.tariff.institution_rates.kuleuven.be: does not teach a component of this version",
    ]


def test_only_the_coordinators_editors_schedule_published_current_versions():
    with pytest.raises(NotFound):
        Offering("o").schedule(editor(GENT), MicroCredential("nope"), 1, terms())
    mc = publish_v1()
    with pytest.raises(Forbidden):
        Offering("o").schedule(editor(AMSTERDAM), mc, 1, terms())
    with pytest.raises(NotFound):
        Offering("o").schedule(editor(GENT), mc, 2, terms())
    mc.retire(editor(GENT))
    with pytest.raises(Conflict):
        Offering("o").schedule(editor(GENT), mc, 1, terms())


def test_an_existing_offering_runs_on_after_its_micro_credential_is_retired():
    mc = publish_v1()
    offering = Offering("o")
    offering.schedule(editor(GENT), mc, 1, terms())
    mc.retire(editor(GENT))
    offering.open(editor(GENT))
    assert offering.status is OfferingStatus.OPEN


def test_lifecycle_scheduled_open_closed_running_finished():
    offering = scheduled()
    offering.open(OPERATOR_ACTOR)  # the operator's scheduler may move it along
    offering.close(editor(GENT))
    offering.start(editor(GENT))
    offering.finish(editor(GENT))
    events = offering.take_pending()
    assert [type(e) for e in events] == [
        cat.OfferingScheduled,
        cat.OfferingOpened,
        cat.OfferingClosed,
        cat.OfferingStarted,
        cat.OfferingFinished,
    ]
    assert all(e.micro_credential_version == 1 for e in events[1:])
    assert events[1].by == "op-1"
    rebuilt = Offering.rehydrate("off-2025", events)
    assert rebuilt.status is OfferingStatus.FINISHED
    with pytest.raises(Conflict):
        rebuilt.cancel(editor(GENT), "too late")


@pytest.mark.parametrize("step", ["close", "start", "finish"])
def test_steps_out_of_order_are_conflicts(step):
    with pytest.raises(Conflict):
        getattr(scheduled(), step)(editor(GENT))


def test_other_partners_cannot_move_the_offering():
    with pytest.raises(Forbidden):
        scheduled().open(editor(AMSTERDAM))


@pytest.mark.parametrize("steps", [[], ["open"], ["open", "close"], ["open", "close", "start"]])
def test_the_coordinator_cancels_before_the_end_with_a_reason(steps):
    offering = scheduled()
    for step in steps:
        getattr(offering, step)(editor(GENT))
    with pytest.raises(DomainError):
        offering.cancel(editor(GENT), "")
    with pytest.raises(Forbidden):
        offering.cancel(OPERATOR_ACTOR, "the operator cannot cancel")
    offering.cancel(editor(GENT), "too few enrolments")
    event = offering.take_pending()[-1]
    assert isinstance(event, cat.OfferingCancelled) and event.reason == "too few enrolments"
    assert offering.status is OfferingStatus.CANCELLED
    with pytest.raises(Conflict):
        offering.cancel(editor(GENT), "again")


def test_scheduling_twice_is_a_conflict():
    with pytest.raises(Conflict):
        scheduled().schedule(editor(GENT), publish_v1(), 1, terms())


def test_refund_policy_dates_are_part_of_the_terms():
    assert terms().refund_policy.rules[1].before == date(2026, 3, 15)


@pytest.mark.parametrize(
    ("academic_year", "starts_on", "ok"),
    [
        ("2025-2026", "2025-08-01", True),
        ("2025-2026", "2026-02-09", True),  # a second-semester edition
        ("2025-2026", "2026-07-31", True),
        ("2025-2026", "2025-07-31", False),
        ("2024-2025", "2025-09-22", False),
    ],
)
def test_an_offering_starts_within_its_academic_year(academic_year, starts_on, ok):
    changes = {"academic_year": academic_year, "starts_on": starts_on, "ends_on": "2026-12-31",
               "enrolment": {"opens_on": "2025-05-01", "closes_on": "2025-07-15"}, "sessions": []}  # fmt: skip
    if ok:
        scheduled(**changes)
        return
    with pytest.raises(DomainError) as error:
        scheduled(**changes)
    assert error.value.problems == [
        f"terms.starts_on: {starts_on} is not in academic year {academic_year} "
        f"({academic_year[:4]}-08-01 - {int(academic_year[:4]) + 1}-07-31)"
    ]
