"""Integration events of the catalogue context and the snapshots they carry.

Partners subscribe to these; each event is self-contained, so a consumer never needs the catalogue's
API to interpret it:

- ``InstitutionRegistered`` / ``InstitutionUpdated``: the full institution profile.
- ``MicroCredentialVersionPublished``: the full, immutable definition of version N (every EU Council
  Recommendation 2022 Annex I element the programme states, components with their teaching
  institution, ECTS and semester, partners with roles and names, award criteria and their narrative).
- ``MicroCredentialRetired``: no new offerings; existing ones run to their end.
- ``OfferingScheduled``: the complete terms of an offering, pinned to one published version (criteria
  included), with the component list needed for fees and refunds.
- ``OfferingOpened`` / ``OfferingClosed`` / ``OfferingStarted`` / ``OfferingFinished`` /
  ``OfferingCancelled``: the offering lifecycle (a cancellation entitles every enrolled learner to a
  full refund).
- ``PathwayPublished``: a stacking pathway, with its member micro-credentials' titles and ECTS.

Annex I elements that belong to an issued credential (learner identification, date of issuing) are
not part of a programme definition.
"""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from tessera_shared.contract.base import Event
from tessera_shared.contract.criteria import AwardCriteria, PathwayMember, PathwayRule
from tessera_shared.contract.terms import ComponentTerms, OfferingTerms
from tessera_shared.contract.values import (
    Code,
    ContractModel,
    CountryCode,
    Email,
    EqfLevel,
    ErasmusCode,
    EscoUri,
    Eur,
    InstitutionId,
    IscedFCode,
    LanguageTag,
    MultilingualText,
    PositiveEcts,
    QfEheaCycle,
    RegionCode,
    Semester,
    WebUrl,
)

Id = Code
UserId = str

# ----------------------------------------------------------------------------------- institutions


class Contact(ContractModel):
    email: Email
    name: str | None = None
    phone: str | None = None


class InstitutionProfile(ContractModel):
    """A consortium partner, identified by its SCHAC home organisation (``ugent.be``)."""

    institution_id: InstitutionId
    erasmus_code: ErasmusCode | None = None
    name: MultilingualText
    country: CountryCode
    region: RegionCode | None = Field(default=None, description="ISO 3166-2 subdivision, e.g. BE-VOV")
    website: WebUrl
    logo_url: WebUrl | None = None
    contact: Contact
    grading_scheme_ids: tuple[Code, ...] = Field(default=(), description="the assessment context's scheme ids")


# ------------------------------------------------------------------- micro-credential definition


class LearningOutcome(ContractModel):
    id: Code
    text: MultilingualText
    esco_skill: EscoUri | None = None


class Workload(ContractModel):
    ects: PositiveEcts
    notional_hours: int = Field(gt=0)


class Level(ContractModel):
    eqf: EqfLevel | None = None
    qf_ehea: QfEheaCycle | None = None


class ParticipationMode(StrEnum):
    ONLINE = "online"
    ON_SITE = "on_site"
    BLENDED = "blended"
    HYBRID = "hybrid"


class Participation(ContractModel):
    mode: ParticipationMode
    evening: bool = False
    distance: bool = False
    description: MultilingualText | None = None


class AssessmentMethod(StrEnum):
    WRITTEN_EXAM = "written_exam"
    ORAL_EXAM = "oral_exam"
    ASSIGNMENT = "assignment"
    PROJECT = "project"
    PORTFOLIO = "portfolio"
    PRESENTATION = "presentation"
    PRACTICAL = "practical"
    PEER_ASSESSMENT = "peer_assessment"
    OTHER = "other"


class AssessmentInfo(ContractModel):
    """Annex I "type of assessment"."""

    methods: tuple[AssessmentMethod, ...] = Field(min_length=1)
    description: MultilingualText | None = None


class SupervisionKind(StrEnum):
    UNSUPERVISED = "unsupervised"
    SUPERVISED_ONLINE = "supervised_online"
    SUPERVISED_ON_SITE = "supervised_on_site"


