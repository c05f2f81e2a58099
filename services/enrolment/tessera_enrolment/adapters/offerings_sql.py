"""Read models of the catalogue's offerings and micro-credential versions, and the seats rows.

Every write here is an idempotent upsert that tolerates any arrival order: an offering row may be
created by a lifecycle event before its ``OfferingScheduled`` arrives, and the status only moves to
a higher rank.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import asyncpg

from tessera_enrolment.domain.offering import STATUS_RANK, OfferingStatus, OfferingView
from tessera_enrolment.domain.seats import SeatLedger
from tessera_shared.contract.catalogue import (
    MicroCredentialVersionPublished,
    OfferingScheduled,
    PartnerRole,
    Prerequisites,
)
from tessera_shared.contract.terms import ComponentTerms, OfferingTerms
from tessera_shared.kernel.db import Conn


async def upsert_scheduled(conn: Conn, event: OfferingScheduled) -> None:
    rank = STATUS_RANK[OfferingStatus.SCHEDULED]
    await conn.execute(
        """INSERT INTO offerings (offering_id, micro_credential_id, micro_credential_version, coordinator_id, title,
                                  ects, terms, components, teaching_institutions, prerequisites, partners, status,
                                  status_rank)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $11, $12, 'scheduled', $10)
           ON CONFLICT (offering_id) DO UPDATE SET
               micro_credential_id = EXCLUDED.micro_credential_id,
               micro_credential_version = EXCLUDED.micro_credential_version,
               coordinator_id = EXCLUDED.coordinator_id, title = EXCLUDED.title, ects = EXCLUDED.ects,
               terms = EXCLUDED.terms, components = EXCLUDED.components,
               teaching_institutions = EXCLUDED.teaching_institutions,
               prerequisites = EXCLUDED.prerequisites, partners = EXCLUDED.partners,
               status = CASE WHEN offerings.status_rank >= $10 THEN offerings.status ELSE 'scheduled' END,
               status_rank = GREATEST(offerings.status_rank, $10),
               updated_at = clock_timestamp()""",
        event.offering_id,
        event.micro_credential_id,
        event.micro_credential_version,
        event.coordinator_id,
        event.title,
        event.ects,
        event.terms.model_dump(mode="json"),
        [c.model_dump(mode="json") for c in event.components],
        sorted({c.teaching_institution for c in event.components}),
        rank,
        event.prerequisites.model_dump(mode="json"),
        sorted({p.institution_id for p in event.partners}),
    )
    await conn.execute(
        "INSERT INTO offering_seats (offering_id, capacity) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        event.offering_id,
        event.terms.capacity,
    )


async def upsert_status(
    conn: Conn,
    offering_id: str,
    micro_credential_id: str,
    version: int,
    status: OfferingStatus,
    *,
    cancellation_reason: str | None = None,
) -> None:
    await conn.execute(
        """INSERT INTO offerings (offering_id, micro_credential_id, micro_credential_version, status, status_rank,
                                  cancellation_reason)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (offering_id) DO UPDATE SET
               status = CASE WHEN EXCLUDED.status_rank > offerings.status_rank THEN EXCLUDED.status
                             ELSE offerings.status END,
               status_rank = GREATEST(offerings.status_rank, EXCLUDED.status_rank),
               cancellation_reason = COALESCE(offerings.cancellation_reason, EXCLUDED.cancellation_reason),
               updated_at = clock_timestamp()""",
        offering_id,
        micro_credential_id,
        version,
        status.value,
        STATUS_RANK[status],
        cancellation_reason,
    )


async def upsert_version(conn: Conn, event: MicroCredentialVersionPublished) -> None:
    definition = event.definition
    partners = sorted(p.institution_id for p in definition.partners)
    coordinator = next((p.institution_id for p in definition.partners if PartnerRole.COORDINATOR in p.roles), None)
    await conn.execute(
        """INSERT INTO micro_credential_versions (micro_credential_id, version, title, coordinator_id,
                                                  prerequisites, partners)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (micro_credential_id, version) DO UPDATE SET
               title = EXCLUDED.title, coordinator_id = EXCLUDED.coordinator_id,
               prerequisites = EXCLUDED.prerequisites, partners = EXCLUDED.partners""",
        event.micro_credential_id,
        event.version,
        definition.title,
        coordinator,
        definition.prerequisites.model_dump(mode="json"),
        partners,
    )
    await conn.execute(
        "UPDATE offerings SET partners = $3, updated_at = clock_timestamp() "
        "WHERE micro_credential_id = $1 AND micro_credential_version = $2 AND partners IS NULL",
        event.micro_credential_id,
        event.version,
        partners,
    )


_VIEW_SQL = """
    SELECT o.offering_id, o.micro_credential_id, o.micro_credential_version, o.status, o.coordinator_id,
           o.terms, o.components, COALESCE(o.partners, v.partners) AS partners,
           COALESCE(o.prerequisites, v.prerequisites) AS prerequisites
    FROM offerings o
    LEFT JOIN micro_credential_versions v
      ON v.micro_credential_id = o.micro_credential_id AND v.version = o.micro_credential_version
