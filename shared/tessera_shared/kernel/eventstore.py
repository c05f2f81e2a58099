"""Append-only event store on PostgreSQL with optimistic concurrency and a gap-free global read.

* ``append`` writes events to a stream only if the stream is still at the expected version; the
  outbox rows for published events are written in the same transaction.
* Every event's metadata (correlation id, causation id, W3C ``traceparent``; envelope attributes once
  published) is the context bound when it is appended (:mod:`.context`), or the ``context`` its
  :class:`Append` carries: a worker acting on several stored events at once gives each append the
  context of its own cause (:meth:`EventStore.following`), so a trace continues past the worker.
* ``read_all`` follows the global position without ever skipping an event that commits late: it
  stops at a missing position until every transaction that could still fill it has ended
  (:class:`Gap`; docs/architecture.md, "Gap-free global order").
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import asyncpg

from tessera_shared.contract.base import Event, parse_data
from tessera_shared.contract.envelope import Envelope, dataschema_for
from tessera_shared.kernel import context
from tessera_shared.kernel.context import MessageContext
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.metrics import EVENTS_APPENDED

T = TypeVar("T")


def contexts_following(stored: Iterable[tuple[str, Any]]) -> dict[str, MessageContext]:
    """:meth:`EventStore.following` for (event id, metadata) pairs a caller read itself (within a
    statement of its own that reads more)."""
    out: dict[str, MessageContext] = {}
    for event_id, metadata in stored:
        meta = metadata if isinstance(metadata, dict) else {}
        out[event_id] = context.following(event_id, meta.get("correlationid"), meta.get("traceparent"))
    return out


class ConcurrencyError(Exception):
    """The stream moved on since it was loaded: reload the aggregate and decide again."""

    def __init__(self, stream_id: str, expected: int | None, actual: int | None = None):
        found = f"found {actual}" if actual is not None else "a later version is taken"
        super().__init__(f"stream {stream_id!r}: expected version {expected}, {found}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class DuplicateEvent(Exception):
    """An event with this id is already stored (an idempotent command replayed)."""


@dataclass(frozen=True)
class StoredEvent:
    global_position: int
    event_id: str
    stream_id: str
    stream_version: int
    event_type: str
    data: dict[str, Any]
    metadata: dict[str, Any]
    recorded_at: datetime

    def payload(self) -> Event:
        return parse_data(self.event_type, self.data)

    def envelope(self, source: str) -> Envelope:
        return Envelope(
            id=self.event_id,
            source=source,
            type=self.event_type,
            subject=self.stream_id,
            time=self.recorded_at,
            dataschema=dataschema_for(self.event_type),
            streamversion=self.stream_version,
            correlationid=self.metadata.get("correlationid"),
            causationid=self.metadata.get("causationid"),
            traceparent=self.metadata.get("traceparent"),
            data=self.data,
        )


@dataclass
class Append:
    """Events for one stream, to be appended if the stream is at ``expected_version``.

    ``expected_version`` 0 means "the stream must not exist yet"; ``None`` means "any version".
    ``context`` (correlation, causation, trace) is stamped on these events instead of the bound one.
    """

    stream_id: str
    expected_version: int | None
    events: Sequence[Event]
    event_ids: Sequence[str] | None = None  # deterministic ids, e.g. derived from a causing event
    context: MessageContext | None = None  # None: the context bound when appending (context.current())
    _stored: list[StoredEvent] = field(default_factory=list, repr=False)


def _row(r: asyncpg.Record) -> StoredEvent:
    return StoredEvent(
        global_position=r["global_position"],
        event_id=str(r["event_id"]),
        stream_id=r["stream_id"],
        stream_version=r["stream_version"],
        event_type=r["event_type"],
        data=r["data"],
        metadata=r["metadata"],
        recorded_at=r["recorded_at"],
    )


def _metadata(ctx: MessageContext) -> dict[str, Any]:
    return {"correlationid": ctx.correlation_id, "causationid": ctx.causation_id, "traceparent": ctx.traceparent}


_COLUMNS = "global_position, event_id, stream_id, stream_version, event_type, data, metadata, recorded_at"


@dataclass
class AppendRows:
    """Events and their outbox rows as the columns of the kernel's insert statements."""

    recorded_at: datetime
    event_ids: list[str] = field(default_factory=list)
    stream_ids: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    types: list[str] = field(default_factory=list)
    data: list[dict[str, Any]] = field(default_factory=list)
    metadata: list[dict[str, Any]] = field(default_factory=list)
    outbox_ids: list[str] = field(default_factory=list)
    outbox_types: list[str] = field(default_factory=list)
    outbox_bodies: list[bytes] = field(default_factory=list)

    def add(self, event: StoredEvent, source: str | None) -> None:
        """One event; ``source`` (the CloudEvents source) when it is published, i.e. has an outbox row."""
        self.event_ids.append(event.event_id)
        self.stream_ids.append(event.stream_id)
        self.versions.append(event.stream_version)
        self.types.append(event.event_type)
        self.data.append(event.data)
        self.metadata.append(event.metadata)
        if source is not None:
            self.outbox_ids.append(event.event_id)
            self.outbox_types.append(event.event_type)
            self.outbox_bodies.append(event.envelope(source).to_bytes())

    def event_columns(self) -> tuple[Any, ...]:
        """The parameters of :func:`insert_events_sql`, in order."""
        return self.event_ids, self.stream_ids, self.versions, self.types, self.data, self.metadata, self.recorded_at

    def outbox_columns(self) -> tuple[Any, ...]:
        """The parameters of :func:`insert_outbox_sql`, in order."""
        return self.outbox_ids, self.outbox_types, self.outbox_bodies


