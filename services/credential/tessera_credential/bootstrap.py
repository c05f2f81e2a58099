"""Composition root of the credential service: the one place where its parts are wired together."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_credential.config import CredentialSettings
from tessera_credential.entrypoints import http
from tessera_shared.kernel.app import create_app as create_service_app
from tessera_shared.kernel.runtime import ServiceDefinition


def build(settings: CredentialSettings | None = None) -> ServiceDefinition:
    settings = settings or CredentialSettings()
    return ServiceDefinition(
        name="credential",
        title="Tessera Credential: awards and signed Open Badges 3.0 credentials",
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        routers=[http.router],
    )


def create_app(settings: CredentialSettings | None = None) -> FastAPI:
    return create_service_app(build(settings))
