"""SQL of the decisions: awards, pathway awards, the latest evaluation per learner x offering and
the issuance queue (the seam to part 2). Runs in the caller's transaction, under the learner lock.

The partial unique indexes ``awards_one_active`` and ``pathway_awards_one_active`` are what makes
an award exactly-once; these functions never check-then-insert around them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from tessera_credential.domain.decision import ActiveAward, NewAward, Outcome
from tessera_credential.domain.pathways import ActivePathwayAward, HeldAward, PathwayGrant, PathwayVersion
from tessera_shared.contract.catalogue import PathwayDefinition
from tessera_shared.contract.credential import GradeSummary
from tessera_shared.contract.criteria import Explanation
from tessera_shared.contract.values import ContractModel
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import Append, EventStore, conflicts, insert_events_sql, insert_outbox_sql
from tessera_shared.kernel.metrics import EVENTS_APPENDED


class StaleAward(RuntimeError):
    """An award changed under us although the learner lock was held: refuse, so the event is retried."""


VersionKey = tuple[str, str, int]  # (learner_id, micro_credential_id, micro_credential_version)


# Every award ever made to the learners in ``$1`` of a version of the offerings in ``$2`` (as in
# ``state.load_round``), as (learner_id, micro_credential_id, version, award_id,
# offering_id, status, grade_summary) rows in award id order.
ACTIVE_AND_TAKEN = """
    SELECT array_agg(ROW(a.learner_id, a.micro_credential_id, a.micro_credential_version, a.award_id::text,
                         a.offering_id, a.status, a.grade_summary) ORDER BY a.award_id)
    FROM awards a
    WHERE a.learner_id = ANY($1::text[])
      AND (a.micro_credential_id, a.micro_credential_version) IN (
          SELECT o.micro_credential_id, o.micro_credential_version FROM award_offerings o
          WHERE o.offering_id = ANY($2::text[]))"""


def active_and_taken(rows: Iterable[Sequence[Any]]) -> dict[VersionKey, tuple[ActiveAward | None, list[str]]]:
    """For each learner x version with awards: the active award (if any) and every award id ever
    made, from the rows of :data:`ACTIVE_AND_TAKEN` in award id order (a version without awards is
    absent: none active, none taken)."""
    out: dict[VersionKey, tuple[ActiveAward | None, list[str]]] = {}
    for learner_id, mc_id, version, award_id, offering_id, status, grade_summary in rows:
        key = (learner_id, mc_id, version)
        active, taken = out.setdefault(key, (None, []))
        taken.append(award_id)
        if status == "active" and active is None:
            out[key] = (ActiveAward(award_id, offering_id, GradeSummary.model_validate(grade_summary)), taken)
    return out


def _json(model: ContractModel) -> dict[str, Any]:
    return model.model_dump(mode="json")


async def insert_awards(conn: Conn, rows: Sequence[tuple[NewAward, str, str]]) -> None:
    """Insert each (award, its awarded event id, the event that caused it) in one pipelined call."""
    if not rows:
        return
    await conn.executemany(
        """INSERT INTO awards (award_id, learner_id, micro_credential_id, micro_credential_version, offering_id,
                               enrolment_id, status, awarded_at, explanation, grade_summary, supersedes,
                               awarded_event_id, caused_by)
           VALUES ($1::uuid, $2, $3, $4, $5, $6, 'active', $7, $8, $9, $10::uuid, $11::uuid, $12)""",
        [_award_row(award, awarded_event_id, caused_by) for award, awarded_event_id, caused_by in rows],
    )


def _award_row(award: NewAward, awarded_event_id: str, caused_by: str) -> tuple[Any, ...]:
    return (
        award.award_id,
        award.learner_id,
        award.micro_credential_id,
        award.micro_credential_version,
        award.offering_id,
        award.enrolment_id,
        award.awarded_at,
        _json(award.explanation),
        _json(award.grade_summary),
        award.supersedes,
        awarded_event_id,
        caused_by,
    )


async def end_award(
    conn: Conn, award_id: str, *, status: str, at: datetime, reason: str, superseded_by: str | None = None
) -> None:
    done = await conn.fetchval(
        """UPDATE awards SET status = $2, ended_at = $3, end_reason = $4, superseded_by = $5::uuid
           WHERE award_id = $1::uuid AND status = 'active' RETURNING 1""",
        award_id,
        status,
        at,
        reason,
        superseded_by,
    )
    if not done:
        raise StaleAward(f"award {award_id} is no longer active")


@dataclass(frozen=True)
class Evaluation:
    """The latest evaluation of a learner x offering (what the progress page and the API show)."""

    learner_id: str
    offering_id: str
    outcome: Outcome
    explanation: Explanation | None
    award_id: str | None
    cause_id: str
    cause_at: datetime


def _save_evaluations_sql(first: int) -> str:
    p = [f"${first + i}" for i in range(8)]
    return f"""UPDATE award_learner_offerings o
           SET outcome = u.outcome, met = u.met, explanation = u.explanation, award_id = u.award_id::uuid,
               evaluated_by = u.evaluated_by, evaluated_at = u.evaluated_at
           FROM unnest({p[0]}::text[], {p[1]}::text[], {p[2]}::text[], {p[3]}::bool[], {p[4]}::jsonb[],
                       {p[5]}::text[], {p[6]}::text[], {p[7]}::timestamptz[])
                AS u(learner_id, offering_id, outcome, met, explanation, award_id, evaluated_by, evaluated_at)
           WHERE o.learner_id = u.learner_id AND o.offering_id = u.offering_id"""


def _evaluation_columns(evaluations: Sequence[Evaluation]) -> tuple[list[Any], ...]:
    # one row per learner x offering, the last evaluation winning (an UPDATE ... FROM applies only one)
    evaluations = list({(e.learner_id, e.offering_id): e for e in evaluations}.values())
    return (
        [e.learner_id for e in evaluations],
        [e.offering_id for e in evaluations],
        [e.outcome.value for e in evaluations],
        [e.explanation.met if e.explanation is not None else False for e in evaluations],
        [_json(e.explanation) if e.explanation is not None else None for e in evaluations],
        [e.award_id for e in evaluations],
        [e.cause_id for e in evaluations],
        [e.cause_at for e in evaluations],
    )


async def save_evaluations(conn: Conn, evaluations: Sequence[Evaluation]) -> None:
    if evaluations:
        await conn.execute(_save_evaluations_sql(1), *_evaluation_columns(evaluations))


# A round's new awards, their issuance requests, their events (with outbox rows) and the round's
# evaluations: one statement (data-modifying CTEs all run, to completion, on one snapshot). Only
# for rounds that end no award: an ending must leave the one-active index before its successor
# enters it, which two CTEs of one statement do not order (_Writes.flush, application/engine.py).
_RECORD_AWARDS = f"""
    WITH new_awards AS (
        INSERT INTO awards (award_id, learner_id, micro_credential_id, micro_credential_version, offering_id,
                            enrolment_id, status, awarded_at, explanation, grade_summary, supersedes,
                            awarded_event_id, caused_by)
        SELECT a, l, m, v, o, e, 'active', t, x, g, s, ev, c
        FROM unnest($1::uuid[], $2::text[], $3::text[], $4::int[], $5::text[], $6::text[], $7::timestamptz[],
                    $8::jsonb[], $9::jsonb[], $10::uuid[], $11::uuid[], $12::text[])
             AS u(a, l, m, v, o, e, t, x, g, s, ev, c)
        RETURNING 1
    ), queued AS (
        INSERT INTO issuance_queue (award_kind, action, award_id, event_id)
        SELECT * FROM unnest($13::text[], $14::text[], $15::uuid[], $16::uuid[])
        ON CONFLICT (event_id) DO NOTHING
        RETURNING 1
    ), evaluated AS ({_save_evaluations_sql(17)}
        RETURNING 1
    ), appended AS ({insert_events_sql(25)}
        RETURNING 1
    ), published AS ({insert_outbox_sql(32)}
        RETURNING 1
    )
    SELECT count(*) FROM appended"""


async def record_awards(
    conn: Conn,
    store: EventStore,
    rows: Sequence[tuple[NewAward, str, str]],
    requests: Sequence[Request],
    appends: Sequence[Append],
    evaluations: Sequence[Evaluation],
) -> None:
    """:func:`insert_awards`, :func:`enqueue`, ``store.append_many`` and :func:`save_evaluations` in
    one statement, for awards whose streams are new (every append expects version 0: the award
    ids are fresh). A unique violation of the event store is what ``append_many`` raises for it
    (``DuplicateEvent``, ``ConcurrencyError``); any other, e.g. a second active award of one
    version (``awards_one_active``), is raised as it is, as :func:`insert_awards` raises it."""
    assert all(a.expected_version == 0 for a in appends) and appends
    events = store.rows(appends, {a.stream_id: 0 for a in appends})
    award_columns = list(zip(*(_award_row(award, event_id, cause) for award, event_id, cause in rows), strict=True))
    try:
        await conn.fetchval(
            _RECORD_AWARDS,
            *(list(c) for c in award_columns),
            [r.award_kind for r in requests],
            [r.action for r in requests],
            [r.award_id for r in requests],
            [r.event_id for r in requests],
            *_evaluation_columns(evaluations),
            *events.event_columns(),
            *events.outbox_columns(),
        )
    except asyncpg.UniqueViolationError as exc:
        if exc.table_name not in ("events", "outbox"):
            raise
        with conflicts(appends[0].stream_id, appends[0].expected_version):
            raise
    EVENTS_APPENDED.labels(store.service).inc(len(events.event_ids))


@dataclass(frozen=True)
class Request:
    """A row of the issuance queue: what part 2 must issue, revoke or supersede, asked by an event."""

    award_kind: str  # micro_credential | pathway
    action: str  # issue | revoke | supersede
    award_id: str
    event_id: str


async def enqueue(conn: Conn, requests: Sequence[Request]) -> None:
    if not requests:
        return
    await conn.executemany(
        """INSERT INTO issuance_queue (award_kind, action, award_id, event_id)
           VALUES ($1, $2, $3::uuid, $4::uuid) ON CONFLICT (event_id) DO NOTHING""",
        [(r.award_kind, r.action, r.award_id, r.event_id) for r in requests],
    )


# -------------------------------------------------------------------------------------- pathways


async def pathway_versions(conn: Conn, pathway_id: str) -> list[PathwayVersion]:
    rows = await conn.fetch(
        """SELECT pathway_id, version, definition, published_at FROM award_pathways
           WHERE pathway_id = $1 ORDER BY version""",
        pathway_id,
    )
    return [_pathway_version(r) for r in rows]


def _pathway_version(r: Any) -> PathwayVersion:
    definition = PathwayDefinition.model_validate(r["definition"])
    return PathwayVersion(
        pathway_id=r["pathway_id"],
        version=r["version"],
        rule=definition.rule,
        members=definition.members,
        published_at=r["published_at"],
    )


Standing = tuple[list[HeldAward], dict[str, tuple[ActivePathwayAward | None, list[str]]]]

_HELD = """(SELECT array_agg(ROW(a.award_id::text, a.micro_credential_id, a.awarded_event_id::text, a.awarded_at)
                            ORDER BY a.award_id)
             FROM awards a WHERE a.learner_id = l.learner_id AND a.status = 'active')"""
_PATHWAY_AWARDS = """(SELECT array_agg(ROW(p.pathway_id, p.award_id::text, p.pathway_version, p.status)
                                      ORDER BY p.pathway_id, p.award_id)
                       FROM pathway_awards p WHERE p.learner_id = l.learner_id AND p.pathway_id = ANY({ids}))"""


async def pathways_and_standings(
    conn: Conn, mc_ids: list[str], learner_ids: list[str]
) -> tuple[dict[str, tuple[frozenset[str], list[PathwayVersion]]], dict[str, Standing]]:
    """Each pathway one of whose versions has a member among ``mc_ids`` (the members of all its
    versions, and the versions) and, in the same statement, :func:`pathway_standings` of
    ``learner_ids`` for every such pathway (a superset of what each learner needs): the pathways a
    batch's awards may complete and what their decisions rest on, in one round trip."""
    rows = await conn.fetch(
        f"""WITH concerned AS MATERIALIZED (
                SELECT DISTINCT pathway_id FROM award_pathways WHERE member_ids && $1::text[])
            SELECT l.learner_id, {_HELD} AS held,
                   {_PATHWAY_AWARDS.format(ids="ARRAY(SELECT pathway_id FROM concerned)")} AS pathway_awards,
                   CASE WHEN l.n = 1 THEN (
                       SELECT array_agg(p ORDER BY p.pathway_id, p.version) FROM award_pathways p
                       WHERE p.pathway_id IN (SELECT pathway_id FROM concerned))
                   END AS pathways
            FROM unnest($2::text[]) WITH ORDINALITY AS l(learner_id, n) ORDER BY l.n""",
        mc_ids,
        learner_ids,
    )
    pathways: dict[str, tuple[frozenset[str], list[PathwayVersion]]] = {}
    for r in (rows[0]["pathways"] or ()) if rows else ():
        members, versions = pathways.get(r["pathway_id"], (frozenset(), []))
        versions.append(_pathway_version(r))
        pathways[r["pathway_id"]] = (members | set(r["member_ids"]), versions)
    return pathways, _standings(rows)


