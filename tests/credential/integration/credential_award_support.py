"""Support for the awarding engine's integration tests (real NATS JetStream and PostgreSQL).

* Builders for the catalogue and enrolment events the engine consumes (published with the kernel's
  ``publish_events``, as those services' relays would).
* :class:`Assessment`: result and attendance events made by the assessment service's own aggregate
  (``ComponentResults``: it computes ``effective``), wrapped in the envelope its outbox relay sends
  (``StoredEvent.envelope``: subject = the record's stream, ``streamversion`` = its version), so
  tests can deliver them twice, out of order, or after newer ones.
* Running the credential service, waiting until it has consumed everything, reading its tables and
  its JetStream stream.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tessera_assessment.domain.grading import GradeResult
from tessera_assessment.domain.result import ComponentKey, ComponentResults
from tessera_credential.bootstrap import create_app
from tessera_credential.config import CredentialSettings
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract import enrolment as enr
from tessera_shared.contract.base import Event
from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.terms import seed_refund_policy
from tessera_shared.contract.topology import Subscription, stream_name, subject_for
from tessera_shared.kernel.eventstore import StoredEvent
from tessera_shared.kernel.nats import connect, ensure_stream, stream_config
from tessera_shared.testing.apps import (
    RunningService,
    Tokens,
    eventually,
    publish_events,
    running_service,
    test_settings,
)
from tessera_shared.testing.servers import Servers

GENT, AMSTERDAM, HEIDELBERG, LEUVEN = "ugent.be", "uva.nl", "uni-heidelberg.de", "kuleuven.be"
SOURCES = ("catalogue", "enrolment", "assessment")

TERMS = {
    "academic_year": "2025-2026",
    "period": "full_year",
    "starts_on": "2025-09-22",
    "ends_on": "2026-06-30",
    "enrolment": {"opens_on": "2025-05-01", "closes_on": "2025-09-15"},
    "capacity": 50,
    "attendance": {"compulsory": False},
    "sessions": [],
    "tariff": {"kind": "per_ects", "rate": "37.50"},
    "refund_policy": seed_refund_policy("2025-2026").model_dump(mode="json"),
}
# 10 ECTS over three components taught by three partners; every credit passed and an average of 0.55.
COMPONENTS = (("C1", "4", GENT), ("C2", "3", AMSTERDAM), ("C3", "3", HEIDELBERG))
CRITERIA = {
    "rule": {
        "kind": "all_of",
        "criteria": [
            {"kind": "ects_passed", "minimum": "10"},
            {"kind": "weighted_average_grade", "minimum": "0.55"},
        ],
    }
}


# ------------------------------------------------------------------------------------ catalogue


def offering_scheduled(
    offering_id: str,
    mc_id: str = "mc-data",
    *,
    version: int = 1,
    components: Sequence[tuple[str, str, str]] = COMPONENTS,
    criteria: dict[str, Any] | None = None,
    coordinator: str = GENT,
) -> cat.OfferingScheduled:
    institutions = list(dict.fromkeys([coordinator, *(c[2] for c in components)]))
    return cat.OfferingScheduled.model_validate(
        {
            "offering_id": offering_id,
            "micro_credential_id": mc_id,
            "micro_credential_version": version,
            "coordinator_id": coordinator,
            "title": {"en": f"Micro-credential {mc_id}"},
            "ects": str(sum(int(c[1]) for c in components)),
            "terms": TERMS,
            "components": [
                {"code": code, "ects": ects, "semester": "first", "teaching_institution": inst}
                for code, ects, inst in components
            ],
            "criteria": criteria or CRITERIA,
            "prerequisites": {"kind": "none"},
            "partners": [
                {"institution_id": i, "roles": ["coordinator", "awarding"] if i == coordinator else ["contributing"]}
                for i in institutions
            ],
            "fee": "375.00",
            "scheduled_by": "editor-1",
        }
    )


def pathway_published(
    pathway_id: str, members: Sequence[tuple[str, str]], partners: Sequence[str], rule: dict[str, Any] | None = None
) -> cat.PathwayPublished:
    return cat.PathwayPublished.model_validate(
        {
            "pathway_id": pathway_id,
            "version": 1,
            "published_by": "editor-1",
            "approvals": [{"institution_id": p, "approved_by": f"editor@{p}"} for p in partners],
            "definition": {
                "title": {"en": "Responsible Data Science"},
                "description": {"en": "A stack of micro-credentials from three partners."},
                "members": [{"micro_credential_id": m, "title": {"en": m}, "ects": e} for m, e in members],
                "rule": rule or {"kind": "all_of"},
                "partners": [
                    {
                        "institution_id": p,
                        "roles": ["coordinator", "awarding"] if i == 0 else ["awarding"],
                        "name": {"en": p},
                        "country": "BE",
                    }
                    for i, p in enumerate(partners)
                ],
                "narrative": {"en": "Hold all three micro-credentials."},
            },
        }
    )


# ------------------------------------------------------------------------------------ enrolment

T_ENROL = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)


def enrolment_event(
    kind: str,
    learner_id: str,
    offering_id: str,
    mc_id: str = "mc-data",
    *,
    enrolment_id: str | None = None,
    award_id: str = "",
) -> tuple[Event, str]:
    """``(event, stream)`` of the enrolment lifecycle: requested | admitted | pending_review |
    cancelled | withdrawn | completed (by ``award_id``)."""
    enrolment_id = enrolment_id or f"enr-{learner_id}-{offering_id}"
    base = {
        "enrolment_id": enrolment_id,
        "learner_id": learner_id,
        "offering_id": offering_id,
        "micro_credential_id": mc_id,
        "micro_credential_version": 1,
    }
    events: dict[str, Event] = {
        "admitted": enr.EnrolmentAdmitted(**base, admitted_at=T_ENROL, route="direct", fee_eur="375.00"),
        "pending_review": enr.EnrolmentPendingReview(**base, declared_eqf_level=6, required_eqf_level=6),
        "cancelled": enr.EnrolmentCancelled(
            **base,
            cancelled_at=T_ENROL,
            cancellation_date=T_ENROL.date(),
            cancelled_by=learner_id,
            fee_eur="375.00",
            refund_eur="375.00",
            refund_rule="full",
        ),
        "withdrawn": enr.EnrolmentWithdrawn(**base, withdrawn_at=T_ENROL, withdrawn_by="registrar-1"),
        "completed": enr.EnrolmentCompleted(**base, completed_at=T_ENROL, award_id=award_id),
    }
    return events[kind], f"enrolment-{enrolment_id}"


def learner_registered(learner_id: str) -> tuple[Event, str]:
    profile = {
        "learner_id": learner_id,
        "given_name": "Ada",
        "family_name": learner_id.title(),
        "email": f"{learner_id}@example.org",
    }
    return enr.LearnerRegistered(learner=profile, registered_by=learner_id), f"learner-{learner_id}"


# ----------------------------------------------------------------------------------- assessment


def grade(score: float, scheme: str = "be-0-20") -> GradeResult:
    return GradeResult(
        native=f"{score * 20:g}", scheme_id=scheme, scheme_kind="numeric", normalised_score=score, passed=score >= 0.5
    )


class Assessment:
    """The assessment service as a producer: its real aggregate decides ``effective``; events are
    wrapped as its outbox relay would send them. Times advance one second per event."""

    def __init__(self, mc_id: str = "mc-data", version: int = 1) -> None:
        self.mc_id = mc_id
        self.version = version
        self.records: dict[str, ComponentResults] = {}
        self.clock = datetime.now(UTC) - timedelta(hours=1)
        self.results: dict[tuple[str, str, str], list[str]] = {}

    def _record(self, learner: str, offering: str, component: str) -> tuple[ComponentResults, ComponentKey]:
        key = ComponentKey(learner, offering, component, self.mc_id, self.version)
        agg = self.records.setdefault(key.stream_id, ComponentResults(key.stream_id))
        return agg, key

    def _wrap(self, agg: ComponentResults) -> Envelope:
        [event] = agg.take_pending()
        agg.version += 1  # as the store would after appending
        self.clock += timedelta(seconds=1)
        stored = StoredEvent(
            0,
            str(uuid.uuid4()),
            agg.stream_id,
            agg.version,
            event.event_type,
            event.model_dump(mode="json"),
            {},
            self.clock,
        )
        return stored.envelope("/tessera/assessment")

    def record(self, learner: str, offering: str, component: str, score: float, institution: str = GENT) -> Envelope:
        agg, key = self._record(learner, offering, component)
        ids = self.results.setdefault((learner, offering, component), [])
        result_id = f"res-{learner}-{offering}-{component}-{len(ids) + 1}"
        ids.append(result_id)
        current = agg.effective
        agg.record(
            result_id,
            key=key,
            attempt=(current.attempt + 1) if current else 1,
            grade=grade(score),
            assessed_on=date(2026, 1, 15),
            assessor_id=f"assessor@{institution}",
            assessor_institution=institution,
        )
        return self._wrap(agg)

    def last_result(self, learner: str, offering: str, component: str) -> str:
        return self.results[(learner, offering, component)][-1]

    def correct(
        self,
        learner: str,
        offering: str,
        component: str,
        score: float | None = None,
        *,
        result_id: str | None = None,
        assessed_on: date | None = None,
    ) -> Envelope:
        agg, _ = self._record(learner, offering, component)
        agg.correct(
            result_id or self.last_result(learner, offering, component),
            reason="marking error",
            corrected_by="assessor-2",
            corrected_by_institution=GENT,
            grade=grade(score) if score is not None else None,
            assessed_on=assessed_on,
        )
        return self._wrap(agg)

    def withdraw(self, learner: str, offering: str, component: str, result_id: str | None = None) -> Envelope:
        agg, _ = self._record(learner, offering, component)
        agg.withdraw(
            result_id or self.last_result(learner, offering, component),
            reason="entered for the wrong learner",
            withdrawn_by="assessor-2",
            withdrawn_by_institution=GENT,
        )
        return self._wrap(agg)

    def passes(self, learner: str, offering: str, scores: Sequence[float] = (0.7, 0.6, 0.65)) -> list[Envelope]:
        """One passing result per component of the default offering."""
        return [
            self.record(learner, offering, code, score, inst)
            for (code, _, inst), score in zip(COMPONENTS, scores, strict=True)
        ]


async def publish_envelopes(
    nats_url: str, namespace: str, envelopes: Iterable[Envelope], *, redelivery: bool = False
) -> None:
    """Publish as the producer's relay does (``Nats-Msg-Id`` = event id). ``redelivery``: the same
    CloudEvents under a new ``Nats-Msg-Id`` — a re-publication after JetStream's duplicate window,
    which only the consumer's inbox can catch."""
    nc = await connect(nats_url)
    js = nc.jetstream()
    try:
        for env in envelopes:
            await ensure_stream(js, stream_config(env.type.split(".")[1], namespace))
            msg_id = str(uuid.uuid4()) if redelivery else env.id
            await js.publish(subject_for(env.type, namespace), env.to_bytes(), headers={"Nats-Msg-Id": msg_id})
    finally:
        await nc.close()


