"""Composition root of the assessment service: the one place where its parts are wired together."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from tessera_assessment.adapters.records import RecordsProjection
from tessera_assessment.application import catalogue_events, enrolment_events
from tessera_assessment.config import AssessmentSettings
from tessera_assessment.entrypoints import http
from tessera_shared.kernel.app import create_app as create_service_app
from tessera_shared.kernel.runtime import ServiceDefinition


def build(settings: AssessmentSettings | None = None) -> ServiceDefinition:
    settings = settings or AssessmentSettings()
    return ServiceDefinition(
        name="assessment",
        title="Tessera Assessment: results, grading schemes, attendance",
        settings=settings,
        migrations=Path(__file__).parent / "migrations",
        routers=[http.router],
        consumers=[catalogue_events.consumer(), enrolment_events.consumer()],
        projections=[RecordsProjection()],
    )


def create_app(settings: AssessmentSettings | None = None) -> FastAPI:
    return create_service_app(build(settings))
