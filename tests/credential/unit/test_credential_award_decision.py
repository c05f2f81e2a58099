"""The award decision as a pure function of a learner-offering's state."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from tessera_credential.domain.decision import (
    ActiveAward,
    NewAward,
    Outcome,
    Revocation,
    Supersession,
    award_id_for,
    decide,
    event_id_for,
)
from tessera_credential.domain.ordering import EnrolmentStatus, Position
from tessera_credential.domain.standing import (
    ComponentStanding,
    EnrolmentStanding,
    LearnerOffering,
    PinnedOffering,
    ResultEventRecord,
    contributing_events,
    fact_time,
    grade_summary,
    states_the_same,
)
from tessera_shared.contract.assessment import EffectiveResult
from tessera_shared.contract.criteria import AwardCriteria

pytestmark = pytest.mark.unit

T0 = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
CRITERIA = AwardCriteria.model_validate(
    {
        "rule": {
            "kind": "all_of",
            "criteria": [
                {"kind": "ects_passed", "minimum": "10"},
                {"kind": "weighted_average_grade", "minimum": "0.55"},
            ],
        }
    }
)
OFFERING = PinnedOffering(
    offering_id="off-1",
    micro_credential_id="mc-data",
    micro_credential_version=2,
    coordinator_id="ugent.be",
    partner_ids=frozenset({"ugent.be", "uva.nl", "uni-heidelberg.de"}),
    criteria=CRITERIA,
    components={"C1": Decimal("4"), "C2": Decimal("3"), "C3": Decimal("3")},
    scheduled_at=T0,
)


def result(score, *, result_id="r", attempt=1, kind="numeric", grade=None, on=date(2026, 1, 5)):
    return EffectiveResult(
        result_id=result_id,
        attempt=attempt,
        grade=grade or str(round(score * 20)),
        scheme_id="be-0-20" if kind == "numeric" else "pass-fail",
        scheme_kind=kind,
        normalised_score=score,
        passed=score >= 0.5,
        assessed_on=on,
    )


def standing(score, *, minutes=1, **kw):
    r = result(score, **kw)
    return ComponentStanding(
        result=r, result_event_ids=(f"ev-{r.result_id}",), result_fact_at=T0 + timedelta(minutes=minutes)
    )


def learner(scores=None, *, status=EnrolmentStatus.ADMITTED, offering=OFFERING, **components):
    scores = scores if scores is not None else {"C1": 0.7, "C2": 0.6, "C3": 0.65}
    comps = {code: standing(s, result_id=f"r-{code}", minutes=i + 1) for i, (code, s) in enumerate(scores.items())}
    comps.update(components)
    enrolments = (EnrolmentStanding("enr-1", status, T0 + timedelta(seconds=30)),) if status else ()
    return LearnerOffering("learner-1", "off-1", offering, enrolments, comps)


def test_without_the_offering_nothing_is_decided_and_nothing_is_lost():
    v = decide(learner(offering=None), None)
    assert v.outcome == Outcome.WAITING_FOR_OFFERING and v.decision is None and v.explanation is None


def test_met_and_admitted_awards_with_the_explanation_and_grade_summary():
    v = decide(learner(), None)
    assert v.outcome == Outcome.AWARDED
    award = v.decision
    assert isinstance(award, NewAward)
    assert award.explanation.met and award.supersedes is None and award.enrolment_id == "enr-1"
    assert award.grade_summary.ects_earned == "10"
    # (4*0.7 + 3*0.6 + 3*0.65) / 10 = 0.655
    assert award.grade_summary.weighted_average == 0.655
    assert award.grade_summary.component_grades["C1"].grade == "14"
    ects, average = award.explanation.children
    assert (ects.found, ects.threshold, ects.met) == (Decimal("10"), Decimal("10"), True)
    assert average.found == Decimal("0.655") and average.threshold == Decimal("0.55")
    assert set(award.explanation.contributing_event_ids) == {"ev-r-C1", "ev-r-C2", "ev-r-C3"}
    # dated by the last fact it rests on, not by a clock
    assert award.awarded_at == T0 + timedelta(minutes=3)


def test_the_decision_is_deterministic():
    assert decide(learner(), None) == decide(learner(), None)


def test_not_met_explains_found_versus_threshold():
    v = decide(learner({"C1": 0.7, "C2": 0.4, "C3": 0.65}), None)
    assert v.outcome == Outcome.NOT_MET and v.decision is None
    ects = v.explanation.children[0]
    assert not ects.met and ects.found == Decimal("7") and ects.threshold == Decimal("10")
    assert ects.summary == "7 of 10 ECTS passed (10 required)"


def test_missing_result_is_not_yet_met():
    v = decide(learner({"C1": 0.9, "C2": 0.9}), None)
    assert v.outcome == Outcome.NOT_MET
    assert "C3" in v.explanation.missing


@pytest.mark.parametrize("status", [EnrolmentStatus.REQUESTED, EnrolmentStatus.PENDING_REVIEW, None])
def test_met_without_admission_waits(status):
    v = decide(learner(status=status), None)
    assert v.outcome == Outcome.MET_NOT_ADMITTED and v.decision is None and v.explanation.met


@pytest.mark.parametrize("status", [EnrolmentStatus.CANCELLED, EnrolmentStatus.WITHDRAWN, EnrolmentStatus.REJECTED])
def test_ended_enrolments_are_never_awarded(status):
    v = decide(learner(status=status), None)
    assert v.outcome == Outcome.ENROLMENT_ENDED and v.decision is None


def test_a_readmission_after_a_cancellation_counts():
    lo = learner()
    lo = replace(
        lo,
        enrolments=(
            EnrolmentStanding("enr-0", EnrolmentStatus.CANCELLED),
            EnrolmentStanding("enr-1", EnrolmentStatus.ADMITTED, T0),
        ),
    )
    v = decide(lo, None)
    assert isinstance(v.decision, NewAward) and v.decision.enrolment_id == "enr-1"


def active_for(lo, award_id="a-1"):
    return ActiveAward(award_id, "off-1", grade_summary(lo))


def test_an_unchanged_award_is_kept():
    lo = learner()
    v = decide(lo, active_for(lo), ["a-1"])
    assert v.outcome == Outcome.AWARDED and v.decision is None


def test_a_correction_below_threshold_revokes_with_the_reason():
    lo = learner()
    corrected = learner({"C1": 0.7, "C2": 0.45, "C3": 0.65})
    v = decide(corrected, active_for(lo), ["a-1"])
    assert isinstance(v.decision, Revocation)
    assert v.decision.award_id == "a-1"
    assert v.decision.reason.startswith("criteria no longer met: ")
    assert "7 of 10 ECTS passed" in v.decision.reason
    assert v.outcome == Outcome.NOT_MET


def test_an_enrolment_withdrawn_after_the_award_revokes_it():
    lo = learner()
    v = decide(learner(status=EnrolmentStatus.WITHDRAWN), active_for(lo), ["a-1"])
    assert isinstance(v.decision, Revocation) and v.decision.reason == "enrolment enr-1 was withdrawn"


def test_a_correction_that_keeps_the_criteria_met_supersedes():
    lo = learner()
    corrected = learner({"C1": 0.8, "C2": 0.6, "C3": 0.65})
    v = decide(corrected, active_for(lo), ["a-1"])
    assert isinstance(v.decision, Supersession)
    assert v.decision.old_award_id == "a-1"
    new = v.decision.new
    assert new.supersedes == "a-1" and new.award_id != "a-1"
    assert new.grade_summary.weighted_average == 0.695
    assert "C1 14 (0.7, attempt 1) -> 16 (0.8, attempt 1)" in v.decision.reason


def test_a_correction_of_the_assessment_date_only_changes_nothing_stated():
    lo = learner()
    moved = dict(lo.components)
    moved["C1"] = replace(moved["C1"], result=result(0.7, result_id="r-C1", on=date(2026, 1, 6)))
    v = decide(replace(lo, components=moved), active_for(lo), ["a-1"])
    assert v.decision is None


def test_the_version_held_via_another_offering_is_not_awarded_twice():
    lo = learner()
    other = ActiveAward("a-9", "off-0", grade_summary(lo))
    v = decide(lo, other, ["a-9"])
    assert v.outcome == Outcome.HELD_VIA_OTHER_OFFERING and v.decision is None


def test_award_ids_are_derived_from_content_and_avoid_taken_ones():
    summary = grade_summary(learner())
    first = award_id_for("l", "mc", 1, "off", summary, [])
    assert first == award_id_for("l", "mc", 1, "off", summary, [])
    again = award_id_for("l", "mc", 1, "off", summary, [first])
    assert again != first
    other = award_id_for("l", "mc", 1, "off", grade_summary(learner({"C1": 0.9, "C2": 0.6, "C3": 0.65})), [])
    assert other != first
    assert event_id_for(first, "awarded") == event_id_for(first, "awarded") != event_id_for(first, "revoked")


def test_pass_fail_results_count_for_ects_but_not_for_the_average():
    lo = learner({"C1": 0.7, "C2": 0.6})
    comps = dict(lo.components)
    comps["C3"] = standing(1.0, result_id="r-C3", kind="pass_fail", grade="pass")
    summary = grade_summary(replace(lo, components=comps))
    assert summary.ects_earned == "10"
    assert summary.weighted_average == round((4 * 0.7 + 3 * 0.6) / 7, 4)


def test_fact_time_is_the_latest_fact():
    lo = learner()
    assert fact_time(lo) == T0 + timedelta(minutes=3)
    only_admission = replace(lo, components={})
    assert fact_time(only_admission) == T0 + timedelta(seconds=30)


def test_states_the_same_ignores_the_assessment_date_only():
    assert states_the_same(result(0.7, on=date(2026, 1, 1)), result(0.7, on=date(2026, 2, 1)))
    assert not states_the_same(result(0.7), result(0.75))
    assert not states_the_same(result(0.7), None)
    assert states_the_same(None, None)


def rec(event_id, kind, result_id, attempt, seq):
    return ResultEventRecord(event_id, kind, result_id, attempt, Position("s", seq, T0, event_id))


def test_contributing_events_of_a_corrected_resit():
    log = [
        rec("e1", "recorded", "r1", 1, 1),
        rec("e3", "corrected", "r2", 2, 3),  # arrived before the recording it corrects
        rec("e2", "recorded", "r2", 2, 2),
    ]
    assert contributing_events(result(0.7, result_id="r2", attempt=2), log, "e3") == ("e2", "e3")


def test_contributing_events_include_the_withdrawal_that_reinstated_an_attempt():
    log = [rec("e1", "recorded", "r1", 1, 1), rec("e2", "recorded", "r2", 2, 2), rec("e3", "withdrawn", "r2", 2, 3)]
    assert contributing_events(result(0.6, result_id="r1"), log, "e3") == ("e1", "e3")


def test_contributing_events_fall_back_to_the_event_carrying_the_effective_result():
    log = [rec("e5", "corrected", "r1", 1, 5)]  # a correction of attempt 1 carrying attempt 2 as effective
    assert contributing_events(result(0.7, result_id="r2", attempt=2), log, "e5") == ("e5",)
    assert contributing_events(None, log, "e5") == ()
