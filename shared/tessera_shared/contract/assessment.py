"""Integration events of the assessment context, and the public description of a grading scheme.

A *result* is one attempt of one learner at one component of an offering, graded by an assessor of
the teaching institution in that institution's native scheme. Every result event carries the grade
three ways: ``grade`` (the native value, normalised text such as ``"14"``, ``"7.5"``, ``"2.3"``,
``"B"``, ``"pass"``), ``normalised_score`` in [0, 1] and ``passed``. In every scheme the pass mark
normalises to exactly 0.5, so ``passed == (normalised_score >= 0.5)`` always holds and scores from
different partners compare fairly (see docs/grading.md for the conversion).

Resits: a later attempt supersedes the earlier one for award purposes; history is kept. Every result
event therefore also carries ``effective``: the result that counts for this (learner, offering,
component) *after* the event (``None`` when no live result remains). A consumer that only needs
the current standing keeps the ``effective`` of the latest event per (learner, offering, component)
and never needs to call back or to replay history.

Criteria that *average* scores should skip ``scheme_kind == "pass_fail"`` results: a pass there
normalises to 1.0 (the top of a two-point scale), which says nothing about how well.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tessera_shared.contract.base import Event

NonEmpty = Annotated[str, Field(min_length=1, max_length=200)]
Score = Annotated[float, Field(ge=0.0, le=1.0)]
SchemeKind = Literal["numeric", "letter", "pass_fail"]

PASS_SCORE = 0.5
"""The normalised score of every scheme's pass mark: ``passed`` iff ``normalised_score >= 0.5``."""


# --- grading scheme descriptions (data, not events) --------------------------------------------


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NumericSchemeDescription(_Frozen):
    """A numeric range with a pass mark: Flemish 0–20, Dutch 1–10, German 1.0–5.0, percentages.

    A grade is valid when ``minimum <= value <= maximum`` and it is a multiple of ``step``; when
    ``allowed_values`` is given, only those values are valid (the German 1.0, 1.3, 1.7 ... steps).
    ``higher_is_better=False`` means lower is better and the pass condition is ``value <= pass_mark``.
    """

    kind: Literal["numeric"] = "numeric"
    scheme_id: NonEmpty
    label: NonEmpty
    minimum: Decimal
    maximum: Decimal
    pass_mark: Decimal
    higher_is_better: bool = True
    step: Decimal
    allowed_values: tuple[Decimal, ...] | None = None


class LetterGradeDescription(_Frozen):
    letter: Annotated[str, Field(min_length=1, max_length=10)]
    normalised_score: Score
    passed: bool


class LetterSchemeDescription(_Frozen):
    """An ordered letter scale, best letter first (ECTS A–E pass, FX/F fail)."""

    kind: Literal["letter"] = "letter"
    scheme_id: NonEmpty
    label: NonEmpty
    letters: tuple[LetterGradeDescription, ...] = Field(min_length=2)


class PassFailSchemeDescription(_Frozen):
    """Two outcomes; ``pass_words``/``fail_words`` are the accepted spellings (first is canonical)."""

    kind: Literal["pass_fail"] = "pass_fail"
    scheme_id: NonEmpty
    label: NonEmpty
    pass_words: tuple[str, ...] = Field(min_length=1)
    fail_words: tuple[str, ...] = Field(min_length=1)


GradingSchemeDescription = Annotated[
    NumericSchemeDescription | LetterSchemeDescription | PassFailSchemeDescription,
    Field(discriminator="kind"),
]


# --- result events ----------------------------------------------------------------------------


class EffectiveResult(_Frozen):
    """The result that counts for award purposes for the event's (learner, offering, component)."""

    result_id: NonEmpty
    attempt: Annotated[int, Field(ge=1)]
    grade: NonEmpty
    scheme_id: NonEmpty
    scheme_kind: SchemeKind
    normalised_score: Score
    passed: bool
    assessed_on: date

    @model_validator(mode="after")
    def _pass_flag_matches_score(self) -> EffectiveResult:
        _check_pass_flag(self.normalised_score, self.passed)
        return self


