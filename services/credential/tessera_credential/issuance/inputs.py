"""Gather what a credential states, from the awarding engine's read models (this database only).

| input | table (written by part 1 from events) |
|---|---|
| the award: date, grade summary, explanation (evidence), lineage | ``awards`` |
| the micro-credential version: Annex I elements, outcomes, partners and their roles | ``award_definitions`` |
| the learner: name, e-mail, ESI | ``award_learners.profile`` (``LearnerRegistered/Updated``) |
| each awarding body: name, country, website, logo | ``award_institutions`` (else the definition's partner snapshot) |
| a pathway award and its definition | ``pathway_awards``, ``award_pathways`` |
| the stacked micro-credentials of a pathway (signed, as issued) | ``issued_credentials`` |

Anything missing (a definition or learner profile not consumed yet) raises :class:`MissingInput`:
the queue row is retried later, never issued with a gap.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tessera_credential.documents.inputs import InstitutionRef
from tessera_credential.keys.did import DidWeb
from tessera_shared.contract.catalogue import (
    InstitutionProfile,
    MicroCredentialDefinition,
    PartnerProfile,
    PartnerRole,
    PathwayDefinition,
)
from tessera_shared.contract.credential import GradeSummary
from tessera_shared.contract.enrolment import LearnerProfile
from tessera_shared.kernel.db import Conn


class MissingInput(LookupError):
    """An input the credential needs has not arrived yet (retry later)."""


@dataclass(frozen=True)
class AwardRow:
    award_id: str
    learner_id: str
    micro_credential_id: str
    micro_credential_version: int
    offering_id: str
    status: str
    awarded_at: datetime
    explanation: dict[str, Any]
    grade_summary: GradeSummary
    supersedes: str | None
    superseded_by: str | None
    end_reason: str | None


@dataclass(frozen=True)
class MicroCredentialInputs:
    award: AwardRow
    definition: MicroCredentialDefinition
    learner: LearnerProfile
    issuer_id: str  # the coordinating institution
    co_awarder_ids: tuple[str, ...]  # the other awarding partners, in the definition's order
    institutions: dict[str, InstitutionRef]

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return (self.issuer_id, *self.co_awarder_ids)


AWARD_COLUMNS = """a.award_id::text, a.learner_id, a.micro_credential_id, a.micro_credential_version, a.offering_id,
                    a.status, a.awarded_at, a.explanation, a.grade_summary, a.supersedes::text,
                    a.superseded_by::text, a.end_reason"""


AWARD_FIELDS = (
    "award_id", "learner_id", "micro_credential_id", "micro_credential_version", "offering_id", "status",
    "awarded_at", "explanation", "grade_summary", "supersedes", "superseded_by", "end_reason",
)  # fmt: skip


def award_row(r: Any) -> AwardRow:
    """An :class:`AwardRow` from a row of ``AWARD_COLUMNS`` (a record, or a dict of ``AWARD_FIELDS``)."""
    return AwardRow(
        award_id=r["award_id"],
        learner_id=r["learner_id"],
        micro_credential_id=r["micro_credential_id"],
        micro_credential_version=r["micro_credential_version"],
        offering_id=r["offering_id"],
        status=r["status"],
        awarded_at=r["awarded_at"],
        explanation=r["explanation"],
        grade_summary=GradeSummary.model_validate(r["grade_summary"]),
        supersedes=r["supersedes"],
        superseded_by=r["superseded_by"],
        end_reason=r["end_reason"],
    )


async def linked_lineages(conn: Conn, award_ids: list[str]) -> dict[str, list[AwardRow]]:
    """For each award that superseded or was superseded, its whole supersession lineage, oldest first
    (the head is the last one), its awards locked ``FOR SHARE`` (see ``pipeline.claim``). An award
    that stands alone is its own lineage (no walk needed)."""
    rows = await conn.fetch(
        f"""WITH RECURSIVE forward(award_id, start) AS (
                SELECT award_id, award_id FROM awards WHERE award_id = ANY($1::uuid[])
                UNION SELECT a.superseded_by, f.start FROM awards a JOIN forward f ON a.award_id = f.award_id
                      WHERE a.superseded_by IS NOT NULL),
            heads AS (SELECT DISTINCT f.start, f.award_id FROM forward f JOIN awards a ON a.award_id = f.award_id
                      WHERE a.superseded_by IS NULL),
            backward(award_id, start, depth) AS (
                SELECT award_id, start, 0 FROM heads
                UNION ALL SELECT a.supersedes, b.start, b.depth + 1
                          FROM awards a JOIN backward b ON a.award_id = b.award_id
                          WHERE a.supersedes IS NOT NULL AND b.depth < 100)
            SELECT b.start::text AS start, b.depth, {AWARD_COLUMNS}
            FROM backward b JOIN awards a ON a.award_id = b.award_id ORDER BY b.start, b.depth DESC
            FOR SHARE OF a""",
        award_ids,
    )
    out: dict[str, list[AwardRow]] = {}
    for r in rows:
        out.setdefault(r["start"], []).append(award_row(r))
    return out


def _institution_ref(
    dids: DidWeb, institution_id: str, profile: dict[str, Any] | None, partners: tuple[PartnerProfile, ...]
) -> InstitutionRef:
    if profile is not None:
        p = InstitutionProfile.model_validate(profile)
        return InstitutionRef(
            did=dids.did(institution_id),
            institution_id=institution_id,
            name=p.name,
            country=p.country,
            region=p.region,
            url=p.website,
            logo_url=p.logo_url,
            erasmus_code=p.erasmus_code,
        )
    partner = next((p for p in partners if p.institution_id == institution_id), None)
    if partner is None:
        raise MissingInput(f"no profile of institution {institution_id}")
    return InstitutionRef(
        did=dids.did(institution_id),
        institution_id=institution_id,
        name=partner.name,
        country=partner.country,
        region=partner.region,
        erasmus_code=partner.erasmus_code,
    )


Bodies = tuple[str, tuple[str, ...], dict[str, InstitutionRef]]  # issuer, co-awarders, their profiles


class DefinitionCache:
    """Validated micro-credential definitions kept across batches by one issuance pipeline (so one
    database): a published version's definition never changes (``save_definition`` keeps the first),
    so a batch need not read and validate it again. Bounded, least recently used out."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, int], MicroCredentialDefinition] = OrderedDict()

    def get(self, key: tuple[str, int]) -> MicroCredentialDefinition | None:
        found = self._entries.get(key)
        if found is not None:
            self._entries.move_to_end(key)
        return found

    def put(self, key: tuple[str, int], definition: MicroCredentialDefinition) -> None:
        self._entries[key] = definition
        self._entries.move_to_end(key)
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)


