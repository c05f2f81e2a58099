"""What the engine knows of one learner in one offering, and what follows from it (pure).

The state is built from events only (see ``adapters/state.py``): the offering pinned by
``OfferingScheduled`` (criteria, components with ECTS, partners), the learner's enrolments, the
latest effective result and attendance per component. From it:

* :meth:`LearnerOffering.facts` — the reference evaluator's input (``contract.criteria.Facts``);
* :func:`grade_summary` — what an award states about performance;
* :func:`fact_time` — when the last fact an award rests on was established (its ``awarded_at``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from tessera_credential.domain.ordering import AWARDABLE, ENDED, ENROLMENT_RANK, EnrolmentStatus, Position
from tessera_shared.contract.assessment import EffectiveResult
from tessera_shared.contract.credential import ComponentGrade, GradeSummary
from tessera_shared.contract.criteria import AwardCriteria, ComponentFacts, ComponentResult, Facts


def decimal_of(value: float) -> Decimal:
    """A contract float (score, percentage) as the Decimal of its shortest repr (0.62 -> 0.62)."""
    return Decimal(repr(value))


def ects_text(value: Decimal) -> str:
    return format(value.normalize(), "f")


@dataclass(frozen=True)
class PinnedOffering:
    """An offering as ``OfferingScheduled`` pinned it: the criteria never change after scheduling."""

    offering_id: str
    micro_credential_id: str
    micro_credential_version: int
    coordinator_id: str
    partner_ids: frozenset[str]
    criteria: AwardCriteria
    components: Mapping[str, Decimal]  # component code -> ECTS, in the offering's order
    scheduled_at: datetime


@dataclass(frozen=True)
class EnrolmentStanding:
    enrolment_id: str
    status: EnrolmentStatus
    admitted_at: datetime | None = None  # time of the admission event, once seen


@dataclass(frozen=True)
class ComponentStanding:
    """The latest effective result (``None``: none yet, or every result withdrawn) and attendance."""

    result: EffectiveResult | None = None
    result_event_ids: tuple[str, ...] = ()
    result_fact_at: datetime | None = None  # when the stated grade was last established
    attendance: Decimal | None = None
    attendance_event_ids: tuple[str, ...] = ()
    attendance_fact_at: datetime | None = None


@dataclass(frozen=True)
class LearnerOffering:
    learner_id: str
    offering_id: str
    offering: PinnedOffering | None = None
    enrolments: tuple[EnrolmentStanding, ...] = ()
    components: Mapping[str, ComponentStanding] = field(default_factory=dict)

    @property
    def enrolment(self) -> EnrolmentStanding | None:
        """The enrolment that counts: an awardable one if any (a learner may re-enrol after a
        cancellation), else the most advanced one; ties by id, so the choice is deterministic."""
        if not self.enrolments:
            return None
        return max(
            self.enrolments,
            key=lambda e: (e.status in AWARDABLE, ENROLMENT_RANK[e.status], e.enrolment_id),
        )

    @property
    def awardable(self) -> bool:
        e = self.enrolment
        return e is not None and e.status in AWARDABLE

    @property
    def enrolment_ended(self) -> bool:
        e = self.enrolment
        return e is not None and e.status in ENDED

    def facts(self) -> Facts:
        """The evaluator's facts: every component of the offering, with what is known of it."""
        assert self.offering is not None
        facts: dict[str, ComponentFacts] = {}
        for code, ects in self.offering.components.items():
            standing = self.components.get(code, ComponentStanding())
            result = None
            if standing.result is not None:
                r = standing.result
                result = ComponentResult(
                    score=decimal_of(r.normalised_score),
                    passed=r.passed,
                    attempt=r.attempt,
                    scheme_kind=r.scheme_kind,
                    event_ids=standing.result_event_ids,
                )
            facts[code] = ComponentFacts(
                ects=ects,
                result=result,
                attendance=standing.attendance,
                attendance_event_ids=standing.attendance_event_ids,
            )
        return Facts(components=facts)


def grade_summary(lo: LearnerOffering) -> GradeSummary:
    """What the award states: ECTS earned, the weighted average and every component's grade."""
    assert lo.offering is not None
    earned = Decimal(0)
    weight = weighted = Decimal(0)
    scores: dict[str, float] = {}
    grades: dict[str, ComponentGrade] = {}
    for code, ects in lo.offering.components.items():
        standing = lo.components.get(code)
        r = standing.result if standing else None
        if r is None:
            continue
        score = decimal_of(r.normalised_score)
        if r.passed:
            earned += ects
        if r.scheme_kind != "pass_fail":
            weight += ects
            weighted += ects * score
        scores[code] = r.normalised_score
        grades[code] = ComponentGrade(
            ects=ects_text(ects),
            grade=r.grade,
            scheme_id=r.scheme_id,
            scheme_kind=r.scheme_kind,
            normalised_score=r.normalised_score,
            passed=r.passed,
            attempt=r.attempt,
            result_id=r.result_id,
        )
    average = None
    if weight > 0:
        average = float((weighted / weight).quantize(Decimal("0.0001"), rounding=ROUND_HALF_EVEN))
    return GradeSummary(
        ects_earned=ects_text(earned), weighted_average=average, components=scores, component_grades=grades
    )


def fact_time(lo: LearnerOffering) -> datetime:
    """When the last fact an award rests on was established: the latest of the offering's schedule,
    the admission and, per component, the event that set the stated grade or attendance.

    A pure function of the state, so a replay that reaches the same state dates the award the same.
    """
    assert lo.offering is not None
    times = [lo.offering.scheduled_at]
    enrolment = lo.enrolment
    if enrolment is not None and enrolment.admitted_at is not None:
        times.append(enrolment.admitted_at)
    for code in lo.offering.components:
        standing = lo.components.get(code)
        if standing is None:
            continue
        times.extend(t for t in (standing.result_fact_at, standing.attendance_fact_at) if t is not None)
    return max(times)


# ------------------------------------------------------------------------ results as they arrive


@dataclass(frozen=True)
class ResultEventRecord:
    """A result event as logged (applied or not): what it was about and where it stands."""

    event_id: str
    kind: str  # recorded | corrected | withdrawn
    result_id: str
    attempt: int
    position: Position


def states_the_same(a: EffectiveResult | None, b: EffectiveResult | None) -> bool:
    """Whether two effective results state the same grade (a changed assessment date or remark
    does not change what a credential states, so it does not re-date an award)."""
    if a is None or b is None:
        return a is b
    return a.model_dump(exclude={"assessed_on"}) == b.model_dump(exclude={"assessed_on"})


def contributing_events(
    effective: EffectiveResult | None, log: Sequence[ResultEventRecord], applied_event_id: str
) -> tuple[str, ...]:
    """The events behind the effective result: its recording and corrections, plus the withdrawals
    of later attempts that made it count again. When none of those has arrived yet, the event that
    carried the effective result is the evidence."""
    if effective is None:
        return ()
    ordered = sorted(log, key=lambda e: (e.position.seq is None, e.position.seq or 0, e.position.at, e.event_id))
    own = [e.event_id for e in ordered if e.result_id == effective.result_id and e.kind != "withdrawn"]
    reinstating = [e.event_id for e in ordered if e.kind == "withdrawn" and e.attempt > effective.attempt]
    return tuple(dict.fromkeys([*(own or [applied_event_id]), *reinstating]))
