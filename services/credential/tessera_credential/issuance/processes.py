"""Building, validating and signing credentials off the event loop: in worker processes, or a thread.

Signing is pure CPU on plain data (RDFC canonicalisation, JSON Schema validation, Ed25519), and in
a thread it holds the GIL against the awarding consumers and the HTTP routes of the same process.
:class:`SigningPool` runs it in ``ISSUANCE_PROCESSES`` worker processes instead (in a thread while
they start, so the first batches after a start do not wait for them):

* ``forkserver`` context (``spawn`` where there is none), never ``fork``: the service's process has
  an event loop, threads and open sockets that a forked child must not inherit. The fork server
  is a fresh interpreter that imports this module once (its preload); workers fork from it;
* the workers run at nice :data:`NICENESS` (0, the service's own priority: signing is what the
  issuance queue waits for; see the constant for what was measured);
* each worker is warmed once by :func:`warm` (the vendored JSON-LD contexts, the JSON Schema
  validators, one canonicalisation) when the pool starts, i.e. when the service starts, so the
  first batch does not pay for it; workers ignore SIGINT (the service shuts the pool down itself)
  and exit when the service's process is gone, even after a kill -9;
* 0 processes = one thread of the service's own process (``asyncio.to_thread``), as before.

**Private keys.** A job carries the signers' Ed25519 seeds, unsealed in the service's process as
before, to the worker by pickling through the pool's pipe (in memory, never on disk, never in
a log: :class:`SignerSecret` hides the seed from ``repr`` and jobs never log their inputs). A
worker holds no key between jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

import structlog

from tessera_credential.documents import schemas
from tessera_credential.documents.clr import build_clr_credential
from tessera_credential.documents.inputs import IssuanceInput
from tessera_credential.documents.ob3 import build_ob3_credential
from tessera_credential.documents.pathway import PathwayIssuanceInput
from tessera_credential.documents.schemas import validate_clr, validate_ob3
from tessera_credential.documents.signing import sign_credential
from tessera_credential.keys.did import DidWeb
from tessera_credential.proofs import DEFAULT_LOADER, Ed25519Multikey, canonicalize
from tessera_credential.proofs.contexts import CREDENTIALS_V2, OB_V3P0
from tessera_shared.contract.catalogue import MicroCredentialDefinition
from tessera_shared.kernel import heap

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class SignerSecret:
    """An institution's active signing key as plain data for a worker. ``repr`` never shows the seed."""

    institution_id: str
    key_number: int
    seed: bytes = field(repr=False)


@dataclass(frozen=True)
class SignJob:
    """One credential to build, validate and sign: plain, picklable data.

    Pickled for a worker with its micro-credential definition as JSON (:func:`_definition_json`), which
    the worker validates once and then finds again by those bytes (:func:`_definition_of`): the
    definition, half of a job's pickle, cost ~0.4 ms a job to pickle and unpickle as a model, and every
    job of a version carries the same one (immutable: a published version never changes)."""

    issuance: IssuanceInput | PathwayIssuanceInput
    issuer_id: str
    co_awarder_ids: tuple[str, ...]

    def __reduce__(self) -> tuple[Any, ...]:
        if isinstance(self.issuance, IssuanceInput):
            definition = _definition_json(self.issuance.definition)
            if definition is not None:
                without = self.issuance.model_copy(update={"definition": None})
                return (_unpickle_job, (without, definition, self.issuer_id, self.co_awarder_ids))
        return (SignJob, (self.issuance, self.issuer_id, self.co_awarder_ids))


DEFINITIONS_KEPT = 64  # per process, least recently used first out: the versions being issued
_sent: OrderedDict[int, tuple[MicroCredentialDefinition, bytes | None]] = OrderedDict()  # by id(); holds it
_received: OrderedDict[bytes, MicroCredentialDefinition] = OrderedDict()
_definitions_lock = threading.Lock()  # jobs are pickled in the executor's feeder thread


def _definition_json(definition: MicroCredentialDefinition) -> bytes | None:
    """The definition's JSON, once per definition object (one object per version: ``DefinitionCache``);
    the same bytes object each time, so a chunk of jobs pickles it once. None (the job then travels
    with the model, as before) if the JSON does not validate back to an equal definition: a worker
    that cannot unpickle a job breaks the pool, which would fail the whole batch, not one award."""
    with _definitions_lock:
        kept = _sent.get(id(definition))
        if kept is not None and kept[0] is definition:
            _sent.move_to_end(id(definition))
            return kept[1]
    dumped = definition.model_dump_json().encode()
    data: bytes | None = dumped
    try:
        if MicroCredentialDefinition.model_validate_json(dumped) != definition:
            data = None
    except ValueError:
        data = None
    with _definitions_lock:
        _sent[id(definition)] = (definition, data)
        while len(_sent) > DEFINITIONS_KEPT:
            _sent.popitem(last=False)
    return data


