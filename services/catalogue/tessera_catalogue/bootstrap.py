"""Composition root of the catalogue service: the one place where its parts are wired together."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_catalogue.config import CatalogueSettings
from tessera_catalogue.entrypoints import http
from tessera_shared.kernel.app import create_app as create_service_app
from tessera_shared.kernel.runtime import ServiceDefinition


def build(settings: CatalogueSettings | None = None) -> ServiceDefinition:
    settings = settings or CatalogueSettings()
    return ServiceDefinition(
        name="catalogue",
        title="Tessera Catalogue: institutions, micro-credentials, offerings, pathways",
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        routers=[http.router],
    )


def create_app(settings: CatalogueSettings | None = None) -> FastAPI:
    return create_service_app(build(settings))
