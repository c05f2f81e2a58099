"""``POST /verify`` on every core: the CPU-heavy checks in worker processes, remembered in a memo.

A verification splits in two (`report`):

* `check_document` — JSON Schemas, contexts, signability (RDFC-1.0 canonicalisation) and the
  Ed25519 signature of every proof: ~all of the CPU, a pure function of the document's bytes and
  its keys' bytes. Runs in a `ProcessPoolExecutor` of ``VERIFY_PROCESSES`` workers, or in a thread
  with ``VERIFY_PROCESSES=0``. Its result is remembered by `memo.ProofCheckMemo`; concurrent
  requests for the same memo key share one check.

Workers: ``forkserver`` context (``spawn`` where there is none), never ``fork`` — the service's
process has an event loop, threads and sockets a forked child must not inherit; the fork server is
a fresh interpreter that imported this module once (as the signing pool's, ``issuance/processes.py``;
they share the one fork server of the process). They start on demand — one per concurrent check, up
to ``VERIFY_PROCESSES`` — so a service that verifies nothing starts none; each is warmed once by
:func:`warm_up` before its first check. Starting one is done off the event loop.
* `assemble_report` — on every request, in the service: key resolution outcomes (the keys as they
  are now), issuer policy, awarding bodies, status (revocation, suspension) and validity dates.

Input caps (size, depth) are checked before parsing, by the caller (`report.parse_document`).
"""

from __future__ import annotations

import asyncio
import functools
import multiprocessing
import signal
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime
from typing import Any

import structlog

from tessera_credential.verification.memo import MemoKey, ProofCheckMemo, memo_key
from tessera_credential.verification.report import (
    DocumentChecks,
    IssuerPolicy,
    KeyLookup,
    StatusLookup,
    VerificationReport,
    assemble_report,
    check_document,
    check_raw,
    resolve_keys,
)
from tessera_credential.verification.settings import VerificationSettings
from tessera_shared.kernel import heap

log = structlog.get_logger(__name__)


def _start_method() -> str:
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class VerifierUnavailableError(Exception):
    """The worker processes cannot answer now (one died, or the service is stopping): retry."""


