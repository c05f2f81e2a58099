"""The award decision: a pure function of one learner-offering's state and the learner's active
award for that micro-credential version. No clock, no randomness: times come from the events
(:func:`~tessera_credential.domain.standing.fact_time`), ids are derived from the content.

    offering unknown                       -> wait (results and enrolments are kept)
    criteria met and enrolment admitted    -> award, or keep the award; supersede it when what it
                                              states (the grade summary) changed
    otherwise, with an award of this offering -> revoke it (reason: the unmet criteria or the ended
                                              enrolment)
    an active award of the same version via another offering -> nothing (one award per version)
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import count

from tessera_credential.domain.standing import LearnerOffering, fact_time, grade_summary
from tessera_shared.contract.credential import GradeSummary
from tessera_shared.contract.criteria import Explanation, evaluate

# Fixed namespace of every id the engine derives (awards, pathway awards, the events about them).
NAMESPACE = uuid.UUID("5f0c9a8e-7b1d-4c2e-9a63-3d2f6e1b8c47")


class Outcome(StrEnum):
    WAITING_FOR_OFFERING = "waiting_for_offering"  # results/enrolment known, OfferingScheduled not yet
    NOT_MET = "not_met"
    MET_NOT_ADMITTED = "met_not_admitted"  # criteria met; no admitted enrolment (yet)
    ENROLMENT_ENDED = "enrolment_ended"  # cancelled, withdrawn or rejected: never awarded
    AWARDED = "awarded"  # met, admitted, and this offering's award is active
    HELD_VIA_OTHER_OFFERING = "held_via_other_offering"  # same version already awarded elsewhere


@dataclass(frozen=True)
class ActiveAward:
    award_id: str
    offering_id: str
    grade_summary: GradeSummary


@dataclass(frozen=True)
class NewAward:
    award_id: str
    learner_id: str
    micro_credential_id: str
    micro_credential_version: int
    offering_id: str
    enrolment_id: str | None
    awarded_at: datetime
    explanation: Explanation
    grade_summary: GradeSummary
    supersedes: str | None = None


@dataclass(frozen=True)
class Revocation:
    award_id: str
    reason: str
    explanation: Explanation | None


@dataclass(frozen=True)
class Supersession:
    old_award_id: str
    new: NewAward
    reason: str


Decision = NewAward | Revocation | Supersession


@dataclass(frozen=True)
class Verdict:
    outcome: Outcome
    explanation: Explanation | None  # None while the offering is unknown
    decision: Decision | None


def summary_key(summary: GradeSummary) -> str:
    return hashlib.sha256(summary.model_dump_json().encode()).hexdigest()[:32]


def award_id_for(
    learner_id: str, mc_id: str, version: int, offering_id: str, summary: GradeSummary, taken: Iterable[str]
) -> str:
    """Deterministic: the same learner, version, offering and grade summary give the same id, so a
    replay that reaches the same state re-creates the same award (and the same event ids). ``taken``
    (every award id of this learner × version so far) makes a re-award after a revocation new."""
    used = set(taken)
    key = summary_key(summary)
    for n in count():
        candidate = str(uuid.uuid5(NAMESPACE, f"award|{learner_id}|{mc_id}|{version}|{offering_id}|{key}|{n}"))
        if candidate not in used:
            return candidate
    raise AssertionError("unreachable")


def event_id_for(award_id: str, kind: str, detail: str = "") -> str:
    """The id of the event recording ``kind`` for an award: the same fact always has the same id,
    so consumers' inboxes (and JetStream's duplicate window) drop a re-publication after a replay."""
    return str(uuid.uuid5(NAMESPACE, f"event|{award_id}|{kind}|{detail}"))


def unmet_reasons(explanation: Explanation) -> list[str]:
    """The summaries of the criteria that make ``explanation`` unmet (leaves under unmet nodes)."""
    if explanation.met:
        return []
    if not explanation.children:
        return [f"{explanation.path}: {explanation.summary}"]
    return [reason for child in explanation.children for reason in unmet_reasons(child)]


def _grade(summary: GradeSummary, code: str) -> str:
    g = summary.component_grades.get(code)
    if g is None:
        return "no result" if code not in summary.components else str(summary.components[code])
    return f"{g.grade} ({g.normalised_score:g}, attempt {g.attempt})"


def summary_changes(old: GradeSummary, new: GradeSummary) -> str:
    """A human description of what changed between two grade summaries."""
    parts: list[str] = []
    for code in dict.fromkeys([*old.components, *new.components]):
        before, after = _grade(old, code), _grade(new, code)
        if before != after:
            parts.append(f"{code} {before} -> {after}")
    if old.ects_earned != new.ects_earned:
        parts.append(f"ECTS earned {old.ects_earned} -> {new.ects_earned}")
    if old.weighted_average != new.weighted_average:
        parts.append(f"weighted average {old.weighted_average} -> {new.weighted_average}")
    return "; ".join(parts) or "grade summary changed"


def _not_awarded_outcome(lo: LearnerOffering, met: bool) -> Outcome:
    if lo.enrolment_ended:
        return Outcome.ENROLMENT_ENDED
    return Outcome.MET_NOT_ADMITTED if met else Outcome.NOT_MET


def _revocation_reason(lo: LearnerOffering, explanation: Explanation) -> str:
    enrolment = lo.enrolment
    if enrolment is not None and lo.enrolment_ended:
        return f"enrolment {enrolment.enrolment_id} was {enrolment.status.value}"
    if not explanation.met:
        return "criteria no longer met: " + "; ".join(unmet_reasons(explanation))
    return "no admitted enrolment"


def decide(lo: LearnerOffering, active: ActiveAward | None, taken: Iterable[str] = ()) -> Verdict:
    """Evaluate ``lo`` with the reference evaluator and decide what happens to its award.

    ``active`` is the learner's active award for the offering's micro-credential version (from any
    offering); ``taken`` every award id ever made for that learner × version.
    """
    offering = lo.offering
    if offering is None:
        return Verdict(Outcome.WAITING_FOR_OFFERING, None, None)
    explanation = evaluate(offering.criteria, lo.facts())
    if active is not None and active.offering_id != lo.offering_id:
        return Verdict(Outcome.HELD_VIA_OTHER_OFFERING, explanation, None)
    should_hold = explanation.met and lo.awardable
    if not should_hold:
        outcome = _not_awarded_outcome(lo, explanation.met)
        if active is None:
            return Verdict(outcome, explanation, None)
        return Verdict(
            outcome, explanation, Revocation(active.award_id, _revocation_reason(lo, explanation), explanation)
        )

    summary = grade_summary(lo)
    if active is not None and active.grade_summary == summary:
        return Verdict(Outcome.AWARDED, explanation, None)
    enrolment = lo.enrolment
    new = NewAward(
        award_id=award_id_for(
            lo.learner_id,
            offering.micro_credential_id,
            offering.micro_credential_version,
            lo.offering_id,
            summary,
            [*taken, *([active.award_id] if active else [])],
        ),
        learner_id=lo.learner_id,
        micro_credential_id=offering.micro_credential_id,
        micro_credential_version=offering.micro_credential_version,
        offering_id=lo.offering_id,
        enrolment_id=enrolment.enrolment_id if enrolment else None,
        awarded_at=fact_time(lo),
        explanation=explanation,
        grade_summary=summary,
        supersedes=active.award_id if active else None,
    )
    if active is None:
        return Verdict(Outcome.AWARDED, explanation, new)
    reason = "correction changed what the credential states: " + summary_changes(active.grade_summary, summary)
    return Verdict(Outcome.AWARDED, explanation, Supersession(active.award_id, new, reason))
