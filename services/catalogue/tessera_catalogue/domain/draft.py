"""The editable content of a micro-credential version before it is published.

A draft may be incomplete (every top-level element is optional); publishing checks it against the
Annex I, volume, component, partner and criteria rules and turns it into the immutable
:class:`~tessera_shared.contract.catalogue.MicroCredentialDefinition`. Elements reuse the contract's
value models, so a malformed value (a bad ESCO URI, an EQF level of 9) is refused at the edge.
"""

from __future__ import annotations

from pydantic import Field

from tessera_shared.contract.catalogue import (
    AssessmentInfo,
    Component,
    GradingInfo,
    Integration,
    LearningOutcome,
    Level,
    Participation,
    Partner,
    PartnerRole,
    Prerequisites,
    QualityAssurance,
    Supervision,
    Workload,
)
from tessera_shared.contract.criteria import AwardCriteria, PathwayRule
from tessera_shared.contract.values import ContractModel, IscedFCode, LanguageTag, MultilingualText, WebUrl


class MicroCredentialDraft(ContractModel):
    title: MultilingualText | None = None
    description: MultilingualText | None = None
    learning_outcomes: tuple[LearningOutcome, ...] = ()
    workload: Workload | None = None
    level: Level | None = None
    isced_field: IscedFCode | None = None
    languages: tuple[LanguageTag, ...] = ()
    participation: Participation | None = None
    assessment: AssessmentInfo | None = None
    supervision: Supervision | None = None
    quality_assurance: QualityAssurance | None = None
    prerequisites: Prerequisites = Field(default_factory=Prerequisites)
    grading: GradingInfo | None = None
    integration: Integration | None = None
    further_information_url: WebUrl | None = None
    components: tuple[Component, ...] = ()
    partners: tuple[Partner, ...] = ()
    criteria: AwardCriteria | None = None

    def coordinators(self) -> list[str]:
        return [p.institution_id for p in self.partners if PartnerRole.COORDINATOR in p.roles]

    def partner_ids(self) -> list[str]:
        return [p.institution_id for p in self.partners]


class PathwayDraft(ContractModel):
    """The editable content of a pathway version; ``micro_credential_ids`` name published programmes."""

    title: MultilingualText | None = None
    description: MultilingualText | None = None
    micro_credential_ids: tuple[str, ...] = ()
    rule: PathwayRule | None = None
    level: Level | None = None
    languages: tuple[LanguageTag, ...] = ()
    partners: tuple[Partner, ...] = ()

    def partner_ids(self) -> list[str]:
        return [p.institution_id for p in self.partners]
