"""SQL of the engine's inputs: what the other contexts' events told us, and the learner lock.

Every function runs in the caller's transaction (the consumer's batch transaction). Writes that
depend on what is stored (ordering guards) are only correct under the learner lock, which the
application takes first (:func:`lock_learner`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from tessera_credential.adapters import awards
from tessera_credential.adapters.awards import VersionKey
from tessera_credential.domain.decision import ActiveAward
from tessera_credential.domain.ordering import ENROLMENT_RANK, EnrolmentStatus, Position
from tessera_credential.domain.standing import (
    ComponentStanding,
    EnrolmentStanding,
    LearnerOffering,
    PinnedOffering,
    ResultEventRecord,
    contributing_events,
)
from tessera_shared.contract.assessment import EffectiveResult
from tessera_shared.contract.criteria import AwardCriteria
from tessera_shared.kernel.db import Conn

LearnerOfferingKey = tuple[str, str]  # (learner_id, offering_id)

# ------------------------------------------------------------------------------------ the lock


# Transaction-level advisory lock between catalogue *definitions* (offerings, pathways) and learner
# decisions. Learner decisions hold it shared; a handler that adds a definition and then looks for
# the learners it concerns holds it exclusively. Without it the two can miss each other: the
# definition's handler does not see a learner whose first facts are still uncommitted, and that
# learner's evaluation does not see the uncommitted definition; nobody would evaluate them together.
# Always taken before any learner lock, so it adds no lock-order cycle. (Kernel keys: 0x7E55E4A0
# migrations, 0x0B7B0C5 relay.)
_DEFINITIONS_LOCK = 0x7E55A3A7


async def lock_definitions(conn: Conn, *, exclusive: bool) -> None:
    fn = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    await conn.execute(f"SELECT {fn}($1)", _DEFINITIONS_LOCK)


@dataclass(frozen=True)
class LockedLearners:
    """Learners :func:`lock_learners` locked in the current transaction (the consumers' batch hook;
    the kernel hands it to the handlers of the same transaction — or, in its careful mode, of the
    same savepoint — as ``Delivery.prepared``), so :func:`lock_learner` need not lock them again.
    Never build one by hand: only a value returned in the handler's own scope is true."""

    learner_ids: frozenset[str]


# One round trip: the definitions lock (shared), then every learner row (inserted if new) in the
# database's learner_id order, then the learner-offerings recorded. ``DO UPDATE ... WHERE false``
# updates nothing but locks each existing row (FOR UPDATE: the key column is in the SET list), and,
# unlike a SELECT ... FOR UPDATE in the same statement, also a row another transaction inserted and
# committed after this statement's snapshot. The materialized CTE is scanned before the sort emits
# its first row, so the definitions lock comes first; the learner-offerings wait for every learner
# lock (their filter's scalar subquery reads ``locked`` to the end), so this statement never holds
# a learner-offering row while it waits for a learner.
_LOCK_LEARNERS = f"""
    WITH definitions AS MATERIALIZED (SELECT pg_advisory_xact_lock_shared({_DEFINITIONS_LOCK}))
    , locked AS (
        INSERT INTO award_learners (learner_id)
        SELECT u.learner_id FROM definitions, unnest($1::text[]) AS u(learner_id) ORDER BY u.learner_id
        ON CONFLICT (learner_id) DO UPDATE SET learner_id = EXCLUDED.learner_id WHERE false
        RETURNING 1
    ), recorded AS (
        INSERT INTO award_learner_offerings (learner_id, offering_id)
        SELECT * FROM unnest($2::text[], $3::text[]) WHERE (SELECT count(*) FROM locked) >= 0
        ON CONFLICT DO NOTHING
    )
    SELECT count(*) FROM locked"""


async def lock_learners(
    conn: Conn, learner_ids: Iterable[str], recording: Iterable[tuple[str, str]] = ()
) -> LockedLearners:
    """Lock every learner of a consumer batch at once, in one fixed order (the definitions lock
    first, then the rows in the database's ``learner_id`` order, as :func:`learners_in_offering`
    gives them), in one statement. Two batches locking in arrival order could each hold a learner
    the other waits for (a deadlock, then retries); sorted, one simply waits for the other.

    ``recording``: (learner, offering) pairs to record as having facts (what
    :func:`touch_learner_offerings` does), in the same statement once the learners are locked."""
    ids = sorted(set(learner_ids))
    if not ids:
        await touch_learner_offerings(conn, recording)
        return LockedLearners(frozenset())
    pairs = sorted(set(recording))
    await conn.execute(_LOCK_LEARNERS, ids, [p[0] for p in pairs], [p[1] for p in pairs])
    return LockedLearners(frozenset(ids))


