"""Inputs and the `Achievement` of a pathway credential (several micro-credentials stacked into one).

A pathway credential is a CLR 2.0 `ClrCredential` (see `clr.py`) whose own achievement is described
here: name, description, published rule as criteria narrative, EQF level when the pathway states
one, its awarding bodies (same `ext:AwardingBody` alignment entries as a micro-credential, so the same
signing and verification rules apply) and one `ext:StackedMicroCredential` entry per member.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from pydantic import Field, model_validator

from tessera_credential.documents.alignments import (
    AWARDING_BODY,
    EQF_LEVEL,
    EQF_URI,
    alignment_entry,
    anchor,
    body_entry,
)
from tessera_credential.documents.common import (
    decimal_text,
    hash_identity,
    json_number,
    normalise_email,
    pick_text,
    profile,
)
from tessera_credential.documents.inputs import (
    AwareDatetime,
    FrozenInput,
    InstitutionRef,
    LearnerIdentity,
    StatusEntry,
)
from tessera_shared.contract.catalogue import PartnerRole, PathwayDefinition
from tessera_shared.contract.criteria import Explanation
from tessera_shared.contract.values import Code, LanguageTag, WebUrl

PATHWAY_ACHIEVEMENT_TYPE = "Certificate"
STACKED_MICRO_CREDENTIAL = "ext:StackedMicroCredential"


class PathwayIssuanceInput(FrozenInput):
    """Everything one pathway `ClrCredential` states; `credentials` are the signed OB 3.0 credentials
    (as issued, proofs included) of the micro-credentials the learner stacked."""

    credential_id: WebUrl
    issuer: InstitutionRef
    co_awarders: tuple[InstitutionRef, ...] = ()
    learner: LearnerIdentity
    pathway_id: Code
    version: int = Field(ge=1)
    achievement_id: WebUrl
    definition: PathwayDefinition
    award_id: str = Field(min_length=1, max_length=200)
    awarded_at: AwareDatetime
    explanation: Explanation | None = None
    criteria_url: WebUrl
    status: StatusEntry
    credentials: tuple[dict[str, Any], ...] = Field(min_length=1)
    language: LanguageTag | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PathwayIssuanceInput:
        d = self.definition
        if self.issuer.institution_id != d.coordinator_id:
            raise ValueError(f"issuer {self.issuer.institution_id!r} is not the pathway coordinator")
        expected = sorted(
            p.institution_id
            for p in d.partners
            if PartnerRole.AWARDING in p.roles and p.institution_id != d.coordinator_id
        )
        if sorted(c.institution_id for c in self.co_awarders) != expected:
            raise ValueError(f"co-awarders must be exactly the other awarding partners {expected}")
        members = {m.micro_credential_id for m in d.members}
        seen: set[str] = set()
        for credential in self.credentials:
            code = member_code(credential)
            if code not in members or code in seen:
                raise ValueError(f"credential for {code!r} is not a (distinct) member of the pathway")
            seen.add(code)
            if not _same_learner(credential, self.learner):
                raise ValueError(f"credential for {code!r} was issued to another learner")
            if not credential.get("proof"):
                raise ValueError(f"credential for {code!r} is not signed")
        return self

    @property
    def awarding_bodies(self) -> tuple[InstitutionRef, ...]:
        order = {p.institution_id: i for i, p in enumerate(self.definition.partners)}
        return (self.issuer, *sorted(self.co_awarders, key=lambda c: order[c.institution_id]))

    def preferred(self) -> list[str]:
        languages = sorted({lang for lang in self.definition.title})
        return [self.language, *languages] if self.language else ["en", *languages]


def member_achievement(credential: Mapping[str, Any]) -> dict[str, Any]:
    subject = credential.get("credentialSubject")
    achievement = subject.get("achievement") if isinstance(subject, Mapping) else None
    if not isinstance(achievement, dict):
        raise ValueError("a stacked credential must be an OB 3.0 credential with one achievement")
    return achievement


def member_code(credential: Mapping[str, Any]) -> str:
    """The micro-credential id a stacked credential is for (its achievement's `humanCode`)."""
    code = member_achievement(credential).get("humanCode")
    if not isinstance(code, str):
        raise ValueError("a stacked credential's achievement has no humanCode (micro-credential id)")
    return code


def _same_learner(credential: Mapping[str, Any], learner: LearnerIdentity) -> bool:
    """The stacked credential's salted e-mail hash matches this learner's e-mail."""
    subject = credential.get("credentialSubject")
    identifiers = subject.get("identifier") if isinstance(subject, Mapping) else None
    for entry in identifiers if isinstance(identifiers, list) else []:
        if isinstance(entry, Mapping) and entry.get("identityType") == "emailAddress":
            salt = entry.get("salt")
            if isinstance(salt, str):
                return entry.get("identityHash") == hash_identity(normalise_email(learner.email), salt)
    return False


def build_pathway_achievement(issuance: PathwayIssuanceInput, preferred: Sequence[str]) -> dict[str, Any]:
    d = issuance.definition
    language, name = pick_text(d.title, preferred)
    alignment = [
        body_entry(
            AWARDING_BODY,
            body,
            "Coordinating institution and issuer" if body is issuance.issuer else "Co-awarding partner",
            preferred,
        )
        for body in issuance.awarding_bodies
    ]
    level = (
        d.level.eqf
        if d.level and d.level.eqf is not None
        else (d.level.qf_ehea.eqf_level if d.level and d.level.qf_ehea is not None else None)
    )
    if level is not None:
        alignment.append(
            alignment_entry(
                EQF_LEVEL,
                f"EQF level {level}",
                EQF_URI.format(level=level),
                code=str(level),
                framework="European Qualifications Framework (EQF)",
            )
        )
    held = {member_code(c): member_achievement(c).get("id") for c in issuance.credentials}
    for member in d.members:
        url = held.get(member.micro_credential_id)
        alignment.append(
            alignment_entry(
                STACKED_MICRO_CREDENTIAL,
                pick_text(member.title, preferred)[1],
                url
                if isinstance(url, str)
                else anchor(issuance.achievement_id, f"member-{member.micro_credential_id}"),
                code=member.micro_credential_id,
                framework="Micro-credentials of this pathway",
                description=f"{decimal_text(member.ects)} ECTS; "
                + ("held" if member.micro_credential_id in held else "not part of this award"),
            )
        )
    total = sum((m.ects for m in d.members if m.micro_credential_id in held), Decimal(0))
    return {
        "id": issuance.achievement_id,
        "type": ["Achievement"],
        "achievementType": PATHWAY_ACHIEVEMENT_TYPE,
        "name": name,
        "description": pick_text(d.description, [language, *preferred])[1],
        "criteria": {
            "id": issuance.criteria_url,
            "type": ["Criteria"],
            "narrative": pick_text(d.narrative, [language, *preferred])[1],
        },
        "creator": profile(issuance.issuer, preferred),
        "creditsAvailable": json_number(total),
        "humanCode": issuance.pathway_id,
        "version": str(issuance.version),
        "inLanguage": language,
        "alignment": alignment,
    }
