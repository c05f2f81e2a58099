"""The enrolments table (current state, written with the events in one transaction) and loading
enrolment aggregates from the event store."""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import asyncpg

from tessera_enrolment.domain.enrolment import BLOCKING, Enrolment, stream_id
from tessera_shared.contract.base import parse_data
from tessera_shared.kernel.aggregate import Conflict
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import Append, EventStore, conflicts, insert_events_sql, insert_outbox_sql
from tessera_shared.kernel.metrics import EVENTS_APPENDED

BLOCKING_STATUSES = sorted(s.value for s in BLOCKING)


async def load_aggregates(conn: Conn, enrolment_ids: Iterable[str]) -> dict[str, Enrolment]:
    """Rehydrate several enrolments with one query on the event store."""
    streams = [stream_id(i) for i in set(enrolment_ids)]
    rows = await conn.fetch(
        """SELECT stream_id, event_type, data FROM events WHERE stream_id = ANY($1)
           ORDER BY stream_id, stream_version""",
        streams,
    )
    history: dict[str, list[Any]] = defaultdict(list)
    for r in rows:
        history[r["stream_id"]].append(parse_data(r["event_type"], r["data"]))
    result: dict[str, Enrolment] = {}
    for sid, events in history.items():
        agg = Enrolment.rehydrate(sid, events)
        result[agg.enrolment_id] = agg
    return result


async def lock_enrolments(conn: Conn, enrolment_ids: Sequence[str]) -> None:
    """Row locks, in id order. Call after the offering's seats row is locked (seats, then enrolments):
    every command on the offering is then serialised, so these locks never wait on each other."""
    await conn.execute(
        "SELECT 1 FROM enrolments WHERE enrolment_id = ANY($1) ORDER BY enrolment_id FOR UPDATE",
        sorted(set(enrolment_ids)),
    )


def completable_sql(learner: str, offering: str, enrolment: str) -> str:
    """CTEs ``seats`` and ``completable``: the learner's latest admitted (or not completed)
    enrolment in the offering — the one given, if any — locked after the offering's seats row (the
    lock order of every command), in the statement that uses them. ``learner``, ``offering`` and
    ``enrolment`` name its parameters (``$n``; the enrolment may be NULL).

    The order rests on how PostgreSQL runs this plan: the scalar subquery over the materialized
    seats CTE is evaluated (and its row locked) before the first enrolment row reaches the row
    lock. Keep that shape when changing the query; the enrolment tests hold the seats row elsewhere
    and check that the enrolment is not locked meanwhile."""
    return f"""seats AS MATERIALIZED (SELECT 1 FROM offering_seats WHERE offering_id = {offering} FOR UPDATE),
         completable AS (
             SELECT e.enrolment_id FROM enrolments e
             WHERE e.learner_id = {learner} AND e.offering_id = {offering}
               AND e.status IN ('admitted', 'not_completed')
               AND ({enrolment}::text IS NULL OR e.enrolment_id = {enrolment}) AND (SELECT count(*) FROM seats) >= 0
             ORDER BY e.requested_at DESC LIMIT 1 FOR UPDATE OF e)"""


async def offering_of(conn: Conn, enrolment_id: str) -> str | None:
    value = await conn.fetchval("SELECT offering_id FROM enrolments WHERE enrolment_id = $1", enrolment_id)
    return str(value) if value is not None else None


async def active_pairs(conn: Conn, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], tuple[str, str]]:
    """(learner, offering) -> (enrolment id, status) for the pairs that already have an active enrolment."""
    pairs = list(set(pairs))
    if not pairs:
        return {}
    rows = await conn.fetch(
        """SELECT e.learner_id, e.offering_id, e.enrolment_id, e.status
           FROM enrolments e
           JOIN unnest($1::text[], $2::text[]) AS p(l, o) ON e.learner_id = p.l AND e.offering_id = p.o
           WHERE e.status = ANY($3)""",
        [p[0] for p in pairs],
        [p[1] for p in pairs],
        BLOCKING_STATUSES,
    )
    return {(r["learner_id"], r["offering_id"]): (r["enrolment_id"], r["status"]) for r in rows}