def insert_events_sql(first: int) -> str:
    """INSERT of :meth:`AppendRows.event_columns` as parameters ``$first`` … ``$first+6``."""
    p = [f"${first + i}" for i in range(7)]
    return f"""INSERT INTO events (event_id, stream_id, stream_version, event_type, data, metadata, recorded_at)
        SELECT i::uuid, s, v, t, d, m, {p[6]}
        FROM unnest({p[0]}::text[], {p[1]}::text[], {p[2]}::int[], {p[3]}::text[], {p[4]}::jsonb[], {p[5]}::jsonb[])
             AS u(i, s, v, t, d, m)"""


def insert_outbox_sql(first: int) -> str:
    """INSERT of :meth:`AppendRows.outbox_columns` as parameters ``$first`` … ``$first+2``."""
    return f"""INSERT INTO outbox (event_id, event_type, body)
        SELECT i::uuid, t, b FROM unnest(${first}::text[], ${first + 1}::text[], ${first + 2}::bytea[]) AS u(i, t, b)"""


# The events and their outbox rows in one round trip (data-modifying CTEs all run to completion).
_APPEND_WITH_OUTBOX = f"""WITH appended AS ({insert_events_sql(1)} RETURNING {_COLUMNS}),
    published AS ({insert_outbox_sql(8)})
    SELECT * FROM appended"""


@contextlib.contextmanager
def conflicts(stream_id: str, expected_version: int | None) -> Iterator[None]:
    """Around an insert of events: a duplicate event id is :class:`DuplicateEvent`; a taken
    ``(stream_id, stream_version)`` — another writer appended first — is :class:`ConcurrencyError`."""
    try:
        yield
    except asyncpg.UniqueViolationError as exc:
        if exc.constraint_name == "events_event_id_key":
            raise DuplicateEvent(str(exc.detail)) from exc
        raise ConcurrencyError(stream_id, expected_version) from exc


