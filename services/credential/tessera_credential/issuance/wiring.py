"""Plug keys, status lists, issuance and the public routes into the credential service.

The lead engineer calls :func:`wire_issuance` from ``bootstrap.build`` (part 1 owns bootstrap.py)::

    definition = ServiceDefinition(...)
    wire_issuance(definition)
    return definition

It adds the public router (``entrypoints/public.py``) and an ``on_start`` hook that

1. resolves the key-encryption key (``CREDENTIAL_KEY_ENCRYPTION_KEY``) — a missing or malformed key
   stops the start with a message saying what to do (see ``IssuanceSettings.key_encryption_key``
   for the loopback development exception), and stored keys sealed with another KEK stop it too;
2. builds the issuance pipeline on the runtime's pool and event store (what tests and the CLI
   drive directly; it signs in a thread);
3. when the runtime runs background work (``RUN_BACKGROUND``), starts the issuance worker with
   ``Runtime.spawn`` (restarted if it crashes; asked to stop before the runtime closes) on an event
   loop and thread of its own (kernel ``OwnLoop``), with its own small pool (two connections per
   batch in flight), event store and signing processes (``ISSUANCE_PROCESSES``, warmed in the
   background). Why its own loop: a batch is some twenty sequential statements, and on the
   service's loop each waited behind the consumers' and the routes' callbacks (docs/benchmarks.md).
   The processes and the pool are closed when the worker stops, after its last batch.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

import structlog

from tessera_credential.issuance.pipeline import IssuancePipeline
from tessera_credential.issuance.processes import SigningPool
from tessera_credential.issuance.settings import DEVELOPMENT_KEK, IssuanceSettings
from tessera_credential.issuance.worker import IssuanceWorker
from tessera_credential.keys import store as key_store
from tessera_credential.keys.did import DidWeb
from tessera_credential.keys.sealing import KeyEncryptionError, KeyEncryptionKey
from tessera_shared.kernel import db
from tessera_shared.kernel.eventstore import EventStore
from tessera_shared.kernel.own_loop import OwnLoop
from tessera_shared.kernel.runtime import Runtime, ServiceDefinition

log = structlog.get_logger(__name__)

SERVICE_KEY = "credential_issuance"


@dataclass
class IssuanceContext:
    """What the public routes and the worker share (``app.state.services["credential_issuance"]``)."""

    settings: IssuanceSettings
    dids: DidWeb
    kek: KeyEncryptionKey | None = None
    pipeline: IssuancePipeline | None = None
    worker: IssuanceWorker | None = None
    verify_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))
    _runtime: Runtime | None = None
    _own_loop: OwnLoop = field(default_factory=lambda: OwnLoop("credential:issuance"))
    _stop_requested: threading.Event = field(default_factory=threading.Event)

    def require_kek(self) -> KeyEncryptionKey:
        if self.kek is None:
            raise KeyEncryptionError("the issuance component has not started")
        return self.kek

    async def start(self, runtime: Runtime) -> None:
        assert runtime.pool is not None and runtime.store is not None
        kek = self.settings.key_encryption_key(runtime.settings.public_base_url)
        if kek is DEVELOPMENT_KEK:
            log.warning(
                "CREDENTIAL_KEY_ENCRYPTION_KEY is not set: institution keys are sealed with the public "
                "development key (allowed only because PUBLIC_BASE_URL is a loopback address)"
            )
        async with runtime.pool.acquire() as conn:
            foreign = await key_store.foreign_kek_ids(conn, kek)
        if foreign:
            raise KeyEncryptionError(
                f"stored institution keys were sealed with another CREDENTIAL_KEY_ENCRYPTION_KEY "
                f"(kek_id {', '.join(foreign)}; this one is {kek.kek_id}): start with the key that sealed them"
            )
        self.kek = kek
        self.verify_slots = asyncio.Semaphore(self.settings.verify_concurrency)
        background = runtime.settings.run_background
        # The pipeline on the runtime's pool and loop: what tests and the CLI drive directly.
        # Without the worker (RUN_BACKGROUND=false) nothing issues in this process: no processes.
        self.pipeline = self._pipeline(runtime.store, SigningPool(0))  # signs in a thread
        if not background:
            return
        self._runtime = runtime
        self._stop_requested.clear()
        runtime.spawn("issuance", self._run_worker, self._stop_worker)

    def _pipeline(self, store: EventStore, signer: SigningPool) -> IssuancePipeline:
        assert self.kek is not None
        return IssuancePipeline(
            dids=self.dids,
            kek=self.kek,
            store=store,
            batch_size=self.settings.issuance_batch_size,
            retry_max_seconds=self.settings.issuance_retry_max_seconds,
            signer=signer,
            concurrency=self.settings.issuance_concurrency,
        )

    async def _run_worker(self) -> None:
        """The worker on a loop of its own (kernel ``OwnLoop``: its statements do not queue behind
        the consumers' and the routes' callbacks), restarted by the runtime if it crashes."""
        await self._own_loop.run(self._worker_main)

    async def _worker_main(self) -> None:
        """On the issuance loop: its own pool (two connections per batch in flight: the batch's and
        a short one for status-list reservations), event store, signing processes and worker."""
        runtime = self._runtime
        assert runtime is not None and runtime.store is not None
        settings = runtime.settings
        pool = await db.create_pool(settings.database_url, size=2 * self.settings.issuance_concurrency)
        signer = SigningPool(self.settings.signing_processes())
        try:
            store = EventStore(pool, source=runtime.store.source, service=runtime.store.service)
            self.worker = IssuanceWorker(
                pool,
                settings.database_url,
                self._pipeline(store, signer),
                poll_seconds=self.settings.issuance_poll_seconds,
            )
            if self._stop_requested.is_set():  # asked to stop before the worker existed
                return
            signer.start()
            await self.worker.run()
        finally:
            # this loop ends right after: wait for workers still starting, or they would outlive it
            await signer.close(wait_for_start=True)
            await pool.close()

    def _stop_worker(self) -> None:
        """From the service's loop: ask the worker on the issuance loop to finish its batch and stop."""
        self._stop_requested.set()
        self._own_loop.call_soon(lambda: self.worker.stop() if self.worker is not None else None)


def wire_issuance(definition: ServiceDefinition, *, settings: IssuanceSettings | None = None) -> None:
    """Add keys, status lists, issuance and the public routes to the credential service's definition.

    ``settings`` defaults to the environment (tests pass their own, e.g. a test key-encryption key).
    Wiring twice is harmless: the second call only replaces the settings (when given), so a test can
    pass its own to a definition that ``bootstrap.build`` already wired.
    """
    from tessera_credential.entrypoints import public  # the router imports this module's context

    wired = definition.services.get(SERVICE_KEY)
    if isinstance(wired, IssuanceContext):
        if settings is not None:
            wired.settings = settings
        return
    context = IssuanceContext(settings or IssuanceSettings(), DidWeb(definition.settings.public_base_url))
    definition.services[SERVICE_KEY] = context
    definition.routers = [*definition.routers, public.router]
    definition.on_start = [*definition.on_start, context.start]