async def ids_with_status(conn: Conn, offering_id: str, statuses: Sequence[str]) -> list[str]:
    rows = await conn.fetch(
        "SELECT enrolment_id FROM enrolments WHERE offering_id = $1 AND status = ANY($2) ORDER BY enrolment_id",
        offering_id,
        list(statuses),
    )
    return [r["enrolment_id"] for r in rows]


async def next_waitlisted(conn: Conn, offering_id: str, skip: Sequence[str] = ()) -> str | None:
    value = await conn.fetchval(
        """SELECT enrolment_id FROM enrolments
           WHERE offering_id = $1 AND status = 'waitlisted' AND NOT (enrolment_id = ANY($2))
           ORDER BY waitlist_ticket LIMIT 1 FOR UPDATE""",
        offering_id,
        list(skip),
    )
    return str(value) if value is not None else None


def _row(agg: Enrolment, now: datetime) -> tuple[Any, ...]:
    assert agg.status is not None and agg.requested_at is not None and agg.consent is not None
    return (
        agg.enrolment_id,
        agg.learner_id,
        agg.offering_id,
        agg.micro_credential_id,
        agg.micro_credential_version,
        agg.status.value,
        agg.route.value if agg.route else None,
        agg.fee,
        agg.refund,
        agg.refund_rule.value if agg.refund_rule else None,
        agg.waitlist_ticket,
        agg.requested_at,
        agg.requested_by,
        agg.admitted_at,
        agg.ended_at,
        agg.ended_by,
        agg.cancellation_date,
        agg.reason,
        agg.consent.model_dump(mode="json"),
        agg.declared_eqf_level,
        agg.award_id,
        agg.batch_id,
        agg.version + len(agg.pending),
        now,
    )


_SAVE = """
INSERT INTO enrolments (enrolment_id, learner_id, offering_id, micro_credential_id, micro_credential_version, status,
                        route, fee_eur, refund_eur, refund_rule, waitlist_ticket, requested_at, requested_by,
                        admitted_at, ended_at, ended_by, cancellation_date, reason, consent, declared_eqf_level,
                        award_id, batch_id, version, updated_at, declared_diploma)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::text[],
                     $8::numeric[], $9::numeric[], $10::text[], $11::int[], $12::timestamptz[], $13::text[],
                     $14::timestamptz[], $15::timestamptz[], $16::text[], $17::date[], $18::text[], $19::jsonb[],
                     $20::smallint[], $21::text[], $22::text[], $23::int[], $24::timestamptz[], $25::jsonb[])
ON CONFLICT (enrolment_id) DO UPDATE SET
    status = EXCLUDED.status, route = EXCLUDED.route, fee_eur = EXCLUDED.fee_eur, refund_eur = EXCLUDED.refund_eur,
    refund_rule = EXCLUDED.refund_rule, waitlist_ticket = EXCLUDED.waitlist_ticket,
    admitted_at = EXCLUDED.admitted_at, ended_at = EXCLUDED.ended_at, ended_by = EXCLUDED.ended_by,
    cancellation_date = EXCLUDED.cancellation_date, reason = EXCLUDED.reason, award_id = EXCLUDED.award_id,
    version = EXCLUDED.version, updated_at = EXCLUDED.updated_at
"""


# The rows of :data:`_SAVE` ($1-$25), then the events and their outbox rows: one round trip.
_SAVE_WITH_EVENTS = f"""WITH saved AS ({_SAVE}), appended AS ({insert_events_sql(26)}) SELECT 1"""
_SAVE_WITH_PUBLISHED_EVENTS = f"""WITH saved AS ({_SAVE}), appended AS ({insert_events_sql(26)}),
    published AS ({insert_outbox_sql(33)}) SELECT 1"""


def save_columns(
    aggregates: Sequence[Enrolment], *, now: datetime, diplomas: dict[str, Any] | None = None
) -> list[list[Any]]:
    """The parameters of :data:`_SAVE` for these aggregates, their pending events counted in their
    version: taken before the events are (``diplomas``, enrolment id -> declaration, is stored only
    when the row is created: the declared diploma is personal data and never travels in an event)."""
    rows = [_row(a, now) for a in aggregates]
    columns: list[list[Any]] = [list(c) for c in zip(*rows, strict=True)]
    columns.append([(diplomas or {}).get(a.enrolment_id) for a in aggregates])
    return columns


