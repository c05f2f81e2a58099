"""Grading schemes as data: three kinds interpret every named scheme.

* :class:`NumericScale` — a range with a pass mark, a direction and a granularity (``step``) or an
  explicit list of allowed values (Flemish 0–20, Dutch 1–10, German 1.0–5.0, percentages).
* :class:`LetterScale` — an ordered list of letters, each with a documented normalised score.
* :class:`PassFailScale` — two outcomes.

A scheme turns native text (``"14"``, ``"7,5"``, ``"2.3"``, ``"b"``, ``"Pass"``) into a
:class:`GradeResult`: the native value normalised (``"7.5"``, ``"B"``, ``"pass"``), the scheme id,
a normalised score in [0, 1] and the pass flag. Normalisation is monotone and puts every scheme's
pass mark at exactly :data:`PASS_SCORE` (0.5): fail range -> [0, 0.5), pass range -> [0.5, 1],
piecewise-linear. Scores are rounded *down* to 6 decimals, so ``passed == (score >= 0.5)`` always
holds. docs/grading.md has the tables, formulas and reasons.

The named schemes live in :mod:`grading_schemes`; :func:`get_scheme` / :func:`parse_grade` look
them up, including the parameterised family ``percentage-<pass mark>`` (``percentage-55``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from itertools import pairwise
from typing import Literal, Protocol

from tessera_assessment.domain import grading_schemes
from tessera_shared.contract.assessment import (
    PASS_SCORE,
    GradingSchemeDescription,
    LetterGradeDescription,
    LetterSchemeDescription,
    NumericSchemeDescription,
    PassFailSchemeDescription,
    SchemeKind,
)
from tessera_shared.kernel.aggregate import DomainError

SCORE_DECIMALS = 6
_PASS = Fraction(1, 2)
assert float(_PASS) == PASS_SCORE

GradeErrorReason = Literal["format", "out_of_range", "precision", "not_allowed"]
GradeInput = str | int | Decimal


class InvalidGrade(DomainError):
    """A grade does not parse in its scheme. ``reason`` says why; ``field`` names the input (422)."""

    def __init__(self, message: str, *, reason: GradeErrorReason, scheme_id: str, value: str, field: str):
        super().__init__(message, field=field)
        self.reason: GradeErrorReason = reason
        self.scheme_id = scheme_id
        self.value = value


class UnknownScheme(DomainError):
    """No grading scheme has this id (422 on the scheme field)."""

    def __init__(self, scheme_id: str, *, field: str = "scheme_id", hint: str = ""):
        message = f"unknown grading scheme {scheme_id!r}" + (f": {hint}" if hint else "")
        super().__init__(message, field=field)
        self.scheme_id = scheme_id
        self.hint = hint


@dataclass(frozen=True)
class GradeResult:
    """A parsed grade. ``native`` is the normalised native text; ``normalised_score`` is in [0, 1]."""

    native: str
    scheme_id: str
    scheme_kind: SchemeKind
    normalised_score: float
    passed: bool


class GradingScheme(Protocol):
    scheme_id: str
    label: str

    @property
    def kind(self) -> SchemeKind: ...

    def parse(self, value: GradeInput, *, field: str = "grade") -> GradeResult: ...

    def describe(self) -> GradingSchemeDescription: ...


def _floor_score(score: Fraction) -> float:
    """Round down to SCORE_DECIMALS: monotone, keeps 0.5 and 1.0 exact, keeps fails below 0.5."""
    scale: int = 10**SCORE_DECIMALS
    floored: int = math.floor(score * scale)
    return floored / scale


def _as_text(value: GradeInput) -> str:
    if isinstance(value, bool):  # bool is an int; True is not a grade
        raise TypeError("a grade cannot be a bool")
    return str(value).strip()


def _plain(value: Decimal) -> str:
    """``Decimal`` as plain positional text (never exponent notation)."""
    return f"{value:f}"


def _decimals_of(step: Decimal) -> int:
    exponent = step.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


# --- numeric ----------------------------------------------------------------------------------

_NUMBER = re.compile(r"(-?)([0-9]{1,12})(?:[.,]([0-9]{1,12}))?")


@dataclass(frozen=True)
class NumericScale:
    """A numeric scheme. Valid grades: ``minimum <= v <= maximum``, ``v`` a multiple of ``step``
    (or one of ``allowed_values`` when given). Passed: ``v >= pass_mark`` (``v <= pass_mark`` when
    lower is better). The native text is shown with as many decimals as ``step`` has."""

    scheme_id: str
    label: str
    minimum: Decimal
    maximum: Decimal
    pass_mark: Decimal
    step: Decimal
    higher_is_better: bool = True
    allowed_values: tuple[Decimal, ...] | None = None

    def __post_init__(self) -> None:
        if not self.minimum < self.pass_mark < self.maximum:
            raise ValueError(f"{self.scheme_id}: need minimum < pass_mark < maximum")
        if self.step <= 0 or not self._on_step(self.minimum) or not self._on_step(self.maximum):
            raise ValueError(f"{self.scheme_id}: step must be positive and divide minimum and maximum")
        if self.allowed_values is not None:
            values = self.allowed_values
            if list(values) != sorted(set(values)):
                raise ValueError(f"{self.scheme_id}: allowed_values must be ascending and distinct")
            if values[0] != self.minimum or values[-1] != self.maximum:
                raise ValueError(f"{self.scheme_id}: allowed_values must run from minimum to maximum")
            if not all(self._on_step(v) for v in values):
                raise ValueError(f"{self.scheme_id}: allowed_values must be multiples of step")

    @property
    def kind(self) -> SchemeKind:
        return "numeric"

    @property
    def decimals(self) -> int:
        return _decimals_of(self.step)

    def _on_step(self, value: Decimal) -> bool:
        return (value / self.step) % 1 == 0

    def format(self, value: Decimal) -> str:
        return _plain(value.quantize(Decimal(1).scaleb(-self.decimals)))

    def is_pass(self, value: Decimal) -> bool:
        return value >= self.pass_mark if self.higher_is_better else value <= self.pass_mark

    def normalise(self, value: Decimal) -> Fraction:
        """Exact piecewise-linear map: worst -> 0, pass mark -> 1/2, best -> 1."""
        v, lo, hi, mark = (Fraction(x) for x in (value, self.minimum, self.maximum, self.pass_mark))
        if not self.higher_is_better:  # mirror so that "bigger is better" below
            v, lo, hi, mark = -v, -hi, -lo, -mark
        if v >= mark:
            return _PASS + _PASS * (v - mark) / (hi - mark)
        return _PASS * (v - lo) / (mark - lo)

    def parse(self, value: GradeInput, *, field: str = "grade") -> GradeResult:
        text = _as_text(value)

        def fail(reason: GradeErrorReason, why: str) -> InvalidGrade:
            return InvalidGrade(
                f"{field}: {text!r} {why} ({self.label})",
                reason=reason,
                scheme_id=self.scheme_id,
                value=text,
                field=field,
            )

        match = _NUMBER.fullmatch(text)
        if match is None:
            raise fail("format", "is not a number (digits with an optional '.' or ',' decimal part)")
        sign, whole, frac = match.groups()
        try:
            number = Decimal(f"{sign}{whole}.{frac or '0'}")
        except InvalidOperation:  # pragma: no cover - the pattern admits only valid literals
            raise fail("format", "is not a number") from None
        number = abs(number) if number == 0 else number  # "-0" is 0
        if not self.minimum <= number <= self.maximum:
            lo, hi = self.format(self.minimum), self.format(self.maximum)
            raise fail("out_of_range", f"is outside the scale {lo}–{hi}")
        if self.allowed_values is not None:
            if number not in self.allowed_values:
                allowed = ", ".join(self.format(v) for v in self.allowed_values)
                raise fail("not_allowed", f"is not a grade of this scale; allowed: {allowed}")
        elif not self._on_step(number):
            if self.decimals == 0 and self.step == 1:
                why = "must be a whole number"
            elif self.step == Decimal(1).scaleb(-self.decimals):
                why = f"has more than {self.decimals} decimal{'s' if self.decimals > 1 else ''}"
            else:
                why = f"is not a multiple of {_plain(self.step)}"
            raise fail("precision", why)
        return GradeResult(
            native=self.format(number),
            scheme_id=self.scheme_id,
            scheme_kind="numeric",
            normalised_score=_floor_score(self.normalise(number)),
            passed=self.is_pass(number),
        )

    def describe(self) -> NumericSchemeDescription:
        return NumericSchemeDescription(
            scheme_id=self.scheme_id,
            label=self.label,
            minimum=self.minimum,
            maximum=self.maximum,
            pass_mark=self.pass_mark,
            higher_is_better=self.higher_is_better,
            step=self.step,
            allowed_values=self.allowed_values,
        )


# --- letters ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Letter:
    letter: str
    normalised_score: float
    passed: bool


@dataclass(frozen=True)
class LetterScale:
    """Ordered letters, best first. The scores must fall strictly, the passing letters must all come
    before the failing ones, the best letter scores 1.0, the worst 0.0 and the lowest pass 0.5."""

    scheme_id: str
    label: str
    letters: tuple[Letter, ...]
    _by_letter: dict[str, Letter] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scores = [entry.normalised_score for entry in self.letters]
        passes = [entry for entry in self.letters if entry.passed]
        if len(self.letters) < 2 or any(a <= b for a, b in pairwise(scores)):
            raise ValueError(f"{self.scheme_id}: letters must be listed best first with falling scores")
        if not passes or [e.passed for e in self.letters] != [True] * len(passes) + [False] * (
            len(self.letters) - len(passes)
        ):
            raise ValueError(f"{self.scheme_id}: passing letters must all rank above failing ones")
        if scores[0] != 1.0 or passes[-1].normalised_score != PASS_SCORE:
            raise ValueError(f"{self.scheme_id}: best letter must score 1.0 and lowest pass {PASS_SCORE}")
        if not self.letters[-1].passed and scores[-1] != 0.0:
            raise ValueError(f"{self.scheme_id}: the worst failing letter must score 0.0")
        by_letter = {entry.letter.upper(): entry for entry in self.letters}
        if len(by_letter) != len(self.letters):
            raise ValueError(f"{self.scheme_id}: letters must be distinct (case-insensitively)")
        object.__setattr__(self, "_by_letter", by_letter)

    @property
    def kind(self) -> SchemeKind:
        return "letter"

    def parse(self, value: GradeInput, *, field: str = "grade") -> GradeResult:
        text = _as_text(value)
        entry = self._by_letter.get(text.upper())
        if entry is None:
            allowed = ", ".join(e.letter for e in self.letters)
            raise InvalidGrade(
                f"{field}: {text!r} is not a grade of {self.label}; allowed: {allowed}",
                reason="not_allowed",
                scheme_id=self.scheme_id,
                value=text,
                field=field,
            )
        return GradeResult(
            native=entry.letter,
            scheme_id=self.scheme_id,
            scheme_kind="letter",
            normalised_score=entry.normalised_score,
            passed=entry.passed,
        )

    def describe(self) -> LetterSchemeDescription:
        return LetterSchemeDescription(
            scheme_id=self.scheme_id,
            label=self.label,
            letters=tuple(
                LetterGradeDescription(letter=e.letter, normalised_score=e.normalised_score, passed=e.passed)
                for e in self.letters
            ),
        )


# --- pass / fail ------------------------------------------------------------------------------


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


@dataclass(frozen=True)
class PassFailScale:
    """Pass -> 1.0, fail -> 0.0. The first word of each list is the canonical native text."""

    scheme_id: str
    label: str
    pass_words: tuple[str, ...]
    fail_words: tuple[str, ...]

    def __post_init__(self) -> None:
        passes = {_fold(w) for w in self.pass_words}
        fails = {_fold(w) for w in self.fail_words}
        if not passes or not fails or passes & fails:
            raise ValueError(f"{self.scheme_id}: pass and fail words must be non-empty and disjoint")

    @property
    def kind(self) -> SchemeKind:
        return "pass_fail"

    def parse(self, value: GradeInput, *, field: str = "grade") -> GradeResult:
        text = _as_text(value)
        folded = _fold(text)
        for words, passed in ((self.pass_words, True), (self.fail_words, False)):
            if folded in {_fold(w) for w in words}:
                return GradeResult(
                    native=words[0],
                    scheme_id=self.scheme_id,
                    scheme_kind="pass_fail",
                    normalised_score=1.0 if passed else 0.0,
                    passed=passed,
                )
        raise InvalidGrade(
            f"{field}: {text!r} is neither {self.pass_words[0]!r} nor {self.fail_words[0]!r} ({self.label})",
            reason="not_allowed",
            scheme_id=self.scheme_id,
            value=text,
            field=field,
        )

    def describe(self) -> PassFailSchemeDescription:
        return PassFailSchemeDescription(
            scheme_id=self.scheme_id,
            label=self.label,
            pass_words=self.pass_words,
            fail_words=self.fail_words,
        )


# --- building from data, registry --------------------------------------------------------------

Scheme = NumericScale | LetterScale | PassFailScale


def scheme_from_description(description: GradingSchemeDescription) -> Scheme:
    """Build a scheme from its public description (raises ``ValueError`` when inconsistent)."""
    if isinstance(description, NumericSchemeDescription):
        return NumericScale(
            scheme_id=description.scheme_id,
            label=description.label,
            minimum=description.minimum,
            maximum=description.maximum,
            pass_mark=description.pass_mark,
            step=description.step,
            higher_is_better=description.higher_is_better,
            allowed_values=description.allowed_values,
        )
    if isinstance(description, LetterSchemeDescription):
        return LetterScale(
            scheme_id=description.scheme_id,
            label=description.label,
            letters=tuple(Letter(e.letter, e.normalised_score, e.passed) for e in description.letters),
        )
    return PassFailScale(
        scheme_id=description.scheme_id,
        label=description.label,
        pass_words=description.pass_words,
        fail_words=description.fail_words,
    )


_MARK = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,6})?")


@dataclass(frozen=True)
class PassMarkFamily:
    """Schemes ``<prefix><pass mark>`` built from ``template`` with that pass mark (``percentage-55``).

    The suffix must be written canonically (``55``, ``57.5``; not ``055`` or ``55.0``) so that one
    scheme has exactly one id, lie strictly inside the range and be a multiple of the step."""

    prefix: str
    template: NumericScale
    label_template: str  # formatted with {mark}

    def resolve(self, scheme_id: str, *, field: str = "scheme_id") -> NumericScale | None:
        if not scheme_id.startswith(self.prefix):
            return None
        suffix = scheme_id[len(self.prefix) :]
        if _MARK.fullmatch(suffix) is None:
            hint = f"write {self.prefix}<pass mark>, e.g. {self.prefix}50"
            raise UnknownScheme(scheme_id, field=field, hint=hint)
        mark = Decimal(suffix)
        whole = mark == mark.to_integral_value()
        canonical = _plain(mark.quantize(Decimal(1)) if whole else mark.normalize())
        if canonical != suffix:
            raise UnknownScheme(scheme_id, field=field, hint=f"write {self.prefix}{canonical}")
        t = self.template
        if not t.minimum < mark < t.maximum or not t._on_step(mark):
            raise UnknownScheme(
                scheme_id,
                field=field,
                hint=f"the pass mark must lie strictly between {_plain(t.minimum)} and {_plain(t.maximum)}"
                f" in steps of {_plain(t.step)}",
            )
        label = self.label_template.format(mark=canonical)
        return replace(t, scheme_id=scheme_id, label=label, pass_mark=mark)


@dataclass
class SchemeRegistry:
    """Named schemes plus parameterised families; the default one is :data:`REGISTRY`."""

    schemes: dict[str, Scheme] = field(default_factory=dict)
    families: list[PassMarkFamily] = field(default_factory=list)

    def register(self, scheme: Scheme) -> None:
        if scheme.scheme_id in self.schemes:
            raise ValueError(f"grading scheme {scheme.scheme_id} registered twice")
        self.schemes[scheme.scheme_id] = scheme

    def get(self, scheme_id: str, *, field: str = "scheme_id") -> Scheme:
        scheme = self.schemes.get(scheme_id)
        if scheme is not None:
            return scheme
        for family in self.families:
            resolved = family.resolve(scheme_id, field=field)
            if resolved is not None:
                return resolved
        known = ", ".join([*sorted(self.schemes), *(f"{f.prefix}<pass mark>" for f in self.families)])
        raise UnknownScheme(scheme_id, field=field, hint=f"known: {known}")

    def describe(self) -> list[GradingSchemeDescription]:
        return [self.schemes[k].describe() for k in sorted(self.schemes)]


def _default_registry() -> SchemeRegistry:
    families = []
    for spec in grading_schemes.FAMILIES:
        template = scheme_from_description(spec.template)
        assert isinstance(template, NumericScale)
        families.append(PassMarkFamily(spec.prefix, template, spec.label_template))
    registry = SchemeRegistry(families=families)
    for description in grading_schemes.SCHEMES:
        registry.register(scheme_from_description(description))
    return registry


REGISTRY = _default_registry()


def get_scheme(scheme_id: str, *, field: str = "scheme_id") -> Scheme:
    """The scheme named ``scheme_id`` (raises :class:`UnknownScheme`)."""
    return REGISTRY.get(scheme_id, field=field)


def parse_grade(
    scheme_id: str, value: GradeInput, *, field: str = "grade", scheme_field: str = "scheme_id"
) -> GradeResult:
    """Parse ``value`` in scheme ``scheme_id`` (raises :class:`UnknownScheme` / :class:`InvalidGrade`)."""
    return get_scheme(scheme_id, field=scheme_field).parse(value, field=field)