def _held(held: object, learner_id: str) -> bool:
    return isinstance(held, LockedLearners) and learner_id in held.learner_ids


async def lock_learner(conn: Conn, learner_id: str, held: object = None) -> None:
    """Serialise every award decision about ``learner_id`` until the transaction ends.

    ``held``: what :func:`lock_learners` returned earlier in this transaction (``Delivery.prepared``);
    a learner it locked is not locked again. Anything else (None: a handler called without the
    consumer's hook) locks here."""
    if not _held(held, learner_id):
        await lock_learners(conn, [learner_id])


async def touch_learner_offerings(conn: Conn, keys: Iterable[tuple[str, str]]) -> None:
    """Record that each (learner, offering) has facts (what an offering's late scheduling looks up)."""
    pairs = sorted(set(keys))
    if pairs:
        await conn.execute(
            """INSERT INTO award_learner_offerings (learner_id, offering_id)
               SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING""",
            [p[0] for p in pairs],
            [p[1] for p in pairs],
        )


def _position(r: Any, prefix: str = "") -> Position:
    return Position(r[f"{prefix}source_stream"], r[f"{prefix}seq"], r[f"{prefix}at"], r[f"{prefix}event_id"])


# ------------------------------------------------------------------------------------ catalogue


async def save_institution(conn: Conn, institution_id: str, profile: dict[str, Any], pos: Position) -> None:
    row = await conn.fetchrow(
        "SELECT source_stream, seq, at, event_id FROM award_institutions WHERE institution_id = $1 FOR UPDATE",
        institution_id,
    )
    if row is not None and not pos.is_after(_position(row)):
        return
    await conn.execute(
        """INSERT INTO award_institutions (institution_id, profile, source_stream, seq, at, event_id)
           VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (institution_id) DO UPDATE SET profile = $2, source_stream = $3, seq = $4, at = $5,
               event_id = $6""",
        institution_id,
        profile,
        pos.stream,
        pos.seq,
        pos.at,
        pos.event_id,
    )


async def save_definition(conn: Conn, mc_id: str, version: int, definition: dict[str, Any], event_id: str) -> None:
    await conn.execute(
        """INSERT INTO award_definitions (micro_credential_id, version, definition, event_id)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING""",
        mc_id,
        version,
        definition,
        event_id,
    )


async def save_offering(conn: Conn, data: dict[str, Any], scheduled_at: datetime, event_id: str) -> bool:
    """Pin the offering (first OfferingScheduled wins: its terms never change). True if new."""
    inserted = await conn.fetchval(
        """INSERT INTO award_offerings (offering_id, micro_credential_id, micro_credential_version, coordinator_id,
                                        partner_ids, title, ects, components, criteria, scheduled_at, event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7::numeric, $8, $9, $10, $11)
           ON CONFLICT DO NOTHING RETURNING 1""",
        data["offering_id"],
        data["micro_credential_id"],
        data["micro_credential_version"],
        data["coordinator_id"],
        sorted(p["institution_id"] for p in data["partners"]),
        data["title"],
        str(data["ects"]),
        data["components"],
        data["criteria"],
        scheduled_at,
        event_id,
    )
    return bool(inserted)


def _pinned(r: Any) -> PinnedOffering:
    return PinnedOffering(
        offering_id=r["offering_id"],
        micro_credential_id=r["micro_credential_id"],
        micro_credential_version=r["micro_credential_version"],
        coordinator_id=r["coordinator_id"],
        partner_ids=frozenset(r["partner_ids"]),
        criteria=AwardCriteria.model_validate(r["criteria"]),
        components={c["code"]: Decimal(str(c["ects"])) for c in r["components"]},
        scheduled_at=r["scheduled_at"],
    )


async def load_offering(conn: Conn, offering_id: str) -> PinnedOffering | None:
    r = await conn.fetchrow("SELECT * FROM award_offerings WHERE offering_id = $1", offering_id)
    return _pinned(r) if r is not None else None


