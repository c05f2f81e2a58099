"""The enrolment consumer: which learner holds which enrolment in which offering, and its status.

Statuses only move forward (see :mod:`tessera_assessment.adapters.enrolment_views`), so handlers
are idempotent and order-tolerant. Learners' personal data (registered/updated events) is not kept:
results need the learner id only.
"""

from __future__ import annotations

from typing import cast

from tessera_assessment.adapters.enrolment_views import advance_enrolment
from tessera_shared.contract import enrolment as enr
from tessera_shared.contract.topology import Subscription
from tessera_shared.kernel.consumer import ConsumerSpec, Delivery, Handler

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


async def on_enrolment(event: enr._EnrolmentEvent, delivery: Delivery) -> None:
    await advance_enrolment(
        delivery.conn,
        enrolment_id=event.enrolment_id,
        learner_id=event.learner_id,
        offering_id=event.offering_id,
        micro_credential_id=event.micro_credential_id,
        micro_credential_version=event.micro_credential_version,
        status=STATUS_OF[type(event)],
    )


def consumer() -> ConsumerSpec:
    return ConsumerSpec(
        Subscription("assessment", "enrolment"),
        {t: cast(Handler, on_enrolment) for t in STATUS_OF},
    )
