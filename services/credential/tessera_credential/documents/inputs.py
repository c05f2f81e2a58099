"""Plain, validated inputs of the document builders (no database, no HTTP: the caller assembles them).

`IssuanceInput` is everything one Open Badges 3.0 credential states: who issues it (the coordinating
institution), who co-awards it (every other awarding partner, each of which will add its own proof),
the learner, the published micro-credential version (a snapshot of the catalogue's definition), the
award (date, grade summary, criteria explanation) and where its revocation status is published.

The consistency rules the builders rely on are checked here, once:

- the issuer is the definition's coordinator;
- the co-awarders are exactly the definition's *other* awarding partners (a joint credential that
  names an awarding body which does not sign it would be a lie, and one signed by a partner that is
  not an awarding body would be an unexplained signature);
- DIDs are distinct; dates carry a timezone.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from tessera_shared.contract.catalogue import MicroCredentialDefinition, PartnerRole
from tessera_shared.contract.credential import GradeSummary
from tessera_shared.contract.criteria import Explanation
from tessera_shared.contract.enrolment import LearnerProfile
from tessera_shared.contract.values import (
    Code,
    CountryCode,
    Email,
    ErasmusCode,
    InstitutionId,
    LanguageTag,
    MultilingualText,
    RegionCode,
    WebUrl,
)


def _check_did(value: str) -> str:
    method, _, rest = value.removeprefix("did:").partition(":")
    if not value.startswith("did:") or not method.isalnum() or not method.islower() or not rest:
        raise ValueError(f"{value!r} is not a DID (did:<method>:<id>)")
    if any(c.isspace() for c in value) or "#" in value:
        raise ValueError(f"{value!r}: a DID has no whitespace and no fragment")
    return value


Did = Annotated[str, AfterValidator(_check_did)]


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetimes must carry a timezone")
    return value


AwareDatetime = Annotated[datetime, AfterValidator(_aware)]


class FrozenInput(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InstitutionRef(FrozenInput):
    """An institution as it appears in a credential: its DID (controller of its signing keys) and profile."""

    did: Did
    institution_id: InstitutionId
    name: MultilingualText
    country: CountryCode
    region: RegionCode | None = None
    url: WebUrl | None = None
    logo_url: WebUrl | None = None
    erasmus_code: ErasmusCode | None = None


class LearnerIdentity(FrozenInput):
    """What identifies the learner in the credential: the name in clear, the e-mail (and ESI) only salted
    and hashed (`identityHash` = "sha256$" + hex(SHA-256(normalised value + salt)))."""

    given_name: str = Field(min_length=1, max_length=200)
    family_name: str = Field(min_length=1, max_length=200)
    email: Email
    salt: str = Field(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    european_student_identifier: str | None = Field(default=None, min_length=1, max_length=200)

    @classmethod
    def from_profile(cls, profile: LearnerProfile, salt: str) -> LearnerIdentity:
        return cls(
            given_name=profile.given_name,
            family_name=profile.family_name,
            email=str(profile.email),
            salt=salt,
            european_student_identifier=profile.european_student_identifier,
        )

    @property
    def full_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class StatusEntry(FrozenInput):
    """Where the credential's revocation bit lives (Bitstring Status List)."""

    status_list_credential: WebUrl
    status_list_index: int = Field(ge=0, lt=2**31)


class AwardInfo(FrozenInput):
    award_id: str = Field(min_length=1, max_length=200)
    awarded_at: AwareDatetime
    grade_summary: GradeSummary
    explanation: Explanation

    @classmethod
    def from_event_data(
        cls, award_id: str, awarded_at: datetime, grade_summary: GradeSummary, explanation: dict[str, Any]
    ) -> AwardInfo:
        """From a `CredentialAwarded` event's fields (its explanation is a plain dict)."""
        return cls(
            award_id=award_id,
            awarded_at=awarded_at,
            grade_summary=grade_summary,
            explanation=Explanation.model_validate(explanation),
        )


class IssuanceInput(FrozenInput):
    """Everything one micro-credential `OpenBadgeCredential` states (see the module docstring)."""

    credential_id: WebUrl
    issuer: InstitutionRef
    co_awarders: tuple[InstitutionRef, ...] = ()
    learner: LearnerIdentity
    micro_credential_id: Code
    version: int = Field(ge=1)
    achievement_id: WebUrl
    definition: MicroCredentialDefinition
    award: AwardInfo
    criteria_url: WebUrl = Field(description="the machine-readable (JSON) award criteria of this version")
    status: StatusEntry
    predecessor_id: WebUrl | None = Field(default=None, description="the credential this one supersedes")
    achievement_image_url: WebUrl | None = None
    language: LanguageTag | None = Field(
        default=None,
        description="language of the single-language OB3 texts; default: the first language "
        "of instruction that has a title, else English",
    )

    @model_validator(mode="after")
    def _consistent(self) -> IssuanceInput:
        definition = self.definition
        if self.issuer.institution_id != definition.coordinator_id:
            raise ValueError(
                f"issuer {self.issuer.institution_id!r} is not the coordinator {definition.coordinator_id!r}"
            )
        expected = [
            p.institution_id
            for p in definition.partners
            if PartnerRole.AWARDING in p.roles and p.institution_id != definition.coordinator_id
        ]
        given = [c.institution_id for c in self.co_awarders]
        if sorted(given) != sorted(expected) or len(set(given)) != len(given):
            raise ValueError(f"co-awarders {given} must be exactly the other awarding partners {expected}")
        dids = [self.issuer.did, *(c.did for c in self.co_awarders)]
        if len(set(dids)) != len(dids):
            raise ValueError("every awarding body needs its own DID")
        if self.predecessor_id == self.credential_id:
            raise ValueError("a credential cannot supersede itself")
        return self

    @property
    def awarding_bodies(self) -> tuple[InstitutionRef, ...]:
        """The issuer (coordinator) first, then the co-awarders in the definition's partner order."""
        order = {p.institution_id: i for i, p in enumerate(self.definition.partners)}
        return (self.issuer, *sorted(self.co_awarders, key=lambda c: order[c.institution_id]))