@dataclass
class SharedInputs:
    """What a batch's credentials share, read (and validated) once per batch transaction: a batch's
    awards are mostly of one micro-credential version, with the same awarding bodies. Learner
    profiles are fetched for the whole batch at once (:meth:`prefetch_learners`), validated per award."""

    definitions: dict[tuple[str, int], MicroCredentialDefinition] = field(default_factory=dict)
    bodies: dict[tuple[str, str, int], Bodies] = field(default_factory=dict)  # by definition
    profiles: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # as stored, not validated
    known: DefinitionCache | None = None  # definitions kept across batches (the pipeline's)
    # the awarding bodies' active keys, sealed, read with their profiles (opened by the pipeline)
    sealed_keys: dict[str, Any] = field(default_factory=dict)

    async def prefetch_learners(self, conn: Conn, learner_ids: list[str]) -> None:
        missing = sorted(set(learner_ids) - set(self.profiles))
        if missing:
            self.profiles.update(dict.fromkeys(missing))
            for r in await conn.fetch(
                "SELECT learner_id, profile FROM award_learners WHERE learner_id = ANY($1::text[])", missing
            ):
                self.profiles[r["learner_id"]] = r["profile"]

    async def definition(self, conn: Conn, mc_id: str, version: int) -> MicroCredentialDefinition:
        key = (mc_id, version)
        if key not in self.definitions and self.known is not None and (kept := self.known.get(key)) is not None:
            self.definitions[key] = kept
        if key not in self.definitions:
            definition_json = await conn.fetchval(
                "SELECT definition FROM award_definitions WHERE micro_credential_id = $1 AND version = $2",
                mc_id,
                version,
            )
            if definition_json is None:
                raise MissingInput(f"definition of {mc_id} v{version} not received yet")
            self.definitions[key] = MicroCredentialDefinition.model_validate(definition_json)
            if self.known is not None:
                self.known.put(key, self.definitions[key])
        return self.definitions[key]

    async def learner(self, conn: Conn, learner_id: str) -> LearnerProfile:
        """Validated here, per award: one learner's bad profile is that award's problem only."""
        await self.prefetch_learners(conn, [learner_id])
        profile = self.profiles[learner_id]
        if profile is None:
            raise MissingInput(f"profile of learner {learner_id} not received yet")
        return LearnerProfile.model_validate(profile)

    async def awarding_bodies(
        self, conn: Conn, dids: DidWeb, definition: tuple[str, str, int], partners: tuple[PartnerProfile, ...]
    ) -> Bodies:
        """The awarding bodies of ``definition`` (kind, id, version), whose partners are ``partners``."""
        if definition not in self.bodies:
            self.bodies[definition] = await _awarding_bodies(conn, dids, partners, self.sealed_keys)
        return self.bodies[definition]