async def learners_in_offering(conn: Conn, offering_id: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT learner_id FROM award_learner_offerings WHERE offering_id = $1 ORDER BY learner_id", offering_id
    )
    return [r["learner_id"] for r in rows]


async def other_offerings_of_versions(
    conn: Conn, keys: Sequence[LearnerOfferingKey]
) -> dict[LearnerOfferingKey, list[str]]:
    """For each (learner, offering): the learner's other offerings of the same micro-credential
    version (where an award the offering lost may now be made), sorted."""
    rows = await conn.fetch(
        """SELECT p.learner_id, p.offering_id AS via, lo.offering_id
           FROM unnest($1::text[], $2::text[]) AS p(learner_id, offering_id)
           JOIN award_offerings po ON po.offering_id = p.offering_id
           JOIN award_learner_offerings lo ON lo.learner_id = p.learner_id AND lo.offering_id <> p.offering_id
           JOIN award_offerings o ON o.offering_id = lo.offering_id
                AND o.micro_credential_id = po.micro_credential_id
                AND o.micro_credential_version = po.micro_credential_version
           ORDER BY lo.offering_id""",
        [k[0] for k in keys],
        [k[1] for k in keys],
    )
    out: dict[LearnerOfferingKey, list[str]] = {}
    for r in rows:
        out.setdefault((r["learner_id"], r["via"]), []).append(r["offering_id"])
    return out


async def save_pathway(
    conn: Conn, pathway_id: str, version: int, definition: dict[str, Any], published_at: datetime, event_id: str
) -> None:
    await conn.execute(
        """INSERT INTO award_pathways (pathway_id, version, definition, member_ids, published_at, event_id)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING""",
        pathway_id,
        version,
        definition,
        sorted(m["micro_credential_id"] for m in definition["members"]),
        published_at,
        event_id,
    )


# ------------------------------------------------------------------------------------ enrolment


async def save_learner_profile(
    conn: Conn, learner_id: str, profile: dict[str, Any], pos: Position, held: object = None
) -> None:
    await lock_learner(conn, learner_id, held)  # the row exists and is locked
    row = await conn.fetchrow(
        """SELECT profile_stream AS source_stream, profile_seq AS seq, profile_at AS at, profile_event_id AS event_id
           FROM award_learners WHERE learner_id = $1""",
        learner_id,
    )
    if row is not None and row["event_id"] is not None and not pos.is_after(_position(row)):
        return
    await conn.execute(
        """UPDATE award_learners SET profile = $2, profile_stream = $3, profile_seq = $4, profile_at = $5,
               profile_event_id = $6 WHERE learner_id = $1""",
        learner_id,
        profile,
        pos.stream,
        pos.seq,
        pos.at,
        pos.event_id,
    )


def _rank(column: str) -> str:
    """The rank of an enrolment status column (``ordering.ENROLMENT_RANK``), as SQL."""
    cases = " ".join(f"WHEN '{status.value}' THEN {rank}" for status, rank in ENROLMENT_RANK.items())
    return f"(CASE {column} {cases} END)"


# The enrolment's status moves to the incoming one only if that ranks higher (``ordering.later_status``);
# its admission time is set once; the row takes the event's position when either changes. The
# read of the row before, and of how many enrolments the learner has in the offering, is the
# statement's snapshot (the learner lock is held: no other writer of the learner's rows).
_ADVANCE_ENROLMENT = f"""
    WITH before AS (SELECT status, admitted_at FROM award_enrolments WHERE enrolment_id = $1),
    counted AS (SELECT count(*) AS n FROM award_enrolments WHERE learner_id = $2 AND offering_id = $3),
    written AS (
        INSERT INTO award_enrolments AS e (enrolment_id, learner_id, offering_id, micro_credential_id,
                                           micro_credential_version, status, admitted_at, event_id, at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
        ON CONFLICT (enrolment_id) DO UPDATE
           SET status = CASE WHEN {_rank("EXCLUDED.status")} > {_rank("e.status")} THEN EXCLUDED.status
                             ELSE e.status END,
               admitted_at = coalesce(e.admitted_at, EXCLUDED.admitted_at),
               event_id = EXCLUDED.event_id, at = EXCLUDED.at
         WHERE {_rank("EXCLUDED.status")} > {_rank("e.status")}
            OR (e.admitted_at IS NULL AND EXCLUDED.admitted_at IS NOT NULL)
    )
    SELECT b.status, b.admitted_at, c.n FROM counted c LEFT JOIN before b ON true"""


