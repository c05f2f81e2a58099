"""The enrolment consumer: which learner holds which enrolment in which offering, and its status.

Statuses only move forward (see :mod:`tessera_assessment.adapters.enrolment_views`), so handlers
are idempotent and order-tolerant. The kernel's ``prepare_batch`` hook applies a fetched batch's
fresh events in one statement (:func:`apply_batch`); the handler applies its event itself only when
the hook did not run for it (a redrive, or the hook failed in the kernel's careful mode). Learners'
personal data (registered/updated events) is not kept: results need the learner id only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

from tessera_assessment.adapters.enrolment_views import EnrolmentFact, advance_enrolments
from tessera_shared.contract import enrolment as enr
from tessera_shared.contract.base import Event
from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.topology import Subscription
from tessera_shared.kernel.consumer import ConsumerSpec, Delivery, Handler
from tessera_shared.kernel.db import Conn

STATUS_OF: dict[type[enr._EnrolmentEvent], str] = {
    enr.EnrolmentRequested: "requested",
    enr.EnrolmentWaitlisted: "waitlisted",
    enr.EnrolmentPendingReview: "pending_review",
    enr.EnrolmentPromoted: "promoted",
    enr.EnrolmentAdmitted: "admitted",
    enr.EnrolmentRejected: "rejected",
    enr.EnrolmentCancelled: "cancelled",
    enr.EnrolmentWithdrawn: "withdrawn",
    enr.EnrolmentCompleted: "completed",
    enr.EnrolmentNotCompleted: "not_completed",
}


def fact_of(event: enr._EnrolmentEvent) -> EnrolmentFact:
    return EnrolmentFact(
        enrolment_id=event.enrolment_id,
        learner_id=event.learner_id,
        offering_id=event.offering_id,
        micro_credential_id=event.micro_credential_id,
        micro_credential_version=event.micro_credential_version,
        status=STATUS_OF[type(event)],
    )


@dataclass(frozen=True)
class AppliedBatch:
    """The ids of the events :func:`apply_batch` applied."""

    event_ids: frozenset[str]


async def apply_batch(conn: Conn, events: Sequence[tuple[Event, Envelope]]) -> AppliedBatch:
    """The kernel's ``prepare_batch``: every enrolment event of the batch (its fresh events, in
    order) applied in one statement; the handlers then find theirs done."""
    mine = [(event, envelope) for event, envelope in events if type(event) in STATUS_OF]
    await advance_enrolments(conn, (fact_of(cast(enr._EnrolmentEvent, event)) for event, _ in mine))
    return AppliedBatch(frozenset(envelope.id for _, envelope in mine))


async def on_enrolment(event: enr._EnrolmentEvent, delivery: Delivery) -> None:
    prepared = delivery.prepared
    if isinstance(prepared, AppliedBatch) and delivery.envelope.id in prepared.event_ids:
        return  # applied with its batch
    await advance_enrolments(delivery.conn, [fact_of(event)])


def consumer() -> ConsumerSpec:
    return ConsumerSpec(
        Subscription("assessment", "enrolment"),
        {t: cast(Handler, on_enrolment) for t in STATUS_OF},
        prepare_batch=apply_batch,
    )
