"""Re-evaluation: load learner-offerings' state, decide (pure), record the decisions.

Callers hold the learner locks (``state.lock_learner(s)``) and run inside the consumer's
transaction, so the award row, its event (event store + outbox), the issuance-queue row and the
evaluation are committed together with the inbox rows of the events that caused them — or not at all.

Set-based: :func:`reevaluate_many` takes every learner-offering a consumer batch touched and works in
rounds, each loading all its learner-offerings' state with one statement per table, deciding in
memory and writing with one (pipelined) statement per table. A round holds at most one
learner-offering per learner, so no two decisions of a round concern the same learner's awards (a
learner's second offering of a batch waits for the next round and sees the first one's award).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from tessera_credential.adapters import awards, state
from tessera_credential.adapters.awards import Evaluation, Request
from tessera_credential.adapters.state import LearnerOfferingKey
from tessera_credential.domain.decision import (
    ActiveAward,
    Decision,
    NewAward,
    Revocation,
    Supersession,
    decide,
    event_id_for,
)
from tessera_credential.domain.pathways import (
    ActivePathwayAward,
    HeldAward,
    PathwayGrant,
    PathwayRevocation,
    PathwayVersion,
    decide_pathway,
)
from tessera_credential.domain.standing import LearnerOffering
from tessera_shared.contract.credential import (
    AwardRevoked,
    AwardSuperseded,
    CredentialAwarded,
    PathwayAwarded,
    PathwayRevoked,
)
from tessera_shared.kernel.context import MessageContext
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import Append, EventStore


@dataclass(frozen=True)
class Cause:
    """The consumed event whose handling makes a decision: its id and time (never the clock), and
    the message context its handler ran in, so that the events it causes continue its trace."""

    event_id: str
    at: datetime
    context: MessageContext | None = None


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


@dataclass(frozen=True)
class _Ending:
    award_id: str
    status: str
    at: datetime
    reason: str
    superseded_by: str | None = None


@dataclass
class _Writes:
    """What one round of decisions writes, flushed in an order the unique indexes accept."""

    endings: list[_Ending] = field(default_factory=list)
    awards: list[tuple[NewAward, str, str]] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    appends: list[Append] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)

    def award(self, award: NewAward, cause: Cause) -> None:
        event_id = event_id_for(award.award_id, "awarded", award.supersedes or "")
        # The partial unique index awards_one_active refuses a second active award for the version.
        self.awards.append((award, event_id, cause.event_id))
        self.requests.append(Request("micro_credential", "issue", award.award_id, event_id))
        # expected version 0: the award's stream must not exist yet (a second guard on the same id)
        self.appends.append(Append(award_stream(award.award_id), 0, [_awarded_event(award)], [event_id], cause.context))

    def decision(self, lo: LearnerOffering, decision: Decision, cause: Cause) -> None:
        assert lo.offering is not None
        offering = lo.offering
        if isinstance(decision, NewAward):
            self.award(decision, cause)
        elif isinstance(decision, Revocation):
            event_id = event_id_for(decision.award_id, "revoked")
            self.endings.append(_Ending(decision.award_id, "revoked", cause.at, decision.reason))
            self.requests.append(Request("micro_credential", "revoke", decision.award_id, event_id))
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
            self.appends.append(Append(award_stream(decision.award_id), 1, [revoked], [event_id], cause.context))
        else:
            new = decision.new
            event_id = event_id_for(decision.old_award_id, "superseded", new.award_id)
            # the old one leaves the partial unique index before its successor enters it (flush order)
            self.endings.append(
                _Ending(decision.old_award_id, "superseded", new.awarded_at, decision.reason, new.award_id)
            )
            self.requests.append(Request("micro_credential", "supersede", decision.old_award_id, event_id))
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
            self.appends.append(Append(award_stream(decision.old_award_id), 1, [superseded], [event_id], cause.context))
            self.award(new, cause)

    async def flush(self, conn: Conn, store: EventStore) -> None:
        if self.awards and not self.endings:  # new awards only (the common case): one statement
            await awards.record_awards(conn, store, self.awards, self.requests, self.appends, self.evaluations)
            return
        for e in self.endings:  # rare (revocations, supersessions); each checks the award was active
            await awards.end_award(
                conn, e.award_id, status=e.status, at=e.at, reason=e.reason, superseded_by=e.superseded_by
            )
        await awards.insert_awards(conn, self.awards)
        await awards.enqueue(conn, self.requests)
        if self.appends:
            await store.append_many(conn, self.appends)
        await awards.save_evaluations(conn, self.evaluations)


def _evaluated_award(decision: Decision | None, active: ActiveAward | None, offering_id: str) -> str | None:
    """The award the evaluation of ``offering_id`` points at once the decision is made."""
    if isinstance(decision, NewAward):
        return decision.award_id
    if isinstance(decision, Supersession):
        return decision.new.award_id
    if isinstance(decision, Revocation) or active is None or active.offering_id != offering_id:
        return None
    return active.award_id


async def reevaluate(conn: Conn, store: EventStore, learner_id: str, offering_ids: list[str], cause: Cause) -> None:
    """Evaluate the learner in each offering (see :func:`reevaluate_many`)."""
    await reevaluate_many(conn, store, {(learner_id, o): cause for o in offering_ids})


async def reevaluate_many(conn: Conn, store: EventStore, touched: Mapping[LearnerOfferingKey, Cause]) -> None:
    """Evaluate each learner-offering and record what changes; then the pathways of what changed.

    A revocation frees the learner x version: the learner's other offerings of the same version are
    evaluated next (one of them may now award it), each at most once per call, so the cascade ends."""
    todo = dict(touched)
    cascaded: set[LearnerOfferingKey] = set()
    changed: dict[str, tuple[set[str], Cause]] = {}  # learner -> micro-credentials whose award changed
    while todo:
        now: dict[LearnerOfferingKey, Cause] = {}
        later: dict[LearnerOfferingKey, Cause] = {}
        learners: set[str] = set()
        for key, cause in todo.items():
            (later if key[0] in learners else now)[key] = cause
            learners.add(key[0])
        los, held = await state.load_round(conn, list(now))
        versions = {
            key: (lo.learner_id, lo.offering.micro_credential_id, lo.offering.micro_credential_version)
            for key, lo in los.items()
            if lo.offering is not None
        }
        writes = _Writes()
        revoked: list[LearnerOfferingKey] = []
        for key, cause in now.items():
            lo = los[key]
            active, taken = held.get(versions[key], (None, [])) if key in versions else (None, [])
            verdict = decide(lo, active, taken)
            decision = verdict.decision
            if decision is not None:
                writes.decision(lo, decision, cause)
                assert lo.offering is not None
                mcs, _ = changed.get(lo.learner_id, (set(), cause))
                changed[lo.learner_id] = (mcs | {lo.offering.micro_credential_id}, cause)
                if isinstance(decision, Revocation):
                    revoked.append(key)
            writes.evaluations.append(
                Evaluation(
                    lo.learner_id,
                    lo.offering_id,
                    verdict.outcome,
                    verdict.explanation,
                    _evaluated_award(decision, active, lo.offering_id),
                    cause.event_id,
                    cause.at,
                )
            )
        await writes.flush(conn, store)
        if revoked:
            for via, others in (await state.other_offerings_of_versions(conn, revoked)).items():
                for other in others:
                    key = (via[0], other)
                    if key not in cascaded and key not in later:
                        cascaded.add(key)
                        later[key] = now[via]
        todo = later
    # one statement reads every pathway any changed award may concern (usually none) and what the
    # changed learners' pathway decisions rest on
    if not changed:
        return
    pathways, standings = await awards.pathways_and_standings(
        conn, sorted(set().union(*(m for m, _ in changed.values()))), sorted(changed)
    )
    concerned: dict[str, tuple[dict[str, list[PathwayVersion]], Cause]] = {}
    for learner_id in sorted(changed):
        mcs, cause = changed[learner_id]
        mine = {pathway_id: versions for pathway_id, (members, versions) in pathways.items() if members & mcs}
        if mine:
            concerned[learner_id] = (mine, cause)
    await evaluate_pathways(conn, store, concerned, standings)


async def evaluate_pathway(conn: Conn, store: EventStore, learner_id: str, pathway_id: str, cause: Cause) -> None:
    """Award or revoke the learner's pathway credential as their active awards now stand."""
    versions = await awards.pathway_versions(conn, pathway_id)
    await evaluate_pathways(conn, store, {learner_id: ({pathway_id: versions}, cause)})