async def advance_enrolment(
    conn: Conn,
    *,
    enrolment_id: str,
    learner_id: str,
    offering_id: str,
    mc_id: str,
    version: int,
    status: EnrolmentStatus,
    admitted_at: datetime | None,
    pos: Position,
) -> tuple[tuple[EnrolmentStatus, datetime | None] | None, int]:
    """Apply an enrolment event to its stored enrolment (``admitted_at``: the event's time if it is
    the admission, else None) and return what stood before — the stored status and admission time,
    or None — and how many enrolments the learner has in the offering, this one included: one
    statement. The caller decides what the change means with ``ordering.later_status`` on what
    stood before, the rule this statement applies (tested to agree)."""
    r = await conn.fetchrow(
        _ADVANCE_ENROLMENT,
        enrolment_id,
        learner_id,
        offering_id,
        mc_id,
        version,
        status.value,
        admitted_at,
        pos.event_id,
        pos.at,
    )
    assert r is not None
    current = (EnrolmentStatus(r["status"]), r["admitted_at"]) if r["status"] is not None else None
    return current, int(r["n"]) + (current is None)


# ----------------------------------------------------------------------------------- assessment


CurrentResult = tuple[EffectiveResult | None, datetime, Position]  # (effective, fact_at, applied event)
ComponentKey = tuple[str, str, str]  # (learner_id, offering_id, component_code)


@dataclass(frozen=True)
class ResultEvent:
    """A result event as :func:`log_result_events` logs it."""

    learner_id: str
    offering_id: str
    component: str
    kind: str
    result_id: str
    attempt: int
    effective: EffectiveResult | None
    pos: Position


@dataclass(frozen=True)
class ResultLog:
    """What :func:`log_result_events` did for a batch of result events.

    ``current``: each component's result as it stood before the batch; the handlers keep it up to
    date as they apply the batch's events in order, so each event is decided
    against what the events before it left, as when each is logged alone."""

    logged: frozenset[str]  # event ids
    first: frozenset[str]  # events stored as their component's first result
    current: dict[ComponentKey, CurrentResult]

    @classmethod
    def empty(cls) -> ResultLog:
        return cls(frozenset(), frozenset(), {})


async def log_result_events(conn: Conn, events: Sequence[ResultEvent]) -> ResultLog:
    """Log a batch's result events (the learners locked) in one statement, store each component's
    first result where it has none (its first event in the batch: what the events logged one by
    one would store, a first result needing no ordering guard), and read every component's result
    as it stood before (the statement's snapshot does not see its own inserts)."""
    if not events:
        return ResultLog.empty()
    r = await conn.fetchrow(
        """WITH batch AS (
               SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                                    $7::int[], $8::text[], $9::bigint[], $10::timestamptz[], $11::jsonb[])
                   WITH ORDINALITY AS u(event_id, learner_id, offering_id, component_code, kind, result_id, attempt,
                                        source_stream, seq, at, effective, o)
           ), logged AS (
               INSERT INTO award_result_events (event_id, learner_id, offering_id, component_code, kind, result_id,
                                                attempt, source_stream, seq, at)
               SELECT event_id, learner_id, offering_id, component_code, kind, result_id, attempt, source_stream,
                      seq, at
               FROM batch ORDER BY o ON CONFLICT DO NOTHING
           ), first AS (
               INSERT INTO award_results (learner_id, offering_id, component_code, effective, fact_at, source_stream,
                                          seq, at, event_id)
               SELECT DISTINCT ON (learner_id, offering_id, component_code)
                      learner_id, offering_id, component_code, effective, at, source_stream, seq, at, event_id
               FROM batch ORDER BY learner_id, offering_id, component_code, o
               ON CONFLICT DO NOTHING RETURNING event_id
           )
           SELECT (SELECT array_agg(event_id) FROM first) AS first,
                  (SELECT array_agg(ROW(r.learner_id, r.offering_id, r.component_code, r.effective, r.fact_at,
                                        r.source_stream, r.seq, r.at, r.event_id))
                   FROM award_results r
                   WHERE (r.learner_id, r.offering_id, r.component_code)
                         IN (SELECT learner_id, offering_id, component_code FROM batch)) AS current""",
        [e.pos.event_id for e in events],
        [e.learner_id for e in events],
        [e.offering_id for e in events],
        [e.component for e in events],
        [e.kind for e in events],
        [e.result_id for e in events],
        [e.attempt for e in events],
        [e.pos.stream for e in events],
        [e.pos.seq for e in events],
        [e.pos.at for e in events],
        [e.effective.model_dump(mode="json") if e.effective is not None else None for e in events],
    )
    assert r is not None
    current: dict[ComponentKey, CurrentResult] = {}
    for learner, offering, component, effective, fact_at, stream, seq, at, event_id in r["current"] or ():
        before = EffectiveResult.model_validate(effective) if effective is not None else None
        current[(learner, offering, component)] = (before, fact_at, Position(stream, seq, at, event_id))
    return ResultLog(frozenset(e.pos.event_id for e in events), frozenset(r["first"] or ()), current)


