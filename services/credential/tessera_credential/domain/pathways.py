"""Stacking: whether a learner's valid awards earn a pathway credential (pure).

A pathway names micro-credentials (any version counts) and a rule (all of them, at least N, an ECTS
total); the reference :func:`~tessera_shared.contract.criteria.evaluate_pathway` decides whether the
learner's *active* awards meet it. A learner holds at most one active award per pathway (any
version; the database enforces it):

    an active pathway award whose rule is still met          -> keep it
    an active pathway award whose rule is no longer met      -> revoke it, then look again
    no active pathway award                                  -> award the highest published
                                                                version whose rule is met
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import count

from tessera_credential.domain.decision import NAMESPACE
from tessera_shared.contract.criteria import Explanation, PathwayMember, PathwayRule, evaluate_pathway


@dataclass(frozen=True)
class PathwayVersion:
    pathway_id: str
    version: int
    rule: PathwayRule
    members: tuple[PathwayMember, ...]
    published_at: datetime


@dataclass(frozen=True)
class HeldAward:
    """An active micro-credential award of the learner."""

    award_id: str
    micro_credential_id: str
    awarded_event_id: str
    awarded_at: datetime


@dataclass(frozen=True)
class ActivePathwayAward:
    award_id: str
    pathway_id: str
    pathway_version: int


@dataclass(frozen=True)
class PathwayGrant:
    award_id: str
    pathway_id: str
    pathway_version: int
    constituent_award_ids: tuple[str, ...]
    awarded_at: datetime
    explanation: Explanation


@dataclass(frozen=True)
class PathwayRevocation:
    award_id: str
    pathway_id: str
    pathway_version: int
    reason: str
    explanation: Explanation


PathwayDecision = PathwayGrant | PathwayRevocation


def pathway_award_id_for(learner_id: str, pathway_id: str, version: int, taken: Iterable[str]) -> str:
    used = set(taken)
    for n in count():
        candidate = str(uuid.uuid5(NAMESPACE, f"pathway-award|{learner_id}|{pathway_id}|{version}|{n}"))
        if candidate not in used:
            return candidate
    raise AssertionError("unreachable")


def _held_map(held: Sequence[HeldAward]) -> dict[str, list[str]]:
    by_mc: dict[str, list[str]] = {}
    for award in sorted(held, key=lambda a: (a.micro_credential_id, a.award_id)):
        by_mc.setdefault(award.micro_credential_id, []).append(award.awarded_event_id)
    return by_mc


def evaluate_version(version: PathwayVersion, held: Sequence[HeldAward]) -> Explanation:
    return evaluate_pathway(version.rule, version.members, _held_map(held))


def decide_pathway(
    learner_id: str,
    versions: Sequence[PathwayVersion],
    active: ActivePathwayAward | None,
    held: Sequence[HeldAward],
    taken: Iterable[str] = (),
) -> list[PathwayDecision]:
    """What happens to the learner's award of one pathway (all ``versions`` share its id)."""
    by_version = {v.version: v for v in versions}
    decisions: list[PathwayDecision] = []
    taken_ids = set(taken)
    if active is not None:
        current = by_version.get(active.pathway_version)
        if current is None:  # its definition is unknown here: nothing to judge it by
            return []
        explanation = evaluate_version(current, held)
        if explanation.met:
            return []
        missing = ", ".join(explanation.missing) or "none"
        reason = f"a required award is no longer valid: {explanation.summary}; missing: {missing}"
        decisions.append(
            PathwayRevocation(active.award_id, active.pathway_id, active.pathway_version, reason, explanation)
        )
        taken_ids.add(active.award_id)
    for version in sorted(versions, key=lambda v: v.version, reverse=True):
        explanation = evaluate_version(version, held)
        if not explanation.met:
            continue
        members = {m.micro_credential_id for m in version.members}
        counted = sorted((a for a in held if a.micro_credential_id in members), key=lambda a: a.award_id)
        decisions.append(
            PathwayGrant(
                award_id=pathway_award_id_for(learner_id, version.pathway_id, version.version, taken_ids),
                pathway_id=version.pathway_id,
                pathway_version=version.version,
                constituent_award_ids=tuple(a.award_id for a in counted),
                awarded_at=max([version.published_at, *(a.awarded_at for a in counted)]),
                explanation=explanation,
            )
        )
        break
    return decisions
