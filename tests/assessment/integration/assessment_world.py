"""A consortium for the assessment service's integration tests, published as real catalogue and
enrolment events on a real JetStream, and the running service that consumes them.

Offering ``OFF-DATA`` of ``mc-data`` v1, coordinated by ugent.be:

=========  ============  ================================================================
component  taught by     institution's declared schemes (first = default)
=========  ============  ================================================================
DATA101    ugent.be      be-flemish-0-20, ects-letter, pass-fail, percentage-50, percentage-60
DATA102    ugent.be      (same)
STAT201    uva.nl        nl-1-10, percentage-55
ML301      tum.de        de-1-5, de-1-5-mean
LAW101     kuleuven.be   (institution never registered: no default, any scheme)
=========  ============  ================================================================
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import httpx
from nats.js.api import StreamInfo

from tessera_assessment.bootstrap import create_app
from tessera_assessment.config import AssessmentSettings
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract import enrolment as enr
from tessera_shared.contract.base import Event
from tessera_shared.contract.criteria import AllOf, AwardCriteria, ComponentPassed
from tessera_shared.contract.envelope import Envelope, dataschema_for
from tessera_shared.contract.terms import (
    AttendanceAnnouncement,
    ComponentTerms,
    EnrolmentWindow,
    OfferingTerms,
    PerEctsTariff,
    seed_refund_policy,
)
from tessera_shared.contract.topology import Subscription, stream_name, subject_for
from tessera_shared.contract.values import Semester
from tessera_shared.kernel.db import connect as db_connect
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

GENT, AMSTERDAM, MUNICH, LEUVEN = "ugent.be", "uva.nl", "tum.de", "kuleuven.be"
MC, VERSION, OFFERING = "mc-data", 1, "OFF-DATA"
COMPONENTS: dict[str, tuple[str, str]] = {  # code -> (teaching institution, ECTS)
    "DATA101": (GENT, "5"),
    "DATA102": (GENT, "5"),
    "STAT201": (AMSTERDAM, "4"),
    "ML301": (MUNICH, "3"),
    "LAW101": (LEUVEN, "3"),
}
SCHEMES = {
    GENT: ("be-flemish-0-20", "ects-letter", "pass-fail", "percentage-50", "percentage-60"),
    AMSTERDAM: ("nl-1-10", "percentage-55"),
    MUNICH: ("de-1-5", "de-1-5-mean"),
}
NOW = datetime(2025, 9, 1, 9, 0, tzinfo=UTC)
JAN = date(2026, 1, 20)


# --- catalogue events ------------------------------------------------------------------------


def institution(institution_id: str, schemes: Sequence[str], *, updated: bool = False) -> cat.Event:
    profile = cat.InstitutionProfile(
        institution_id=institution_id,
        name={"en": f"University {institution_id}"},
        country=institution_id.rsplit(".", 1)[1].upper()[:2],
        website=f"https://www.{institution_id}/",
        contact=cat.Contact(email=f"microcredentials@{institution_id}"),
        grading_scheme_ids=tuple(schemes),
    )
    return (cat.InstitutionUpdated if updated else cat.InstitutionRegistered)(institution=profile)


def component_terms(components: dict[str, tuple[str, str]]) -> tuple[ComponentTerms, ...]:
    return tuple(
        ComponentTerms(code=code, ects=Decimal(ects), semester=Semester.FIRST, teaching_institution=inst)
        for code, (inst, ects) in components.items()
    )


def criteria(components: Iterable[str]) -> AwardCriteria:
    return AwardCriteria(rule=AllOf(criteria=tuple(ComponentPassed(component=c) for c in components)))


def version_published(
    mc: str = MC, version: int = VERSION, components: dict[str, tuple[str, str]] | None = None, coordinator: str = GENT
) -> cat.MicroCredentialVersionPublished:
    components = components or COMPONENTS
    institutions = sorted({coordinator, *(inst for inst, _ in components.values())})
    partners = tuple(
        cat.PartnerProfile(
            institution_id=inst,
            roles=(cat.PartnerRole.COORDINATOR, cat.PartnerRole.AWARDING)
            if inst == coordinator
            else (cat.PartnerRole.CONTRIBUTING,),
            name={"en": f"University {inst}"},
            country="BE",
        )
        for inst in institutions
    )
    definition = cat.MicroCredentialDefinition(
        title={"en": "Data Science for Professionals"},
        description={"en": "Joint micro-credential."},
        learning_outcomes=(cat.LearningOutcome(id="LO1", text={"en": "Analyse data"}),),
        workload=cat.Workload(ects=sum((Decimal(e) for _, e in components.values()), Decimal(0)), notional_hours=560),
        level=cat.Level(eqf=7),
        isced_field="0613",
        languages=("en",),
        participation=cat.Participation(mode=cat.ParticipationMode.ONLINE),
        assessment=cat.AssessmentInfo(methods=(cat.AssessmentMethod.WRITTEN_EXAM,)),
        quality_assurance=cat.QualityAssurance(kind=cat.QualityAssuranceKind.INTERNAL),
        components=tuple(
            cat.Component(
                code=code,
                title={"en": f"Course {code}"},
                ects=Decimal(ects),
                semester=Semester.FIRST,
                teaching_institution=inst,
            )
            for code, (inst, ects) in components.items()
        ),
        partners=partners,
        criteria=criteria(components),
        criteria_narrative={"en": "Pass every component."},
    )
    return cat.MicroCredentialVersionPublished(
        micro_credential_id=mc,
        version=version,
        definition=definition,
        approvals=tuple(cat.PartnerApproval(institution_id=i, approved_by=f"editor@{i}") for i in institutions),
        published_by="op-1",
    )


def offering_scheduled(
    offering_id: str = OFFERING,
    mc: str = MC,
    version: int = VERSION,
    components: dict[str, tuple[str, str]] | None = None,
    coordinator: str = GENT,
) -> cat.OfferingScheduled:
    components = components or COMPONENTS
    terms = OfferingTerms(
        academic_year="2025-2026",
        period=Semester.FULL_YEAR,
        starts_on=date(2025, 9, 22),
        ends_on=date(2026, 6, 30),
        enrolment=EnrolmentWindow(opens_on=date(2025, 5, 1), closes_on=date(2025, 9, 15)),
        capacity=100_000,
        attendance=AttendanceAnnouncement(compulsory=True),
        tariff=PerEctsTariff(rate=Decimal("37.50")),
        refund_policy=seed_refund_policy("2025-2026"),
    )
    ects = sum((Decimal(e) for _, e in components.values()), Decimal(0))
    return cat.OfferingScheduled(
        offering_id=offering_id,
        micro_credential_id=mc,
        micro_credential_version=version,
        coordinator_id=coordinator,
        title={"en": "Data Science for Professionals 2025-2026"},
        ects=ects,
        terms=terms,
        components=component_terms(components),
        criteria=criteria(components),
        prerequisites=cat.Prerequisites(),
        partners=tuple(
            cat.Partner(
                institution_id=inst,
                roles=(cat.PartnerRole.COORDINATOR,) if inst == coordinator else (cat.PartnerRole.CONTRIBUTING,),
            )
            for inst in sorted({coordinator, *(inst for inst, _ in components.values())})
        ),
        fee=ects * Decimal("37.50"),
        scheduled_by=f"editor@{coordinator}",
    )


def lifecycle(
    kind: type[cat.OfferingLifecycleEvent], offering_id: str = OFFERING, mc: str = MC, **extra: Any
) -> cat.Event:
    return kind(offering_id=offering_id, micro_credential_id=mc, micro_credential_version=VERSION, by="op-1", **extra)


# --- enrolment events ------------------------------------------------------------------------


def enrolment_id(learner: str, offering_id: str = OFFERING) -> str:
    return f"enr-{offering_id}-{learner}"


def _ids(learner: str, offering_id: str) -> dict[str, Any]:
    return {
        "enrolment_id": enrolment_id(learner, offering_id),
        "learner_id": learner,
        "offering_id": offering_id,
        "micro_credential_id": MC,
        "micro_credential_version": VERSION,
    }


def admitted(learner: str, offering_id: str = OFFERING) -> enr.EnrolmentAdmitted:
    return enr.EnrolmentAdmitted(
        **_ids(learner, offering_id), admitted_at=NOW, route=enr.AdmissionRoute.DIRECT, fee_eur=Decimal("750.00")
    )


def waitlisted(learner: str, offering_id: str = OFFERING) -> enr.EnrolmentWaitlisted:
    return enr.EnrolmentWaitlisted(**_ids(learner, offering_id), waitlisted_at=NOW, position=1)


def cancelled(learner: str, offering_id: str = OFFERING) -> enr.EnrolmentCancelled:
    return enr.EnrolmentCancelled(
        **_ids(learner, offering_id),
        cancelled_at=NOW,
        cancellation_date=NOW.date(),
        cancelled_by=learner,
        fee_eur=Decimal("750.00"),
        refund_eur=Decimal("750.00"),
        refund_rule=enr.RefundRuleApplied.FULL,
    )


def completed(learner: str, offering_id: str = OFFERING) -> enr.EnrolmentCompleted:
    return enr.EnrolmentCompleted(**_ids(learner, offering_id), completed_at=NOW, award_id="award-1")


def subject_of(event: Event) -> str:
    for name in ("enrolment_id", "offering_id", "micro_credential_id"):
        if hasattr(event, name):
            return str(getattr(event, name))
    if isinstance(event, cat.InstitutionRegistered | cat.InstitutionUpdated):
        return event.institution.institution_id
    return "subject"


def catalogue_events() -> list[Event]:
    return [
        institution(GENT, SCHEMES[GENT]),
        institution(AMSTERDAM, SCHEMES[AMSTERDAM]),
        institution(MUNICH, SCHEMES[MUNICH]),
        version_published(),
        offering_scheduled(),
        lifecycle(cat.OfferingOpened),
        lifecycle(cat.OfferingClosed),
        lifecycle(cat.OfferingStarted),
    ]


# --- the world -------------------------------------------------------------------------------


@dataclass
class World:
    service: RunningService
    servers: Servers
    namespace: str
    tokens: Tokens
    settings: AssessmentSettings
    learners: list[str] = field(default_factory=list)

    @property
    def client(self) -> httpx.AsyncClient:
        return self.service.client

    def assessor(self, institution: str = GENT, subject: str | None = None) -> dict[str, str]:
        return self.tokens.headers(subject or f"assessor@{institution}", ["assessor"], institution)

    def staff(self, role: str, institution: str) -> dict[str, str]:
        return self.tokens.headers(f"{role}@{institution}", [role], institution)

    def learner(self, learner_id: str) -> dict[str, str]:
        return self.tokens.headers(learner_id, ["learner"])

    def operator(self) -> dict[str, str]:
        return self.tokens.headers("op-1", ["operator"], "consortium.eu")

    async def publish(self, events: Iterable[Event]) -> list[str]:
        return await publish_events(self.servers.nats_url, self.namespace, [(e, subject_of(e)) for e in events])

    async def publish_many(self, events: Sequence[Event]) -> None:
        """Like :meth:`publish` (the same envelopes), pipelined: for thousands of admissions."""
        nc = await connect(self.servers.nats_url)
        try:
            js = nc.jetstream(publish_async_max_pending=2000)
            for context in {e.context for e in events}:
                await ensure_stream(js, stream_config(context, self.namespace))
            futures = []
            for event in events:
                event_id = str(uuid.uuid4())
                envelope = Envelope(
                    id=event_id,
                    source=f"/tessera/{event.context}",
                    type=event.event_type,
                    subject=subject_of(event),
                    time=datetime.now(UTC),
                    dataschema=dataschema_for(event.event_type),
                    correlationid=event_id,
                    data=event.model_dump(mode="json"),
                )
                futures.append(
                    await js.publish_async(
                        subject_for(event.event_type, self.namespace),
                        envelope.to_bytes(),
                        headers={"Nats-Msg-Id": event_id},
                    )
                )
            await asyncio.gather(*futures)
        finally:
            await nc.close()

    async def publish_raw(
        self, event: Event, event_id: str, msg_id: str | None = None, *, stream_version: int | None = None
    ) -> None:
        """Publish ``event`` with envelope id ``event_id`` (and ``streamversion``) under a chosen
        ``Nats-Msg-Id``: another Msg-Id makes a duplicate that JetStream's de-duplication does not
        catch, so only the consumer's inbox can."""
        nc = await connect(self.servers.nats_url)
        try:
            js = nc.jetstream()
            context = event.event_type.split(".")[1]
            await ensure_stream(js, stream_config(context, self.namespace))
            envelope = Envelope(
                id=event_id,
                source=f"/tessera/{context}",
                type=event.event_type,
                subject=subject_of(event),
                time=datetime.now(UTC),
                dataschema=dataschema_for(event.event_type),
                streamversion=stream_version,
                data=event.model_dump(mode="json"),
            )
            await js.publish(
                subject_for(event.event_type, self.namespace),
                envelope.to_bytes(),
                headers={"Nats-Msg-Id": msg_id or event_id},
            )
        finally:
            await nc.close()

    async def db(self) -> asyncpg.Connection:
        return await db_connect(self.settings.database_url)

    async def fetch(self, query: str, *args: Any) -> list[asyncpg.Record]:
        conn = await self.db()
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    async def fetchval(self, query: str, *args: Any) -> Any:
        conn = await self.db()
        try:
            return await conn.fetchval(query, *args)
        finally:
            await conn.close()

    async def consumed(self, consumer: str, count: int, *, seconds: float | None = None) -> None:
        """Wait until ``consumer``'s inbox holds at least ``count`` events (bounded by a time that
        grows with ``count``: the machine may be busy)."""
        seconds = seconds or max(30.0, count / 200)

        async def check() -> bool:
            n = await self.fetchval("SELECT count(*) FROM inbox WHERE consumer = $1", consumer)
            return bool(n >= count)

        assert await eventually(check, seconds=seconds), f"{consumer} did not consume {count} events"

    async def drained(self, source: str) -> None:
        """Wait until the service's durable consumer on ``source`` has nothing pending or unacked."""
        nc = await connect(self.servers.nats_url)
        try:
            js = nc.jetstream()
            durable = Subscription("assessment", source).durable(self.namespace)

            async def check() -> bool:
                info = await js.consumer_info(stream_name(source, self.namespace), durable)
                return not info.num_pending and not info.num_ack_pending

            assert await eventually(check), f"the {source} consumer did not drain"
        finally:
            await nc.close()

    async def snapshot(self, *tables: str) -> dict[str, list[dict[str, Any]]]:
        """The rows of ``tables`` (without timestamps), sorted, to compare state."""
        found = {}
        for table in tables:
            rows = [
                {k: v for k, v in dict(r).items() if k not in ("updated_at", "recorded_at", "processed_at")}
                for r in await self.fetch(f"SELECT * FROM {table}")
            ]
            found[table] = sorted(rows, key=repr)
        return found

    async def stream_info(self) -> StreamInfo:
        nc = await connect(self.servers.nats_url)
        try:
            return await nc.jetstream().stream_info(stream_name("assessment", self.namespace))
        finally:
            await nc.close()

    async def stream_messages(self) -> list[Envelope]:
        """Every message on this test's ASSESSMENT stream, in stream order."""
        nc = await connect(self.servers.nats_url)
        try:
            js = nc.jetstream()
            name = stream_name("assessment", self.namespace)
            info = await js.stream_info(name)
            first, last = info.state.first_seq, info.state.last_seq
            messages = [await js.get_msg(name, seq) for seq in range(first, last + 1)] if info.state.messages else []
            return [Envelope.from_bytes(m.data or b"") for m in messages]
        finally:
            await nc.close()