async def pathway_standings(conn: Conn, learner_ids: list[str], pathway_ids: list[str]) -> dict[str, Standing]:
    """What each learner's pathway decisions rest on — the learner's active awards and, per pathway
    of ``pathway_ids``, its active pathway award and every pathway award id already taken — for
    every learner in ``learner_ids`` in one statement: a consumer batch's awards re-evaluate their
    learners' pathways together."""
    rows = await conn.fetch(
        f"""SELECT l.learner_id, {_HELD} AS held, {_PATHWAY_AWARDS.format(ids="$2::text[]")} AS pathway_awards
            FROM unnest($1::text[]) AS l(learner_id)""",
        learner_ids,
        pathway_ids,
    )
    return _standings(rows)


def _standings(rows: Iterable[Any]) -> dict[str, Standing]:
    out: dict[str, Standing] = {}
    for r in rows:
        held = [HeldAward(*h) for h in r["held"] or ()]
        standing: dict[str, tuple[ActivePathwayAward | None, list[str]]] = {}
        for pathway_id, award_id, version, status in r["pathway_awards"] or ():
            active, taken = standing.get(pathway_id, (None, []))
            if status == "active" and active is None:
                active = ActivePathwayAward(award_id, pathway_id, version)
            standing[pathway_id] = (active, [*taken, award_id])
        out[r["learner_id"]] = (held, standing)
    return out


