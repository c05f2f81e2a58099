"""Composition root of the enrolment service: the one place where its parts are wired together."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_enrolment.application import catalogue_events, credential_events
from tessera_enrolment.application.deps import Deps
from tessera_enrolment.config import EnrolmentSettings
from tessera_enrolment.domain.clock import Clock
from tessera_enrolment.entrypoints import http
from tessera_shared.contract.topology import Subscription
from tessera_shared.kernel.app import create_app as create_service_app
from tessera_shared.kernel.consumer import ConsumerSpec
from tessera_shared.kernel.runtime import ServiceDefinition


def build(settings: EnrolmentSettings | None = None) -> ServiceDefinition:
    settings = settings or EnrolmentSettings()
    deps = Deps(settings=settings, clock=Clock(settings.timezone))
    return ServiceDefinition(
        name="enrolment",
        title="Tessera Enrolment: learners, admission, seats, fees and refunds",
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        routers=[http.router],
        consumers=[
            ConsumerSpec(Subscription("enrolment", "catalogue"), catalogue_events.handlers(deps)),
            ConsumerSpec(Subscription("enrolment", "credential"), credential_events.handlers(deps)),
        ],
        services={"deps": deps},
    )


def create_app(settings: EnrolmentSettings | None = None) -> FastAPI:
    return create_service_app(build(settings))