def _check_pass_flag(score: float, passed: bool) -> None:
    if passed != (score >= PASS_SCORE):
        raise ValueError(f"passed={passed} contradicts normalised_score={score} (pass mark is {PASS_SCORE})")


class _ResultEvent(Event):
    """Fields shared by every result event: which result, whose, where, and its grade."""

    result_id: NonEmpty
    learner_id: NonEmpty
    offering_id: NonEmpty
    micro_credential_id: NonEmpty
    micro_credential_version: Annotated[int, Field(ge=1)]
    component_code: NonEmpty
    attempt: Annotated[int, Field(ge=1)]
    grade: NonEmpty
    scheme_id: NonEmpty
    scheme_kind: SchemeKind
    normalised_score: Score
    passed: bool
    assessed_on: date
    assessor_id: NonEmpty
    """Subject id of the assessor who graded the attempt."""
    assessor_institution: NonEmpty
    """SCHAC home organisation of the assessor (the institution teaching the component)."""
    remarks: str | None = None
    effective: EffectiveResult | None
    """The result that counts after this event; ``None`` when every result is withdrawn."""

    @model_validator(mode="after")
    def _pass_flag_matches_score(self) -> _ResultEvent:
        _check_pass_flag(self.normalised_score, self.passed)
        return self


class ResultRecorded(_ResultEvent, type="tessera.assessment.result.recorded", version=1):
    """Attempt ``attempt`` was graded. It supersedes ``supersedes_result_id`` (the earlier attempt)."""

    supersedes_result_id: str | None = None


class ResultCorrected(_ResultEvent, type="tessera.assessment.result.corrected", version=1):
    """Result ``result_id`` was corrected; the grade fields are its state *after* the correction."""

    previous_grade: NonEmpty
    previous_scheme_id: NonEmpty
    previous_normalised_score: Score
    previous_passed: bool
    previous_assessed_on: date
    reason: NonEmpty
    corrected_by: NonEmpty
    corrected_by_institution: NonEmpty


class ResultWithdrawn(_ResultEvent, type="tessera.assessment.result.withdrawn", version=1):
    """Result ``result_id`` no longer counts (kept in history); the grade fields are what it was."""

    reason: NonEmpty
    withdrawn_by: NonEmpty
    withdrawn_by_institution: NonEmpty


# --- attendance -------------------------------------------------------------------------------


class AttendanceRecorded(Event, type="tessera.assessment.attendance.recorded", version=1):
    """The learner attended ``percentage`` % of the component's compulsory sessions held from
    ``period_start`` to ``period_end`` (both inclusive; one day when equal).

    Figures are cumulative: the record with the latest ``period_end`` (ties: the later event) is the
    learner's current attendance for the component; a record for the same period replaces it.
    """

    attendance_id: NonEmpty
    learner_id: NonEmpty
    offering_id: NonEmpty
    micro_credential_id: NonEmpty
    micro_credential_version: Annotated[int, Field(ge=1)]
    component_code: NonEmpty
    percentage: Annotated[float, Field(ge=0.0, le=100.0)]
    period_start: date
    period_end: date
    recorded_by: NonEmpty
    recorded_by_institution: NonEmpty
    remarks: str | None = None

    @model_validator(mode="after")
    def _period_in_order(self) -> AttendanceRecorded:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


__all__ = [
    "PASS_SCORE",
    "AttendanceRecorded",
    "EffectiveResult",
    "GradingSchemeDescription",
    "LetterGradeDescription",
    "LetterSchemeDescription",
    "NumericSchemeDescription",
    "PassFailSchemeDescription",
    "ResultCorrected",
    "ResultRecorded",
    "ResultWithdrawn",
    "SchemeKind",
]
