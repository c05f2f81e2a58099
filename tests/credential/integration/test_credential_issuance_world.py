"""Shared world of the issuance tests (no tests here).

Two ways in:

* adapter level, on the ``pool`` fixture's database: the credential service's migrations applied,
  the awarding engine's tables seeded with SQL exactly as part 1 writes them (awards, queue rows,
  definitions, learner profiles), and the pipeline driven by hand (``drain``);
* service level: the real service (``bootstrap.build`` + ``wire_issuance``) on real NATS and
  PostgreSQL, fed with the other contexts' events as the awarding tests do.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

import tessera_credential
from tessera_credential.bootstrap import build
from tessera_credential.config import CredentialSettings
from tessera_credential.issuance.pipeline import IssuancePipeline
from tessera_credential.issuance.settings import IssuanceSettings
from tessera_credential.issuance.wiring import wire_issuance
from tessera_credential.keys.did import DidWeb
from tessera_credential.keys.sealing import KeyEncryptionKey
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract import criteria as cr
from tessera_shared.contract.credential import ComponentGrade, GradeSummary
from tessera_shared.kernel import migrations
from tessera_shared.kernel.app import create_app
from tessera_shared.kernel.eventstore import EventStore
from tessera_shared.testing import apps
from tessera_shared.testing.apps import RunningService, Tokens, running_service
from tessera_shared.testing.servers import Servers
from tests.credential.integration.credential_award_support import (
    AMSTERDAM,
    GENT,
    HEIDELBERG,
    ensure_source_streams,
    pathway_published,
)

BASE = "https://creds.tessera.test"
DIDS = DidWeb(BASE)
MIGRATIONS = Path(tessera_credential.__file__).parent / "migrations"
TEST_KEK_B64 = base64.b64encode(os.urandom(32)).decode()
COMPONENTS = (("C1", "4", GENT), ("C2", "3", AMSTERDAM), ("C3", "3", HEIDELBERG))
NAMES = {GENT: "Ghent University", AMSTERDAM: "University of Amsterdam", HEIDELBERG: "Heidelberg University"}
COUNTRIES = {GENT: "BE", AMSTERDAM: "NL", HEIDELBERG: "DE"}


def kek_for_tests() -> KeyEncryptionKey:
    return KeyEncryptionKey.from_base64(TEST_KEK_B64)


def issuance_settings(**overrides: Any) -> IssuanceSettings:
    """Test settings; documents are signed in a thread (``issuance_processes=0``) unless a test asks
    for signing processes (test_credential_issuance_trace.py does)."""
    values: dict[str, Any] = {
        "credential_key_encryption_key": TEST_KEK_B64,
        "issuance_poll_seconds": 0.2,
        "issuance_processes": 0,
    }
    values.update(overrides)
    return IssuanceSettings(**values)


# ------------------------------------------------------------------------------ the catalogue's data


def definition(mc_id: str = "mc-data") -> cat.MicroCredentialDefinition:
    """A joint micro-credential: Ghent coordinates, Ghent and Amsterdam award, Heidelberg contributes."""
    C, A, T = cat.PartnerRole.COORDINATOR, cat.PartnerRole.AWARDING, cat.PartnerRole.CONTRIBUTING
    roles = {GENT: (C, A, T), AMSTERDAM: (A, T), HEIDELBERG: (T,)}
    rule = cr.AllOf(criteria=tuple(cr.ComponentPassed(component=code) for code, *_ in COMPONENTS))
    criteria = cr.AwardCriteria(rule=rule)
    return cat.MicroCredentialDefinition(
        title={"en": "Responsible Data Science", "nl": "Verantwoorde datawetenschap"},
        description={"en": "A joint micro-credential of three universities."},
        learning_outcomes=(cat.LearningOutcome(id="LO1", text={"en": "Analyse data responsibly"}),),
        workload=cat.Workload(ects=Decimal(10), notional_hours=280),
        level=cat.Level(eqf=6),
        isced_field="0688",
        languages=("en",),
        participation=cat.Participation(mode=cat.ParticipationMode.ONLINE),
        assessment=cat.AssessmentInfo(methods=(cat.AssessmentMethod.WRITTEN_EXAM,)),
        quality_assurance=cat.QualityAssurance(kind=cat.QualityAssuranceKind.INTERNAL),
        components=tuple(
            cat.Component(
                code=code,
                title={"en": f"Component {code}"},
                ects=Decimal(ects),
                semester=cat.Semester.FIRST,
                teaching_institution=inst,
            )
            for code, ects, inst in COMPONENTS
        ),
        partners=tuple(
            cat.PartnerProfile(institution_id=i, roles=r, name={"en": NAMES[i]}, country=COUNTRIES[i])
            for i, r in roles.items()
        ),
        criteria=criteria,
        criteria_narrative=cr.narratives(criteria, ["en"]),
    )


def version_published(mc_id: str = "mc-data", version: int = 1) -> tuple[cat.MicroCredentialVersionPublished, str]:
    event = cat.MicroCredentialVersionPublished(
        micro_credential_id=mc_id,
        version=version,
        definition=definition(mc_id),
        approvals=tuple(cat.PartnerApproval(institution_id=i, approved_by=f"editor@{i}") for i in NAMES),
        published_by="editor-1",
    )
    return event, f"micro-credential-{mc_id}"


def grade_summary(score: float = 0.7) -> GradeSummary:
    grades = {
        code: ComponentGrade(
            ects=ects,
            grade=f"{score * 20:g}",
            scheme_id="be-0-20",
            scheme_kind="numeric",
            normalised_score=score,
            passed=True,
            attempt=1,
            result_id=f"res-{code}",
        )
        for code, ects, _ in COMPONENTS
    }
    return GradeSummary(
        ects_earned="10", weighted_average=score, components={c: score for c in grades}, component_grades=grades
    )


def explanation() -> dict[str, Any]:
    facts = cr.Facts(
        components={
            code: cr.ComponentFacts(
                ects=Decimal(ects),
                result=cr.ComponentResult(score=Decimal("0.7"), passed=True, event_ids=(f"e-{code}",)),
            )
            for code, ects, _ in COMPONENTS
        }
    )
    return cr.evaluate(definition().criteria, facts).model_dump(mode="json")


# ------------------------------------------------------------------------------ adapter level


async def migrate(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as conn:
        await migrations.apply(conn, migrations.for_service("credential", MIGRATIONS))


def pipeline(pool: asyncpg.Pool, kek: KeyEncryptionKey | None = None, **kw: Any) -> IssuancePipeline:
    store = EventStore(pool, source="/tessera/credential", service="credential")
    return IssuancePipeline(dids=DIDS, kek=kek or kek_for_tests(), store=store, **kw)


async def seed_catalogue(conn: Any, mc_id: str = "mc-data", version: int = 1, offering_id: str = "off-1") -> None:
    await conn.execute(
        "INSERT INTO award_definitions (micro_credential_id, version, definition, event_id) VALUES ($1, $2, $3, $4)",
        mc_id,
        version,
        definition(mc_id).model_dump(mode="json"),
        str(uuid.uuid4()),
    )
    await conn.execute(
        """INSERT INTO award_offerings (offering_id, micro_credential_id, micro_credential_version, coordinator_id,
               partner_ids, title, ects, components, criteria, scheduled_at, event_id)
           VALUES ($1, $2, $3, $4, $5, $6, 10, $7, $8, now(), $9)""",
        offering_id,
        mc_id,
        version,
        GENT,
        sorted(NAMES),
        {"en": "Responsible Data Science"},
        [{"code": c, "ects": e, "semester": "first", "teaching_institution": i} for c, e, i in COMPONENTS],
        definition(mc_id).criteria.model_dump(mode="json"),
        str(uuid.uuid4()),
    )


async def seed_learner(conn: Any, learner_id: str, *, profile: bool = True) -> None:
    data = (
        {
            "learner_id": learner_id,
            "given_name": "Ada",
            "family_name": learner_id.title(),
            "email": f"{learner_id}@example.org",
        }
        if profile
        else None
    )
    await conn.execute(
        """INSERT INTO award_learners (learner_id, profile) VALUES ($1, $2)
           ON CONFLICT (learner_id) DO UPDATE SET profile = excluded.profile""",
        learner_id,
        data,
    )


async def enqueue(conn: Any, action: str, award_id: str) -> None:
    await conn.execute(
        "INSERT INTO issuance_queue (award_kind, action, award_id, event_id) VALUES ('micro_credential', $1, $2, $3)",
        action,
        uuid.UUID(award_id),
        uuid.uuid4(),
    )


async def award(
    conn: Any,
    learner_id: str,
    *,
    mc_id: str = "mc-data",
    offering_id: str = "off-1",
    supersedes: str | None = None,
    score: float = 0.7,
) -> str:
    """An active award and its ``issue`` queue row, as the engine writes them in one transaction."""
    award_id = str(uuid.uuid4())
    await conn.execute(
        """INSERT INTO awards (award_id, learner_id, micro_credential_id, micro_credential_version, offering_id,
               status, awarded_at, explanation, grade_summary, supersedes, awarded_event_id, caused_by)
           VALUES ($1, $2, $3, 1, $4, 'active', $5, $6, $7, $8, $9, 'test')""",
        uuid.UUID(award_id),
        learner_id,
        mc_id,
        offering_id,
        datetime.now(UTC) - timedelta(hours=1),
        explanation(),
        grade_summary(score).model_dump(mode="json"),
        uuid.UUID(supersedes) if supersedes else None,
        uuid.uuid4(),
    )
    await enqueue(conn, "issue", award_id)
    return award_id


async def awards_with_redelivered_requests(pool: asyncpg.Pool, learners: int, *, again_every: int) -> list[str]:
    """``learners`` awarded learners; every ``again_every``-th award's ``issue`` request queued a second
    time under another event id (a redelivered decision). Returns the award ids."""
    await migrate(pool)
    async with pool.acquire() as conn:
        await seed_catalogue(conn)
        award_ids = []
        for n in range(learners):
            await seed_learner(conn, f"l{n}")
            award_ids.append(await award(conn, f"l{n}"))
        for award_id in award_ids[::again_every]:
            await conn.execute(
                "INSERT INTO issuance_queue (award_kind, action, award_id, event_id) "
                "VALUES ('micro_credential', 'issue', $1, $2)",
                uuid.UUID(award_id),
                uuid.uuid4(),
            )
    return award_ids


async def supersede(conn: Any, old_award_id: str, learner_id: str, score: float = 0.9) -> str:
    """A correction: the old award superseded by a new one (``supersede`` then ``issue`` rows)."""
    async with conn.transaction():
        new_id = str(uuid.uuid4())
        await conn.execute(
            """UPDATE awards SET status = 'superseded', ended_at = now(), end_reason = 'grade corrected',
                   superseded_by = $2 WHERE award_id = $1""",
            uuid.UUID(old_award_id),
            uuid.UUID(new_id),
        )
        await enqueue(conn, "supersede", old_award_id)
        await conn.execute(
            """INSERT INTO awards (award_id, learner_id, micro_credential_id, micro_credential_version, offering_id,
                   status, awarded_at, explanation, grade_summary, supersedes, awarded_event_id, caused_by)
               VALUES ($1, $2, 'mc-data', 1, 'off-1', 'active', now(), $3, $4, $5, $6, 'test')""",
            uuid.UUID(new_id),
            learner_id,
            explanation(),
            grade_summary(score).model_dump(mode="json"),
            uuid.UUID(old_award_id),
            uuid.uuid4(),
        )
        await enqueue(conn, "issue", new_id)
    return new_id


async def revoke(conn: Any, award_id: str, reason: str = "criteria no longer met: C2 withdrawn") -> None:
    await conn.execute(
        "UPDATE awards SET status = 'revoked', ended_at = now(), end_reason = $2 WHERE award_id = $1",
        uuid.UUID(award_id),
        reason,
    )
    await enqueue(conn, "revoke", award_id)


async def pathway_award(conn: Any, learner_id: str, constituents: list[str], pathway_id: str = "pw-data") -> str:
    """A published pathway (Ghent coordinates, Amsterdam co-awards) and a learner's award of it."""
    event = pathway_published(pathway_id, [("mc-data", "10"), ("mc-ml", "10")], [GENT, AMSTERDAM])
    await conn.execute(
        """INSERT INTO award_pathways (pathway_id, version, definition, member_ids, published_at, event_id)
           VALUES ($1, 1, $2, $3, now(), $4) ON CONFLICT DO NOTHING""",
        pathway_id,
        event.definition.model_dump(mode="json"),
        ["mc-data", "mc-ml"],
        str(uuid.uuid4()),
    )
    award_id = str(uuid.uuid4())
    await conn.execute(
        """INSERT INTO pathway_awards (award_id, learner_id, pathway_id, pathway_version, status,
               constituent_award_ids, explanation, awarded_at, awarded_event_id, caused_by)
           VALUES ($1, $2, $3, 1, 'active', $4, $5, now(), $6, 'test')""",
        uuid.UUID(award_id),
        learner_id,
        pathway_id,
        [uuid.UUID(c) for c in constituents],
        explanation(),
        uuid.uuid4(),
    )
    await conn.execute(
        "INSERT INTO issuance_queue (award_kind, action, award_id, event_id) VALUES ('pathway', 'issue', $1, $2)",
        uuid.UUID(award_id),
        uuid.uuid4(),
    )
    return award_id


