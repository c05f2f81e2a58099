"""Plug keys, status lists, issuance and the public routes into the credential service.

The lead engineer calls :func:`wire_issuance` from ``bootstrap.build`` (part 1 owns bootstrap.py)::

    definition = ServiceDefinition(...)
    wire_issuance(definition)
    return definition

It adds the public router (``entrypoints/public.py``) and an ``on_start`` hook that

1. resolves the key-encryption key (``CREDENTIAL_KEY_ENCRYPTION_KEY``) — a missing or malformed key
   stops the start with a message saying what to do (see ``IssuanceSettings.key_encryption_key``
   for the loopback development exception), and stored keys sealed with another KEK stop it too;
2. builds the issuance pipeline on the runtime's pool and event store;
3. when the runtime runs background work (``RUN_BACKGROUND``), starts the signing processes
   (``ISSUANCE_PROCESSES``, warmed in the background) and the issuance worker with ``Runtime.spawn``
   (restarted if it crashes; asked to stop before the runtime closes its pool). The processes are
   shut down when the worker has stopped, i.e. after its last batch, before the runtime closes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import structlog

from tessera_credential.issuance.pipeline import IssuancePipeline
from tessera_credential.issuance.processes import SigningPool
from tessera_credential.issuance.settings import DEVELOPMENT_KEK, IssuanceSettings
from tessera_credential.issuance.worker import IssuanceWorker
from tessera_credential.keys import store as key_store
from tessera_credential.keys.did import DidWeb
from tessera_credential.keys.sealing import KeyEncryptionError, KeyEncryptionKey
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
    signer: SigningPool | None = None
    verify_slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(2))

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
        # without the worker (RUN_BACKGROUND=false) nothing issues in this process: no processes
        self.signer = SigningPool(self.settings.signing_processes() if background else 0)
        self.pipeline = IssuancePipeline(
            dids=self.dids,
            kek=kek,
            store=runtime.store,
            batch_size=self.settings.issuance_batch_size,
            retry_max_seconds=self.settings.issuance_retry_max_seconds,
            signer=self.signer,
            concurrency=self._concurrency(runtime),
        )
        if not background:
            return
        self.signer.start()
        self.worker = IssuanceWorker(
            runtime.pool, runtime.settings.database_url, self.pipeline, poll_seconds=self.settings.issuance_poll_seconds
        )
        runtime.spawn("issuance", self._run_worker, self.worker.stop)

    def _concurrency(self, runtime: Runtime) -> int:
        """ISSUANCE_CONCURRENCY, bounded so that its batches (two connections each: the batch's and a
        short one for status-list reservations) leave the pool room for the consumers and HTTP."""
        wanted = self.settings.issuance_concurrency
        room = max(1, (runtime.settings.database_pool_size - 2) // 2)
        if wanted > room:
            log.warning(
                "ISSUANCE_CONCURRENCY reduced to fit DATABASE_POOL_SIZE",
                wanted=wanted,
                used=room,
                database_pool_size=runtime.settings.database_pool_size,
            )
        return min(wanted, room)

    async def _run_worker(self) -> None:
        assert self.worker is not None and self.signer is not None
        try:
            await self.worker.run()
        finally:
            if self.worker.stopping:  # the service stops (not a crash the runtime restarts the loop after)
                await self.signer.close()


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