"""


def _view(row: asyncpg.Record) -> OfferingView:
    return OfferingView(
        offering_id=row["offering_id"],
        micro_credential_id=row["micro_credential_id"],
        micro_credential_version=row["micro_credential_version"],
        status=OfferingStatus(row["status"]),
        coordinator_id=row["coordinator_id"],
        terms=OfferingTerms.model_validate(row["terms"]) if row["terms"] is not None else None,
        components=tuple(ComponentTerms.model_validate(c) for c in row["components"]),
        prerequisites=Prerequisites.model_validate(row["prerequisites"]) if row["prerequisites"] is not None else None,
        partners=tuple(row["partners"]) if row["partners"] is not None else None,
    )


async def load_offerings(conn: Conn, offering_ids: Iterable[str]) -> dict[str, OfferingView]:
    rows = await conn.fetch(_VIEW_SQL + " WHERE o.offering_id = ANY($1)", list(set(offering_ids)))
    return {r["offering_id"]: _view(r) for r in rows}


async def load_offering(conn: Conn, offering_id: str) -> OfferingView | None:
    return (await load_offerings(conn, [offering_id])).get(offering_id)


async def lock_seats(conn: Conn, offering_ids: Iterable[str]) -> dict[str, SeatLedger]:
    """Lock the seats rows of these offerings, always in id order (no deadlock between two commands
    that lock several)."""
    ids = sorted(set(offering_ids))
    ledgers: dict[str, SeatLedger] = {}
    for offering_id in ids:  # one by one, in order: a single "ORDER BY ... FOR UPDATE" may lock out of order
        row = await conn.fetchrow(
            "SELECT capacity, taken, tickets FROM offering_seats WHERE offering_id = $1 FOR UPDATE", offering_id
        )
        if row is not None:
            ledgers[offering_id] = SeatLedger(offering_id, row["capacity"], row["taken"], row["tickets"])
    return ledgers


class SeatsChanged(RuntimeError):
    """The seats row did not accept the update: a bug, never a normal outcome (the row is locked)."""


async def save_seats(conn: Conn, ledgers: Sequence[SeatLedger]) -> None:
    """Write the ledgers back. The update is conditional on the capacity (and the CHECK constraint
    backs it), so no code path can ever record more seats taken than the offering has."""
    for ledger in ledgers:
        updated = await conn.fetchval(
            """UPDATE offering_seats SET taken = taken + $2, tickets = $3
               WHERE offering_id = $1 AND taken + $2 <= capacity AND taken + $2 >= 0 RETURNING taken""",
            ledger.offering_id,
            ledger.taken - ledger.taken_before,
            ledger.tickets,
        )
        if updated is None or updated != ledger.taken:
            raise SeatsChanged(f"offering {ledger.offering_id}: seats row out of step with the ledger")
        ledger.taken_before = ledger.taken


async def list_offerings(
    conn: Conn, *, status: str | None, micro_credential_id: str | None, institution: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    where = """($1::text IS NULL OR o.status = $1) AND ($2::text IS NULL OR o.micro_credential_id = $2)
               AND ($3::text IS NULL OR $3 = o.coordinator_id OR $3 = ANY(o.teaching_institutions)
                    OR $3 = ANY(COALESCE(o.partners, '{}')))"""
    args = [status, micro_credential_id, institution]
    total = await conn.fetchval(f"SELECT count(*) FROM offerings o WHERE {where}", *args)
    rows = await conn.fetch(
        f"""SELECT o.offering_id FROM offerings o WHERE {where}
            ORDER BY o.offering_id LIMIT $4 OFFSET $5""",
        *args,
        limit,
        offset,
    )
    items = []
    for r in rows:
        summary = await offering_summary(conn, r["offering_id"])
        if summary is not None:
            items.append(summary)
    return items, int(total)


async def offering_summary(conn: Conn, offering_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        """SELECT o.offering_id, o.micro_credential_id, o.micro_credential_version, o.status, o.coordinator_id,
                  o.title, o.ects, o.terms, o.components, o.cancellation_reason, s.capacity, s.taken,
                  (SELECT count(*) FROM enrolments e WHERE e.offering_id = o.offering_id
                     AND e.status = 'waitlisted') AS waiting,
                  COALESCE(o.prerequisites, v.prerequisites) AS prerequisites,
                  COALESCE(o.partners, v.partners) AS partners
           FROM offerings o
           LEFT JOIN offering_seats s USING (offering_id)
           LEFT JOIN micro_credential_versions v
             ON v.micro_credential_id = o.micro_credential_id AND v.version = o.micro_credential_version
           WHERE o.offering_id = $1""",
        offering_id,
    )
    return dict(row) if row is not None else None