def _definition_of(data: bytes) -> MicroCredentialDefinition:
    """The definition these JSON bytes describe: validated the first time, then kept by the bytes."""
    with _definitions_lock:
        definition = _received.get(data)
        if definition is not None:
            _received.move_to_end(data)
            return definition
    definition = MicroCredentialDefinition.model_validate_json(data)
    with _definitions_lock:
        _received[data] = definition
        while len(_received) > DEFINITIONS_KEPT:
            _received.popitem(last=False)
    return definition


def _unpickle_job(without: IssuanceInput, definition: bytes, issuer_id: str, co_awarders: tuple[str, ...]) -> SignJob:
    issuance = without.model_copy(update={"definition": _definition_of(definition)})
    return SignJob(issuance, issuer_id, co_awarders)


@dataclass(frozen=True)
class Signed:
    """A job's outcome: the signed document, or why it could not be made (this award's problem)."""

    document: dict[str, Any] | None = None
    error: str | None = None


def build_and_sign(
    jobs: Sequence[SignJob], secrets: dict[str, SignerSecret], dids: DidWeb, at: datetime
) -> list[Signed]:
    """CPU only (a worker process or thread): build, validate against the JSON Schemas and sign each
    document; one outcome per job, in order."""
    keys: dict[str, Ed25519Multikey] = {}

    def key(institution_id: str) -> Ed25519Multikey:
        if institution_id not in keys:
            keys[institution_id] = Ed25519Multikey(secrets[institution_id].seed)
        return keys[institution_id]

    out: list[Signed] = []
    for job in jobs:
        try:
            if isinstance(job.issuance, IssuanceInput):
                unsigned = build_ob3_credential(job.issuance)
                results = list(validate_ob3(unsigned))
            elif isinstance(job.issuance, PathwayIssuanceInput):
                unsigned = build_clr_credential(job.issuance)
                results = [validate_clr(unsigned)]
            else:
                raise TypeError("no issuance input")
            problems = [e for result in results for e in result.errors]
            if problems:
                raise ValueError(f"document fails its JSON Schema: {'; '.join(problems[:5])}")
            co_signers = [(key(i), dids.verification_method(i, secrets[i].key_number)) for i in job.co_awarder_ids]
            issuer_vm = dids.verification_method(job.issuer_id, secrets[job.issuer_id].key_number)
            document = sign_credential(unsigned, key(job.issuer_id), issuer_vm, co_signers, created=at)
            out.append(Signed(document=document))
        except Exception as exc:  # a document that cannot be made is this award's problem, not the batch's
            out.append(Signed(error=f"{type(exc).__name__}: {exc}"))
    return out


def _exit_with_parent() -> None:
    """A worker blocks on its call queue, whose write end it holds itself: when the service process
    is killed (kill -9, OOM) it would wait forever, and keep the fork server alive. A daemon
    thread waits on the parent's sentinel and ends the worker with it."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


# Signing gets an even share of the CPU: it is what an award waits for. It ran at 10 (the service's
# own process first) until the benchmark found that the slow HTTP answers blamed on nice 0 were its
# own load generator's; at 0 the mixed steady load's p99 halved and the answers stayed fast
# (docs/credential-keys-and-status.md).
NICENESS = 0
# The fork server is shared by every pool of the process (/verify's engine names the same server):
# whichever pool starts first decides what it imports, so both pools' code is named here.
FORKSERVER_PRELOAD = ["tessera_credential.issuance.processes", "tessera_credential.verification.engine"]


def lower_priority() -> None:
    """Raise this process's nice value to :data:`NICENESS` (never lowers it; best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        current = os.nice(0)
        if current < NICENESS:
            os.nice(NICENESS - current)