class IdentityVerification(StrEnum):
    NONE = "none"
    ONLINE = "online"
    ON_SITE = "on_site"


class Supervision(ContractModel):
    """Annex I "supervision and identity verification" of the assessment."""

    supervision: SupervisionKind
    identity_verification: IdentityVerification


class QualityAssuranceKind(StrEnum):
    INTERNAL = "internal"
    EXTERNAL = "external"


class QualityAssurance(ContractModel):
    """Annex I "type of quality assurance"; an external agency is named, ideally with its DEQAR id."""

    kind: QualityAssuranceKind
    description: MultilingualText | None = None
    agency: str | None = None
    deqar_id: str | None = None
    url: WebUrl | None = None


class PrerequisiteKind(StrEnum):
    NONE = "none"
    DIPLOMA_LEVEL = "diploma_level"
    MICRO_CREDENTIALS = "micro_credentials"


class Prerequisites(ContractModel):
    """Admission: none; a diploma of at least ``diploma_eqf_level`` (reviewed by the coordinator's
    registrar); or a valid credential for each of ``micro_credential_ids`` (any version)."""

    kind: PrerequisiteKind = PrerequisiteKind.NONE
    diploma_eqf_level: EqfLevel | None = None
    micro_credential_ids: tuple[Id, ...] = ()
    description: MultilingualText | None = None


class GradingInfo(ContractModel):
    scheme_ids: tuple[Code, ...] = ()
    description: MultilingualText | None = None


class Integration(ContractModel):
    """Annex I "integration / stackability options"."""

    stackable: bool = True
    description: MultilingualText | None = None


class Component(ContractModel):
    """A course unit of the micro-credential, taught by one partner institution."""

    code: Code
    title: MultilingualText
    ects: PositiveEcts
    semester: Semester
    learning_outcome_ids: tuple[Code, ...] = ()
    teaching_institution: InstitutionId

    def terms(self) -> ComponentTerms:
        return ComponentTerms(
            code=self.code,
            ects=self.ects,
            semester=self.semester,
            teaching_institution=self.teaching_institution,
        )


class PartnerRole(StrEnum):
    COORDINATOR = "coordinator"
    CONTRIBUTING = "contributing"
    AWARDING = "awarding"


class Partner(ContractModel):
    institution_id: InstitutionId
    roles: tuple[PartnerRole, ...] = Field(min_length=1)


class PartnerProfile(Partner):
    """A partner as published: roles plus the institution's name and location (Annex I issuer)."""

    name: MultilingualText
    country: CountryCode
    region: RegionCode | None = None
    erasmus_code: ErasmusCode | None = None


def _coordinator(partners: tuple[PartnerProfile, ...]) -> str:
    return next(p.institution_id for p in partners if PartnerRole.COORDINATOR in p.roles)


class MicroCredentialDefinition(ContractModel):
    """A published micro-credential version: complete and immutable."""

    title: MultilingualText
    description: MultilingualText
    learning_outcomes: tuple[LearningOutcome, ...] = Field(min_length=1)
    workload: Workload
    level: Level
    isced_field: IscedFCode
    languages: tuple[LanguageTag, ...] = Field(min_length=1, description="languages of instruction")
    participation: Participation
    assessment: AssessmentInfo
    supervision: Supervision | None = None
    quality_assurance: QualityAssurance
    prerequisites: Prerequisites = Prerequisites()
    grading: GradingInfo | None = None
    integration: Integration | None = None
    further_information_url: WebUrl | None = None
    components: tuple[Component, ...] = Field(min_length=1)
    partners: tuple[PartnerProfile, ...] = Field(min_length=1)
    criteria: AwardCriteria
    criteria_narrative: MultilingualText

    @property
    def coordinator_id(self) -> str:
        return _coordinator(self.partners)

    @property
    def awarding_bodies(self) -> tuple[PartnerProfile, ...]:
        return tuple(p for p in self.partners if PartnerRole.AWARDING in p.roles)

    @property
    def component_terms(self) -> tuple[ComponentTerms, ...]:
        return tuple(c.terms() for c in self.components)


