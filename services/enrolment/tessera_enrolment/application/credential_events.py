"""What the enrolment service does with the credential service's events: it keeps each learner's
awards (for prerequisite checks) and completes the enrolment an award is for."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from tessera_enrolment.adapters import awards_sql, enrolments_sql
from tessera_enrolment.application.deps import Deps, persist
from tessera_enrolment.domain.enrolment import EnrolmentStatus
from tessera_shared.contract.base import Event
from tessera_shared.contract.credential import AwardRevoked, AwardSuperseded, CredentialAwarded
from tessera_shared.kernel.consumer import Delivery

Handler = Callable[[Any, Delivery], Awaitable[None]]


def handlers(deps: Deps) -> Mapping[type[Event], Handler]:
    async def on_awarded(event: CredentialAwarded, delivery: Delivery) -> None:
        conn = delivery.conn
        revoked, enrolment_id = await awards_sql.record_awarded(conn, event)
        if revoked:
            return  # the revocation arrived first: this award completes nothing
        if enrolment_id is None:
            return  # kept in awards: an offering that finishes later completes the enrolment from it
        # read in a statement after the lock: the locking statement's snapshot was taken before it waited
        enrolment = (await enrolments_sql.load_aggregates(conn, [enrolment_id]))[enrolment_id]
        now = deps.clock.now()
        if enrolment.status not in (EnrolmentStatus.ADMITTED, EnrolmentStatus.NOT_COMPLETED):
            return  # cancelled or withdrawn meanwhile
        if enrolment.complete(award_id=event.award_id, at=now):
            await persist(conn, delivery.store, [enrolment], now=now)

    async def on_revoked(event: AwardRevoked, delivery: Delivery) -> None:
        await awards_sql.record_revoked(delivery.conn, event)

    async def on_superseded(event: AwardSuperseded, delivery: Delivery) -> None:
        await awards_sql.record_superseded(delivery.conn, event)

    return {CredentialAwarded: on_awarded, AwardRevoked: on_revoked, AwardSuperseded: on_superseded}