async def micro_credential_inputs(
    conn: Conn, dids: DidWeb, award: AwardRow, shared: SharedInputs | None = None
) -> MicroCredentialInputs:
    shared = shared if shared is not None else SharedInputs()
    definition = await shared.definition(conn, award.micro_credential_id, award.micro_credential_version)
    learner = await shared.learner(conn, award.learner_id)
    issuer_id, co_awarders, institutions = await shared.awarding_bodies(
        conn, dids, ("micro_credential", award.micro_credential_id, award.micro_credential_version), definition.partners
    )
    return MicroCredentialInputs(award, definition, learner, issuer_id, co_awarders, institutions)


async def _awarding_bodies(
    conn: Conn, dids: DidWeb, partners: tuple[PartnerProfile, ...], sealed_keys: dict[str, Any]
) -> Bodies:
    """(issuer = the coordinator, the other awarding partners in the definition's order, their profiles).

    The same statement reads each body's active signing key, sealed, into ``sealed_keys``: the
    bodies are the credential's signers, and the batch needs their keys next."""
    issuer_id = next(p.institution_id for p in partners if PartnerRole.COORDINATOR in p.roles)
    co_awarders = tuple(
        p.institution_id for p in partners if PartnerRole.AWARDING in p.roles and p.institution_id != issuer_id
    )
    ids = [issuer_id, *co_awarders]
    profiles = {}
    for r in await conn.fetch(
        """SELECT x.institution_id, i.profile, k.key_number, k.public_key, k.sealed_secret, k.kek_id
           FROM unnest($1::text[]) AS x(institution_id)
           LEFT JOIN award_institutions i ON i.institution_id = x.institution_id
           LEFT JOIN institution_keys k ON k.institution_id = x.institution_id AND k.retired_at IS NULL""",
        ids,
    ):
        profiles[r["institution_id"]] = r["profile"]
        if r["key_number"] is not None:
            sealed_keys[r["institution_id"]] = r
    return issuer_id, co_awarders, {i: _institution_ref(dids, i, profiles.get(i), partners) for i in ids}


# ------------------------------------------------------------------------------ pathways


