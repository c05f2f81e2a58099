"""A learner's record on one (offering, component): graded attempts, corrections, withdrawals and
attendance. Pure: commands check the rules and record contract events; ``apply`` rebuilds state.

Rules
-----
* Attempt numbers of *live* (non-withdrawn) results strictly increase in recording order: a new
  attempt must be greater than every live attempt. Withdrawing a result frees its number (a result
  entered by mistake can be re-entered as the same attempt); the withdrawn one stays in history.
* The *effective* result — the one that counts for the award — is the live result with the highest
  attempt, with its corrections applied. A resit therefore supersedes the earlier attempt even when
  its grade is lower (the institution's latest judgement counts, as in the partners' regulations).
* A correction changes the grade (possibly into another scheme), the assessment date and/or the
  remarks of one live result, with a reason and who did it; one that changes nothing is refused.
* Who may do what (teaching institution, admitted enrolment, component in the offering) is checked
  by the application layer against its read models, not here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from tessera_assessment.domain.grading import GradeResult
from tessera_shared.contract.assessment import (
    AttendanceRecorded,
    EffectiveResult,
    ResultCorrected,
    ResultRecorded,
    ResultWithdrawn,
)
from tessera_shared.contract.base import Event
from tessera_shared.kernel.aggregate import Aggregate, Conflict, DomainError, NotFound

_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")  # what ``quote`` leaves as it is: skip it (bulk speed)


@dataclass(frozen=True)
class ComponentKey:
    """Whose record on what: one aggregate per (learner, offering, component)."""

    learner_id: str
    offering_id: str
    component_code: str
    micro_credential_id: str
    micro_credential_version: int

    @property
    def stream_id(self) -> str:
        return ComponentResults.stream_id_for(self.learner_id, self.offering_id, self.component_code)


@dataclass(frozen=True)
class Correction:
    reason: str
    corrected_by: str
    corrected_by_institution: str
    previous_grade: GradeResult
    grade: GradeResult
    previous_assessed_on: date
    assessed_on: date
    remarks: str | None


@dataclass(frozen=True)
class Withdrawal:
    reason: str
    withdrawn_by: str
    withdrawn_by_institution: str


@dataclass(frozen=True)
class ResultEntry:
    """One recorded attempt as it stands now; ``original_grade`` and ``corrections`` keep history."""

    result_id: str
    attempt: int
    grade: GradeResult
    assessed_on: date
    assessor_id: str
    assessor_institution: str
    remarks: str | None
    original_grade: GradeResult
    corrections: tuple[Correction, ...] = ()
    withdrawal: Withdrawal | None = None

    @property
    def withdrawn(self) -> bool:
        return self.withdrawal is not None


@dataclass(frozen=True)
class AttendanceEntry:
    attendance_id: str
    percentage: float
    period_start: date
    period_end: date
    recorded_by: str
    recorded_by_institution: str
    remarks: str | None


def _required(value: str, field: str) -> str:
    text = value.strip()
    if not text:
        raise DomainError(f"{field} is required", field=field)
    return text


def _optional(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


class ComponentResults(Aggregate):
    """All results and attendance of one learner on one component of one offering."""

    def __init__(self, stream_id: str) -> None:
        super().__init__(stream_id)
        self.key: ComponentKey | None = None
        self._results: list[ResultEntry] = []
        self._attendance: list[AttendanceEntry] = []

    @staticmethod
    def stream_id_for(learner_id: str, offering_id: str, component_code: str) -> str:
        parts = (
            p if _UNRESERVED.fullmatch(p) else quote(p, safe="") for p in (offering_id, component_code, learner_id)
        )
        return "assessment-record:" + ":".join(parts)

    # --- queries ------------------------------------------------------------------------------

    @property
    def results(self) -> tuple[ResultEntry, ...]:
        """Every recorded result in recording order, withdrawn ones included."""
        return tuple(self._results)

    @property
    def effective(self) -> ResultEntry | None:
        """The live result with the highest attempt (corrections applied), or ``None``."""
        return self._effective_excluding(None)

    def result(self, result_id: str) -> ResultEntry:
        for entry in self._results:
            if entry.result_id == result_id:
                return entry
        raise NotFound(f"no result {result_id!r} for this learner and component", field="result_id")

    @property
    def attendance(self) -> AttendanceEntry | None:
        """The current attendance: latest ``period_end``, ties going to the later record."""
        best: AttendanceEntry | None = None
        for entry in self._attendance:
            if best is None or entry.period_end >= best.period_end:
                best = entry
        return best

    @property
    def attendance_history(self) -> tuple[AttendanceEntry, ...]:
        return tuple(self._attendance)

    # --- commands -----------------------------------------------------------------------------

    def record(
        self,
        result_id: str,
        *,
        key: ComponentKey,
        attempt: int,
        grade: GradeResult,
        assessed_on: date,
        assessor_id: str,
        assessor_institution: str,
        remarks: str | None = None,
    ) -> ResultRecorded:
        """Record attempt ``attempt``; it becomes the effective result."""
        self._check_key(key)
        result_id = _required(result_id, "result_id")
        if any(r.result_id == result_id for r in self._results):
            raise Conflict(f"result {result_id!r} is already recorded", field="result_id")
        if attempt < 1:
            raise DomainError("attempt must be 1 or more", field="attempt")
        current = self.effective
        if current is not None and attempt <= current.attempt:
            raise Conflict(
                f"attempt {attempt} must come after attempt {current.attempt} (result {current.result_id})",
                field="attempt",
            )
        entry = ResultEntry(
            result_id=result_id,
            attempt=attempt,
            grade=grade,
            assessed_on=assessed_on,
            assessor_id=_required(assessor_id, "assessor_id"),
            assessor_institution=_required(assessor_institution, "assessor_institution"),
            remarks=_optional(remarks),
            original_grade=grade,
        )
        event = ResultRecorded(
            **self._facts(key, entry),
            effective=_snapshot(entry),
            supersedes_result_id=current.result_id if current else None,
        )
        self._record(event)
        return event

    def correct(
        self,
        result_id: str,
        *,
        reason: str,
        corrected_by: str,
        corrected_by_institution: str,
        grade: GradeResult | None = None,
        assessed_on: date | None = None,
        remarks: str | None = None,
    ) -> ResultCorrected:
        """Correct a live result. ``None`` leaves a part unchanged; ``remarks=""`` clears them."""
        before = self.result(result_id)
        if before.withdrawn:
            raise Conflict(f"result {result_id!r} is withdrawn and cannot be corrected", field="result_id")
        after = replace(
            before,
            grade=grade if grade is not None else before.grade,
            assessed_on=assessed_on if assessed_on is not None else before.assessed_on,
            remarks=_optional(remarks) if remarks is not None else before.remarks,
        )
        if (after.grade, after.assessed_on, after.remarks) == (
            before.grade,
            before.assessed_on,
            before.remarks,
        ):
            raise DomainError("the correction changes nothing", field="grade")
        effective = self.effective
        assert self.key is not None and effective is not None  # a live result exists
        event = ResultCorrected(
            **self._facts(self.key, after),
            effective=_snapshot(after if effective.result_id == result_id else effective),
            previous_grade=before.grade.native,
            previous_scheme_id=before.grade.scheme_id,
            previous_normalised_score=before.grade.normalised_score,
            previous_passed=before.grade.passed,
            previous_assessed_on=before.assessed_on,
            reason=_required(reason, "reason"),
            corrected_by=_required(corrected_by, "corrected_by"),
            corrected_by_institution=_required(corrected_by_institution, "corrected_by_institution"),
        )
        self._record(event)
        return event

    def withdraw(
        self, result_id: str, *, reason: str, withdrawn_by: str, withdrawn_by_institution: str
    ) -> ResultWithdrawn:
        """Withdraw a live result; the previous live attempt (if any) becomes effective again."""
        entry = self.result(result_id)
        if entry.withdrawn:
            raise Conflict(f"result {result_id!r} is already withdrawn", field="result_id")
        assert self.key is not None
        remaining = self._effective_excluding(result_id)
        event = ResultWithdrawn(
            **self._facts(self.key, entry),
            effective=_snapshot(remaining) if remaining else None,
            reason=_required(reason, "reason"),
            withdrawn_by=_required(withdrawn_by, "withdrawn_by"),
            withdrawn_by_institution=_required(withdrawn_by_institution, "withdrawn_by_institution"),
        )
        self._record(event)
        return event

    def record_attendance(
        self,
        attendance_id: str,
        *,
        key: ComponentKey,
        percentage: float | Decimal,
        period_start: date,
        period_end: date,
        recorded_by: str,
        recorded_by_institution: str,
        remarks: str | None = None,
    ) -> AttendanceRecorded:
        """Record the cumulative attendance percentage (0–100) over a period (inclusive dates)."""
        self._check_key(key)
        attendance_id = _required(attendance_id, "attendance_id")
        if any(a.attendance_id == attendance_id for a in self._attendance):
            raise Conflict(f"attendance {attendance_id!r} is already recorded", field="attendance_id")
        share = float(percentage)
        if not 0 <= share <= 100:  # also refuses NaN
            raise DomainError(f"percentage {percentage} is outside 0–100", field="percentage")
        if period_end < period_start:
            raise DomainError("period_end is before period_start", field="period_end")
        event = AttendanceRecorded(
            attendance_id=attendance_id,
            learner_id=key.learner_id,
            offering_id=key.offering_id,
            micro_credential_id=key.micro_credential_id,
            micro_credential_version=key.micro_credential_version,
            component_code=key.component_code,
            percentage=share,
            period_start=period_start,
            period_end=period_end,
            recorded_by=_required(recorded_by, "recorded_by"),
            recorded_by_institution=_required(recorded_by_institution, "recorded_by_institution"),
            remarks=_optional(remarks),
        )
        self._record(event)
        return event

    # --- state --------------------------------------------------------------------------------

    def apply(self, event: Event) -> None:
        if isinstance(event, ResultRecorded):
            self.key = self.key or _key_of(event)
            grade = _grade_of(event)
            self._results.append(
                ResultEntry(
                    result_id=event.result_id,
                    attempt=event.attempt,
                    grade=grade,
                    assessed_on=event.assessed_on,
                    assessor_id=event.assessor_id,
                    assessor_institution=event.assessor_institution,
                    remarks=event.remarks,
                    original_grade=grade,
                )
            )
        elif isinstance(event, ResultCorrected):
            before = self.result(event.result_id)
            correction = Correction(
                reason=event.reason,
                corrected_by=event.corrected_by,
                corrected_by_institution=event.corrected_by_institution,
                previous_grade=before.grade,
                grade=_grade_of(event),
                previous_assessed_on=before.assessed_on,
                assessed_on=event.assessed_on,
                remarks=event.remarks,
            )
            self._replace(
                replace(
                    before,
                    grade=correction.grade,
                    assessed_on=event.assessed_on,
                    remarks=event.remarks,
                    corrections=(*before.corrections, correction),
                )
            )
        elif isinstance(event, ResultWithdrawn):
            withdrawal = Withdrawal(event.reason, event.withdrawn_by, event.withdrawn_by_institution)
            self._replace(replace(self.result(event.result_id), withdrawal=withdrawal))
        elif isinstance(event, AttendanceRecorded):
            self.key = self.key or _key_of(event)
            self._attendance.append(
                AttendanceEntry(
                    attendance_id=event.attendance_id,
                    percentage=event.percentage,
                    period_start=event.period_start,
                    period_end=event.period_end,
                    recorded_by=event.recorded_by,
                    recorded_by_institution=event.recorded_by_institution,
                    remarks=event.remarks,
                )
            )

    # --- helpers ------------------------------------------------------------------------------

    def _replace(self, entry: ResultEntry) -> None:
        self._results = [entry if r.result_id == entry.result_id else r for r in self._results]

    def _effective_excluding(self, result_id: str | None) -> ResultEntry | None:
        live = [r for r in self._results if not r.withdrawn and r.result_id != result_id]
        return max(live, key=lambda r: r.attempt, default=None)

    def _check_key(self, key: ComponentKey) -> None:
        if key.stream_id != self.stream_id:
            raise Conflict(f"{key} does not belong to record {self.stream_id}", field="learner_id")
        if self.key is not None and key != self.key:
            for name in ("micro_credential_id", "micro_credential_version"):
                if getattr(key, name) != getattr(self.key, name):
                    raise Conflict(
                        f"{name} {getattr(key, name)!r} differs from {getattr(self.key, name)!r} "
                        "already on record for this offering",
                        field=name,
                    )

    @staticmethod
    def _facts(key: ComponentKey, entry: ResultEntry) -> dict[str, Any]:
        return {
            "result_id": entry.result_id,
            "learner_id": key.learner_id,
            "offering_id": key.offering_id,
            "micro_credential_id": key.micro_credential_id,
            "micro_credential_version": key.micro_credential_version,
            "component_code": key.component_code,
            "attempt": entry.attempt,
            "grade": entry.grade.native,
            "scheme_id": entry.grade.scheme_id,
            "scheme_kind": entry.grade.scheme_kind,
            "normalised_score": entry.grade.normalised_score,
            "passed": entry.grade.passed,
            "assessed_on": entry.assessed_on,
            "assessor_id": entry.assessor_id,
            "assessor_institution": entry.assessor_institution,
            "remarks": entry.remarks,
        }


def _snapshot(entry: ResultEntry) -> EffectiveResult:
    return EffectiveResult(
        result_id=entry.result_id,
        attempt=entry.attempt,
        grade=entry.grade.native,
        scheme_id=entry.grade.scheme_id,
        scheme_kind=entry.grade.scheme_kind,
        normalised_score=entry.grade.normalised_score,
        passed=entry.grade.passed,
        assessed_on=entry.assessed_on,
    )


def _grade_of(event: ResultRecorded | ResultCorrected) -> GradeResult:
    return GradeResult(
        native=event.grade,
        scheme_id=event.scheme_id,
        scheme_kind=event.scheme_kind,
        normalised_score=event.normalised_score,
        passed=event.passed,
    )


def _key_of(event: ResultRecorded | AttendanceRecorded) -> ComponentKey:
    return ComponentKey(
        learner_id=event.learner_id,
        offering_id=event.offering_id,
        component_code=event.component_code,
        micro_credential_id=event.micro_credential_id,
        micro_credential_version=event.micro_credential_version,
    )
