"""From the awarding engine's decisions to stored, signed credentials — in batches, exactly once.

``concurrency`` batches run at once (``ISSUANCE_CONCURRENCY``), each in its own transaction, so
one batch's database work overlaps another's signing; signing runs in worker processes
(``processes.SigningPool``, ``ISSUANCE_PROCESSES``). One batch = one transaction:

1. claim up to ``batch_size`` rows of ``issuance_queue`` (``FOR UPDATE SKIP LOCKED``, oldest first,
   skipping rows whose retry time has not come), reading what their awards stand on in the same
   statement (:func:`claim`);
2. for each row's award, load its whole supersession lineage and reconcile the lineage's
   credentials with the awards as they are *now* (not as the row's action says — rows of one award
   may be claimed out of order after a retry, and the current state is what must be true):
   * the head of the lineage (the award nobody superseded) is active and has no credential → issue;
   * an older award of the lineage still has an active credential → it is superseded by the head's
     credential (or revoked, when the head itself was revoked);
   * the head was revoked and its credential is active → revoked with the award's reason;
   a pathway award is its own lineage (active without credential → issue; revoked → revoke);
3. issuing = gather inputs → reserve random status-list entries → build (``documents.ob3``, or
   ``documents.clr`` for a pathway, bundling the stacked credentials) → validate against the JSON
   Schemas (both OB 3.0, or CLR 2.0) → sign (``documents.signing``: coordinator first, every
   other awarding partner co-signs) — the batch's documents split over the signing processes;
4. insert ``issued_credentials``, the batch's in one statement (``award_id UNIQUE``: a concurrent
   issuer of the same award makes ours a no-op, its index is given back), append
   ``CredentialIssued / Superseded / Revoked`` to the event store (outbox, same transaction), each
   with the context of the award event that caused it (correlation id, trace; causation = that
   event); then, last, re-sign every status list that is new or whose bits changed, and mark the
   rows done.

Status-list entries are reserved in a short transaction of their own (``_Reservations``), not in
the batch's: reserving takes the row lock of the issuer's open list, which the batch would hold
through its signing, so concurrent batches of one issuer would sign one after the other. An
entry is given back (in another short transaction) when its credential is not stored — it failed,
a concurrent issuer won, or the batch rolled back. A crash in between leaves at most ``batch_size``
× ``concurrency`` reserved indexes that no credential uses: their bits stay 0 and say nothing.
For the same reason the batch locks status-list rows (``touch``, ``sign_lists``) only in its last
step, after every reservation: no batch ever waits for a reservation while holding a list lock.

A row whose award cannot be handled yet (a definition or profile not received, a document that
fails its schema) is deferred with a growing delay and its error; the rest of the batch commits.
If the batch transaction itself fails, its rows are retried one per transaction so one poison row
cannot hold the others back.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import orjson
import structlog

from tessera_credential.documents.inputs import AwardInfo, IssuanceInput, LearnerIdentity
from tessera_credential.documents.inputs import StatusEntry as DocumentStatusEntry
from tessera_credential.documents.pathway import PathwayIssuanceInput
from tessera_credential.issuance import inputs
from tessera_credential.issuance.inputs import AwardRow, MissingInput
from tessera_credential.issuance.processes import SignerSecret, SigningPool, SignJob, build_and_sign
from tessera_credential.keys import store as key_store
from tessera_credential.keys.did import DidWeb
from tessera_credential.keys.sealing import KeyEncryptionKey
from tessera_credential.keys.store import SigningKey
from tessera_credential.status import credential as status_credential
from tessera_credential.status import lists as status_lists
from tessera_shared.contract.credential import CredentialIssued, CredentialRevoked, CredentialSuperseded
from tessera_shared.contract.criteria import Explanation
from tessera_shared.kernel.context import MessageContext
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import Append, EventStore, contexts_following

log = structlog.get_logger(__name__)

SUPPORTED_KINDS = ("micro_credential", "pathway")
_EVENT_IDS = uuid.UUID("6f1d7c2e-2b8a-4f43-9a59-3c1b7e0d5a11")  # namespace of credential event ids
_RESERVE_LOCK_TIMEOUT = "10s"  # a reservation never waits long for a list lock (see the module doc)
_ACQUIRE_TIMEOUT = 30.0  # seconds to wait for a pool connection for a reservation


def credential_stream(credential_id: str) -> str:
    return f"credential-{credential_id.rsplit('/', 1)[-1]}"


def event_id(credential_id: str, kind: str) -> str:
    """Each credential is issued once and ends at most once: its events have fixed ids."""
    return str(uuid.uuid5(_EVENT_IDS, f"{credential_id}|{kind}"))


def achievement_id(dids: DidWeb, mc_id: str, version: int) -> str:
    return f"{dids.public_base}/achievements/{mc_id}/v{version}"


def criteria_url(dids: DidWeb, mc_id: str, version: int) -> str:
    return f"{achievement_id(dids, mc_id, version)}/criteria.json"


def pathway_achievement_id(dids: DidWeb, pathway_id: str, version: int) -> str:
    return f"{dids.public_base}/pathways/{pathway_id}/v{version}"


def pathway_criteria_url(dids: DidWeb, pathway_id: str, version: int) -> str:
    return f"{pathway_achievement_id(dids, pathway_id, version)}/criteria.json"


def new_credential_id(dids: DidWeb) -> str:
    return f"{dids.public_base}/credentials/{uuid.uuid4()}"


@dataclass(frozen=True)
class QueueRow:
    id: int
    award_kind: str
    action: str
    award_id: str
    event_id: str
    attempts: int


@dataclass(frozen=True)
class CredentialRow:
    credential_id: str
    award_id: str
    learner_id: str
    status: str
    status_list_id: str


@dataclass(frozen=True)
class Drained:
    """What a round of :meth:`IssuancePipeline.drain_round` did."""

    claimed: int  # queue rows claimed
    caught_up: bool  # every lane ended on a batch short of full: nothing was left to claim


@dataclass
class BatchResult:
    done: list[int] = field(default_factory=list)
    deferred: dict[int, str] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


async def _credentials_of(conn: Conn, award_ids: list[str]) -> dict[str, CredentialRow]:
    rows = await conn.fetch(
        """SELECT credential_id, award_id, learner_id, status, status_list_id FROM issued_credentials
           WHERE award_id = ANY($1::text[]) ORDER BY credential_id FOR UPDATE""",
        award_ids,
    )
    return {
        r["award_id"]: CredentialRow(
            r["credential_id"], r["award_id"], r["learner_id"], r["status"], r["status_list_id"]
        )
        for r in rows
    }


@dataclass
class _Claimed:
    """A batch's claimed queue rows and what their awards stand on (:func:`claim`)."""

    rows: list[QueueRow]
    lineages: dict[str, list[AwardRow]]  # micro-credential award -> its lineage, oldest first
    pathway_awards: dict[str, inputs.PathwayAwardRow]
    existing: dict[str, CredentialRow]  # by award id, locked
    causes: dict[str, MessageContext]  # by queue row event id
    profiles: dict[str, dict[str, Any] | None]  # the awards' learners, as stored (None: not received)


