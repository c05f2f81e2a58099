"""Read models of the public catalogue, projected from the catalogue's own published events.

Each projection owns its tables (migrations/0001_read_models.sql); the kernel's runner applies events
in the gap-free global order and checkpoints in the same transaction; ``tessera catalogue rebuild``
truncates the tables and replays the store. ``apply`` is written so that replaying an event again
changes nothing (inserts of immutable versions do nothing on conflict; updates set, never add).
"""

from __future__ import annotations

from tessera_catalogue.adapters.search_text import document, fold
from tessera_catalogue.adapters.views import annex_i_view
from tessera_catalogue.domain.annex_i import published_completeness
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.values import localise
from tessera_shared.kernel.db import Conn
from tessera_shared.kernel.eventstore import StoredEvent
from tessera_shared.kernel.projections import Projection

_LIFECYCLE: dict[type[cat.OfferingLifecycleEvent], str] = {
    cat.OfferingOpened: "open",
    cat.OfferingClosed: "closed",
    cat.OfferingStarted: "running",
    cat.OfferingFinished: "finished",
    cat.OfferingCancelled: "cancelled",
}


class InstitutionsProjection(Projection):
    name = "institutions"
    tables = ("cat_institutions",)
    event_types = (cat.InstitutionRegistered.event_type, cat.InstitutionUpdated.event_type)

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        payload = event.payload()
        assert isinstance(payload, cat.InstitutionRegistered | cat.InstitutionUpdated)
        profile = payload.institution
        await conn.execute(
            """INSERT INTO cat_institutions (institution_id, profile, name_sort, revision, registered_at, updated_at)
               VALUES ($1, $2, $3, $4, $5, $5)
               ON CONFLICT (institution_id) DO UPDATE
               SET profile = EXCLUDED.profile, name_sort = EXCLUDED.name_sort, revision = EXCLUDED.revision,
                   updated_at = EXCLUDED.updated_at
               WHERE cat_institutions.revision < EXCLUDED.revision""",
            profile.institution_id,
            profile.model_dump(mode="json"),
            fold(localise(profile.name)),
            event.stream_version,
            event.recorded_at,
        )


