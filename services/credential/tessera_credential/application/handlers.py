"""Event handlers: catalogue, enrolment and assessment events into the engine's state.

Each handler runs inside the consumer's batch transaction after the event's inbox row (so once per
event id). Handlers that change what an award rests on take the learner lock first, store the fact
behind its ordering guard, then have the learner-offering re-evaluated. Raising makes the kernel
retry the event.

Re-evaluation is deferred to the end of the batch: the batch hook's :class:`LearnerBatch` collects
the learner-offerings the handlers touched (with the latest event as the cause), and the kernel's
``finish_batch`` (:func:`evaluate_batch`) re-evaluates them all at once, set-based
(``engine.reevaluate_many``), in the same transaction. A learner whose three results arrive in one
batch is evaluated once, on all three. In the careful mode both hooks run per message, so a failing
evaluation is that message's failure. A handler called without the hook re-evaluates at once.

The enrolment and assessment consumers lock every learner of a batch at once, sorted, before the
handlers (:func:`lock_batch`, the kernel's ``prepare_batch``); a handler's ``lock_learner`` then
costs nothing, and two batches never wait on each other in a cycle. Their batches are also split by
learner (:func:`learner_of`) into concurrent transactions. The catalogue consumer does neither: its
handlers take the definitions lock exclusively, which a shared hold from the hook would deadlock.
Handlers still lock for themselves when ``Delivery.prepared`` is not such a lock (called directly).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import cast

from tessera_credential.adapters import awards, state
from tessera_credential.application.engine import Cause, evaluate_pathway, reevaluate, reevaluate_many
from tessera_credential.domain.ordering import (
    EnrolmentStatus,
    Position,
    attendance_is_newer,
    decides_nothing,
    later_status,
)
from tessera_credential.domain.standing import decimal_of, states_the_same
from tessera_shared.contract.assessment import AttendanceRecorded, ResultCorrected, ResultRecorded, ResultWithdrawn
from tessera_shared.contract.base import Event
from tessera_shared.contract.catalogue import (
    InstitutionRegistered,
    InstitutionUpdated,
    MicroCredentialVersionPublished,
    OfferingScheduled,
    PathwayPublished,
)
from tessera_shared.contract.enrolment import (
    EnrolmentAdmitted,
    EnrolmentCancelled,
    EnrolmentCompleted,
    EnrolmentNotCompleted,
    EnrolmentPendingReview,
    EnrolmentPromoted,
    EnrolmentRejected,
    EnrolmentRequested,
    EnrolmentWaitlisted,
    EnrolmentWithdrawn,
    LearnerRegistered,
    LearnerUpdated,
)
from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.topology import Subscription
from tessera_shared.kernel import context
from tessera_shared.kernel.consumer import ConsumerSpec, Delivery, Handler
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import EventStore


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def position(delivery: Delivery) -> Position:
    return position_of(delivery.envelope)


def position_of(env: Envelope) -> Position:
    return Position(env.subject, env.streamversion, _aware(env.time), env.id)


def cause(delivery: Delivery) -> Cause:
    """The handled event as the cause of what its handling decides (in the kernel's bound context)."""
    return Cause(delivery.envelope.id, _aware(delivery.envelope.time), context.current())


@dataclass(frozen=True)
class LearnerBatch(state.LockedLearners):
    """What the batch hook prepared: the learners it locked and the learner-offerings it recorded
    (``award_learner_offerings``), plus, filled by the handlers, each learner-offering to re-evaluate
    at the end of the batch with its latest cause."""

    touched: dict[state.LearnerOfferingKey, Cause] = field(default_factory=dict)
    recorded: frozenset[state.LearnerOfferingKey] = frozenset()
    results: state.ResultLog = field(default_factory=state.ResultLog.empty)  # the batch's result events


async def _record(d: Delivery, learner_id: str, offering_id: str) -> None:
    """The learner has facts in the offering (the hook recorded it for the whole batch already)."""
    prepared = d.prepared
    if not (isinstance(prepared, LearnerBatch) and (learner_id, offering_id) in prepared.recorded):
        await state.touch_learner_offerings(d.conn, [(learner_id, offering_id)])


async def _reevaluate(d: Delivery, learner_id: str, offering_id: str, *, changed: bool = True) -> None:
    """At the end of the batch if the hook prepared one, else now.

    ``changed``: the event changed a stored fact. Only such an event becomes the learner-offering's
    cause (what a revocation's time and trace come from) and moves it to the end of the batch's
    order, so that learner-offerings are decided in the order their facts last changed — as one
    by one: of two editions of a version completed in one batch, the one completed first awards."""
    key = (learner_id, offering_id)
    if isinstance(d.prepared, LearnerBatch):
        touched = d.prepared.touched
        if changed or key not in touched:
            touched.pop(key, None)
            touched[key] = cause(d)
    else:
        await reevaluate(d.conn, d.store, learner_id, [offering_id], cause(d))


# ------------------------------------------------------------------------------------ catalogue


async def on_institution(event: InstitutionRegistered | InstitutionUpdated, d: Delivery) -> None:
    profile = event.institution
    await state.save_institution(d.conn, profile.institution_id, profile.model_dump(mode="json"), position(d))


async def on_version_published(event: MicroCredentialVersionPublished, d: Delivery) -> None:
    await state.save_definition(
        d.conn, event.micro_credential_id, event.version, event.definition.model_dump(mode="json"), d.envelope.id
    )


async def on_offering_scheduled(event: OfferingScheduled, d: Delivery) -> None:
    """Pin the criteria; learners whose results or enrolment arrived first are evaluated now."""
    await state.lock_definitions(d.conn, exclusive=True)  # every learner transaction in flight is visible
    if not await state.save_offering(d.conn, event.model_dump(mode="json"), cause(d).at, d.envelope.id):
        return
    learners = await state.learners_in_offering(d.conn, event.offering_id)  # sorted: the fixed lock order
    await state.lock_learners(d.conn, learners)
    await reevaluate_many(d.conn, d.store, {(learner_id, event.offering_id): cause(d) for learner_id in learners})


async def on_pathway_published(event: PathwayPublished, d: Delivery) -> None:
    members = sorted(m.micro_credential_id for m in event.definition.members)
    await state.lock_definitions(d.conn, exclusive=True)  # every award in flight is visible
    await state.save_pathway(
        d.conn, event.pathway_id, event.version, event.definition.model_dump(mode="json"), cause(d).at, d.envelope.id
    )
    for learner_id in await awards.learners_holding(d.conn, members):
        await state.lock_learner(d.conn, learner_id)
        await evaluate_pathway(d.conn, d.store, learner_id, event.pathway_id, cause(d))


# ------------------------------------------------------------------------------------ enrolment


async def on_learner(event: LearnerRegistered | LearnerUpdated, d: Delivery) -> None:
    """Name and email are kept for part 2's badge (personal data travels only in these events)."""
    profile = event.learner
    await state.save_learner_profile(
        d.conn, profile.learner_id, profile.model_dump(mode="json"), position(d), d.prepared
    )


_STATUS: dict[type[Event], EnrolmentStatus] = {
    EnrolmentRequested: EnrolmentStatus.REQUESTED,
    EnrolmentPendingReview: EnrolmentStatus.PENDING_REVIEW,
    EnrolmentWaitlisted: EnrolmentStatus.WAITLISTED,
    EnrolmentPromoted: EnrolmentStatus.PROMOTED,
    EnrolmentAdmitted: EnrolmentStatus.ADMITTED,
    EnrolmentRejected: EnrolmentStatus.REJECTED,
    EnrolmentCancelled: EnrolmentStatus.CANCELLED,
    EnrolmentWithdrawn: EnrolmentStatus.WITHDRAWN,
    EnrolmentCompleted: EnrolmentStatus.COMPLETED,
    EnrolmentNotCompleted: EnrolmentStatus.NOT_COMPLETED,
}
EnrolmentEvent = (
    EnrolmentRequested
    | EnrolmentPendingReview
    | EnrolmentWaitlisted
    | EnrolmentPromoted
    | EnrolmentAdmitted
    | EnrolmentRejected
    | EnrolmentCancelled
    | EnrolmentWithdrawn
    | EnrolmentCompleted
    | EnrolmentNotCompleted
)


async def on_enrolment(event: EnrolmentEvent, d: Delivery) -> None:
    pos = position(d)
    await state.lock_learner(d.conn, event.learner_id, d.prepared)
    await _record(d, event.learner_id, event.offering_id)
    incoming = _STATUS[type(event)]
    admission = pos.at if isinstance(event, EnrolmentAdmitted) else None
    current, enrolments = await state.advance_enrolment(
        d.conn,
        enrolment_id=event.enrolment_id,
        learner_id=event.learner_id,
        offering_id=event.offering_id,
        mc_id=event.micro_credential_id,
        version=event.micro_credential_version,
        status=incoming,
        admitted_at=admission,
        pos=pos,
    )
    # what the statement did, decided again from what stood before (the same rule)
    before, admitted_at = current if current is not None else (None, None)
    status = later_status(before, incoming)
    admission_changed = current is not None and admitted_at is None and admission is not None
    changed = current is None or status != before or admission_changed
    if not decides_nothing(before, status, admission_changed=admission_changed, enrolments=enrolments):
        await _reevaluate(d, event.learner_id, event.offering_id, changed=changed)


# ----------------------------------------------------------------------------------- assessment

_KIND: dict[type[Event], str] = {ResultRecorded: "recorded", ResultCorrected: "corrected", ResultWithdrawn: "withdrawn"}


async def on_result(event: ResultRecorded | ResultCorrected | ResultWithdrawn, d: Delivery) -> None:
    """Keep the ``effective`` result of the newest event per component (see domain/ordering.py)."""
    pos = position(d)
    learner, offering, component = event.learner_id, event.offering_id, event.component_code
    await state.lock_learner(d.conn, learner, d.prepared)
    await _record(d, learner, offering)
    batch = d.prepared.results if isinstance(d.prepared, LearnerBatch) else None
    if batch is not None and pos.event_id in batch.logged:  # the batch hook logged it with the others
        current, first = batch.current.get((learner, offering, component)), pos.event_id in batch.first
    else:
        current, first = await state.log_result_event(d.conn, _result_event(event, pos))
    newer = current is None or pos.is_after(current[2])
    fact_at = pos.at
    if newer and not first:  # (the component's first result was stored with the log)
        if current is not None and states_the_same(current[0], event.effective):
            fact_at = current[1]
        await state.save_result(d.conn, learner, offering, component, event.effective, fact_at, pos)
    if batch is not None and newer:  # what the batch's next event of this component is decided against
        batch.current[(learner, offering, component)] = (event.effective, fact_at, pos)
    await _reevaluate(d, learner, offering, changed=newer)


def _result_event(event: ResultRecorded | ResultCorrected | ResultWithdrawn, pos: Position) -> state.ResultEvent:
    return state.ResultEvent(
        learner_id=event.learner_id,
        offering_id=event.offering_id,
        component=event.component_code,
        kind=_KIND[type(event)],
        result_id=event.result_id,
        attempt=event.attempt,
        effective=event.effective,
        pos=pos,
    )


async def on_attendance(event: AttendanceRecorded, d: Delivery) -> None:
    pos = position(d)
    learner, offering, component = event.learner_id, event.offering_id, event.component_code
    await state.lock_learner(d.conn, learner, d.prepared)
    await _record(d, learner, offering)
    percentage = decimal_of(event.percentage)
    current = await state.current_attendance(d.conn, learner, offering, component)
    newer = current is None or attendance_is_newer(event.period_end, pos, current[1], current[3])
    if newer:
        fact_at = current[2] if current is not None and current[0] == percentage else pos.at
        await state.save_attendance(d.conn, learner, offering, component, percentage, event.period_end, fact_at, pos)
    await _reevaluate(d, learner, offering, changed=newer)


# ------------------------------------------------------------------------------------ consumers


def learner_of(event: Event) -> str | None:
    """The learner an enrolment or assessment event is about (the lock it needs)."""
    if isinstance(event, LearnerRegistered | LearnerUpdated):
        return event.learner.learner_id
    learner_id = getattr(event, "learner_id", None)
    return learner_id if isinstance(learner_id, str) else None


async def lock_batch(conn: Conn, events: Sequence[tuple[Event, Envelope]]) -> LearnerBatch:
    """The kernel's ``prepare_batch``: every learner of the batch's fresh events locked sorted, and
    every learner-offering they concern recorded, in one statement."""
    recorded = {
        (lr, offering)
        for event, _ in events
        if (lr := learner_of(event)) is not None and isinstance(offering := getattr(event, "offering_id", None), str)
    }
    learners = [lr for event, _ in events if (lr := learner_of(event)) is not None]
    locked = await state.lock_learners(conn, learners, recording=recorded)
    # the batch's result events logged together, once their learners are locked (a statement of
    # its own: one that also locked would read from a snapshot taken before the locks)
    results = [
        _result_event(event, position_of(env))
        for event, env in events
        if isinstance(event, ResultRecorded | ResultCorrected | ResultWithdrawn)
    ]
    return LearnerBatch(
        locked.learner_ids, recorded=frozenset(recorded), results=await state.log_result_events(conn, results)
    )


async def evaluate_batch(conn: Conn, store: EventStore, prepared: object) -> None:
    """The kernel's ``finish_batch``: re-evaluate every learner-offering the batch touched, at once."""
    if isinstance(prepared, LearnerBatch) and prepared.touched:
        await reevaluate_many(conn, store, prepared.touched)


LEARNER_CONCURRENCY = 4  # transactions per fetched batch of the learner-keyed consumers (docs/architecture.md)
# Fewer events than this (a steady trickle) stay in one transaction: each partition pays the batch's
# fixed statements (inbox, locks, one load per table, writes) again.
LEARNER_PARTITION_THRESHOLD = 32


def consumer_specs() -> list[ConsumerSpec]:
    # Handlers take the event type they handle; the kernel's Handler type names the base class.
    catalogue: dict[type[Event], Handler] = {
        InstitutionRegistered: cast(Handler, on_institution),
        InstitutionUpdated: cast(Handler, on_institution),
        MicroCredentialVersionPublished: cast(Handler, on_version_published),
        OfferingScheduled: cast(Handler, on_offering_scheduled),
        PathwayPublished: cast(Handler, on_pathway_published),
    }
    enrolment: dict[type[Event], Handler] = {
        LearnerRegistered: cast(Handler, on_learner),
        LearnerUpdated: cast(Handler, on_learner),
        **{t: cast(Handler, on_enrolment) for t in _STATUS},
    }
    assessment: dict[type[Event], Handler] = {
        **{t: cast(Handler, on_result) for t in _KIND},
        AttendanceRecorded: cast(Handler, on_attendance),
    }
    return [
        ConsumerSpec(Subscription("credential", "catalogue"), catalogue),
        _learner_keyed("enrolment", enrolment),
        _learner_keyed("assessment", assessment),
    ]


def _learner_keyed(source: str, handlers: dict[type[Event], Handler]) -> ConsumerSpec:
    """A consumer whose events are about one learner each: locked and re-evaluated per batch,
    partitioned by learner (see the module doc)."""
    return ConsumerSpec(
        Subscription("credential", source),
        handlers,
        prepare_batch=lock_batch,
        finish_batch=evaluate_batch,
        partition_key=learner_of,
        concurrency=LEARNER_CONCURRENCY,
        partition_threshold=LEARNER_PARTITION_THRESHOLD,
    )