async def claim(conn: Conn, limit: int, *, only: int | None = None) -> _Claimed:
    """Claim up to ``limit`` queue rows (``only``: that row) and read what their awards stand on, in
    one statement: the awards and pathway awards, the credentials of those that stand alone and of
    the pathway awards (locked, in ``credential_id`` order as :func:`_credentials_of`), the rows'
    causing events and the awards' learners.

    The awards are locked ``FOR SHARE`` until the batch commits: the awarding engine ends an award
    (supersedes, revokes) by updating its row, so a correction of an award being issued waits for
    this batch, and the batch that handles the correction sees the credential and ends it. (Without
    the lock another lane could handle the correction first, find no credential yet, and this
    batch would then commit an active credential of an ended award.)

    Most awards stand alone (nothing superseded, nothing supersedes them): their lineage is the award
    itself. Only the others take more statements: the lineage's walk (which locks the lineage's
    awards the same way), then the lock of all its credentials in one statement (as before, so two
    batches never lock one lineage's credentials in different orders)."""
    row = await conn.fetchrow(
        f"""WITH q AS (SELECT q.id, q.award_kind, q.action, q.award_id, q.event_id, q.attempts
                       FROM issuance_queue q LEFT JOIN issuance_deferrals d ON d.queue_id = q.id
                       WHERE q.done_at IS NULL AND q.award_kind = ANY($2::text[])
                         AND (d.not_before IS NULL OR d.not_before <= clock_timestamp())
                         AND ($3::bigint IS NULL OR q.id = $3)
                       ORDER BY q.id LIMIT $1 FOR UPDATE OF q SKIP LOCKED),
                 a AS (SELECT {inputs.AWARD_COLUMNS} FROM awards a
                       WHERE a.award_id = ANY(ARRAY(SELECT award_id FROM q WHERE award_kind = 'micro_credential'))
                       FOR SHARE),
                 p AS (SELECT {inputs.PATHWAY_AWARD_COLUMNS} FROM pathway_awards
                       WHERE award_id = ANY(ARRAY(SELECT award_id FROM q WHERE award_kind = 'pathway'))
                       FOR SHARE),
                 c AS (SELECT credential_id, award_id, learner_id, status, status_list_id FROM issued_credentials
                       WHERE award_id = ANY(ARRAY(SELECT award_id FROM a
                                                  WHERE supersedes IS NULL AND superseded_by IS NULL
                                                  UNION ALL SELECT award_id FROM p))
                       ORDER BY credential_id FOR UPDATE)
            SELECT (SELECT array_agg(ROW(q.id, q.award_kind, q.action, q.award_id::text, q.event_id::text, q.attempts)
                                     ORDER BY q.id) FROM q) AS claimed,
                   (SELECT array_agg(ROW(c.*)) FROM c) AS credentials,
                   (SELECT array_agg(ROW(a.*)) FROM a) AS awards,
                   (SELECT array_agg(ROW(p.*)) FROM p) AS pathway_awards,
                   (SELECT array_agg(ROW(l.learner_id, l.profile)) FROM award_learners l  -- by key, not a join
                    WHERE l.learner_id = ANY(ARRAY(SELECT learner_id FROM a UNION SELECT learner_id FROM p)))
                       AS profiles,
                   (SELECT array_agg(ROW(e.event_id::text, e.metadata)) FROM events e
                    WHERE e.event_id = ANY(ARRAY(SELECT event_id FROM q))) AS causes""",
        limit,
        list(SUPPORTED_KINDS),
        only,
    )
    assert row is not None
    awards = [inputs.award_row(dict(zip(inputs.AWARD_FIELDS, t, strict=True))) for t in row["awards"] or ()]
    pathway_awards = [
        inputs.pathway_award_row(dict(zip(inputs.PATHWAY_AWARD_FIELDS, t, strict=True)))
        for t in row["pathway_awards"] or ()
    ]
    learners = [a.learner_id for a in awards] + [a.learner_id for a in pathway_awards]
    profiles: dict[str, dict[str, Any] | None] = dict.fromkeys(learners)
    profiles.update(dict(row["profiles"] or ()))
    existing = {t[1]: CredentialRow(*t) for t in row["credentials"] or ()}
    lineages = {a.award_id: [a] for a in awards if a.supersedes is None and a.superseded_by is None}
    linked = [a.award_id for a in awards if a.award_id not in lineages]
    if linked:
        lineages.update(await inputs.linked_lineages(conn, linked))
        existing.update(await _credentials_of(conn, sorted({a.award_id for i in linked for a in lineages.get(i, ())})))
    return _Claimed(
        rows=[QueueRow(*t) for t in row["claimed"] or ()],
        lineages=lineages,
        pathway_awards={a.award_id: a for a in pathway_awards},
        existing=existing,
        causes=contexts_following(row["causes"] or ()),
        profiles=profiles,
    )