class MicroCredentialVersionsProjection(Projection):
    name = "micro-credential-versions"
    tables = ("cat_mc_versions", "cat_micro_credentials")
    event_types = (cat.MicroCredentialVersionPublished.event_type, cat.MicroCredentialRetired.event_type)

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        payload = event.payload()
        if isinstance(payload, cat.MicroCredentialVersionPublished):
            definition = payload.definition
            await conn.execute(
                """INSERT INTO cat_mc_versions (micro_credential_id, version, coordinator_id, definition, approvals,
                                                published_by, published_at)
                   VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
                payload.micro_credential_id,
                payload.version,
                definition.coordinator_id,
                definition.model_dump(mode="json"),
                [a.model_dump(mode="json") for a in payload.approvals],
                payload.published_by,
                event.recorded_at,
            )
            await conn.execute(
                """INSERT INTO cat_micro_credentials (micro_credential_id, coordinator_id, latest_version)
                   VALUES ($1, $2, $3)
                   ON CONFLICT (micro_credential_id) DO UPDATE
                   SET latest_version = greatest(cat_micro_credentials.latest_version, EXCLUDED.latest_version)""",
                payload.micro_credential_id,
                definition.coordinator_id,
                payload.version,
            )
        elif isinstance(payload, cat.MicroCredentialRetired):
            await conn.execute(
                """UPDATE cat_micro_credentials SET retired = true, retired_reason = $2, retired_at = $3
                   WHERE micro_credential_id = $1""",
                payload.micro_credential_id,
                payload.reason,
                event.recorded_at,
            )


class OfferingsProjection(Projection):
    name = "offerings"
    tables = ("cat_offerings",)
    event_types = (cat.OfferingScheduled.event_type, *(t.event_type for t in _LIFECYCLE))

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        payload = event.payload()
        if isinstance(payload, cat.OfferingScheduled):
            terms = payload.terms
            await conn.execute(
                """INSERT INTO cat_offerings (offering_id, micro_credential_id, micro_credential_version,
                       coordinator_id, status, academic_year, period, starts_on, ends_on, opens_on, closes_on,
                       capacity, fee, scheduled, revision, scheduled_at, updated_at)
                   VALUES ($1, $2, $3, $4, 'scheduled', $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15)
                   ON CONFLICT DO NOTHING""",
                payload.offering_id,
                payload.micro_credential_id,
                payload.micro_credential_version,
                payload.coordinator_id,
                terms.academic_year,
                terms.period.value,
                terms.starts_on,
                terms.ends_on,
                terms.enrolment.opens_on,
                terms.enrolment.closes_on,
                terms.capacity,
                payload.fee,
                event.data,
                event.stream_version,
                event.recorded_at,
            )
        elif isinstance(payload, cat.OfferingLifecycleEvent):
            reason = payload.reason if isinstance(payload, cat.OfferingCancelled) else None
            await conn.execute(
                """UPDATE cat_offerings
                   SET status = $2, cancellation_reason = coalesce($3, cancellation_reason), revision = $4,
                       updated_at = $5
                   WHERE offering_id = $1 AND revision < $4""",
                payload.offering_id,
                _LIFECYCLE[type(payload)],
                reason,
                event.stream_version,
                event.recorded_at,
            )


class PathwayVersionsProjection(Projection):
    name = "pathway-versions"
    tables = ("cat_pathway_versions",)
    event_types = (cat.PathwayPublished.event_type,)

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        payload = event.payload()
        assert isinstance(payload, cat.PathwayPublished)
        await conn.execute(
            """INSERT INTO cat_pathway_versions (pathway_id, version, coordinator_id, definition, approvals,
                                                 published_by, published_at)
               VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING""",
            payload.pathway_id,
            payload.version,
            payload.definition.coordinator_id,
            payload.definition.model_dump(mode="json"),
            [a.model_dump(mode="json") for a in payload.approvals],
            payload.published_by,
            event.recorded_at,
        )


class SearchProjection(Projection):
    """One row per micro-credential: its latest published version, with the columns the public
    search filters on and its full-text document."""

    name = "search"
    tables = ("cat_search",)
    event_types = (cat.MicroCredentialVersionPublished.event_type, cat.MicroCredentialRetired.event_type)

    async def apply(self, conn: Conn, event: StoredEvent) -> None:
        payload = event.payload()
        if isinstance(payload, cat.MicroCredentialRetired):
            await conn.execute(
                "UPDATE cat_search SET retired = true WHERE micro_credential_id = $1", payload.micro_credential_id
            )
            return
        assert isinstance(payload, cat.MicroCredentialVersionPublished)
        d = payload.definition
        report = published_completeness(d)
        level = d.level
        eqf = level.eqf if level.eqf is not None else (level.qf_ehea.eqf_level if level.qf_ehea else None)
        titles: dict[str, str] = {}
        for tag in sorted(d.title):
            titles.setdefault(tag.split("-")[0], fold(d.title[tag]))
        a, b, c = document(d, payload.micro_credential_id)
        await conn.execute(
            """INSERT INTO cat_search (micro_credential_id, version, coordinator_id, definition, annex_i,
                   published_at, isced_field, ects, eqf, languages, language_primaries, mode, evening, distance,
                   partner_ids, titles, title_default, document)
               VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
                       setweight(to_tsvector('simple', $18), 'A') || setweight(to_tsvector('simple', $19), 'B')
                       || setweight(to_tsvector('simple', $20), 'C'))
               ON CONFLICT (micro_credential_id) DO UPDATE
               SET version = EXCLUDED.version, coordinator_id = EXCLUDED.coordinator_id,
                   definition = EXCLUDED.definition, annex_i = EXCLUDED.annex_i,
                   published_at = EXCLUDED.published_at, isced_field = EXCLUDED.isced_field, ects = EXCLUDED.ects,
                   eqf = EXCLUDED.eqf, languages = EXCLUDED.languages,
                   language_primaries = EXCLUDED.language_primaries, mode = EXCLUDED.mode,
                   evening = EXCLUDED.evening, distance = EXCLUDED.distance, partner_ids = EXCLUDED.partner_ids,
                   titles = EXCLUDED.titles, title_default = EXCLUDED.title_default, document = EXCLUDED.document
               WHERE cat_search.version < EXCLUDED.version""",
            payload.micro_credential_id,
            payload.version,
            d.coordinator_id,
            d.model_dump(mode="json"),
            annex_i_view(report),
            event.recorded_at,
            d.isced_field,
            d.workload.ects,
            eqf,
            list(d.languages),
            list(dict.fromkeys(tag.split("-")[0] for tag in d.languages)),
            d.participation.mode.value,
            d.participation.evening,
            d.participation.distance,
            [p.institution_id for p in d.partners],
            titles,
            fold(localise(d.title)),
            a,
            b,
            c,
        )


def projections() -> list[Projection]:
    return [
        InstitutionsProjection(),
        MicroCredentialVersionsProjection(),
        OfferingsProjection(),
        PathwayVersionsProjection(),
        SearchProjection(),
    ]
