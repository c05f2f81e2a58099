"""Loading and saving the catalogue's aggregates in the event store, inside the caller's transaction.

Stream ids carry the aggregate's kind (``institution-ugent.be``, ``micro-credential-mc-1``,
``offering-off-1``, ``pathway-pw-1``), so an offering and a micro-credential may share an id without
sharing a stream; within a kind the id is unique because a new aggregate is appended with expected
version 0. The aggregate itself is named by its plain id (the domain uses it in its events).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tessera_catalogue.domain.institution import Institution
from tessera_catalogue.domain.micro_credential import MicroCredential
from tessera_catalogue.domain.offering import Offering
from tessera_catalogue.domain.pathway import Pathway
from tessera_shared.contract.catalogue import (
    InstitutionProfile,
    MicroCredentialDefinition,
    OfferingCancelled,
    OfferingFinished,
    OfferingScheduled,
)
from tessera_shared.kernel.aggregate import Aggregate
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import EventStore

A = TypeVar("A", bound=Aggregate)

PREFIXES: dict[type[Aggregate], str] = {
    Institution: "institution-",
    MicroCredential: "micro-credential-",
    Offering: "offering-",
    Pathway: "pathway-",
}


def stream_of(kind: type[Aggregate], aggregate_id: str) -> str:
    return PREFIXES[kind] + aggregate_id


class Repository:
    def __init__(self, store: EventStore, conn: Conn) -> None:
        self.store = store
        self.conn = conn

    async def load(self, kind: type[A], aggregate_id: str) -> A:
        history = await self.store.load(self.conn, stream_of(kind, aggregate_id))
        return kind.rehydrate(aggregate_id, [e.payload() for e in history])

    async def save(self, aggregate: Aggregate) -> int:
        """Append the aggregate's pending events if its stream is still where it was loaded; returns
        the stream's new version (the aggregate's ``version`` follows)."""
        events = aggregate.take_pending()
        if events:
            await self.store.append(
                self.conn, stream_of(type(aggregate), aggregate.stream_id), aggregate.expected_version, events
            )
            aggregate.version += len(events)
        return aggregate.version

    async def directory(self, institution_ids: Iterable[str]) -> dict[str, InstitutionProfile]:
        """The registered institutions among ``institution_ids`` (unknown ones are left out)."""
        found: dict[str, InstitutionProfile] = {}
        for institution_id in dict.fromkeys(institution_ids):
            institution = await self.load(Institution, institution_id)
            if institution.profile is not None:
                found[institution_id] = institution.profile
        return found

    async def published(self, micro_credential_ids: Iterable[str]) -> dict[str, MicroCredentialDefinition]:
        """Latest published definition of each of ``micro_credential_ids`` that is published and not
        retired (what a pathway may stack)."""
        found: dict[str, MicroCredentialDefinition] = {}
        for mc_id in dict.fromkeys(micro_credential_ids):
            mc = await self.load(MicroCredential, mc_id)
            if mc.latest_version is not None and not mc.retired:
                found[mc_id] = mc.published[mc.latest_version]
        return found

    async def unfinished_offering_ids(self) -> list[str]:
        """Offerings scheduled and neither finished nor cancelled, from the event store itself (so
        the clock never depends on a read model having caught up)."""
        rows = await self.conn.fetch(
            """SELECT s.data ->> 'offering_id' AS offering_id FROM events s
               WHERE s.event_type = $1
                 AND NOT EXISTS (SELECT 1 FROM events e WHERE e.stream_id = s.stream_id AND e.event_type = ANY($2))
               ORDER BY 1""",
            OfferingScheduled.event_type,
            [OfferingFinished.event_type, OfferingCancelled.event_type],
        )
        return [r["offering_id"] for r in rows]