class EventStore:
    def __init__(self, pool: asyncpg.Pool, *, source: str, service: str = "") -> None:
        self.pool = pool
        self.source = source
        self.service = service

    async def append(
        self, conn: Conn, stream_id: str, expected_version: int | None, events: Sequence[Event]
    ) -> list[StoredEvent]:
        return await self.append_many(conn, [Append(stream_id, expected_version, events)])

    def rows(self, appends: Sequence[Append], versions: dict[str, int]) -> AppendRows:
        """The event and outbox rows of ``appends`` as statement columns, given each stream's current
        version (``versions``, updated as the appends go); checks every expected version. Used by
        :meth:`append_many`, and by a service that writes them in a statement of its own
        (:func:`insert_events_sql`, :func:`insert_outbox_sql`, :func:`conflicts`)."""
        bound = _metadata(context.current())
        rows = AppendRows(datetime.now(UTC))
        for a in appends:
            metadata = _metadata(a.context) if a.context is not None else bound
            actual = versions.get(a.stream_id, 0)
            if a.expected_version is not None and a.expected_version != actual:
                raise ConcurrencyError(a.stream_id, a.expected_version, actual)
            for i, event in enumerate(a.events):
                version = actual + i + 1
                event_id = a.event_ids[i] if a.event_ids else str(uuid.uuid4())
                data = event.model_dump(mode="json")
                stored = StoredEvent(
                    0, event_id, a.stream_id, version, event.event_type, data, metadata, rows.recorded_at
                )
                rows.add(stored, self.source if event.published else None)
                a._stored.append(stored)
            versions[a.stream_id] = actual + len(a.events)
        return rows

    async def append_many(
        self, conn: Conn, appends: Sequence[Append], *, versions: Mapping[str, int] | None = None
    ) -> list[StoredEvent]:
        """Append to several streams in the caller's transaction: the events and their outbox rows
        in one statement, after one read of the streams' current versions.

        ``versions``: streams whose current version the caller read in this transaction (it loaded
        them to decide); the read is skipped for those. The insert refuses a taken
        ``(stream_id, stream_version)`` either way, so a stream appended to since the caller's read
        is the same :class:`ConcurrencyError` as with the store's own read. A stream whose first
        append expects version 0 (a new stream) is not read either: if it exists, its version 1 is
        taken and the insert is refused the same way. (PostgreSQL checks the event id first: an
        append whose fixed event ids are already stored is :class:`DuplicateEvent` even if its stream
        has also moved on — it happened already.)"""
        appends = [a for a in appends if a.events]
        if not appends:
            return []
        current = dict(versions or {})
        first: dict[str, int | None] = {}  # each stream's first expected version
        for a in appends:
            first.setdefault(a.stream_id, a.expected_version)
        current.update((stream, 0) for stream, expected in first.items() if expected == 0 and stream not in current)
        unknown = sorted(first.keys() - current.keys())
        if unknown:
            current.update(
                (r["stream_id"], r["v"])
                for r in await conn.fetch(
                    "SELECT stream_id, max(stream_version) AS v FROM events WHERE stream_id = ANY($1) GROUP BY 1",
                    unknown,
                )
            )
        rows = self.rows(appends, current)
        # A concurrent append may take one of the versions between our read and our insert.
        with conflicts(appends[0].stream_id, appends[0].expected_version):
            if rows.outbox_ids:
                inserted = await conn.fetch(_APPEND_WITH_OUTBOX, *rows.event_columns(), *rows.outbox_columns())
            else:
                inserted = await conn.fetch(f"{insert_events_sql(1)} RETURNING {_COLUMNS}", *rows.event_columns())
        EVENTS_APPENDED.labels(self.service).inc(len(inserted))
        return [_row(r) for r in inserted]

    async def following(self, conn: Conn, event_ids: Sequence[str]) -> dict[str, MessageContext]:
        """For each stored event among ``event_ids``: the context of work it causes
        (:func:`.context.following`: its correlation id and trace, causation = the event, a new span).
        Ids of events not in this store are left out."""
        rows = await conn.fetch(
            "SELECT event_id::text, metadata FROM events WHERE event_id = ANY($1::uuid[])", list(set(event_ids))
        )
        return contexts_following((r["event_id"], r["metadata"]) for r in rows)

    async def load(self, conn: Conn | None, stream_id: str) -> list[StoredEvent]:
        query = f"SELECT {_COLUMNS} FROM events WHERE stream_id = $1 ORDER BY stream_version"
        if conn is not None:
            return [_row(r) for r in await conn.fetch(query, stream_id)]
        async with self.pool.acquire() as c:
            return [_row(r) for r in await c.fetch(query, stream_id)]

    async def read_all(
        self, after: int = 0, limit: int = 1000, conn: Conn | None = None, *, gap: Gap | None = None
    ) -> Page:
        """Events after global position ``after``, in order, up to the first position that is missing
        and may still be filled by a transaction in flight.

        Pass back the previous page's ``gap``: once it has settled, its missing positions are known
        to be rolled back and the read goes on past them.
        """
        if conn is None:
            async with self.pool.acquire() as c:
                return await self.read_all(after, limit, c, gap=gap)
        # One statement, one snapshot: the rows visible, the oldest transaction still running, and
        # this reader's own transaction id, taken after the snapshot (so it is younger than the
        # transaction of every position allocated before the snapshot). That holds only if the
        # transaction had no id before this statement (a row lock or a write gives it one, which may
        # be older than a gap's holder), so the statement also says whether it had one.
        rows = await conn.fetch(
            f"""SELECT page.*, snap.* FROM
                    (SELECT pg_current_xact_id_if_assigned() IS NOT NULL AS had_id,
                            pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
                            pg_current_xact_id()::text::bigint AS reader) AS snap
                    LEFT JOIN LATERAL (SELECT {_COLUMNS} FROM events WHERE global_position > $1
                                       ORDER BY global_position LIMIT $2) AS page ON true
                ORDER BY global_position""",
            after,
            limit,
        )
        if rows[0]["had_id"]:
            raise RuntimeError("read_all needs a transaction that has no transaction id yet (see Gap)")
        return _page([r for r in rows if r["global_position"] is not None], after, gap)