async def save_rows(conn: Conn, columns: list[list[Any]]) -> None:
    """:data:`_SAVE` with :func:`save_columns`."""
    with _one_active():
        await conn.execute(_SAVE, *columns)


async def save_with_events(
    conn: Conn, store: EventStore, columns: list[list[Any]], appends: Sequence[Append], versions: dict[str, int]
) -> None:
    """The aggregates' rows (``columns``: :func:`save_columns`) and the events of ``appends`` with
    their outbox rows, in one statement. Every stream's current version is in ``versions`` (the
    aggregates were loaded in this transaction); ``UNIQUE (stream_id, stream_version)`` refuses
    the events if another command appended meanwhile, as :meth:`EventStore.append_many` does."""
    rows = store.rows(appends, dict(versions))
    sql, outbox = (_SAVE_WITH_PUBLISHED_EVENTS, rows.outbox_columns()) if rows.outbox_ids else (_SAVE_WITH_EVENTS, ())
    with _one_active():
        try:
            await conn.execute(sql, *columns, *rows.event_columns(), *outbox)
        except asyncpg.UniqueViolationError as exc:
            if exc.table_name not in ("events", "outbox"):  # e.g. a waitlist ticket: raised as it is
                raise
            with conflicts(appends[0].stream_id, appends[0].expected_version):  # what append_many raises
                raise
    EVENTS_APPENDED.labels(store.service).inc(len(rows.event_ids))


@contextlib.contextmanager
def _one_active() -> Iterator[None]:
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "enrolments_one_active":
            raise Conflict("the learner already has an active enrolment in this offering", field="learner_id") from exc
        raise


# ------------------------------------------------------------------------------------- reads

ENROLMENT_COLUMNS = """e.enrolment_id, e.learner_id, e.offering_id, e.micro_credential_id, e.micro_credential_version,
    e.status, e.route, e.fee_eur, e.refund_eur, e.refund_rule, e.waitlist_ticket, e.requested_at, e.requested_by,
    e.admitted_at, e.ended_at, e.ended_by, e.cancellation_date, e.reason, e.consent, e.declared_eqf_level,
    e.declared_diploma, e.award_id, e.batch_id, e.updated_at,
    CASE WHEN e.status = 'waitlisted' THEN
        (SELECT count(*) FROM enrolments w WHERE w.offering_id = e.offering_id AND w.status = 'waitlisted'
           AND w.waitlist_ticket <= e.waitlist_ticket) END AS waitlist_place"""

TAKES_PART = """($INST = o.coordinator_id OR $INST = ANY(o.teaching_institutions)
                 OR $INST = ANY(COALESCE(o.partners, '{}')))"""


async def get(conn: Conn, enrolment_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow(
        f"""SELECT {ENROLMENT_COLUMNS}, o.coordinator_id,
                   o.teaching_institutions || COALESCE(o.partners, '{{}}') || o.coordinator_id AS institutions
            FROM enrolments e JOIN offerings o USING (offering_id) WHERE e.enrolment_id = $1""",
        enrolment_id,
    )
    return dict(row) if row is not None else None


async def search(
    conn: Conn,
    *,
    learner_id: str | None,
    institution: str | None,
    offering_id: str | None,
    status: Sequence[str] | None,
    micro_credential_id: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Enrolments filtered; ``institution`` restricts to offerings that institution takes part in."""
    where = (
        """($1::text IS NULL OR e.learner_id = $1)
               AND ($2::text IS NULL OR """
        + TAKES_PART.replace("$INST", "$2")
        + """)
               AND ($3::text IS NULL OR e.offering_id = $3)
               AND ($4::text[] IS NULL OR e.status = ANY($4))
               AND ($5::text IS NULL OR e.micro_credential_id = $5)"""
    )
    args = [learner_id, institution, offering_id, list(status) if status else None, micro_credential_id]
    total = await conn.fetchval(
        f"SELECT count(*) FROM enrolments e JOIN offerings o USING (offering_id) WHERE {where}", *args
    )
    rows = await conn.fetch(
        f"""SELECT {ENROLMENT_COLUMNS} FROM enrolments e JOIN offerings o USING (offering_id)
            WHERE {where} ORDER BY e.requested_at, e.enrolment_id LIMIT $6 OFFSET $7""",
        *args,
        limit,
        offset,
    )
    return [dict(r) for r in rows], int(total)
