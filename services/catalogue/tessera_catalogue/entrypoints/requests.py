"""Request bodies of the command API. Validated at the edge (422 naming each field); unknown fields
in a body are refused so a misspelt element is never silently dropped."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from tessera_catalogue.domain.draft import MicroCredentialDraft, PathwayDraft
from tessera_shared.contract.catalogue import InstitutionProfile
from tessera_shared.contract.terms import OfferingTerms
from tessera_shared.contract.values import Code

_STRICT = ConfigDict(extra="forbid", frozen=True)


class Strict(BaseModel):
    model_config = _STRICT


class Precondition(Strict):
    expected_version: int | None = Field(
        default=None, ge=0, description="the version (ETag) the command was decided on; stale -> 409"
    )


class InstitutionIn(InstitutionProfile):
    model_config = _STRICT

    def profile(self) -> InstitutionProfile:
        return InstitutionProfile.model_validate(self.model_dump(exclude={"expected_version"}))


class InstitutionUpdate(InstitutionIn):
    expected_version: int | None = Field(default=None, ge=0)


class MicroCredentialContent(MicroCredentialDraft):
    """Every Annex I element, components, partners with roles and award criteria; a draft may be
    incomplete (publishing lists what is missing)."""

    model_config = _STRICT

    def draft(self) -> MicroCredentialDraft:
        return MicroCredentialDraft.model_validate(self.model_dump())


class NewMicroCredential(Strict):
    micro_credential_id: Code | None = Field(default=None, description="chosen by the client, or generated")
    content: MicroCredentialContent


class EditMicroCredential(Precondition):
    content: MicroCredentialContent


class PathwayContent(PathwayDraft):
    model_config = _STRICT

    def draft(self) -> PathwayDraft:
        return PathwayDraft.model_validate(self.model_dump())


class NewPathway(Strict):
    pathway_id: Code | None = None
    content: PathwayContent


class EditPathway(Precondition):
    content: PathwayContent


class Rejection(Precondition):
    reason: str = Field(min_length=1, max_length=4000)


class Retirement(Precondition):
    reason: str | None = Field(default=None, max_length=4000)


class Cancellation(Precondition):
    reason: str = Field(min_length=1, max_length=4000)


class NewOffering(Strict):
    offering_id: Code | None = Field(default=None, description="chosen by the client, or generated")
    micro_credential_id: Code
    version: int = Field(ge=1, description="the published version this offering runs")
    terms: OfferingTerms