@dataclass(frozen=True)
class PathwayAwardRow:
    award_id: str
    learner_id: str
    pathway_id: str
    pathway_version: int
    status: str
    constituent_award_ids: tuple[str, ...]
    explanation: dict[str, Any] | None
    awarded_at: datetime
    revocation_reason: str | None


@dataclass(frozen=True)
class PathwayInputs:
    award: PathwayAwardRow
    definition: PathwayDefinition
    learner: LearnerProfile
    issuer_id: str
    co_awarder_ids: tuple[str, ...]
    institutions: dict[str, InstitutionRef]
    credentials: tuple[dict[str, Any], ...]  # the stacked micro-credentials, signed, as issued

    @property
    def signer_ids(self) -> tuple[str, ...]:
        return (self.issuer_id, *self.co_awarder_ids)


PATHWAY_AWARD_COLUMNS = """award_id::text, learner_id, pathway_id, pathway_version, status,
                           constituent_award_ids::text[] AS constituents, explanation, awarded_at, revocation_reason"""
PATHWAY_AWARD_FIELDS = (
    "award_id", "learner_id", "pathway_id", "pathway_version", "status", "constituents", "explanation",
    "awarded_at", "revocation_reason",
)  # fmt: skip


def pathway_award_row(r: Any) -> PathwayAwardRow:
    """A :class:`PathwayAwardRow` from a row of ``PATHWAY_AWARD_COLUMNS`` (or a dict of its fields)."""
    return PathwayAwardRow(
        award_id=r["award_id"],
        learner_id=r["learner_id"],
        pathway_id=r["pathway_id"],
        pathway_version=r["pathway_version"],
        status=r["status"],
        constituent_award_ids=tuple(r["constituents"]),
        explanation=r["explanation"],
        awarded_at=r["awarded_at"],
        revocation_reason=r["revocation_reason"],
    )


async def pathway_inputs(
    conn: Conn, dids: DidWeb, award: PathwayAwardRow, shared: SharedInputs | None = None
) -> PathwayInputs:
    shared = shared if shared is not None else SharedInputs()
    definition_json = await conn.fetchval(
        "SELECT definition FROM award_pathways WHERE pathway_id = $1 AND version = $2",
        award.pathway_id,
        award.pathway_version,
    )
    if definition_json is None:
        raise MissingInput(f"definition of pathway {award.pathway_id} v{award.pathway_version} not received yet")
    definition = PathwayDefinition.model_validate(definition_json)
    learner = await shared.learner(conn, award.learner_id)
    # Each constituent as it stands now: a superseded constituent counts through its successor.
    rows = await conn.fetch(
        """WITH RECURSIVE chain(start, award_id, depth) AS (
               SELECT award_id, award_id, 0 FROM awards WHERE award_id = ANY($1::uuid[])
               UNION ALL SELECT c.start, a.superseded_by, c.depth + 1
                         FROM awards a JOIN chain c ON a.award_id = c.award_id
                         WHERE a.superseded_by IS NOT NULL AND c.depth < 100)
           SELECT DISTINCT ON (c.start) c.start::text AS start, i.document, i.status
           FROM chain c LEFT JOIN issued_credentials i ON i.award_id = c.award_id::text
           ORDER BY c.start, c.depth DESC""",
        list(award.constituent_award_ids),
    )
    found = {r["start"]: r for r in rows}
    credentials = []
    for constituent in award.constituent_award_ids:
        row = found.get(constituent)
        if row is None or row["document"] is None or row["status"] != "active":
            raise MissingInput(f"no active credential for constituent award {constituent} yet")
        credentials.append(row["document"])
    issuer_id, co_awarders, institutions = await shared.awarding_bodies(
        conn, dids, ("pathway", award.pathway_id, award.pathway_version), definition.partners
    )
    return PathwayInputs(award, definition, learner, issuer_id, co_awarders, institutions, tuple(credentials))