async def learners_holding(conn: Conn, mc_ids: list[str]) -> list[str]:
    rows = await conn.fetch(
        """SELECT DISTINCT learner_id FROM awards WHERE status = 'active' AND micro_credential_id = ANY($1::text[])
           ORDER BY learner_id""",
        mc_ids,
    )
    return [r["learner_id"] for r in rows]


async def insert_pathway_award(
    conn: Conn, learner_id: str, grant: PathwayGrant, awarded_event_id: str, caused_by: str
) -> None:
    await conn.execute(
        """INSERT INTO pathway_awards (award_id, learner_id, pathway_id, pathway_version, status,
                                       constituent_award_ids, explanation, awarded_at, awarded_event_id, caused_by)
           VALUES ($1::uuid, $2, $3, $4, 'active', $5::uuid[], $6, $7, $8::uuid, $9)""",
        grant.award_id,
        learner_id,
        grant.pathway_id,
        grant.pathway_version,
        list(grant.constituent_award_ids),
        _json(grant.explanation),
        grant.awarded_at,
        awarded_event_id,
        caused_by,
    )


async def revoke_pathway_award(conn: Conn, award_id: str, at: datetime, reason: str) -> None:
    done = await conn.fetchval(
        """UPDATE pathway_awards SET status = 'revoked', revoked_at = $2, revocation_reason = $3
           WHERE award_id = $1::uuid AND status = 'active' RETURNING 1""",
        award_id,
        at,
        reason,
    )
    if not done:
        raise StaleAward(f"pathway award {award_id} is no longer active")