@dataclass(frozen=True)
class Gap:
    """Positions that were missing below ``below`` when a read saw them.

    A missing position is either held by a transaction still in flight or was rolled back (or lost
    in a crash): positions are never handed out twice. Its holder took its transaction id before
    the position (the column's default, kernel migration 0003), and the position was handed out before the
    row at ``below`` committed, so the holder's id is older than ``settles_at`` (the id the reader
    took after its snapshot). Once no transaction older than ``settles_at`` runs, a position still
    missing will never be filled.
    """

    below: int
    settles_at: int


@dataclass(frozen=True)
class Page:
    """One ``read_all``: the events in order, the position to read after next time, and the gap
    the read stopped at (``waiting``) or has yet to pass (a page that ended before reaching it)."""

    events: list[StoredEvent]
    position: int
    gap: Gap | None
    waiting: bool
    fetched: int  # rows the read fetched: fewer than the limit means it reached the end


def _page(rows: Sequence[asyncpg.Record], after: int, gap: Gap | None) -> Page:
    if not rows:
        return Page([], after, gap, waiting=False, fetched=0)
    settled = gap is not None and rows[0]["xmin"] >= gap.settles_at
    expected = after + 1
    events: list[StoredEvent] = []
    for r in rows:
        position = r["global_position"]
        rolled_back = gap is not None and settled and position <= gap.below
        if position != expected and not rolled_back:  # expected … position - 1 may still come
            if gap is None or expected >= gap.below:  # a gap not seen before
                gap = Gap(below=rows[-1]["global_position"], settles_at=rows[0]["reader"])
            return Page(events, expected - 1, gap, waiting=True, fetched=len(rows))
        events.append(_row(r))
        expected = position + 1
    still_ahead = gap is not None and expected <= gap.below
    return Page(events, expected - 1, gap if still_ahead else None, waiting=False, fetched=len(rows))


async def retry_on_conflict(attempt: Callable[[], Awaitable[T]], *, attempts: int = 5) -> T:
    """Run a load-decide-append command again (bounded) when a concurrent append won the race."""
    for n in range(attempts):
        try:
            return await attempt()
        except ConcurrencyError:
            if n == attempts - 1:
                raise
            await asyncio.sleep(0.005 * (2**n))
    raise AssertionError("unreachable")
