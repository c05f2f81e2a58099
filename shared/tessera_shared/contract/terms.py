"""Offering terms: fee tariffs, dated refund policies and the rest of what a learner signs up to.

Money is :class:`~decimal.Decimal` euro; every amount a learner pays or gets back is rounded to cents
half-up (commercial rounding) once, at the end of the computation. ``fee_for`` and ``refund_for`` are
pure, so the enrolment service and any partner compute the same amounts from an offering's terms.

Refund rules are dated: the first rule whose ``before`` date lies after the cancellation date applies
(a rule with ``before=None`` applies to every later date). "Second-semester credits" refunds the part
of the fee that pays for components taught in the second semester (full-year components have started
and are not refunded); when every credit is second-semester that is the full fee.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, localcontext
from enum import StrEnum
from itertools import pairwise
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from tessera_shared.contract.values import (
    AcademicYear,
    Code,
    ContractModel,
    Eur,
    InstitutionId,
    MultilingualText,
    PositiveEcts,
    Semester,
    academic_year_start,
)

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> Decimal:
    """Round euro to cents, half up (37.505 -> 37.51)."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


class ComponentTerms(ContractModel):
    """What fees and refunds need to know of a component of the offering's micro-credential version."""

    code: Code
    ects: PositiveEcts
    semester: Semester
    teaching_institution: InstitutionId


class PerEctsTariff(ContractModel):
    """``rate`` euro per ECTS; a component taught by an institution in ``institution_rates`` uses that
    institution's rate instead."""

    kind: Literal["per_ects"] = "per_ects"
    currency: Literal["EUR"] = "EUR"
    rate: Eur
    institution_rates: dict[InstitutionId, Eur] = Field(default_factory=dict)

    def rate_for(self, institution_id: str) -> Decimal:
        return self.institution_rates.get(institution_id, self.rate)


class FlatTariff(ContractModel):
    """One amount for the whole offering, whatever its credits."""

    kind: Literal["flat"] = "flat"
    currency: Literal["EUR"] = "EUR"
    amount: Eur


FeeTariff = Annotated[PerEctsTariff | FlatTariff, Field(discriminator="kind")]


def _price(tariff: PerEctsTariff, components: Sequence[ComponentTerms]) -> Decimal:
    return sum((c.ects * tariff.rate_for(c.teaching_institution) for c in components), Decimal(0))


def fee_for(tariff: FeeTariff, components: Sequence[ComponentTerms]) -> Decimal:
    """The fee in euro (cents) for taking ``components`` under ``tariff``: 10 ECTS at 37.50 = 375.00."""
    if isinstance(tariff, FlatTariff):
        return to_cents(tariff.amount)
    return to_cents(_price(tariff, components))


class RefundKind(StrEnum):
    FULL = "full"
    SECOND_SEMESTER_CREDITS = "second_semester_credits"
    NONE = "none"


class RefundRule(ContractModel):
    before: date | None = Field(description="applies to cancellations strictly before this date; none = any date")
    refund: RefundKind


class RefundPolicy(ContractModel):
    """Dated refund rules, in ascending ``before`` order; only the last may be open-ended."""

    rules: tuple[RefundRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> RefundPolicy:
        dates = [rule.before for rule in self.rules]
        if None in dates[:-1]:
            raise ValueError("only the last refund rule may be open-ended (before = null)")
        bounded = [d for d in dates if d is not None]
        if any(later <= earlier for earlier, later in pairwise(bounded)):
            raise ValueError("refund rule dates must be strictly ascending")
        return self


def refund_kind_on(policy: RefundPolicy, cancellation_date: date) -> RefundKind:
    """The refund a cancellation on ``cancellation_date`` earns (none when no rule covers the date)."""
    for rule in policy.rules:
        if rule.before is None or cancellation_date < rule.before:
            return rule.refund
    return RefundKind.NONE


def refund_for(
    policy: RefundPolicy,
    fee: Decimal,
    components: Sequence[ComponentTerms],
    cancellation_date: date,
    tariff: FeeTariff | None = None,
) -> Decimal:
    """The refund in euro (cents) of ``fee`` for a cancellation on ``cancellation_date``.

    For a second-semester refund the fee is split over components in proportion to their price under a
    per-ECTS ``tariff`` (institution rates differ), otherwise in proportion to their ECTS."""
    kind = refund_kind_on(policy, cancellation_date)
    if kind is RefundKind.NONE or fee <= 0:
        return Decimal("0.00")
    second = [c for c in components if c.semester is Semester.SECOND]
    if kind is RefundKind.FULL or (components and len(second) == len(components)):
        return to_cents(fee)
    if not second:
        return Decimal("0.00")
    with localcontext() as ctx:
        ctx.prec = 28
        if isinstance(tariff, PerEctsTariff) and _price(tariff, components) > 0:
            part, whole = _price(tariff, second), _price(tariff, components)
        else:
            part = sum((c.ects for c in second), Decimal(0))
            whole = sum((c.ects for c in components), Decimal(0))
        return to_cents(fee * part / whole)


def seed_refund_policy(academic_year: str) -> RefundPolicy:
    """The consortium's seed policy for ``academic_year`` ('2025-2026'): cancel before 1 December ->
    full refund; 1 December - 14 March -> second-semester credits; from 15 March -> none."""
    start = academic_year_start(academic_year)
    return RefundPolicy(
        rules=(
            RefundRule(before=date(start, 12, 1), refund=RefundKind.FULL),
            RefundRule(before=date(start + 1, 3, 15), refund=RefundKind.SECOND_SEMESTER_CREDITS),
            RefundRule(before=None, refund=RefundKind.NONE),
        )
    )


class EnrolmentWindow(ContractModel):
    """Learners may enrol from ``opens_on`` to ``closes_on``, both inclusive."""

    opens_on: date
    closes_on: date


class AttendanceAnnouncement(ContractModel):
    """Compulsory attendance, announced with the offering (before anyone enrols)."""

    compulsory: bool
    description: MultilingualText | None = None


class Session(ContractModel):
    """One planned teaching session of the delivery schedule."""

    starts_at: AwareDatetime
    ends_at: AwareDatetime
    component: Code | None = None
    location: str | None = None
    online: bool = False


class OfferingTerms(ContractModel):
    """Everything an offering promises: when, how many seats, what it costs and how refunds work."""

    academic_year: AcademicYear
    period: Semester = Field(description="the semester(s) the offering runs in")
    starts_on: date
    ends_on: date
    enrolment: EnrolmentWindow
    capacity: int = Field(ge=1, le=100_000)
    waitlist: bool = True
    schedule: MultilingualText | None = Field(default=None, description="the delivery schedule in words")
    sessions: tuple[Session, ...] = ()
    attendance: AttendanceAnnouncement
    tariff: FeeTariff
    refund_policy: RefundPolicy
