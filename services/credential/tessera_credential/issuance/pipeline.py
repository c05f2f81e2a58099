"""From the awarding engine's decisions to stored, signed credentials — in batches, exactly once.

One batch = one transaction:

1. claim up to ``batch_size`` rows of ``issuance_queue`` (``FOR UPDATE SKIP LOCKED``, oldest first,
   skipping rows whose retry time has not come);
2. for each row's award, load its whole supersession lineage and reconcile the lineage's
   credentials with the awards as they are *now* (not as the row's action says — rows of one award
   may be claimed out of order after a retry, and the current state is what must be true):
   * the head of the lineage (the award nobody superseded) is active and has no credential → issue;
   * an older award of the lineage still has an active credential → it is superseded by the head's
     credential (or revoked, when the head itself was revoked);
   * the head was revoked and its credential is active → revoked with the award's reason;
   a pathway award is its own lineage (active without credential → issue; revoked → revoke);
3. issuing = gather inputs → allocate random status-list entries → build (``documents.ob3``, or
   ``documents.clr`` for a pathway, bundling the stacked credentials) → validate against the JSON
   Schemas (both OB 3.0, or CLR 2.0) → sign (``documents.signing``: coordinator first, every
   other awarding partner co-signs) — building and signing of the whole batch in one worker thread;
4. insert ``issued_credentials`` (``award_id UNIQUE``: a concurrent issuer of the same award makes
   ours a no-op, its index is given back), append ``CredentialIssued / Superseded / Revoked`` to the
   event store (outbox, same transaction), re-sign every status list whose bits changed, mark the
   rows done.

A row whose award cannot be handled yet (a definition or profile not received, a document that
fails its schema) is deferred with a growing delay and its error; the rest of the batch commits.
If the batch transaction itself fails, its rows are retried one per transaction so one poison row
cannot hold the others back.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from tessera_credential.documents.clr import build_clr_credential
from tessera_credential.documents.inputs import AwardInfo, IssuanceInput, LearnerIdentity
from tessera_credential.documents.inputs import StatusEntry as DocumentStatusEntry
from tessera_credential.documents.ob3 import build_ob3_credential
from tessera_credential.documents.pathway import PathwayIssuanceInput
from tessera_credential.documents.schemas import validate_clr, validate_ob3
from tessera_credential.documents.signing import sign_credential
from tessera_credential.issuance import inputs
from tessera_credential.issuance.inputs import AwardRow, MissingInput
from tessera_credential.keys import store as key_store
from tessera_credential.keys.did import DidWeb
from tessera_credential.keys.sealing import KeyEncryptionKey
from tessera_credential.keys.store import SigningKey
from tessera_credential.status import credential as status_credential
from tessera_credential.status import lists as status_lists
from tessera_shared.contract.credential import CredentialIssued, CredentialRevoked, CredentialSuperseded
from tessera_shared.contract.criteria import Explanation
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import Append, EventStore

log = structlog.get_logger(__name__)

SUPPORTED_KINDS = ("micro_credential", "pathway")
_EVENT_IDS = uuid.UUID("6f1d7c2e-2b8a-4f43-9a59-3c1b7e0d5a11")  # namespace of credential event ids


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


@dataclass
class BatchResult:
    done: list[int] = field(default_factory=list)
    deferred: dict[int, str] = field(default_factory=dict)
    issued: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


async def claim(conn: Conn, limit: int, *, only: int | None = None) -> list[QueueRow]:
    rows = await conn.fetch(
        """SELECT q.id, q.award_kind, q.action, q.award_id::text, q.event_id::text, q.attempts
           FROM issuance_queue q LEFT JOIN issuance_deferrals d ON d.queue_id = q.id
           WHERE q.done_at IS NULL AND q.award_kind = ANY($2::text[])
             AND (d.not_before IS NULL OR d.not_before <= clock_timestamp())
             AND ($3::bigint IS NULL OR q.id = $3)
           ORDER BY q.id LIMIT $1 FOR UPDATE OF q SKIP LOCKED""",
        limit,
        list(SUPPORTED_KINDS),
        only,
    )
    return [QueueRow(r["id"], r["award_kind"], r["action"], r["award_id"], r["event_id"], r["attempts"]) for r in rows]


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


def _build_and_sign(planned: list[_Planned], keys: dict[str, SigningKey], dids: DidWeb, at: datetime) -> None:
    """CPU only (runs in a worker thread): build, validate and sign each document; errors per item."""
    for p in planned:
        try:
            if isinstance(p.issuance, IssuanceInput):
                unsigned = build_ob3_credential(p.issuance)
                results = list(validate_ob3(unsigned))
            elif isinstance(p.issuance, PathwayIssuanceInput):
                unsigned = build_clr_credential(p.issuance)
                results = [validate_clr(unsigned)]
            else:
                raise TypeError("no issuance input")
            problems = [e for result in results for e in result.errors]
            if problems:
                raise ValueError(f"document fails its JSON Schema: {'; '.join(problems[:5])}")
            issuer = keys[p.issuer_id]
            co_signers = [(keys[i].key, dids.verification_method(i, keys[i].key_number)) for i in p.co_awarder_ids]
            issuer_vm = dids.verification_method(p.issuer_id, issuer.key_number)
            p.document = sign_credential(unsigned, issuer.key, issuer_vm, co_signers, created=at)
        except Exception as exc:  # a document that cannot be made is this award's problem, not the batch's
            p.error = f"{type(exc).__name__}: {exc}"


class IssuancePipeline:
    def __init__(
        self,
        *,
        dids: DidWeb,
        kek: KeyEncryptionKey,
        store: EventStore,
        batch_size: int = 16,
        retry_max_seconds: float = 60.0,
    ) -> None:
        self.dids = dids
        self.kek = kek
        self.store = store
        self.batch_size = batch_size
        self.retry_max_seconds = retry_max_seconds

    # ------------------------------------------------------------------------------ driving

    async def run_once(self, pool: asyncpg.Pool) -> int:
        """Handle one batch; returns how many queue rows were claimed (0: nothing to do)."""
        claimed: list[int] = []
        try:
            async with pool.acquire() as conn, conn.transaction():
                rows = await claim(conn, self.batch_size)
                claimed = [r.id for r in rows]
                if rows:
                    await self.handle(conn, rows)
            return len(claimed)
        except Exception as exc:
            if not claimed:
                raise
            log.warning("issuance batch failed; retrying its rows one by one", rows=len(claimed), error=repr(exc))
        for row_id in claimed:
            await self._run_single(pool, row_id)
        return len(claimed)

    async def _run_single(self, pool: asyncpg.Pool, row_id: int) -> None:
        try:
            async with pool.acquire() as conn, conn.transaction():
                rows = await claim(conn, 1, only=row_id)
                if rows:
                    await self.handle(conn, rows)
        except Exception as exc:
            log.exception("issuance of a queue row failed", queue_id=row_id)
            async with pool.acquire() as conn, conn.transaction():
                await self._defer(conn, {row_id: f"{type(exc).__name__}: {exc}"})

    async def drain(self, pool: asyncpg.Pool, *, max_batches: int = 1000) -> int:
        """Run batches until nothing claimable is left (tests and the CLI)."""
        total = 0
        for _ in range(max_batches):
            n = await self.run_once(pool)
            if n == 0:
                break
            total += n
        return total

    # ------------------------------------------------------------------------------ one batch

    async def handle(self, conn: Conn, rows: Sequence[QueueRow]) -> BatchResult:
        result = BatchResult()
        now = datetime.now(UTC)
        by_award: dict[str, list[QueueRow]] = {}
        for r in rows:
            by_award.setdefault(r.award_id, []).append(r)
        micro = sorted({r.award_id for r in rows if r.award_kind == "micro_credential"})
        pathway = sorted({r.award_id for r in rows if r.award_kind == "pathway"})

        # --- what must exist: micro-credential lineages (by their head) and pathway awards
        lineage_of = await inputs.lineages(conn, micro)
        heads: dict[str, list[AwardRow]] = {}
        blocker: dict[str, str] = {}  # queue award id -> the award whose issuance it waits for
        for award_id in micro:
            lineage = lineage_of.get(award_id)
            if lineage:
                heads[lineage[-1].award_id] = lineage
                blocker[award_id] = lineage[-1].award_id
        pathway_awards = await inputs.pathway_awards(conn, pathway)
        blocker.update({award_id: award_id for award_id in pathway_awards})
        lineage_awards = {a.award_id for lineage in heads.values() for a in lineage}
        existing = await _credentials_of(conn, sorted(lineage_awards | set(pathway_awards)))

        failures: dict[str, str] = {}
        planned: list[_Planned] = []
        for head_id, lineage in sorted(heads.items()):
            if lineage[-1].status == "active" and head_id not in existing:
                try:
                    planned.append(await self._plan_micro_credential(conn, lineage, existing))
                except MissingInput as exc:
                    failures[head_id] = str(exc)
        failures.update(await self._issue(conn, planned, existing, now, result))
        # pathways second: they bundle the micro-credentials, including those issued just now
        planned = []
        for award_id, pw in sorted(pathway_awards.items()):
            if pw.status == "active" and award_id not in existing:
                try:
                    planned.append(await self._plan_pathway(conn, pw))
                except MissingInput as exc:
                    failures[award_id] = str(exc)
        failures.update(await self._issue(conn, planned, existing, now, result))

        # --- what must end: older credentials of a lineage, credentials of revoked awards
        appends: list[Append] = []
        touched: set[str] = set()

        async def end(credential: CredentialRow, superseded_by: str | None, reason: str) -> None:
            if superseded_by is not None:
                append = await self._supersede(conn, credential, superseded_by, now)
            else:
                append = await self._revoke(conn, credential, reason, now)
            if append is not None:
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
        await status_lists.touch(conn, sorted(touched))
        await status_credential.sign_lists(conn, self.kek, self.dids, sorted(touched))

        # --- the queue: done, or deferred with the reason
        for award_id, award_rows in by_award.items():
            waits_for = blocker.get(award_id)
            if waits_for is not None and waits_for in failures:
                result.deferred.update({r.id: failures[waits_for] for r in award_rows})
            else:  # handled, or an award the engine never stored (nothing to do, ever)
                result.done += [r.id for r in award_rows]
        await conn.execute(
            "UPDATE issuance_queue SET done_at = clock_timestamp(), last_error = NULL WHERE id = ANY($1::bigint[])",
            result.done,
        )
        await conn.execute("DELETE FROM issuance_deferrals WHERE queue_id = ANY($1::bigint[])", result.done)
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
        self, conn: Conn, lineage: list[AwardRow], existing: dict[str, CredentialRow]
    ) -> _Planned:
        head = lineage[-1]
        g = await inputs.micro_credential_inputs(conn, self.dids, head)
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

    async def _plan_pathway(self, conn: Conn, award: inputs.PathwayAwardRow) -> _Planned:
        g = await inputs.pathway_inputs(conn, self.dids, award)
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
    ) -> dict[str, str]:
        """Issue every planned credential in one go; returns award id -> error for those that failed."""
        if not planned:
            return {}
        signer_ids = sorted({i for p in planned for i in p.signer_ids})
        await key_store.ensure_keys(conn, self.kek, signer_ids)
        keys = await key_store.signing_keys(conn, self.kek, signer_ids)
        by_issuer: dict[str, list[_Planned]] = {}
        for p in planned:
            p.credential_id = new_credential_id(self.dids)
            by_issuer.setdefault(p.issuer_id, []).append(p)
        list_ids: set[str] = set()
        for issuer_id, group in sorted(by_issuer.items()):
            entries = await status_lists.allocate(conn, issuer_id, [p.credential_id for p in group])
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
        await asyncio.to_thread(_build_and_sign, [p for p in planned if p.error is None], keys, self.dids, now)

        failures: dict[str, str] = {}
        release: list[status_lists.StatusEntry] = []
        appends: list[Append] = []
        for p in planned:
            assert p.entry is not None
            if p.error is not None or p.document is None:
                failures[p.award_id] = p.error or "no document"
                release.append(p.entry)
                continue
            stored = await self._insert(conn, p, now)
            if stored is None:  # a concurrent issuer won: its credential stands, our index goes back
                release.append(p.entry)
                existing.update(await _credentials_of(conn, [p.award_id]))
                continue
            existing[p.award_id] = stored
            result.issued.append(p.credential_id)
            appends.append(self._issued_event(p, now))
        await status_lists.release(conn, release)
        await self.store.append_many(conn, appends)
        # new lists (created by this allocation) are signed before anything refers to them publicly
        await status_credential.sign_lists(conn, self.kek, self.dids, sorted(list_ids))
        return failures

    async def _insert(self, conn: Conn, p: _Planned, now: datetime) -> CredentialRow | None:
        assert p.entry is not None
        micro = p.kind == "micro_credential"
        inserted = await conn.fetchval(
            """INSERT INTO issued_credentials (credential_id, award_id, award_kind, learner_id, micro_credential_id,
                   micro_credential_version, pathway_id, pathway_version, issuer_id, co_signer_ids, achievement_id,
                   document, status_list_id, status_index, supersedes, issued_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
               ON CONFLICT (award_id) DO NOTHING RETURNING 1""",
            p.credential_id,
            p.award_id,
            p.kind,
            p.learner_id,
            p.subject[0] if micro else None,
            p.subject[1] if micro else None,
            None if micro else p.subject[0],
            None if micro else p.subject[1],
            p.issuer_id,
            list(p.co_awarder_ids),
            p.achievement_id,
            p.document,
            p.entry.list_id,
            p.entry.index,
            p.predecessor_id,
            now,
        )
        if not inserted:
            return None
        return CredentialRow(p.credential_id, p.award_id, p.learner_id, "active", p.entry.list_id)

    def _issued_event(self, p: _Planned, now: datetime) -> Append:
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
        return Append(credential_stream(p.credential_id), 0, [event], [event_id(p.credential_id, "issued")])

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