async def evaluate_pathways(
    conn: Conn,
    store: EventStore,
    concerned: Mapping[str, tuple[Mapping[str, list[PathwayVersion]], Cause]],
    standings: Mapping[str, awards.Standing] | None = None,
) -> None:
    """:func:`evaluate_pathway` for each learner's pathways (learner → (pathway id → its versions,
    the cause)), on one read of every learner's awards (``standings``, when the caller read them
    with the pathways, in this transaction): a pathway decision writes only pathway awards of its
    own learner, so each sees what the read saw."""
    if not concerned:
        return
    if standings is None:
        wanted = sorted({pathway_id for mine, _ in concerned.values() for pathway_id in mine})
        standings = await awards.pathway_standings(conn, sorted(concerned), wanted)
    appends: list[Append] = []
    for learner_id, (mine, cause) in sorted(concerned.items()):
        held, standing = standings[learner_id]
        for pathway_id in sorted(mine):
            active, taken = standing.get(pathway_id, (None, []))
            appends.extend(await _decide_pathway(conn, learner_id, mine[pathway_id], active, held, taken, cause))
    await store.append_many(conn, appends)


async def _decide_pathway(
    conn: Conn,
    learner_id: str,
    versions: list[PathwayVersion],
    active: ActivePathwayAward | None,
    held: list[HeldAward],
    taken: list[str],
    cause: Cause,
) -> list[Append]:
    appends: list[Append] = []
    for d in decide_pathway(learner_id, versions, active, held, taken):
        if isinstance(d, PathwayRevocation):
            event_id = event_id_for(d.award_id, "pathway-revoked")
            await awards.revoke_pathway_award(conn, d.award_id, cause.at, d.reason)
            await awards.enqueue(conn, [Request("pathway", "revoke", d.award_id, event_id)])
            event = PathwayRevoked(
                award_id=d.award_id,
                learner_id=learner_id,
                pathway_id=d.pathway_id,
                pathway_version=d.pathway_version,
                revoked_at=cause.at,
                reason=d.reason,
            )
            appends.append(Append(pathway_award_stream(d.award_id), 1, [event], [event_id], cause.context))
        else:
            assert isinstance(d, PathwayGrant)
            event_id = event_id_for(d.award_id, "pathway-awarded")
            # the partial unique index pathway_awards_one_active makes this once per learner × pathway
            await awards.insert_pathway_award(conn, learner_id, d, event_id, cause.event_id)
            await awards.enqueue(conn, [Request("pathway", "issue", d.award_id, event_id)])
            awarded = PathwayAwarded(
                award_id=d.award_id,
                learner_id=learner_id,
                pathway_id=d.pathway_id,
                pathway_version=d.pathway_version,
                constituent_award_ids=d.constituent_award_ids,
                awarded_at=d.awarded_at,
                explanation=d.explanation.model_dump(mode="json"),
            )
            appends.append(Append(pathway_award_stream(d.award_id), 0, [awarded], [event_id], cause.context))
    return appends
