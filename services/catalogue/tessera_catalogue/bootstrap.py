"""Composition root of the catalogue service: the one place where its parts are wired together."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from tessera_catalogue.adapters.projections import projections
from tessera_catalogue.application.offerings import OfferingClock
from tessera_catalogue.application.unit_of_work import UnitOfWork
from tessera_catalogue.config import CatalogueSettings
from tessera_catalogue.entrypoints import http
from tessera_catalogue.entrypoints.negotiation import domain_problem
from tessera_shared.kernel.aggregate import DomainError
from tessera_shared.kernel.app import create_app as create_service_app
from tessera_shared.kernel.runtime import Runtime, ServiceDefinition


def build(settings: CatalogueSettings | None = None) -> ServiceDefinition:
    settings = settings or CatalogueSettings()
    return ServiceDefinition(
        name="catalogue",
        title="Tessera Catalogue: institutions, micro-credentials, offerings, pathways",
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        routers=list(http.routers),
        projections=projections(),
        services={"volume_rules": settings.volume_rules, "zone": settings.zone},
    )


def offering_clock(runtime: Runtime, settings: CatalogueSettings) -> OfferingClock:
    assert runtime.pool is not None and runtime.store is not None
    uow = UnitOfWork(runtime.pool, runtime.store, settings.volume_rules)
    return OfferingClock(uow, settings.offering_clock_seconds, lambda: datetime.now(settings.zone).date())


def create_app(settings: CatalogueSettings | None = None) -> FastAPI:
    settings = settings or CatalogueSettings()
    app = create_service_app(build(settings))
    # Every problem of a refused command names its field (the kernel names only a single one).
    app.add_exception_handler(DomainError, domain_problem)
    kernel_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with kernel_lifespan(app):
            if not (settings.offering_clock_seconds > 0 and settings.run_background):
                yield
                return
            clock = offering_clock(app.state.runtime, settings)
            task = asyncio.create_task(clock.run(), name="catalogue:offering-clock")
            try:
                yield
            finally:
                clock.stop()
                await task

    app.router.lifespan_context = lifespan
    return app
