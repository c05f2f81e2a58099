"""Composition root of the catalogue service: the one place where its parts are wired together."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from fastapi import FastAPI

from tessera_catalogue.adapters.projections import projections
from tessera_catalogue.application.offerings import OfferingClock
from tessera_catalogue.application.unit_of_work import UnitOfWork
from tessera_catalogue.config import CatalogueSettings
from tessera_catalogue.entrypoints import http
from tessera_shared.kernel.app import create_app as create_service_app
from tessera_shared.kernel.runtime import Runtime, ServiceDefinition


def build(settings: CatalogueSettings | None = None) -> ServiceDefinition:
    settings = settings or CatalogueSettings()

    async def start_offering_clock(runtime: Runtime) -> None:
        if settings.offering_clock_seconds > 0 and settings.run_background:
            clock = offering_clock(runtime, settings)
            runtime.spawn("offering-clock", clock.run, clock.stop)

    return ServiceDefinition(
        name="catalogue",
        title="Tessera Catalogue: institutions, micro-credentials, offerings, pathways",
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        routers=list(http.routers),
        projections=projections(),
        on_start=[start_offering_clock],
        services={"volume_rules": settings.volume_rules, "zone": settings.zone},
    )


def offering_clock(runtime: Runtime, settings: CatalogueSettings) -> OfferingClock:
    assert runtime.pool is not None and runtime.store is not None
    uow = UnitOfWork(runtime.pool, runtime.store, settings.volume_rules)
    return OfferingClock(uow, settings.offering_clock_seconds, lambda: datetime.now(settings.zone).date())


def create_app(settings: CatalogueSettings | None = None) -> FastAPI:
    return create_service_app(build(settings))
