"""One trace from an HTTP request to the issued credential (issue 8), across two real services.

A result is recorded over HTTP at the assessment service with a W3C ``traceparent`` and an
``X-Correlation-ID``; the credential service consumes the result event, awards and issues. The
``CredentialIssued`` envelope it publishes on JetStream carries the same trace id and correlation
id, and its ``causationid`` is the award event, whose own causation is the result event.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tessera_assessment.bootstrap import create_app as assessment_app
from tessera_assessment.config import AssessmentSettings
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.envelope import Envelope
from tessera_shared.testing import apps
from tessera_shared.testing.apps import eventually, publish_events, running_service
from tests.assessment.integration.assessment_world import (
    GENT,
    admitted,
    institution,
    lifecycle,
    offering_scheduled,
    result_body,
    subject_of,
    version_published,
)
from tests.credential.integration.credential_award_support import credential_events, learner_registered
from tests.credential.integration.test_credential_issuance_world import issuance_settings, issuing_service

pytestmark = pytest.mark.integration

ONE_COMPONENT = {"DATA101": (GENT, "5")}
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"
ISSUED = "tessera.credential.credential.issued.v1"


def trace_id(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[1] if len(parts) == 4 else None


def span_id(traceparent: str | None) -> str | None:
    parts = (traceparent or "").split("-")
    return parts[2] if len(parts) == 4 else None


async def issued_envelope(nats_url: str, namespace: str) -> Envelope | None:
    try:
        found = [e for e in await credential_events(nats_url, namespace) if e.type == ISSUED]
    except Exception:  # the stream not there yet
        return None
    return found[0] if found else None


async def test_a_result_recorded_over_http_and_its_credential_share_one_trace(servers, namespace, tokens):
    settings = apps.test_settings(AssessmentSettings, servers, namespace, "assessment", tokens)
    catalogue = [
        institution(GENT, ("be-flemish-0-20",)),
        version_published(components=ONE_COMPONENT),
        offering_scheduled(components=ONE_COMPONENT),
        lifecycle(cat.OfferingOpened),
        lifecycle(cat.OfferingClosed),
        lifecycle(cat.OfferingStarted),
    ]
    async with (
        running_service(assessment_app, settings) as assessment,
        # one signing process: the credential is signed in a worker process, as in production
        issuing_service(servers, namespace, tokens, settings=issuance_settings(issuance_processes=1)) as credential,
    ):
        await publish_events(servers.nats_url, namespace, [(e, subject_of(e)) for e in catalogue])
        await publish_events(servers.nats_url, namespace, [(admitted("ana"), subject_of(admitted("ana")))])
        await publish_events(servers.nats_url, namespace, [learner_registered("ana")])
        headers = {
            **tokens.headers(f"assessor@{GENT}", ["assessor"], GENT),
            "traceparent": TRACEPARENT,
            "X-Correlation-ID": "corr-trace-ana",
        }

        async def record() -> Any:  # 201 once the assessment service has consumed the catalogue and enrolment
            r = await assessment.client.post(
                "/offerings/OFF-DATA/results", json=result_body("ana", "DATA101", "14"), headers=headers
            )
            if r.status_code != 201:
                await asyncio.sleep(0.2)
                return None
            return r

        response = await eventually(record, seconds=30)
        assert response is not None, "the assessment service did not accept the result"
        assert response.headers["X-Correlation-ID"] == "corr-trace-ana"

        issued = await eventually(lambda: issued_envelope(servers.nats_url, namespace), seconds=60)
        assert issued is not None, "no CredentialIssued published"
        assert issued.correlationid == "corr-trace-ana"
        assert trace_id(issued.traceparent) == TRACE_ID
        assert span_id(issued.traceparent) not in (None, span_id(TRACEPARENT))

        # the chain of causes: CredentialIssued <- the award event <- the result event
        pool = credential.runtime.pool
        assert pool is not None
        award = await pool.fetchrow(
            "SELECT event_id::text, event_type, metadata FROM events WHERE event_id = $1::uuid", issued.causationid
        )
        assert award is not None and award["event_type"].startswith("tessera.credential.award.")
        assert award["metadata"]["correlationid"] == "corr-trace-ana"
        assert trace_id(award["metadata"]["traceparent"]) == TRACE_ID
        assert span_id(award["metadata"]["traceparent"]) != span_id(issued.traceparent)
        result_event_id = award["metadata"]["causationid"]
        # ... caused by the result event that the credential service consumed
        inbox = await pool.fetchval("SELECT consumer FROM inbox WHERE event_id = $1", result_event_id)
        assert inbox == "credential--assessment"
        row = await pool.fetchrow("SELECT learner_id, status FROM issued_credentials")
        assert row["learner_id"] == "ana" and row["status"] == "active"
