"""The assessment integration events as a public contract: names, JSON round trip, validation."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from pydantic import ValidationError

from tessera_shared.contract import Event, parse_data, registered_types
from tessera_shared.contract.assessment import (
    AttendanceRecorded,
    EffectiveResult,
    ResultCorrected,
    ResultRecorded,
    ResultWithdrawn,
)

pytestmark = pytest.mark.unit

RESULT: dict[str, Any] = {
    "result_id": "r2",
    "learner_id": "learner-1",
    "offering_id": "offering-2025",
    "micro_credential_id": "mc-data",
    "micro_credential_version": 2,
    "component_code": "DATA101",
    "attempt": 2,
    "grade": "2.3",
    "scheme_id": "de-1-5",
    "scheme_kind": "numeric",
    "normalised_score": 0.783333,
    "passed": True,
    "assessed_on": date(2026, 8, 25),
    "assessor_id": "assessor-9",
    "assessor_institution": "tum.de",
    "remarks": None,
}
EFFECTIVE = EffectiveResult(
    result_id="r2",
    attempt=2,
    grade="2.3",
    scheme_id="de-1-5",
    scheme_kind="numeric",
    normalised_score=0.783333,
    passed=True,
    assessed_on=date(2026, 8, 25),
)

EVENTS: list[Event] = [
    ResultRecorded(**RESULT, effective=EFFECTIVE, supersedes_result_id="r1"),
    ResultCorrected(
        **{**RESULT, "remarks": "appeal"},
        effective=EFFECTIVE,
        previous_grade="2.7",
        previous_scheme_id="de-1-5",
        previous_normalised_score=0.716666,
        previous_passed=True,
        previous_assessed_on=date(2026, 8, 24),
        reason="appeal granted",
        corrected_by="assessor-9",
        corrected_by_institution="tum.de",
    ),
    ResultWithdrawn(
        **RESULT, effective=None, reason="fraud", withdrawn_by="board-2", withdrawn_by_institution="tum.de"
    ),
    AttendanceRecorded(
        attendance_id="att-1",
        learner_id="learner-1",
        offering_id="offering-2025",
        micro_credential_id="mc-data",
        micro_credential_version=2,
        component_code="DATA101",
        percentage=87.5,
        period_start=date(2025, 9, 22),
        period_end=date(2025, 12, 19),
        recorded_by="teacher-3",
        recorded_by_institution="tum.de",
    ),
]


def test_event_types_are_stable_names() -> None:
    assert [e.event_type for e in EVENTS] == [
        "tessera.assessment.result.recorded.v1",
        "tessera.assessment.result.corrected.v1",
        "tessera.assessment.result.withdrawn.v1",
        "tessera.assessment.attendance.recorded.v1",
    ]
    types = registered_types()
    assert all(types[e.event_type] is type(e) for e in EVENTS)
    assert {e.context for e in EVENTS} == {"assessment"}


@pytest.mark.parametrize("event", EVENTS, ids=lambda e: e.event_type)
def test_round_trip_through_json(event: Event) -> None:
    data = event.model_dump(mode="json")
    parsed = parse_data(event.event_type, data)
    assert type(parsed) is type(event)
    assert parsed == event
    assert parsed.model_dump(mode="json") == data


def test_json_shape_for_consumers() -> None:
    data = EVENTS[0].model_dump(mode="json")
    assert data["assessed_on"] == "2026-08-25"
    assert data["effective"] == {
        "result_id": "r2",
        "attempt": 2,
        "grade": "2.3",
        "scheme_id": "de-1-5",
        "scheme_kind": "numeric",
        "normalised_score": 0.783333,
        "passed": True,
        "assessed_on": "2026-08-25",
    }
    withdrawn = EVENTS[2].model_dump(mode="json")
    assert withdrawn["effective"] is None and withdrawn["result_id"] == "r2"


def test_unknown_fields_are_ignored_for_additive_changes() -> None:
    data = {**EVENTS[0].model_dump(mode="json"), "added_in_a_later_minor": "x"}
    assert parse_data("tessera.assessment.result.recorded.v1", data) == EVENTS[0]


def _recorded(**changes: Any) -> dict[str, Any]:
    return {**EVENTS[0].model_dump(mode="json"), **changes}


@pytest.mark.parametrize(
    "changes",
    [
        {"normalised_score": 1.1},
        {"normalised_score": -0.1},
        {"normalised_score": 0.4, "passed": True},  # pass flag contradicts the 0.5 pass mark
        {"normalised_score": 0.5, "passed": False},
        {"attempt": 0},
        {"micro_credential_version": 0},
        {"scheme_kind": "stars"},
        {"learner_id": ""},
        {"assessed_on": "25/08/2026"},
        {"effective": {**EFFECTIVE.model_dump(mode="json"), "passed": False}},
    ],
)
def test_invalid_result_payloads_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        parse_data("tessera.assessment.result.recorded.v1", _recorded(**changes))


@pytest.mark.parametrize("missing", ["grade", "scheme_id", "normalised_score", "passed", "effective", "component_code"])
def test_required_result_fields(missing: str) -> None:
    data = _recorded()
    del data[missing]
    with pytest.raises(ValidationError):
        parse_data("tessera.assessment.result.recorded.v1", data)


@pytest.mark.parametrize("missing", ["reason", "corrected_by", "previous_grade", "result_id"])
def test_corrections_need_reason_author_and_previous_grade(missing: str) -> None:
    data = EVENTS[1].model_dump(mode="json")
    del data[missing]
    with pytest.raises(ValidationError):
        parse_data("tessera.assessment.result.corrected.v1", data)


@pytest.mark.parametrize(
    "changes",
    [
        {"percentage": 100.1},
        {"percentage": -1},
        {"period_start": "2025-12-20"},  # after period_end
        {"recorded_by": ""},
    ],
)
def test_invalid_attendance_is_refused(changes: dict[str, Any]) -> None:
    data = {**EVENTS[3].model_dump(mode="json"), **changes}
    with pytest.raises(ValidationError):
        parse_data("tessera.assessment.attendance.recorded.v1", data)


def test_events_are_immutable() -> None:
    event = EVENTS[0]
    assert isinstance(event, ResultRecorded)
    with pytest.raises(ValidationError):
        event.grade = "1.0"