@asynccontextmanager
async def running_world(
    servers: Servers,
    tokens: Tokens,
    *,
    learners: Sequence[str] = (),
    extra_events: Sequence[Event] = (),
    **overrides: Any,
) -> AsyncIterator[World]:
    """Start the service on a fresh namespace and database, publish the consortium and admit
    ``learners`` (plus ``extra_events``), and wait until all of it has been consumed."""
    namespace = "t" + uuid.uuid4().hex[:10]
    settings = test_settings(AssessmentSettings, servers, namespace, "assessment", tokens, **overrides)
    assert isinstance(settings, AssessmentSettings)
    catalogue = catalogue_events()
    enrolments: list[Event] = [admitted(learner) for learner in learners]
    async with running_service(create_app, settings) as service:
        world = World(service, servers, namespace, tokens, settings, list(learners))
        await world.publish([*catalogue, *extra_events])
        await world.publish_many(enrolments)
        await asyncio.gather(
            world.consumed(
                "assessment--catalogue", len(catalogue) + sum(1 for e in extra_events if e.context == "catalogue")
            ),
            world.consumed(
                "assessment--enrolment", len(enrolments) + sum(1 for e in extra_events if e.context == "enrolment")
            ),
        )
        yield world


def result_body(learner: str, component: str, grade: Any, *, attempt: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "learner_id": learner,
        "component_code": component,
        "attempt": attempt,
        "grade": grade,
        "assessed_on": JAN.isoformat(),
        **extra,
    }