class Verifier:
    """One per app (``app.state``): started and stopped with it (``entrypoints/public.py``)."""

    def __init__(self, settings: VerificationSettings | None = None, *, thread_concurrency: int = 2) -> None:
        self.settings = settings or VerificationSettings()
        self.processes = self.settings.processes()
        entries = self.settings.verify_memo_entries
        self.memo = ProofCheckMemo(entries) if entries else None
        # checks at once: in process mode enough to keep every worker busy while results travel back
        self.concurrency = 2 * self.processes if self.processes else max(1, thread_concurrency)
        self._slots = asyncio.Semaphore(self.concurrency)
        self._executor: ProcessPoolExecutor | None = None
        self._inflight: dict[MemoKey, asyncio.Task[DocumentChecks]] = {}
        self._stopped = False

    def start(self) -> None:
        """Create the pool. Workers start (and warm up) when the first checks arrive, one per
        concurrent check up to ``VERIFY_PROCESSES``: a service that verifies nothing spawns nothing."""
        self._stopped = False
        if self.processes and self._executor is None:
            self._executor = self._new_executor()

    async def stop(self) -> None:
        """Cancel queued checks, wait for running ones and end the worker processes."""
        self._stopped = True
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.to_thread(executor.shutdown, wait=True, cancel_futures=True)

    def _all_started(self, executor: ProcessPoolExecutor) -> bool:
        """Every worker exists (then submit() only queues the call). CPython's executor keeps its
        workers in ``_processes``; without that attribute, assume not (submit from a thread)."""
        processes = getattr(executor, "_processes", None)
        return isinstance(processes, dict) and len(processes) >= self.processes

    def _new_executor(self) -> ProcessPoolExecutor:
        method = _start_method()
        context = multiprocessing.get_context(method)
        if method == "forkserver":  # what the fork server imports, never the parent's __main__
            context.set_forkserver_preload([__name__])  # (a no-op once the fork server runs)
        return ProcessPoolExecutor(max_workers=self.processes, mp_context=context, initializer=warm_up)

    async def verify(
        self,
        raw: bytes,
        document: dict[str, Any],
        *,
        resolve_key: KeyLookup,
        status_of: StatusLookup,
        now: datetime,
        policy: IssuerPolicy,
    ) -> VerificationReport:
        """The report of `verify_credential(raw, ...)`; `document` is `report.parse_document(raw, policy)`."""
        keys = resolve_keys(document, resolve_key, policy.max_proofs)  # the keys as they are now
        checks: DocumentChecks | None = None
        key: MemoKey | None = None
        if self.memo is not None:
            key = memo_key(raw, document, keys.keys, policy.max_proofs)
            checks = self.memo.get(key)
        if checks is None:
            if key is None:
                checks = await self._check(raw, document, keys.keys, now, policy)
            else:
                checks = await self._shared_check(key, raw, document, keys.keys, now, policy)
        return assemble_report(document, checks, keys, status_of=status_of, now=now, policy=policy, size=len(raw))

    async def _shared_check(
        self,
        key: MemoKey,
        raw: bytes,
        document: dict[str, Any],
        keys: Mapping[str, bytes | None],
        now: datetime,
        policy: IssuerPolicy,
    ) -> DocumentChecks:
        """One check per memo key at a time; it finishes (and fills the memo) even if its caller left."""
        task = self._inflight.get(key)
        if task is None:
            task = asyncio.ensure_future(self._check(raw, document, keys, now, policy))
            self._inflight[key] = task

            def done(finished: asyncio.Task[DocumentChecks]) -> None:
                self._inflight.pop(key, None)
                if finished.cancelled() or finished.exception() is not None:
                    return
                if self.memo is not None:
                    self.memo.put(key, finished.result())

            task.add_done_callback(done)
        return await asyncio.shield(task)

    async def _check(
        self,
        raw: bytes,
        document: dict[str, Any],
        keys: Mapping[str, bytes | None],
        now: datetime,
        policy: IssuerPolicy,
    ) -> DocumentChecks:
        async with self._slots:
            if not self.processes:
                return await asyncio.to_thread(check_document, document, keys, now=now, max_proofs=policy.max_proofs)
            if self._executor is None:
                if self._stopped:
                    raise VerifierUnavailableError("the service is stopping")
                self.start()
            executor = self._executor
            assert executor is not None
            call = functools.partial(check_raw, raw, policy.limits, dict(keys), now, policy.max_proofs)
            future = None
            try:
                if self._all_started(executor):
                    future = executor.submit(call)
                else:  # submit() may start a worker (and the fork server: seconds): not on the event loop
                    future = await asyncio.to_thread(executor.submit, call)
                return await asyncio.wrap_future(future)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if future is not None and future.cancelled() and task is not None and not task.cancelling():
                    # not this request cancelled: stop() cancelled the queued call
                    raise VerifierUnavailableError("the service is stopping") from None
                raise
            except BrokenProcessPool:
                # A worker died (killed, out of memory, a crash in native code): the pool is unusable.
                # Replace it for the next requests; this one (and the others in flight) may retry.
                if self._executor is executor and not self._stopped:
                    log.error("a verification worker process died; starting new workers")
                    self._executor = self._new_executor()
                    executor.shutdown(wait=False, cancel_futures=True)
                raise VerifierUnavailableError("a verification worker stopped; try again") from None
            except RuntimeError as exc:  # "cannot schedule new futures after shutdown"
                if self._stopped:
                    raise VerifierUnavailableError("the service is stopping") from exc
                raise


# ------------------------------------------------------------------------------ worker warm-up

_WARM_KEY_SEED = bytes(range(32))  # a throwaway key: the warm-up signs and checks its own document


def warm_up() -> None:
    """Worker initializer: ignore Ctrl-C (the service stops its pool itself); import everything,
    compile the JSON Schemas, load the vendored contexts, canonicalise a small credential and check
    its signature — so a worker's first real check does not pay for that. Never raises (a failed
    warm-up only makes the first check slower)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        from tessera_credential.proofs import Ed25519Multikey, add_proof
        from tessera_credential.proofs.contexts import CREDENTIALS_V2

        key = Ed25519Multikey(_WARM_KEY_SEED)
        method = key.did_key_verification_method
        document = {
            "@context": [CREDENTIALS_V2, "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"],
            "id": "urn:uuid:00000000-0000-4000-8000-000000000000",
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": key.did_key, "type": ["Profile"], "name": "warm-up"},
            "validFrom": "2025-01-01T00:00:00Z",
            "name": "warm-up",
            "credentialSubject": {
                "type": ["AchievementSubject"],
                "achievement": {
                    "id": "urn:uuid:00000000-0000-4000-8000-000000000001",
                    "type": ["Achievement"],
                    "name": "warm-up",
                    "description": "warm-up",
                    "criteria": {"narrative": "warm-up"},
                },
            },
        }
        signed = add_proof(document, key, verification_method=method, created="2025-01-01T00:00:00Z")
        check_document(signed, {method: key.public_key}, now=datetime.now(UTC))
    except Exception:  # best effort by design
        log.warning("verification worker warm-up failed", exc_info=True)
    heap.settle()  # what the warm-up loaded lives as long as the worker