class PartnerApproval(ContractModel):
    institution_id: InstitutionId
    approved_by: UserId


# ------------------------------------------------------------------------------ pathway definition


class PathwayDefinition(ContractModel):
    """A published stacking pathway: a larger credential made of micro-credentials."""

    title: MultilingualText
    description: MultilingualText
    members: tuple[PathwayMember, ...] = Field(min_length=1)
    rule: PathwayRule
    level: Level | None = None
    partners: tuple[PartnerProfile, ...] = Field(min_length=1)
    narrative: MultilingualText

    @property
    def coordinator_id(self) -> str:
        return _coordinator(self.partners)


# ------------------------------------------------------------------------------------------ events


class InstitutionRegistered(Event, type="tessera.catalogue.institution.registered", version=1):
    institution: InstitutionProfile


class InstitutionUpdated(Event, type="tessera.catalogue.institution.updated", version=1):
    """The institution's full profile after the update."""

    institution: InstitutionProfile


class MicroCredentialVersionPublished(Event, type="tessera.catalogue.micro-credential.version-published", version=1):
    micro_credential_id: Id
    version: int = Field(ge=1)
    definition: MicroCredentialDefinition
    approvals: tuple[PartnerApproval, ...]
    published_by: UserId


class MicroCredentialRetired(Event, type="tessera.catalogue.micro-credential.retired", version=1):
    micro_credential_id: Id
    last_version: int = Field(ge=1)
    reason: str | None = None
    retired_by: UserId


class OfferingScheduled(Event, type="tessera.catalogue.offering.scheduled", version=1):
    """An edition of a published version with its complete terms, pinned criteria, admission
    requirements and partners (for consent); ``fee`` is the fee for the whole offering under its
    tariff (what a learner taking every component pays)."""

    offering_id: Id
    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)
    coordinator_id: InstitutionId
    title: MultilingualText
    ects: PositiveEcts
    terms: OfferingTerms
    components: tuple[ComponentTerms, ...] = Field(min_length=1)
    criteria: AwardCriteria
    prerequisites: Prerequisites
    partners: tuple[Partner, ...] = Field(min_length=1, description="whom the learner's data is shared with")
    fee: Eur
    scheduled_by: UserId


class OfferingLifecycleEvent(Event):
    """Base of the offering lifecycle events (no type of its own)."""

    offering_id: Id
    micro_credential_id: Id
    micro_credential_version: int = Field(ge=1)
    by: UserId


class OfferingOpened(OfferingLifecycleEvent, type="tessera.catalogue.offering.opened", version=1):
    """Open for enrolment (within the enrolment window of its terms)."""


class OfferingClosed(OfferingLifecycleEvent, type="tessera.catalogue.offering.closed", version=1):
    """Closed for enrolment."""


class OfferingStarted(OfferingLifecycleEvent, type="tessera.catalogue.offering.started", version=1):
    """Teaching has started: the offering is running."""


class OfferingFinished(OfferingLifecycleEvent, type="tessera.catalogue.offering.finished", version=1):
    """The offering is over; admitted learners without an award have not completed it."""


class OfferingCancelled(OfferingLifecycleEvent, type="tessera.catalogue.offering.cancelled", version=1):
    """Cancelled by the coordinator: every enrolled learner is refunded in full."""

    reason: str = Field(min_length=1)


class PathwayPublished(Event, type="tessera.catalogue.pathway.published", version=1):
    pathway_id: Id
    version: int = Field(ge=1)
    definition: PathwayDefinition
    approvals: tuple[PartnerApproval, ...]
    published_by: UserId


CATALOGUE_EVENTS: tuple[type[Event], ...] = (
    InstitutionRegistered,
    InstitutionUpdated,
    MicroCredentialVersionPublished,
    MicroCredentialRetired,
    OfferingScheduled,
    OfferingOpened,
    OfferingClosed,
    OfferingStarted,
    OfferingFinished,
    OfferingCancelled,
    PathwayPublished,
)
