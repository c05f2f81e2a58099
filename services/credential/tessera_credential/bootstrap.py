"""Composition root of the credential service: the one place where its parts are wired together.

Part 1 (the awarding engine): three durable consumers (catalogue, enrolment, assessment) feed the
engine; awards are published from the service's own event store through the outbox; the HTTP API
serves awards and explanations. Part 2 (signing) hooks on ``issuance_queue`` (docs/awarding.md).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_credential.application.handlers import consumer_specs
from tessera_credential.config import CredentialSettings
from tessera_credential.entrypoints import http
from tessera_credential.entrypoints.pages import wire_pages
from tessera_credential.issuance.wiring import wire_issuance
from tessera_shared.kernel.app import create_app as create_service_app
from tessera_shared.kernel.runtime import ServiceDefinition


def build(settings: CredentialSettings | None = None) -> ServiceDefinition:
    settings = settings or CredentialSettings()
    definition = ServiceDefinition(
        name="credential",
        title="Tessera Credential: awards and signed Open Badges 3.0 credentials",
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        routers=[http.router],
        consumers=consumer_specs(),
    )
    wire_issuance(definition)  # part 2: keys, status lists, issuance worker, public verification routes
    wire_pages(definition)  # learner backpack, public verification pages, PDF certificates, badges
    return definition


def create_app(settings: CredentialSettings | None = None) -> FastAPI:
    return create_service_app(build(settings))
