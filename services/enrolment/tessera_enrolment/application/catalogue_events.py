"""What the enrolment service does with the catalogue's events.

Handlers run in the consumer's batch transaction, once per event id (the kernel's inbox), and are
also idempotent by content: the same offering scheduled twice is one offering, cancelled twice
cancels its enrolments once. They tolerate any order (see ``offerings_sql``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tessera_enrolment.adapters import enrolments_sql, offerings_sql
from tessera_enrolment.adapters.awards_sql import valid_awards_in_offering
from tessera_enrolment.application.deps import Deps, persist
from tessera_enrolment.domain.enrolment import CANCELLABLE, Enrolment, EnrolmentStatus
from tessera_enrolment.domain.offering import OfferingStatus
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.base import Event
from tessera_shared.kernel.consumer import Delivery

Handler = Callable[[Any, Delivery], Awaitable[None]]

FINISHED_BY = "tessera-enrolment"  # who closes what the offering's end leaves open

_LIFECYCLE: dict[type[cat.OfferingLifecycleEvent], OfferingStatus] = {
    cat.OfferingOpened: OfferingStatus.OPEN,
    cat.OfferingClosed: OfferingStatus.CLOSED,
    cat.OfferingStarted: OfferingStatus.RUNNING,
    cat.OfferingFinished: OfferingStatus.FINISHED,
    cat.OfferingCancelled: OfferingStatus.CANCELLED,
}


def handlers(deps: Deps) -> Mapping[type[Event], Handler]:
    async def on_version_published(event: cat.MicroCredentialVersionPublished, delivery: Delivery) -> None:
        await offerings_sql.upsert_version(delivery.conn, event)

    async def on_scheduled(event: cat.OfferingScheduled, delivery: Delivery) -> None:
        await offerings_sql.upsert_scheduled(delivery.conn, event)

    async def on_lifecycle(event: cat.OfferingLifecycleEvent, delivery: Delivery) -> None:
        conn = delivery.conn
        status = _LIFECYCLE[type(event)]
        # seats first (the lock order of every enrolment command), then the offering's status
        ledgers = await offerings_sql.lock_seats(conn, [event.offering_id])
        reason = event.reason if isinstance(event, cat.OfferingCancelled) else None
        await offerings_sql.upsert_status(
            conn,
            event.offering_id,
            event.micro_credential_id,
            event.micro_credential_version,
            status,
            cancellation_reason=reason,
        )
        if status not in (OfferingStatus.CANCELLED, OfferingStatus.FINISHED):
            return
        offering = await offerings_sql.load_offering(conn, event.offering_id)
        ids = await enrolments_sql.ids_with_status(conn, event.offering_id, [s.value for s in CANCELLABLE])
        if offering is None or not ids:
            return
        await enrolments_sql.lock_enrolments(conn, ids)
        enrolments = await enrolments_sql.load_aggregates(conn, ids)
        now, today = deps.clock.now(), deps.clock.today()
        ledger = ledgers.get(event.offering_id)
        changed: list[Enrolment] = []
        awards = await valid_awards_in_offering(conn, event.offering_id) if status is OfferingStatus.FINISHED else {}
        for enrolment in enrolments.values():
            if enrolment.status not in CANCELLABLE:
                continue
            if isinstance(event, cat.OfferingCancelled):
                held = enrolment.holds_seat
                enrolment.cancel(
                    offering=offering,
                    by=event.by,
                    at=now,
                    cancellation_date=today,
                    reason=f"offering cancelled: {event.reason}",
                    offering_cancelled=True,
                )
                if held and ledger is not None:
                    ledger.release()
            elif enrolment.status is EnrolmentStatus.ADMITTED:
                award_id = awards.get(enrolment.learner_id)
                if award_id is not None:
                    enrolment.complete(award_id=award_id, at=now)
                else:
                    enrolment.not_complete(at=now)
            else:  # waitlisted or pending review when the offering ends: nothing was charged
                enrolment.cancel(
                    offering=offering,
                    by=FINISHED_BY,
                    at=now,
                    cancellation_date=today,
                    reason="the offering finished before a seat was available",
                )
            changed.append(enrolment)
        if ledger is not None:
            await offerings_sql.save_seats(conn, [ledger])
        await persist(conn, delivery.store, changed, now=now)

    result: dict[type[Event], Handler] = {
        cat.MicroCredentialVersionPublished: on_version_published,
        cat.OfferingScheduled: on_scheduled,
    }
    for event_type in _LIFECYCLE:
        result[event_type] = on_lifecycle
    return result
