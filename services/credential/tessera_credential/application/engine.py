"""Re-evaluation: load a learner-offering's state, decide (pure), record the decision.

Callers hold the learner lock (``state.lock_learner``) and run inside the consumer's transaction,
so the award row, its event (event store + outbox), the issuance-queue row and the evaluation are
committed together with the inbox row of the event that caused them — or not at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tessera_credential.adapters import awards, state
from tessera_credential.domain.decision import (
    ActiveAward,
    Decision,
    NewAward,
    Revocation,
    Supersession,
    decide,
    event_id_for,
)
from tessera_credential.domain.pathways import PathwayGrant, PathwayRevocation, decide_pathway
from tessera_credential.domain.standing import LearnerOffering
from tessera_shared.contract.credential import (
    AwardRevoked,
    AwardSuperseded,
    CredentialAwarded,
    PathwayAwarded,
    PathwayRevoked,
)
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import Append, EventStore


@dataclass(frozen=True)
class Cause:
    """The consumed event whose handling makes a decision: its id and time (never the clock)."""

    event_id: str
    at: datetime


def award_stream(award_id: str) -> str:
    return f"award-{award_id}"


def pathway_award_stream(award_id: str) -> str:
    return f"pathway-award-{award_id}"


def _awarded_event(award: NewAward) -> CredentialAwarded:
    return CredentialAwarded(
        award_id=award.award_id,
        learner_id=award.learner_id,
        micro_credential_id=award.micro_credential_id,
        micro_credential_version=award.micro_credential_version,
        offering_id=award.offering_id,
        enrolment_id=award.enrolment_id,
        awarded_at=award.awarded_at,
        explanation=award.explanation.model_dump(mode="json"),
        grade_summary=award.grade_summary,
        supersedes=award.supersedes,
    )


async def _record_award(conn: Conn, store: EventStore, award: NewAward, cause: Cause) -> Append:
    event_id = event_id_for(award.award_id, "awarded", award.supersedes or "")
    # The partial unique index awards_one_active refuses a second active award for the version.
    await awards.insert_award(conn, award, event_id, cause.event_id)
    await awards.enqueue(
        conn, award_kind="micro_credential", action="issue", award_id=award.award_id, event_id=event_id
    )
    # expected version 0: the award's stream must not exist yet (a second guard on the same id)
    return Append(award_stream(award.award_id), 0, [_awarded_event(award)], [event_id])


async def apply_decision(conn: Conn, store: EventStore, lo: LearnerOffering, decision: Decision, cause: Cause) -> None:
    assert lo.offering is not None
    offering = lo.offering
    appends: list[Append] = []
    if isinstance(decision, NewAward):
        appends.append(await _record_award(conn, store, decision, cause))
    elif isinstance(decision, Revocation):
        event_id = event_id_for(decision.award_id, "revoked")
        await awards.end_award(conn, decision.award_id, status="revoked", at=cause.at, reason=decision.reason)
        await awards.enqueue(
            conn, award_kind="micro_credential", action="revoke", award_id=decision.award_id, event_id=event_id
        )
        revoked = AwardRevoked(
            award_id=decision.award_id,
            revoked_at=cause.at,
            reason=decision.reason,
            explanation=decision.explanation.model_dump(mode="json") if decision.explanation else None,
            learner_id=lo.learner_id,
            micro_credential_id=offering.micro_credential_id,
            micro_credential_version=offering.micro_credential_version,
            offering_id=lo.offering_id,
        )
        appends.append(Append(award_stream(decision.award_id), 1, [revoked], [event_id]))
    else:
        new = decision.new
        event_id = event_id_for(decision.old_award_id, "superseded", new.award_id)
        # the old one leaves the partial unique index before its successor enters it
        await awards.end_award(
            conn,
            decision.old_award_id,
            status="superseded",
            at=new.awarded_at,
            reason=decision.reason,
            superseded_by=new.award_id,
        )
        await awards.enqueue(
            conn, award_kind="micro_credential", action="supersede", award_id=decision.old_award_id, event_id=event_id
        )
        superseded = AwardSuperseded(
            award_id=decision.old_award_id,
            superseded_by=new.award_id,
            superseded_at=new.awarded_at,
            reason=decision.reason,
            learner_id=lo.learner_id,
            micro_credential_id=offering.micro_credential_id,
            micro_credential_version=offering.micro_credential_version,
            offering_id=lo.offering_id,
        )
        appends.append(Append(award_stream(decision.old_award_id), 1, [superseded], [event_id]))
        appends.append(await _record_award(conn, store, new, cause))
    await store.append_many(conn, appends)


async def reevaluate(conn: Conn, store: EventStore, learner_id: str, offering_ids: list[str], cause: Cause) -> None:
    """Evaluate the learner in each offering and record what changes; then the pathways touched.

    A revocation frees the learner × version: the learner's other offerings of the same version are
    evaluated next (one of them may now award it). Each offering is evaluated at most once per call
    (``seen``), so the cascade ends."""
    queue = list(dict.fromkeys(offering_ids))
    seen = set(queue)
    changed: set[str] = set()
    while queue:
        offering_id = queue.pop(0)
        lo = await state.load_learner_offering(conn, learner_id, offering_id)
        active: ActiveAward | None = None
        taken: list[str] = []
        if lo.offering is not None:
            active, taken = await awards.active_and_taken(
                conn, learner_id, lo.offering.micro_credential_id, lo.offering.micro_credential_version
            )
        verdict = decide(lo, active, taken)
        decision = verdict.decision
        if decision is not None:
            await apply_decision(conn, store, lo, decision, cause)
        if isinstance(decision, NewAward):
            award_id: str | None = decision.award_id
        elif isinstance(decision, Supersession):
            award_id = decision.new.award_id
        elif isinstance(decision, Revocation) or active is None or active.offering_id != offering_id:
            award_id = None
        else:
            award_id = active.award_id
        await awards.save_evaluation(
            conn,
            learner_id,
            offering_id,
            outcome=verdict.outcome,
            explanation=verdict.explanation,
            award_id=award_id,
            cause_id=cause.event_id,
            cause_at=cause.at,
        )
        if decision is None or lo.offering is None:
            continue
        changed.add(lo.offering.micro_credential_id)
        if isinstance(decision, Revocation):
            for other in await state.other_offerings_of_version(
                conn, learner_id, lo.offering.micro_credential_id, lo.offering.micro_credential_version, offering_id
            ):
                if other not in seen:
                    seen.add(other)
                    queue.append(other)
    if changed:
        for pathway_id in await awards.pathways_with_members(conn, sorted(changed)):
            await evaluate_pathway(conn, store, learner_id, pathway_id, cause)


async def evaluate_pathway(conn: Conn, store: EventStore, learner_id: str, pathway_id: str, cause: Cause) -> None:
    """Award or revoke the learner's pathway credential as their active awards now stand."""
    versions = await awards.pathway_versions(conn, pathway_id)
    held = await awards.held_awards(conn, learner_id)
    active, taken = await awards.active_pathway_award(conn, learner_id, pathway_id)
    appends: list[Append] = []
    for d in decide_pathway(learner_id, versions, active, held, taken):
        if isinstance(d, PathwayRevocation):
            event_id = event_id_for(d.award_id, "pathway-revoked")
            await awards.revoke_pathway_award(conn, d.award_id, cause.at, d.reason)
            await awards.enqueue(conn, award_kind="pathway", action="revoke", award_id=d.award_id, event_id=event_id)
            event = PathwayRevoked(
                award_id=d.award_id,
                learner_id=learner_id,
                pathway_id=d.pathway_id,
                pathway_version=d.pathway_version,
                revoked_at=cause.at,
                reason=d.reason,
            )
            appends.append(Append(pathway_award_stream(d.award_id), 1, [event], [event_id]))
        else:
            assert isinstance(d, PathwayGrant)
            event_id = event_id_for(d.award_id, "pathway-awarded")
            # the partial unique index pathway_awards_one_active makes this once per learner × pathway
            await awards.insert_pathway_award(conn, learner_id, d, event_id, cause.event_id)
            await awards.enqueue(conn, award_kind="pathway", action="issue", award_id=d.award_id, event_id=event_id)
            awarded = PathwayAwarded(
                award_id=d.award_id,
                learner_id=learner_id,
                pathway_id=d.pathway_id,
                pathway_version=d.pathway_version,
                constituent_award_ids=d.constituent_award_ids,
                awarded_at=d.awarded_at,
                explanation=d.explanation.model_dump(mode="json"),
            )
            appends.append(Append(pathway_award_stream(d.award_id), 0, [awarded], [event_id]))
    await store.append_many(conn, appends)