def warm() -> None:
    """Worker initializer: ignore Ctrl-C (the parent stops the pool), end with the parent, run at a
    lower CPU priority, and load everything signing needs once: contexts, schema validators,
    pyoxigraph. Never fails the worker."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_with_parent()
    lower_priority()  # the workers only: the fork server also forks /verify's workers
    try:
        for name in ("strict", "lenient", "clr"):
            # the compiled validators every valid document goes through; the reference ones (for the
            # error messages of an invalid document) are built when first needed, as in the service
            schemas._fast_validator(name)
        DEFAULT_LOADER.json_literal_terms()  # parses every vendored context
        document = {
            "@context": [CREDENTIALS_V2, OB_V3P0],
            "type": ["VerifiableCredential", "OpenBadgeCredential"],
            "issuer": {"id": "did:web:warm.example", "type": ["Profile"], "name": "warm-up"},
            "validFrom": "2025-01-01T00:00:00Z",
            "credentialSubject": {"type": ["AchievementSubject"]},
        }
        canonicalize(document, require_signable=True)
        Ed25519Multikey.generate().sign(b"warm-up")
    except Exception:
        pass
    heap.settle()  # what the warm-up loaded lives as long as the worker


def _ready() -> bool:
    return True


def _start_method() -> str:
    """``forkserver`` where available (Linux): one server process imports the signing code once and
    forks warm workers from it, so a new or replaced pool (and every service a test process starts)
    costs a fork, not an interpreter start; else ``spawn``. Never ``fork`` (see the module doc)."""
    return "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"


class SigningPool:
    """``processes`` worker processes (0: a thread of this process) for :func:`build_and_sign`.

    :meth:`start` begins creating and warming the workers in the background; :meth:`run` awaits a
    call in one of them (in a thread until they are ready); a pool broken by a dead worker (killed,
    out of memory) is replaced once per call; :meth:`close` shuts it down (queued calls cancelled,
    running ones finished).
    """

    def __init__(self, processes: int) -> None:
        if processes < 0:
            raise ValueError("processes must be >= 0")
        self.processes = processes
        self._starting: asyncio.Task[ProcessPoolExecutor] | None = None
        self._closed = False

    def start(self) -> None:
        """Create and warm the workers in the background (idempotent; nothing for 0 processes).
        Call with a running event loop; process creation never blocks it."""
        if self.processes and self._starting is None and not self._closed:
            self._starting = asyncio.get_running_loop().create_task(asyncio.to_thread(self._new_executor))

    def _new_executor(self) -> ProcessPoolExecutor:
        """(In a thread: starting a forkserver waits for it to import the signing code.)"""
        method = _start_method()
        context = multiprocessing.get_context(method)
        if method == "forkserver":
            # what the fork server imports, never the parent's __main__ (a no-op once it runs). The
            # fork server is one per process: /verify's engine forks its workers from it too.
            context.set_forkserver_preload(FORKSERVER_PRELOAD)
        executor = ProcessPoolExecutor(max_workers=self.processes, mp_context=context, initializer=warm)
        started = time.monotonic()
        # one trivial call per worker makes the executor create all of them now (it does so on demand)
        calls = [executor.submit(_ready) for _ in range(self.processes)]
        wait(calls)
        try:
            for call in calls:
                call.result()
        except BaseException:
            executor.shutdown(wait=False, cancel_futures=True)
            raise
        log.info(
            "issuance signing processes ready",
            processes=self.processes,
            start_method=method,
            seconds=round(time.monotonic() - started, 2),
        )
        return executor

    async def ready(self) -> bool:
        """Wait until the workers are ready; False when there are none (0 processes, or they failed)."""
        if not self.processes or self._closed:
            return False
        self.start()
        assert self._starting is not None
        with contextlib.suppress(Exception):
            await asyncio.shield(self._starting)
            return True
        return False

    async def run(self, fn: Callable[..., T], /, *args: Any) -> T:
        """``fn(*args)`` in a worker process; in a thread for 0 processes, and while the workers are
        still starting (the first batches after a start do not wait for them) or failed to start."""
        if not self.processes:
            return await asyncio.to_thread(fn, *args)
        for attempt in (1, 2):
            if self._closed:
                raise RuntimeError("the issuance signing pool is closed")
            self.start()
            starting = self._starting
            assert starting is not None
            if not starting.done():
                if attempt == 1:
                    return await asyncio.to_thread(fn, *args)
                # never a thread after a worker died: the call may be what killed it
                with contextlib.suppress(Exception):
                    await asyncio.shield(starting)
            if starting.cancelled() or starting.exception() is not None:
                log.warning("issuance signing processes failed to start; will retry", task=repr(starting))
                self._starting = None  # the next call starts them again
                if attempt == 1:
                    return await asyncio.to_thread(fn, *args)
                raise BrokenProcessPool("the issuance signing processes could not be restarted")
            executor = starting.result()
            try:
                return await asyncio.get_running_loop().run_in_executor(executor, fn, *args)
            except BrokenProcessPool:
                if attempt == 2:
                    raise
                log.warning("an issuance signing process died; starting a new pool")
                if self._starting is starting:  # the first of the callers that saw it break replaces it
                    executor.shutdown(wait=False, cancel_futures=True)
                    self._starting = None
        raise AssertionError("unreachable")

    async def close(self, *, wait_for_start: bool = False) -> None:
        """Stop the workers: queued calls are cancelled, a running one finishes first.

        Workers still starting are stopped as soon as they are up, by a callback on this event loop;
        ``wait_for_start``: wait for them here instead, for a caller whose loop ends right after
        (the issuance worker's own loop), where that callback would never run."""
        self._closed = True
        starting, self._starting = self._starting, None
        if starting is None:
            return
        if not starting.done() and wait_for_start:
            await asyncio.wait([starting])
        if not starting.done():  # still starting: stop them as soon as they are up, without waiting
            starting.add_done_callback(_shut_down_when_started)
            return
        if starting.cancelled() or starting.exception() is not None:
            return
        await asyncio.to_thread(starting.result().shutdown, True, cancel_futures=True)
        log.info("issuance signing processes stopped", processes=self.processes)


def _shut_down_when_started(starting: asyncio.Task[ProcessPoolExecutor]) -> None:
    if not starting.cancelled() and starting.exception() is None:
        starting.result().shutdown(wait=False, cancel_futures=True)