async def log_result_event(conn: Conn, event: ResultEvent) -> tuple[CurrentResult | None, bool]:
    """:func:`log_result_events` for one event: the component's result as it stood before it, and
    whether this event was stored as the component's first result."""
    log = await log_result_events(conn, [event])
    return log.current.get((event.learner_id, event.offering_id, event.component)), event.pos.event_id in log.first


async def save_result(
    conn: Conn,
    learner_id: str,
    offering_id: str,
    component: str,
    effective: EffectiveResult | None,
    fact_at: datetime,
    pos: Position,
) -> None:
    await conn.execute(
        """INSERT INTO award_results (learner_id, offering_id, component_code, effective, fact_at, source_stream,
                                      seq, at, event_id)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
           ON CONFLICT (learner_id, offering_id, component_code) DO UPDATE
               SET effective = $4, fact_at = $5, source_stream = $6, seq = $7, at = $8, event_id = $9""",
        learner_id,
        offering_id,
        component,
        effective.model_dump(mode="json") if effective is not None else None,
        fact_at,
        pos.stream,
        pos.seq,
        pos.at,
        pos.event_id,
    )


async def current_attendance(
    conn: Conn, learner_id: str, offering_id: str, component: str
) -> tuple[Decimal, date, datetime, Position] | None:
    r = await conn.fetchrow(
        """SELECT percentage, period_end, fact_at, source_stream, seq, at, event_id FROM award_attendance
           WHERE learner_id = $1 AND offering_id = $2 AND component_code = $3""",
        learner_id,
        offering_id,
        component,
    )
    if r is None:
        return None
    return Decimal(r["percentage"]), r["period_end"], r["fact_at"], _position(r)


async def save_attendance(
    conn: Conn,
    learner_id: str,
    offering_id: str,
    component: str,
    percentage: Decimal,
    period_end: date,
    fact_at: datetime,
    pos: Position,
) -> None:
    await conn.execute(
        """INSERT INTO award_attendance (learner_id, offering_id, component_code, percentage, period_end, fact_at,
                                         source_stream, seq, at, event_id)
           VALUES ($1, $2, $3, $4::numeric, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (learner_id, offering_id, component_code) DO UPDATE
               SET percentage = $4::numeric, period_end = $5, fact_at = $6, source_stream = $7, seq = $8, at = $9,
                   event_id = $10""",
        learner_id,
        offering_id,
        component,
        str(percentage),
        period_end,
        fact_at,
        pos.stream,
        pos.seq,
        pos.at,
        pos.event_id,
    )


# ------------------------------------------------------------------------------ the whole state


# Everything a decision rests on, one table per column, as arrays of rows (composite values): one
# round trip however many learner-offerings and tables. Rows are selected by learner (``$1``) and
# offering (``$2``) with ``= ANY``, index conditions the planner uses in any plan — a join with an
# ``unnest`` of the keys, estimated at ten rows in a generic plan, was hashed against a sequential
# scan while a table was still small in its statistics. The learners x offerings may hold pairs
# that were not asked for; the caller reads only the pairs it asked for.
_LOAD_LEARNER_OFFERINGS = f"""
    SELECT
        (SELECT array_agg(o) FROM award_offerings o WHERE o.offering_id = ANY($2::text[])) AS offerings,
        (SELECT array_agg(e ORDER BY e.enrolment_id) FROM award_enrolments e
           WHERE e.learner_id = ANY($1::text[]) AND e.offering_id = ANY($2::text[])) AS enrolments,
        (SELECT array_agg(e) FROM award_result_events e
           WHERE e.learner_id = ANY($1::text[]) AND e.offering_id = ANY($2::text[])) AS log,
        (SELECT array_agg(t) FROM award_results t
           WHERE t.learner_id = ANY($1::text[]) AND t.offering_id = ANY($2::text[])) AS results,
        (SELECT array_agg(t) FROM award_attendance t
           WHERE t.learner_id = ANY($1::text[]) AND t.offering_id = ANY($2::text[])) AS attendance,
        ({awards.ACTIVE_AND_TAKEN}) AS awards"""