async def credential_of(conn: Any, award_id: str) -> dict[str, Any] | None:
    row = await conn.fetchrow("SELECT * FROM issued_credentials WHERE award_id = $1", award_id)
    return dict(row) if row is not None else None


# ------------------------------------------------------------------------------ service level


def service_settings(servers: Servers, namespace: str, tokens: Tokens, **overrides: Any) -> CredentialSettings:
    values: dict[str, Any] = {"public_base_url": BASE}
    values.update(overrides)
    settings = apps.test_settings(CredentialSettings, servers, namespace, "credential", tokens, **values)
    assert isinstance(settings, CredentialSettings)
    return settings


@asynccontextmanager
async def issuing_service(
    servers: Servers,
    namespace: str,
    tokens: Tokens,
    *,
    settings: IssuanceSettings | None = None,
    drop_database: bool = True,
    **overrides: Any,
) -> AsyncIterator[RunningService]:
    """The credential service as bootstrap builds it, with ``wire_issuance`` applied."""
    await ensure_source_streams(servers.nats_url, namespace)

    def app_of(s: CredentialSettings) -> Any:
        definition = build(s)
        wire_issuance(definition, settings=settings or issuance_settings())
        return create_app(definition)

    async with running_service(
        app_of, service_settings(servers, namespace, tokens, **overrides), drop_database=drop_database
    ) as svc:
        yield svc