@dataclass
class _Planned:
    """One credential to issue, from gathered inputs to signed document."""

    award_id: str
    kind: str  # micro_credential | pathway
    learner_id: str
    subject: tuple[str, int]  # (micro-credential or pathway id, version)
    issuer_id: str
    co_awarder_ids: tuple[str, ...]
    achievement_id: str
    make_input: Callable[[str, DocumentStatusEntry], IssuanceInput | PathwayIssuanceInput]
    predecessor_id: str | None = None
    credential_id: str = ""
    entry: status_lists.StatusEntry | None = None
    issuance: IssuanceInput | PathwayIssuanceInput | None = None
    document: dict[str, Any] | None = None
    error: str | None = None

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return (self.issuer_id, *self.co_awarder_ids)


class _Reservations:
    """The status-list entries of one batch, reserved in short transactions of their own and given
    back unless the batch stored a credential with them (see the module doc)."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.reserved: list[status_lists.StatusEntry] = []
        self.kept: set[status_lists.StatusEntry] = set()
        self.unsigned: set[str] = set()  # lists that lent entries while not signed as they stood (new ones)

    async def allocate(self, issuer_id: str, credential_ids: list[str]) -> dict[str, status_lists.StatusEntry]:
        async with self.pool.acquire(timeout=_ACQUIRE_TIMEOUT) as conn, conn.transaction():
            await conn.execute(f"SET LOCAL lock_timeout = '{_RESERVE_LOCK_TIMEOUT}'")
            entries = await status_lists.allocate(conn, issuer_id, credential_ids, unsigned=self.unsigned)
        self.reserved.extend(entries.values())
        return entries

    def keep(self, entry: status_lists.StatusEntry) -> None:
        """A stored credential uses ``entry`` (once the batch commits)."""
        self.kept.add(entry)

    async def give_back(self, *, committed: bool) -> None:
        """After the batch's transaction: give back every entry no committed credential uses."""
        unused = [e for e in self.reserved if not committed or e not in self.kept]
        self.reserved, self.kept = [], set()
        if not unused:
            return
        try:
            async with self.pool.acquire(timeout=_ACQUIRE_TIMEOUT) as conn, conn.transaction():
                await status_lists.release(conn, unused)
        except Exception:  # only indexes lost (their bits stay 0); never the batch's outcome
            log.warning("unused status-list entries were not given back", entries=len(unused), exc_info=True)


