"""A learner's results on one (offering, component): resits, corrections, withdrawals, attendance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from tessera_assessment.domain.grading import parse_grade
from tessera_assessment.domain.result import ComponentKey, ComponentResults
from tessera_shared.contract import parse_data
from tessera_shared.contract.assessment import (
    AttendanceRecorded,
    ResultRecorded,
    ResultWithdrawn,
)
from tessera_shared.kernel.aggregate import Conflict, DomainError, NotFound

pytestmark = pytest.mark.unit

KEY = ComponentKey(
    learner_id="learner-1",
    offering_id="offering-2025",
    component_code="DATA101",
    micro_credential_id="mc-data",
    micro_credential_version=2,
)
JAN = date(2026, 1, 20)
AUG = date(2026, 8, 25)


def fresh() -> ComponentResults:
    return ComponentResults(KEY.stream_id)


def record(
    agg: ComponentResults,
    result_id: str,
    attempt: int,
    grade: str,
    *,
    scheme: str = "be-flemish-0-20",
    assessed_on: date = JAN,
    remarks: str | None = None,
) -> ResultRecorded:
    return agg.record(
        result_id,
        key=KEY,
        attempt=attempt,
        grade=parse_grade(scheme, grade),
        assessed_on=assessed_on,
        assessor_id="assessor-7",
        assessor_institution="ugent.be",
        remarks=remarks,
    )


def replay(agg: ComponentResults) -> ComponentResults:
    """Rebuild from the recorded events after a trip through the JSON contract."""
    history = [parse_data(e.event_type, e.model_dump(mode="json")) for e in agg.take_pending()]
    return ComponentResults.rehydrate(agg.stream_id, history)


def test_first_attempt_is_effective() -> None:
    agg = fresh()
    event = record(agg, "r1", 1, "14", remarks="  oral exam  ")
    assert event.result_id == "r1" and event.attempt == 1
    assert (event.learner_id, event.offering_id, event.component_code) == (
        "learner-1",
        "offering-2025",
        "DATA101",
    )
    assert (event.micro_credential_id, event.micro_credential_version) == ("mc-data", 2)
    assert (event.grade, event.scheme_id, event.scheme_kind) == ("14", "be-flemish-0-20", "numeric")
    assert (event.normalised_score, event.passed) == (0.7, True)
    assert (event.assessed_on, event.assessor_id, event.assessor_institution) == (
        JAN,
        "assessor-7",
        "ugent.be",
    )
    assert event.remarks == "oral exam"
    assert event.supersedes_result_id is None
    assert event.effective is not None and event.effective.result_id == "r1"
    assert agg.effective is not None and agg.effective.result_id == "r1"
    assert agg.pending == [event]


def test_resit_supersedes_even_with_a_lower_grade_and_history_is_kept() -> None:
    agg = fresh()
    record(agg, "r1", 1, "12")
    resit = record(agg, "r2", 2, "9", assessed_on=AUG)
    assert resit.supersedes_result_id == "r1"
    assert resit.effective is not None
    assert (resit.effective.result_id, resit.effective.grade, resit.effective.passed) == ("r2", "9", False)
    for state in (agg, replay(agg)):
        assert [r.result_id for r in state.results] == ["r1", "r2"]
        assert state.effective is not None and state.effective.result_id == "r2"
        assert state.effective.grade.passed is False
        assert state.result("r1").grade.native == "12"


def test_attempt_numbers_strictly_increase() -> None:
    agg = fresh()
    record(agg, "r1", 1, "8")
    record(agg, "r3", 3, "11")  # gaps are allowed
    for attempt in (1, 2, 3):
        with pytest.raises(Conflict) as caught:
            record(agg, f"again-{attempt}", attempt, "15")
        assert caught.value.field == "attempt"
    with pytest.raises(DomainError) as zero:
        record(fresh(), "r0", 0, "15")
    assert zero.value.field == "attempt"
    with pytest.raises(Conflict, match="already recorded"):
        record(agg, "r1", 4, "15")
    assert [r.result_id for r in agg.results] == ["r1", "r3"]


def test_correction_changes_the_grade_and_keeps_history() -> None:
    agg = fresh()
    record(agg, "r1", 1, "9", remarks="written")
    first = agg.correct(
        "r1",
        grade=parse_grade("be-flemish-0-20", "10"),
        reason="counting error on page 3",
        corrected_by="assessor-7",
        corrected_by_institution="ugent.be",
    )
    assert (first.result_id, first.grade, first.passed, first.normalised_score) == ("r1", "10", True, 0.5)
    assert (first.previous_grade, first.previous_passed, first.previous_normalised_score) == (
        "9",
        False,
        0.45,
    )
    assert (first.previous_scheme_id, first.previous_assessed_on) == ("be-flemish-0-20", JAN)
    assert (first.reason, first.corrected_by, first.corrected_by_institution) == (
        "counting error on page 3",
        "assessor-7",
        "ugent.be",
    )
    assert first.remarks == "written"
    assert first.effective is not None and (first.effective.grade, first.effective.passed) == ("10", True)

    second = agg.correct(
        "r1",
        assessed_on=date(2026, 1, 21),
        remarks="",
        reason="wrong date",
        corrected_by="coordinator-1",
        corrected_by_institution="ugent.be",
    )
    assert (second.grade, second.previous_grade, second.assessed_on, second.remarks) == (
        "10",
        "10",
        date(2026, 1, 21),
        None,
    )
    for state in (agg, replay(agg)):
        entry = state.result("r1")
        assert entry.original_grade.native == "9"
        assert entry.grade.native == "10" and entry.assessed_on == date(2026, 1, 21) and entry.remarks is None
        assert [(c.previous_grade.native, c.grade.native, c.reason) for c in entry.corrections] == [
            ("9", "10", "counting error on page 3"),
            ("10", "10", "wrong date"),
        ]
        assert [c.corrected_by for c in entry.corrections] == ["assessor-7", "coordinator-1"]


def test_correction_may_change_scheme() -> None:
    agg = fresh()
    record(agg, "r1", 1, "14")
    event = agg.correct(
        "r1",
        grade=parse_grade("percentage-50", "70"),
        reason="recorded in the wrong scale",
        corrected_by="assessor-7",
        corrected_by_institution="ugent.be",
    )
    assert (event.scheme_id, event.grade, event.previous_scheme_id) == (
        "percentage-50",
        "70.0",
        "be-flemish-0-20",
    )


def test_correcting_an_earlier_attempt_leaves_the_resit_effective() -> None:
    agg = fresh()
    record(agg, "r1", 1, "8")
    record(agg, "r2", 2, "11")
    event = agg.correct(
        "r1",
        grade=parse_grade("be-flemish-0-20", "13"),
        reason="appeal granted",
        corrected_by="assessor-7",
        corrected_by_institution="ugent.be",
    )
    assert event.result_id == "r1" and event.grade == "13"
    assert event.effective is not None and (event.effective.result_id, event.effective.grade) == ("r2", "11")
    assert agg.effective is not None and agg.effective.result_id == "r2"


def test_correction_rules() -> None:
    agg = fresh()
    record(agg, "r1", 1, "12")
    who: dict[str, Any] = {"corrected_by": "assessor-7", "corrected_by_institution": "ugent.be"}
    with pytest.raises(DomainError, match="changes nothing"):
        agg.correct("r1", grade=parse_grade("be-flemish-0-20", "12.0"), reason="none", **who)
    with pytest.raises(DomainError) as no_reason:
        agg.correct("r1", grade=parse_grade("be-flemish-0-20", "13"), reason="   ", **who)
    assert no_reason.value.field == "reason"
    with pytest.raises(DomainError) as nobody:
        agg.correct(
            "r1",
            grade=parse_grade("be-flemish-0-20", "13"),
            reason="x",
            corrected_by="",
            corrected_by_institution="u",
        )
    assert nobody.value.field == "corrected_by"
    with pytest.raises(NotFound):
        agg.correct("r9", grade=parse_grade("be-flemish-0-20", "13"), reason="x", **who)
    agg.withdraw("r1", reason="fraud", withdrawn_by="board-1", withdrawn_by_institution="ugent.be")
    with pytest.raises(Conflict, match="withdrawn"):
        agg.correct("r1", grade=parse_grade("be-flemish-0-20", "13"), reason="x", **who)
    assert [type(e) for e in agg.pending] == [ResultRecorded, ResultWithdrawn]


def test_withdrawing_the_resit_reinstates_the_earlier_attempt() -> None:
    agg = fresh()
    record(agg, "r1", 1, "11")
    record(agg, "r2", 2, "15", assessed_on=AUG)
    event = agg.withdraw(
        "r2", reason="entered for the wrong learner", withdrawn_by="a-7", withdrawn_by_institution="ugent.be"
    )
    assert (event.result_id, event.grade, event.attempt, event.passed) == ("r2", "15", 2, True)
    assert (event.reason, event.withdrawn_by, event.withdrawn_by_institution) == (
        "entered for the wrong learner",
        "a-7",
        "ugent.be",
    )
    assert event.effective is not None and (event.effective.result_id, event.effective.grade) == ("r1", "11")
    for state in (agg, replay(agg)):
        assert state.effective is not None and state.effective.result_id == "r1"
        assert state.result("r2").withdrawn
        assert state.result("r2").withdrawal is not None
        assert [r.result_id for r in state.results] == ["r1", "r2"]


def test_withdrawal_rules_and_reuse_of_a_freed_attempt_number() -> None:
    agg = fresh()
    record(agg, "r1", 1, "11")
    record(agg, "r2", 2, "15")
    who = {"withdrawn_by": "a-7", "withdrawn_by_institution": "ugent.be"}
    agg.withdraw("r2", reason="typo", **who)
    with pytest.raises(Conflict, match="already withdrawn"):
        agg.withdraw("r2", reason="again", **who)
    with pytest.raises(NotFound):
        agg.withdraw("nope", reason="x", **who)
    with pytest.raises(DomainError) as no_reason:
        agg.withdraw("r1", reason="", **who)
    assert no_reason.value.field == "reason"
    again = record(agg, "r2b", 2, "16")  # the withdrawn attempt's number is free again
    assert again.supersedes_result_id == "r1"
    agg.withdraw("r1", reason="annulled", **who)
    with pytest.raises(Conflict):
        record(agg, "r1b", 1, "12")  # 1 is free but 2 is live: attempts must still increase
    assert agg.effective is not None and agg.effective.result_id == "r2b"


def test_withdrawing_the_only_result_leaves_nothing_effective() -> None:
    agg = fresh()
    record(agg, "r1", 1, "B", scheme="ects-letter")
    event = agg.withdraw("r1", reason="not enrolled", withdrawn_by="c-1", withdrawn_by_institution="kuleuven.be")
    assert event.effective is None
    assert (event.grade, event.scheme_kind, event.normalised_score) == ("B", "letter", 0.875)
    assert agg.effective is None and replay(agg).effective is None


def test_key_must_match_the_record() -> None:
    agg = fresh()
    record(agg, "r1", 1, "12")
    other_version = ComponentKey(**{**KEY.__dict__, "micro_credential_version": 3})
    with pytest.raises(Conflict) as caught:
        agg.record(
            "r2",
            key=other_version,
            attempt=2,
            grade=parse_grade("nl-1-10", "7"),
            assessed_on=AUG,
            assessor_id="a",
            assessor_institution="u",
        )
    assert caught.value.field == "micro_credential_version"
    other_learner = ComponentKey(**{**KEY.__dict__, "learner_id": "learner-2"})
    with pytest.raises(Conflict):
        agg.record(
            "r2",
            key=other_learner,
            attempt=2,
            grade=parse_grade("nl-1-10", "7"),
            assessed_on=AUG,
            assessor_id="a",
            assessor_institution="u",
        )


def test_stream_ids_do_not_collide() -> None:
    a = ComponentResults.stream_id_for("l", "a:b", "c")
    b = ComponentResults.stream_id_for("l", "a", "b:c")
    assert a != b
    assert KEY.stream_id == ComponentResults.stream_id_for("learner-1", "offering-2025", "DATA101")


def test_rehydrate_counts_versions() -> None:
    agg = fresh()
    record(agg, "r1", 1, "12")
    agg.correct(
        "r1",
        grade=parse_grade("be-flemish-0-20", "13"),
        reason="x",
        corrected_by="a",
        corrected_by_institution="u",
    )
    events = list(agg.pending)
    rebuilt = ComponentResults.rehydrate(agg.stream_id, events)
    assert rebuilt.version == 2 and rebuilt.pending == []
    assert rebuilt.key == KEY
    assert rebuilt.results == agg.results


# --- attendance -------------------------------------------------------------------------------


def attend(
    agg: ComponentResults, attendance_id: str, pct: float | Decimal, start: date, end: date
) -> AttendanceRecorded:
    return agg.record_attendance(
        attendance_id,
        key=KEY,
        percentage=pct,
        period_start=start,
        period_end=end,
        recorded_by="teacher-3",
        recorded_by_institution="ugent.be",
    )


def test_attendance_current_is_latest_period_and_same_period_replaces() -> None:
    agg = fresh()
    assert agg.attendance is None
    first = attend(agg, "att-1", 90, date(2025, 9, 22), date(2025, 10, 31))
    assert (first.percentage, first.learner_id, first.component_code, first.recorded_by) == (
        90.0,
        "learner-1",
        "DATA101",
        "teacher-3",
    )
    attend(agg, "att-2", Decimal("82.5"), date(2025, 9, 22), date(2025, 12, 19))
    attend(agg, "att-3", 80, date(2025, 9, 22), date(2025, 11, 30))  # an older period, recorded late
    for state in (agg, replay(agg)):
        assert state.attendance is not None
        assert (state.attendance.attendance_id, state.attendance.percentage) == ("att-2", 82.5)
    attend(agg, "att-4", 85, date(2025, 9, 22), date(2025, 12, 19))  # same period again: replaces
    assert agg.attendance is not None and agg.attendance.attendance_id == "att-4"
    assert [a.attendance_id for a in agg.attendance_history] == ["att-1", "att-2", "att-3", "att-4"]


def test_attendance_rules() -> None:
    agg = fresh()
    for pct in (-1, 100.5, float("nan")):
        with pytest.raises(DomainError) as caught:
            attend(agg, "a", pct, date(2025, 9, 1), date(2025, 9, 1))
        assert caught.value.field == "percentage"
    with pytest.raises(DomainError) as reversed_period:
        attend(agg, "a", 50, date(2025, 9, 2), date(2025, 9, 1))
    assert reversed_period.value.field == "period_end"
    attend(agg, "a", 0, date(2025, 9, 1), date(2025, 9, 1))
    attend(agg, "b", 100, date(2025, 9, 1), date(2025, 9, 1))
    with pytest.raises(Conflict):
        attend(agg, "a", 50, date(2025, 9, 1), date(2025, 9, 1))
    assert [type(e) for e in agg.pending] == [AttendanceRecorded, AttendanceRecorded]


def test_attendance_and_results_share_the_record() -> None:
    agg = fresh()
    attend(agg, "att-1", 75, date(2025, 9, 22), date(2025, 12, 19))
    record(agg, "r1", 1, "12")
    state = replay(agg)
    assert state.key == KEY
    assert state.attendance is not None and state.attendance.percentage == 75.0
    assert state.effective is not None and state.effective.result_id == "r1"