async def publish(servers: Servers, namespace: str, events: Iterable[tuple[Event, str]]) -> list[str]:
    return await publish_events(servers.nats_url, namespace, events)


# ---------------------------------------------------------------------------------- the service


async def ensure_source_streams(nats_url: str, namespace: str) -> None:
    nc = await connect(nats_url)
    try:
        js = nc.jetstream()
        for source in SOURCES:
            await ensure_stream(js, stream_config(source, namespace))
    finally:
        await nc.close()


@asynccontextmanager
async def credential_service(
    servers: Servers,
    namespace: str,
    tokens: Tokens,
    name: str = "credential",
    *,
    drop_database: bool = True,
    **overrides: Any,
) -> AsyncIterator[RunningService]:
    await ensure_source_streams(servers.nats_url, namespace)
    settings = test_settings(CredentialSettings, servers, namespace, name, tokens, **overrides)
    async with running_service(create_app, settings, drop_database=drop_database) as svc:
        yield svc


async def settled(svc: RunningService) -> bool:
    """Every consumed message handled and acknowledged, every own event published."""
    runtime = svc.runtime
    for consumer in runtime.consumers:
        if not await consumer.lag_is_zero():
            return False
    assert runtime.pool is not None
    unpublished = await runtime.pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
    return bool(unpublished == 0)