class IssuancePipeline:
    def __init__(
        self,
        *,
        dids: DidWeb,
        kek: KeyEncryptionKey,
        store: EventStore,
        batch_size: int = 16,
        retry_max_seconds: float = 60.0,
        signer: SigningPool | None = None,
        concurrency: int = 1,
    ) -> None:
        """``signer``: where documents are built and signed (default: a thread of this process);
        ``concurrency``: batches :meth:`drain` runs at once, each in its own transaction."""
        self.dids = dids
        self.kek = kek
        self.definitions = inputs.DefinitionCache()
        self.store = store
        self.batch_size = batch_size
        self.retry_max_seconds = retry_max_seconds
        self.signer = signer or SigningPool(0)
        self.concurrency = max(1, concurrency)

    # ------------------------------------------------------------------------------ driving

    async def run_once(self, pool: asyncpg.Pool, on_claim: Callable[[int], None] | None = None) -> int:
        """Handle one batch; returns how many queue rows were claimed (0: nothing to do).
        ``on_claim(n)`` is called as soon as the batch has claimed its ``n`` rows."""
        claimed: list[int] = []
        try:
            await self._batch(pool, claimed, self.batch_size, on_claim=on_claim)
            return len(claimed)
        except Exception as exc:
            if not claimed:
                raise
            log.warning("issuance batch failed; retrying its rows one by one", rows=len(claimed), error=repr(exc))
        for row_id in claimed:
            await self._run_single(pool, row_id)
        return len(claimed)

    async def _batch(
        self,
        pool: asyncpg.Pool,
        claimed: list[int],
        limit: int,
        only: int | None = None,
        on_claim: Callable[[int], None] | None = None,
    ) -> None:
        """One transaction: claim (ids into ``claimed``) and handle; then give unused entries back."""
        reservations = _Reservations(pool)
        committed = False
        try:
            async with pool.acquire() as conn, conn.transaction():
                batch = await claim(conn, limit, only=only)
                claimed += [r.id for r in batch.rows]
                if on_claim is not None:
                    on_claim(len(batch.rows))
                if batch.rows:
                    await self.handle(conn, batch, reservations)
            committed = True
        finally:
            await reservations.give_back(committed=committed)

    async def _run_single(self, pool: asyncpg.Pool, row_id: int) -> None:
        try:
            await self._batch(pool, [], 1, only=row_id)
        except Exception as exc:
            log.exception("issuance of a queue row failed", queue_id=row_id)
            async with pool.acquire() as conn, conn.transaction():
                await self._defer(conn, {row_id: f"{type(exc).__name__}: {exc}"})

    async def drain(
        self, pool: asyncpg.Pool, *, max_batches: int = 1000, stop: Callable[[], bool] | None = None
    ) -> int:
        """Run batches until nothing claimable is left (or ``stop()``); returns how many queue rows
        were claimed. :meth:`drain_round` (the worker's round) without its ``caught_up``."""
        return (await self.drain_round(pool, max_batches=max_batches, stop=stop)).claimed

    async def drain_round(
        self,
        pool: asyncpg.Pool,
        *,
        max_batches: int = 1000,
        stop: Callable[[], bool] | None = None,
        queued: asyncio.Event | None = None,
    ) -> Drained:
        """Run batches until nothing claimable is left (or ``stop()``), up to ``concurrency`` at a time.

        One lane of batches starts; another starts each time a batch claims a full ``batch_size``
        (there may be more), up to ``concurrency`` lanes. A lane ends after a batch that claimed
        less than a full batch: nothing else was claimable when it claimed (rows locked by another
        lane are that lane's; rows queued later wake the worker with their NOTIFY). So a trickle of
        awards costs one claim per batch, not a claim that finds nothing after each batch and
        another in every idle lane. ``caught_up``: every lane ended that way (not on the budget of
        ``max_batches`` or ``stop()``), so the worker may sleep until the next NOTIFY.

        ``queued`` (the worker's NOTIFY): set when rows were queued meanwhile. While fewer than
        ``concurrency`` lanes run, it is taken (cleared) and starts another lane, which claims them
        at once: under a trickle of awards, an award queued while a batch signs does not wait for
        that batch to commit. Left set, the worker runs another round after this one."""
        budget = [max_batches]
        lanes: list[asyncio.Task[tuple[int, bool]]] = []

        def claimed(n: int) -> None:
            if n >= self.batch_size and len(lanes) < self.concurrency and budget[0] > 0:
                lanes.append(asyncio.create_task(lane()))

        async def lane() -> tuple[int, bool]:
            total = 0
            while budget[0] > 0 and not (stop is not None and stop()):
                budget[0] -= 1
                n = await self.run_once(pool, on_claim=claimed)
                total += n
                if n < self.batch_size:
                    return total, True
            return total, False

        if queued is not None:
            queued.clear()  # the first lane's claim comes after every row queued so far
        lanes.append(asyncio.create_task(lane()))
        more: asyncio.Task[bool] | None = None  # waits for ``queued``
        try:
            while pending := [task for task in lanes if not task.done()]:  # lanes start while others run
                listening = (
                    queued is not None
                    and len(pending) < self.concurrency
                    and budget[0] > 0
                    and not (stop is not None and stop())
                )
                if listening and more is None:
                    assert queued is not None
                    more = asyncio.create_task(queued.wait())
                done, _ = await asyncio.wait(
                    [*pending, more] if listening and more else pending, return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    if task is not more and (error := task.exception()) is not None:
                        raise error
                if listening and more is not None and more.done():
                    assert queued is not None
                    queued.clear()
                    more = None
                    lanes.append(asyncio.create_task(lane()))
            outcomes = [task.result() for task in lanes]
        except BaseException:  # one lane failed (or we are cancelled): stop the others, report the first
            for task in lanes:
                task.cancel()
            await asyncio.gather(*lanes, return_exceptions=True)
            raise
        finally:
            if more is not None:
                more.cancel()
        return Drained(claimed=sum(n for n, _ in outcomes), caught_up=all(done for _, done in outcomes))

    # ------------------------------------------------------------------------------ one batch

    async def handle(self, conn: Conn, claimed: _Claimed, reservations: _Reservations) -> BatchResult:
        rows = claimed.rows
        result = BatchResult()
        now = datetime.now(UTC)
        by_award: dict[str, list[QueueRow]] = {}
        for r in rows:
            by_award.setdefault(r.award_id, []).append(r)
        micro = sorted({r.award_id for r in rows if r.award_kind == "micro_credential"})

        # --- what must exist: micro-credential lineages (by their head) and pathway awards
        lineage_of = claimed.lineages
        heads: dict[str, list[AwardRow]] = {}
        blocker: dict[str, str] = {}  # queue award id -> the award whose issuance it waits for
        for award_id in micro:
            lineage = lineage_of.get(award_id)
            if lineage:
                heads[lineage[-1].award_id] = lineage
                blocker[award_id] = lineage[-1].award_id
        pathway_awards = claimed.pathway_awards
        blocker.update({award_id: award_id for award_id in pathway_awards})
        existing = claimed.existing
        causes = claimed.causes
        head_of = {a.award_id: head_id for head_id, lineage in heads.items() for a in lineage}

        def cause_of(award_id: str) -> MessageContext | None:
            """The context of the award event behind a credential event of ``award_id``: its own
            queue row's event (e.g. ``AwardSuperseded`` of an old award), else the newest row of
            its lineage (e.g. the head's ``CredentialAwarded``); None (the bound context) when the
            event is not in the store."""
            head_id = head_of.get(award_id, award_id)
            for candidates in (by_award.get(award_id, []), [r for r in rows if blocker.get(r.award_id) == head_id]):
                for r in reversed(candidates):
                    if r.event_id in causes:
                        return causes[r.event_id]
            return None

        failures: dict[str, str] = {}
        to_sign: set[str] = set()  # status lists that got entries: new ones are signed before commit
        planned: list[_Planned] = []
        shared = inputs.SharedInputs(known=self.definitions, profiles=claimed.profiles)
        to_issue = [h for h, lineage in sorted(heads.items()) if lineage[-1].status == "active" and h not in existing]
        to_issue_pathways = [pw for a, pw in pathway_awards.items() if pw.status == "active" and a not in existing]
        await shared.prefetch_learners(
            conn, [heads[h][-1].learner_id for h in to_issue] + [pw.learner_id for pw in to_issue_pathways]
        )
        for head_id in to_issue:
            try:
                planned.append(await self._plan_micro_credential(conn, heads[head_id], existing, shared))
            except MissingInput as exc:
                failures[head_id] = str(exc)
        failures.update(
            await self._issue(conn, planned, existing, now, result, reservations, cause_of, to_sign, shared.sealed_keys)
        )
        # pathways second: they bundle the micro-credentials, including those issued just now
        planned = []
        for award_id, pw in sorted(pathway_awards.items()):
            if pw.status == "active" and award_id not in existing:
                try:
                    planned.append(await self._plan_pathway(conn, pw, shared))
                except MissingInput as exc:
                    failures[award_id] = str(exc)
        failures.update(
            await self._issue(conn, planned, existing, now, result, reservations, cause_of, to_sign, shared.sealed_keys)
        )

        # --- what must end: older credentials of a lineage, credentials of revoked awards
        appends: list[Append] = []
        touched: set[str] = set()

        async def end(credential: CredentialRow, superseded_by: str | None, reason: str) -> None:
            if superseded_by is not None:
                append = await self._supersede(conn, credential, superseded_by, now)
            else:
                append = await self._revoke(conn, credential, reason, now)
            if append is not None:
                append.context = cause_of(credential.award_id)
                appends.append(append)
                touched.add(credential.status_list_id)
                result.ended.append(credential.credential_id)

        for head_id, lineage in sorted(heads.items()):
            if head_id in failures:
                continue
            head = lineage[-1]
            head_credential = existing.get(head_id)
            for award in lineage:
                credential = existing.get(award.award_id)
                if credential is None or credential.status != "active":
                    continue
                reason = head.end_reason or "award revoked"
                if award.award_id == head_id:
                    if head.status != "active":
                        await end(credential, None, reason)
                elif head.status == "active" and head_credential is not None:
                    await end(credential, head_credential.credential_id, reason)
                elif head.status != "active":
                    await end(credential, None, f"superseded by award {head_id}, which was revoked: {reason}")
        for award_id, pw in sorted(pathway_awards.items()):
            credential = existing.get(award_id)
            if pw.status == "revoked" and credential is not None and credential.status == "active":
                await end(credential, None, pw.revocation_reason or "pathway award revoked")
        await self.store.append_many(conn, appends)
        # last: the only status-list row locks this transaction takes (after every reservation).
        # Lists that only lent entries need signing only when new (the reservation said so): the
        # open list is not locked by every batch (other batches reserve entries from it meanwhile).
        await status_lists.touch(conn, sorted(touched))
        await status_credential.sign_lists(
            conn, self.kek, self.dids, sorted(touched | (to_sign & reservations.unsigned))
        )

        # --- the queue: done, or deferred with the reason
        for award_id, award_rows in by_award.items():
            waits_for = blocker.get(award_id)
            if waits_for is not None and waits_for in failures:
                result.deferred.update({r.id: failures[waits_for] for r in award_rows})
            else:  # handled, or an award the engine never stored (nothing to do, ever)
                result.done += [r.id for r in award_rows]
        await conn.execute(
            """WITH done AS (
                   UPDATE issuance_queue SET done_at = clock_timestamp(), last_error = NULL
                   WHERE id = ANY($1::bigint[]) RETURNING id)
               DELETE FROM issuance_deferrals d USING done WHERE d.queue_id = done.id""",
            result.done,
        )
        await self._defer(conn, result.deferred)
        if result.issued or result.ended or result.deferred:
            log.info(
                "issuance batch", issued=len(result.issued), ended=len(result.ended), deferred=len(result.deferred)
            )
        return result

    async def _defer(self, conn: Conn, errors: dict[int, str]) -> None:
        if not errors:
            return
        ids = sorted(errors)
        await conn.execute(
            """WITH bumped AS (
                   UPDATE issuance_queue q SET attempts = attempts + 1, last_error = u.e
                   FROM unnest($1::bigint[], $2::text[]) AS u(i, e) WHERE q.id = u.i RETURNING q.id, q.attempts)
               INSERT INTO issuance_deferrals (queue_id, not_before)
               SELECT id, clock_timestamp() + make_interval(secs => least($3::float8, 0.5 * power(2, attempts - 1)))
               FROM bumped
               ON CONFLICT (queue_id) DO UPDATE SET not_before = excluded.not_before""",
            ids,
            [errors[i][:2000] for i in ids],
            self.retry_max_seconds,
        )

    # ------------------------------------------------------------------------------ planning

    async def _plan_micro_credential(
        self, conn: Conn, lineage: list[AwardRow], existing: dict[str, CredentialRow], shared: inputs.SharedInputs
    ) -> _Planned:
        head = lineage[-1]
        g = await inputs.micro_credential_inputs(conn, self.dids, head, shared)
        mc_id, version = head.micro_credential_id, head.micro_credential_version
        # the nearest older award of the lineage that has a credential: the one this supersedes
        predecessor = next(
            (existing[a.award_id].credential_id for a in reversed(lineage[:-1]) if a.award_id in existing), None
        )
        salt = secrets.token_urlsafe(18)

        def make_input(credential_id: str, status: DocumentStatusEntry) -> IssuanceInput:
            return IssuanceInput(
                credential_id=credential_id,
                issuer=g.institutions[g.issuer_id],
                co_awarders=tuple(g.institutions[i] for i in g.co_awarder_ids),
                learner=LearnerIdentity.from_profile(g.learner, salt),
                micro_credential_id=mc_id,
                version=version,
                achievement_id=achievement_id(self.dids, mc_id, version),
                definition=g.definition,
                award=AwardInfo.from_event_data(head.award_id, head.awarded_at, head.grade_summary, head.explanation),
                criteria_url=criteria_url(self.dids, mc_id, version),
                status=status,
                predecessor_id=predecessor,
            )

        return _Planned(
            award_id=head.award_id,
            kind="micro_credential",
            learner_id=head.learner_id,
            subject=(mc_id, version),
            issuer_id=g.issuer_id,
            co_awarder_ids=g.co_awarder_ids,
            achievement_id=achievement_id(self.dids, mc_id, version),
            make_input=make_input,
            predecessor_id=predecessor,
        )

    async def _plan_pathway(self, conn: Conn, award: inputs.PathwayAwardRow, shared: inputs.SharedInputs) -> _Planned:
        g = await inputs.pathway_inputs(conn, self.dids, award, shared)
        pathway_id, version = award.pathway_id, award.pathway_version
        salt = secrets.token_urlsafe(18)
        explanation = Explanation.model_validate(award.explanation) if award.explanation is not None else None

        def make_input(credential_id: str, status: DocumentStatusEntry) -> PathwayIssuanceInput:
            return PathwayIssuanceInput(
                credential_id=credential_id,
                issuer=g.institutions[g.issuer_id],
                co_awarders=tuple(g.institutions[i] for i in g.co_awarder_ids),
                learner=LearnerIdentity.from_profile(g.learner, salt),
                pathway_id=pathway_id,
                version=version,
                achievement_id=pathway_achievement_id(self.dids, pathway_id, version),
                definition=g.definition,
                award_id=award.award_id,
                awarded_at=award.awarded_at,
                explanation=explanation,
                criteria_url=pathway_criteria_url(self.dids, pathway_id, version),
                status=status,
                credentials=g.credentials,
            )

        return _Planned(
            award_id=award.award_id,
            kind="pathway",
            learner_id=award.learner_id,
            subject=(pathway_id, version),
            issuer_id=g.issuer_id,
            co_awarder_ids=g.co_awarder_ids,
            achievement_id=pathway_achievement_id(self.dids, pathway_id, version),
            make_input=make_input,
        )

    # ------------------------------------------------------------------------------ issuing

    async def _issue(
        self,
        conn: Conn,
        planned: list[_Planned],
        existing: dict[str, CredentialRow],
        now: datetime,
        result: BatchResult,
        reservations: _Reservations,
        cause_of: Callable[[str], MessageContext | None],
        list_ids: set[str],
        sealed_keys: dict[str, Any],
    ) -> dict[str, str]:
        """Issue every planned credential in one go; returns award id -> error for those that failed.
        Adds the status lists it took entries from to ``list_ids`` (signed in the batch's last step).
        ``sealed_keys``: the signers' active keys as read with their profiles (the others are read here)."""
        if not planned:
            return {}
        signer_ids = sorted({i for p in planned for i in p.signer_ids})
        keys = key_store.open_keys(self.kek, [sealed_keys[i] for i in signer_ids if i in sealed_keys])
        if unread := [i for i in signer_ids if i not in keys]:
            keys.update(await key_store.signing_keys(conn, self.kek, unread))
        missing = [i for i in signer_ids if i not in keys]
        if missing:  # an institution's first credential (the idle round usually made its key before)
            await key_store.ensure_keys(conn, self.kek, missing)
            keys.update(await key_store.signing_keys(conn, self.kek, missing))
        by_issuer: dict[str, list[_Planned]] = {}
        for p in planned:
            p.credential_id = new_credential_id(self.dids)
            by_issuer.setdefault(p.issuer_id, []).append(p)
        for issuer_id, group in sorted(by_issuer.items()):
            entries = await reservations.allocate(issuer_id, [p.credential_id for p in group])
            for p in group:
                p.entry = entries[p.credential_id]
                list_ids.add(p.entry.list_id)
        for p in planned:
            assert p.entry is not None
            status = DocumentStatusEntry(
                status_list_credential=status_credential.list_url(self.dids, p.entry.list_id),
                status_list_index=p.entry.index,
            )
            try:
                p.issuance = p.make_input(p.credential_id, status)
            except Exception as exc:  # inconsistent inputs (pydantic validation): this award's problem
                p.error = f"{type(exc).__name__}: {exc}"
        await self._sign([p for p in planned if p.error is None and p.issuance is not None], keys, now)

        failures = {p.award_id: p.error or "no document" for p in planned if p.error is not None or p.document is None}
        signed = [p for p in planned if p.award_id not in failures]  # the others' entries go back after the batch
        stored = await self._insert(conn, signed, now)
        lost = [p.award_id for p in signed if p.award_id not in stored]
        if lost:  # a concurrent issuer won: its credential stands, our index goes back
            existing.update(await _credentials_of(conn, lost))
        appends: list[Append] = []
        for p in signed:
            if p.award_id not in stored:
                continue
            assert p.entry is not None
            reservations.keep(p.entry)
            existing[p.award_id] = CredentialRow(p.credential_id, p.award_id, p.learner_id, "active", p.entry.list_id)
            result.issued.append(p.credential_id)
            appends.append(self._issued_event(p, now, cause_of(p.award_id)))
        await self.store.append_many(conn, appends)
        return failures

    async def _sign(self, planned: list[_Planned], keys: dict[str, SigningKey], now: datetime) -> None:
        """Build, validate and sign ``planned`` (documents or errors set on each), split over the
        signing processes: one chunk per process, so a batch's documents are signed in parallel."""
        if not planned:
            return
        secrets_ = {i: SignerSecret(k.institution_id, k.key_number, k.key.seed) for i, k in keys.items()}
        n = max(1, min(len(planned), self.signer.processes))
        chunks = [planned[i::n] for i in range(n)]

        def jobs(chunk: list[_Planned]) -> list[SignJob]:
            return [SignJob(p.issuance, p.issuer_id, p.co_awarder_ids) for p in chunk]  # type: ignore[arg-type]

        def secrets_of(chunk: list[_Planned]) -> dict[str, SignerSecret]:
            return {i: secrets_[i] for p in chunk for i in p.signer_ids if i in secrets_}  # a missing key: its error

        outcomes = await asyncio.gather(
            *(self.signer.run(build_and_sign, jobs(c), secrets_of(c), self.dids, now) for c in chunks)
        )
        for chunk, signed in zip(chunks, outcomes, strict=True):
            for p, outcome in zip(chunk, signed, strict=True):
                p.document, p.error = outcome.document, outcome.error

    async def _insert(self, conn: Conn, planned: list[_Planned], now: datetime) -> set[str]:
        """Store the signed credentials in one statement; returns the award ids stored (``award_id`` is
        UNIQUE: an award a concurrent issuer already stored is skipped)."""
        if not planned:
            return set()
        micro = [p.kind == "micro_credential" for p in planned]
        entries = [p.entry for p in planned]
        assert all(e is not None for e in entries)
        rows = await conn.fetch(
            """INSERT INTO issued_credentials (credential_id, award_id, award_kind, learner_id, micro_credential_id,
                   micro_credential_version, pathway_id, pathway_version, issuer_id, co_signer_ids, achievement_id,
                   document, status_list_id, status_index, supersedes, issued_at)
               SELECT u.credential_id, u.award_id, u.award_kind, u.learner_id, u.mc_id, u.mc_version, u.pw_id,
                      u.pw_version, u.issuer_id, ARRAY(SELECT jsonb_array_elements_text(u.co_signers::jsonb)),
                      u.achievement_id, u.document, u.list_id, u.list_index, u.supersedes, $16
               FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::int[], $7::text[],
                           $8::int[], $9::text[], $10::text[], $11::text[], $12::jsonb[], $13::text[], $14::int[],
                           $15::text[])
                    AS u(credential_id, award_id, award_kind, learner_id, mc_id, mc_version, pw_id, pw_version,
                         issuer_id, co_signers, achievement_id, document, list_id, list_index, supersedes)
               ORDER BY u.award_id
               ON CONFLICT (award_id) DO NOTHING RETURNING award_id""",
            [p.credential_id for p in planned],
            [p.award_id for p in planned],
            [p.kind for p in planned],
            [p.learner_id for p in planned],
            [p.subject[0] if m else None for p, m in zip(planned, micro, strict=True)],
            [p.subject[1] if m else None for p, m in zip(planned, micro, strict=True)],
            [None if m else p.subject[0] for p, m in zip(planned, micro, strict=True)],
            [None if m else p.subject[1] for p, m in zip(planned, micro, strict=True)],
            [p.issuer_id for p in planned],
            [orjson.dumps(p.co_awarder_ids).decode() for p in planned],  # ragged: one JSON array each
            [p.achievement_id for p in planned],
            [p.document for p in planned],
            [e.list_id for e in entries if e is not None],
            [e.index for e in entries if e is not None],
            [p.predecessor_id for p in planned],
            now,
        )
        return {r["award_id"] for r in rows}

    def _issued_event(self, p: _Planned, now: datetime, cause: MessageContext | None) -> Append:
        assert p.entry is not None
        event = CredentialIssued(
            credential_id=p.credential_id,
            award_id=p.award_id,
            learner_id=p.learner_id,
            achievement_id=p.achievement_id,
            issuer=self.dids.did(p.issuer_id),
            co_signers=tuple(self.dids.did(i) for i in p.co_awarder_ids),
            status_list=status_credential.list_url(self.dids, p.entry.list_id),
            status_index=p.entry.index,
            issued_at=now,
        )
        return Append(
            credential_stream(p.credential_id), 0, [event], [event_id(p.credential_id, "issued")], context=cause
        )

    # ------------------------------------------------------------------------------ ending

    async def _end(
        self, conn: Conn, credential: CredentialRow, status: str, now: datetime, *, by: str | None, reason: str | None
    ) -> bool:
        changed = await conn.fetchval(
            """UPDATE issued_credentials SET status = $2, superseded_by = $3, revocation_reason = $4, ended_at = $5
               WHERE credential_id = $1 AND status = 'active' RETURNING 1""",
            credential.credential_id,
            status,
            by,
            reason,
            now,
        )
        return bool(changed)

    async def _supersede(self, conn: Conn, credential: CredentialRow, by: str, now: datetime) -> Append | None:
        if not await self._end(conn, credential, "superseded", now, by=by, reason=None):
            return None
        event = CredentialSuperseded(
            credential_id=credential.credential_id,
            superseded_by=by,
            award_id=credential.award_id,
            learner_id=credential.learner_id,
            superseded_at=now,
        )
        cid = credential.credential_id
        return Append(credential_stream(cid), 1, [event], [event_id(cid, "ended")])

    async def _revoke(self, conn: Conn, credential: CredentialRow, reason: str, now: datetime) -> Append | None:
        if not await self._end(conn, credential, "revoked", now, by=None, reason=reason):
            return None
        event = CredentialRevoked(
            credential_id=credential.credential_id,
            award_id=credential.award_id,
            learner_id=credential.learner_id,
            reason=reason,
            revoked_at=now,
        )
        cid = credential.credential_id
        return Append(credential_stream(cid), 1, [event], [event_id(cid, "ended")])
