"""The catalogue consumer: institutions (grading schemes), versions (components), offerings.

Each handler runs once per event id (the kernel's inbox) inside the batch transaction as one SQL
statement, and is itself idempotent and order-tolerant, so a redelivered or re-published event (a
new id with the same content) changes nothing, and events arriving out of order end in the same
state:

* institutions: the profile with the higher envelope ``streamversion`` wins (equal: the later);
* versions are immutable: the first snapshot is kept; its components overwrite what an offering of
  that version filled in before the snapshot arrived;
* offerings: the scheduled facts are set whenever OfferingScheduled arrives; the status only moves
  forward along scheduled → open → closed → running → finished, or to cancelled.
"""

from __future__ import annotations

from typing import cast

from tessera_assessment.adapters import catalogue_views as views
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.base import Event
from tessera_shared.contract.topology import Subscription
from tessera_shared.kernel.consumer import ConsumerSpec, Delivery, Handler


async def on_institution(event: cat.InstitutionRegistered | cat.InstitutionUpdated, delivery: Delivery) -> None:
    institution = event.institution
    await views.upsert_institution(
        delivery.conn, institution.institution_id, institution.grading_scheme_ids, delivery.envelope.streamversion or 0
    )


async def on_version_published(event: cat.MicroCredentialVersionPublished, delivery: Delivery) -> None:
    definition = event.definition
    await views.insert_version(
        delivery.conn,
        event.micro_credential_id,
        event.version,
        definition.coordinator_id,
        definition.title,
        definition.component_terms,
        titles={c.code: c.title for c in definition.components},
    )


async def on_offering_scheduled(event: cat.OfferingScheduled, delivery: Delivery) -> None:
    await views.upsert_scheduled_offering(
        delivery.conn,
        offering_id=event.offering_id,
        micro_credential_id=event.micro_credential_id,
        micro_credential_version=event.micro_credential_version,
        coordinator_id=event.coordinator_id,
        title=event.title,
        academic_year=event.terms.academic_year,
        attendance_compulsory=event.terms.attendance.compulsory,
        components=event.components,
    )


_LIFECYCLE: dict[type[cat.OfferingLifecycleEvent], str] = {
    cat.OfferingOpened: "open",
    cat.OfferingClosed: "closed",
    cat.OfferingStarted: "running",
    cat.OfferingFinished: "finished",
    cat.OfferingCancelled: "cancelled",
}


async def on_offering_lifecycle(event: cat.OfferingLifecycleEvent, delivery: Delivery) -> None:
    await views.advance_offering(
        delivery.conn,
        offering_id=event.offering_id,
        micro_credential_id=event.micro_credential_id,
        micro_credential_version=event.micro_credential_version,
        status=_LIFECYCLE[type(event)],
    )


def consumer() -> ConsumerSpec:
    # Handlers take the event type they handle; the kernel's Handler type names the base class.
    handlers: dict[type[Event], Handler] = {
        cat.InstitutionRegistered: cast(Handler, on_institution),
        cat.InstitutionUpdated: cast(Handler, on_institution),
        cat.MicroCredentialVersionPublished: cast(Handler, on_version_published),
        cat.OfferingScheduled: cast(Handler, on_offering_scheduled),
        **{t: cast(Handler, on_offering_lifecycle) for t in _LIFECYCLE},
    }
    return ConsumerSpec(Subscription("assessment", "catalogue"), handlers)