async def load_learner_offerings(
    conn: Conn, keys: Sequence[LearnerOfferingKey]
) -> dict[LearnerOfferingKey, LearnerOffering]:
    """The whole state of each learner-offering in ``keys`` (see :func:`load_round`)."""
    return (await load_round(conn, keys))[0]


async def load_round(
    conn: Conn, keys: Sequence[LearnerOfferingKey]
) -> tuple[dict[LearnerOfferingKey, LearnerOffering], dict[VersionKey, tuple[ActiveAward | None, list[str]]]]:
    """The whole state of each learner-offering in ``keys`` and, for each learner x version of
    their offerings, the active award and every award id taken (``awards.active_and_taken``): in
    one statement whatever their number (a consumer batch re-evaluates all it touched at once, see
    application/engine.py)."""
    learners, offerings = sorted({k[0] for k in keys}), sorted({k[1] for k in keys})
    loaded = await conn.fetchrow(_LOAD_LEARNER_OFFERINGS, learners, offerings)
    assert loaded is not None
    pinned = {r["offering_id"]: _pinned(r) for r in loaded["offerings"] or ()}
    enrolments: dict[LearnerOfferingKey, list[EnrolmentStanding]] = {}
    for r in loaded["enrolments"] or ():
        enrolments.setdefault((r["learner_id"], r["offering_id"]), []).append(
            EnrolmentStanding(r["enrolment_id"], EnrolmentStatus(r["status"]), r["admitted_at"])
        )
    log: dict[tuple[str, str, str], list[ResultEventRecord]] = {}
    for r in loaded["log"] or ():
        log.setdefault((r["learner_id"], r["offering_id"], r["component_code"]), []).append(
            ResultEventRecord(r["event_id"], r["kind"], r["result_id"], r["attempt"], _position(r))
        )
    results: dict[LearnerOfferingKey, dict[str, Any]] = {}
    for r in loaded["results"] or ():
        results.setdefault((r["learner_id"], r["offering_id"]), {})[r["component_code"]] = r
    attendance: dict[LearnerOfferingKey, dict[str, Any]] = {}
    for r in loaded["attendance"] or ():
        attendance.setdefault((r["learner_id"], r["offering_id"]), {})[r["component_code"]] = r
    out: dict[LearnerOfferingKey, LearnerOffering] = {}
    for key in keys:
        learner_id, offering_id = key
        res_of, att_of = results.get(key, {}), attendance.get(key, {})
        components: dict[str, ComponentStanding] = {}
        for code in sorted(set(res_of) | set(att_of)):
            res, att = res_of.get(code), att_of.get(code)
            effective = (
                EffectiveResult.model_validate(res["effective"]) if res is not None and res["effective"] else None
            )
            components[code] = ComponentStanding(
                result=effective,
                result_event_ids=(
                    contributing_events(effective, log.get((learner_id, offering_id, code), []), res["event_id"])
                    if res
                    else ()
                ),
                result_fact_at=res["fact_at"] if res is not None else None,
                attendance=Decimal(att["percentage"]) if att is not None else None,
                attendance_event_ids=(att["event_id"],) if att is not None else (),
                attendance_fact_at=att["fact_at"] if att is not None else None,
            )
        out[key] = LearnerOffering(
            learner_id,
            offering_id,
            pinned.get(offering_id),
            tuple(enrolments.get(key, ())),
            components,
        )
    return out, awards.active_and_taken(loaded["awards"] or ())


async def load_learner_offering(conn: Conn, learner_id: str, offering_id: str) -> LearnerOffering:
    key = (learner_id, offering_id)
    return (await load_learner_offerings(conn, [key]))[key]


async def learner_profile(conn: Conn, learner_id: str) -> dict[str, Any] | None:
    profile: dict[str, Any] | None = await conn.fetchval(
        "SELECT profile FROM award_learners WHERE learner_id = $1", learner_id
    )
    return profile