async def wait_settled(svc: RunningService, seconds: float = 30.0) -> None:
    assert await eventually(lambda: settled(svc), seconds=seconds), "the credential service did not catch up"


async def rows(svc: RunningService, query: str, *args: Any) -> list[dict[str, Any]]:
    assert svc.runtime.pool is not None
    return [dict(r) for r in await svc.runtime.pool.fetch(query, *args)]


async def awards_of(svc: RunningService, learner_id: str) -> list[dict[str, Any]]:
    return await rows(
        svc,
        """SELECT award_id::text, offering_id, micro_credential_id, status, grade_summary, explanation,
                  supersedes::text, superseded_by::text, end_reason, awarded_at
           FROM awards WHERE learner_id = $1 ORDER BY awarded_at, award_id""",
        learner_id,
    )


async def evaluation_of(svc: RunningService, learner_id: str, offering_id: str) -> dict[str, Any] | None:
    found = await rows(
        svc,
        "SELECT outcome, met, explanation FROM award_learner_offerings WHERE learner_id = $1 AND offering_id = $2",
        learner_id,
        offering_id,
    )
    return found[0] if found else None


async def credential_events(nats_url: str, namespace: str) -> list[Envelope]:
    """Every message on the credential service's own stream, in order."""
    nc = await connect(nats_url)
    try:
        js = nc.jetstream()
        name = stream_name("credential", namespace)
        info = await js.stream_info(name)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(name, seq)
            assert msg.data is not None
            out.append(Envelope.from_bytes(msg.data))
        return out
    finally:
        await nc.close()


async def delete_durables(nats_url: str, namespace: str) -> None:
    """Forget where the credential service's consumers were: they are recreated from the start."""
    nc = await connect(nats_url)
    try:
        js = nc.jetstream()
        for source in SOURCES:
            sub = Subscription("credential", source)
            await js.delete_consumer(stream_name(source, namespace), sub.durable(namespace))
    finally:
        await nc.close()
