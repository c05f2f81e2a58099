"""Annex I elements that Open Badges 3.0 has no dedicated field for, as `Alignment` entries.

Every entry is an `Alignment` (a term the OB 3.0 context defines, so it is signed) on the achievement,
identified by an `ext:` `targetType` (the form both 1EdTech schemas allow for extensions). Where the
EU publishes a URI for the value (EQF level, ISCED-F field, ECTS, ESCO skill, Europass mode of
learning), `targetUrl` is that URI; otherwise it is an anchor of the achievement page
(`<achievement id>#annex-i-...`), which shows the same information to a human.

Awarding bodies: one `ext:AwardingBody` entry per awarding body (the coordinator, who is also the
issuer and `achievement.creator`, first), with `targetUrl` = the body's DID (the controller of the
key that signs the credential, so a verifier can match each proof to a body), `targetName` = its
name and `targetCode` = its ISO 3166-1 alpha-2 country. Contributing (non-awarding) partners are
listed as `ext:ContributingPartner`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from tessera_credential.documents.common import decimal_text, pick_text
from tessera_credential.documents.errors import DocumentInputError
from tessera_credential.documents.inputs import InstitutionRef, IssuanceInput
from tessera_shared.contract.catalogue import (
    IdentityVerification,
    MicroCredentialDefinition,
    ParticipationMode,
    PartnerRole,
    PrerequisiteKind,
    SupervisionKind,
)

AWARDING_BODY = "ext:AwardingBody"
CONTRIBUTING_PARTNER = "ext:ContributingPartner"
LEARNING_OUTCOME = "ext:LearningOutcome"
EQF_LEVEL = "ext:EQFLevel"
QF_EHEA_CYCLE = "ext:QFEHEACycle"
FIELD_OF_STUDY = "ext:ISCEDFieldOfStudy"
WORKLOAD = "ext:NotionalWorkload"
LANGUAGE = "ext:LanguageOfInstruction"
PARTICIPATION = "ext:FormOfParticipation"
ASSESSMENT = "ext:TypeOfAssessment"
SUPERVISION = "ext:SupervisionAndIdentityVerification"
QUALITY_ASSURANCE = "ext:QualityAssurance"
PREREQUISITES = "ext:Prerequisites"
GRADING = "ext:GradingScheme"
STACKABILITY = "ext:IntegrationStackability"
FURTHER_INFORMATION = "ext:FurtherInformation"

EQF_URI = "http://data.europa.eu/snb/eqf/{level}"
ISCED_F_URI = "http://data.europa.eu/snb/isced-f/{code}"
ECTS_URI = "http://data.europa.eu/snb/education-credit/6fcec5c5af"  # "European Credit Transfer System"
# Europass "Modes of learning and assessment" (http://data.europa.eu/snb/learning-assessment/25831c2).
MODE_URIS = {
    ParticipationMode.ONLINE: "http://data.europa.eu/snb/learning-assessment/920fbb3cbe",  # Online
    ParticipationMode.ON_SITE: "http://data.europa.eu/snb/learning-assessment/9191af2ed9",  # Presential
    ParticipationMode.BLENDED: "http://data.europa.eu/snb/learning-assessment/e92d221e4d",  # Blended
    ParticipationMode.HYBRID: "http://data.europa.eu/snb/learning-assessment/c_3a90b26d",  # Hybrid
}
# Europass "Supervision and verification" list: only the concept the Commission's own Annex I sample
# uses is mapped; other combinations get the achievement anchor until their URIs are confirmed.
SUPERVISION_URIS = {
    (
        SupervisionKind.UNSUPERVISED,
        IdentityVerification.NONE,
    ): "http://data.europa.eu/snb/supervision-verification/c598449d64",
}
_MODE_NAMES = {
    ParticipationMode.ONLINE: "Online",
    ParticipationMode.ON_SITE: "On site",
    ParticipationMode.BLENDED: "Blended",
    ParticipationMode.HYBRID: "Hybrid",
}
_SUPERVISION_NAMES = {
    SupervisionKind.UNSUPERVISED: "Unsupervised",
    SupervisionKind.SUPERVISED_ONLINE: "Supervised online",
    SupervisionKind.SUPERVISED_ON_SITE: "Supervised on site",
}
_IDENTITY_NAMES = {
    IdentityVerification.NONE: "without identity verification",
    IdentityVerification.ONLINE: "with online identity verification",
    IdentityVerification.ON_SITE: "with on-site identity verification",
}


def achievements_of(document: Any) -> list[dict[str, Any]]:
    """The achievement objects a credential states (OB3: one; CLR: a list), tolerant of any JSON."""
    subject = document.get("credentialSubject") if isinstance(document, dict) else None
    subjects = subject if isinstance(subject, list) else [subject]
    found: list[dict[str, Any]] = []
    for item in subjects:
        value = item.get("achievement") if isinstance(item, dict) else None
        found += [a for a in (value if isinstance(value, list) else [value]) if isinstance(a, dict)]
    return found


def awarding_bodies_of(document: Any) -> list[dict[str, str]]:
    """Awarding bodies the credential names (first achievement only): `{"did", "name", "country"}`."""
    achievements = achievements_of(document)
    alignments = achievements[0].get("alignment") if achievements else None
    out: list[dict[str, str]] = []
    for entry in alignments if isinstance(alignments, list) else []:
        if isinstance(entry, dict) and entry.get("targetType") == AWARDING_BODY:
            did, name, country = entry.get("targetUrl"), entry.get("targetName"), entry.get("targetCode")
            if isinstance(did, str):
                out.append({"did": did, "name": str(name), "country": str(country)})
    return out


def eqf_level(definition: MicroCredentialDefinition) -> int:
    level = definition.level
    if level.eqf is not None:
        return level.eqf
    if level.qf_ehea is not None:
        return level.qf_ehea.eqf_level
    raise DocumentInputError("Annex I level missing: the definition states neither an EQF level nor a QF-EHEA cycle")


def alignment_entry(target_type: str, name: str, url: str, **extra: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"type": ["Alignment"], "targetType": target_type, "targetName": name, "targetUrl": url}
    for key, value in extra.items():
        if value:
            out["target" + key[0].upper() + key[1:]] = value
    return out


def anchor(achievement_id: str, element: str) -> str:
    return f"{achievement_id}#annex-i-{element}"


def annex_i_alignments(issuance: IssuanceInput, preferred: Sequence[str]) -> list[dict[str, Any]]:
    """Every alignment entry of the achievement, in a fixed order (see the module docstring)."""
    d = issuance.definition

    def text(value: dict[str, str] | None) -> str | None:
        return pick_text(value, preferred)[1] if value else None

    def here(element: str) -> str:
        return anchor(issuance.achievement_id, element)

    out = [*_partners(issuance, preferred)]
    for outcome in d.learning_outcomes:
        out.append(
            alignment_entry(
                LEARNING_OUTCOME,
                text(outcome.text) or outcome.id,
                outcome.esco_skill or here(f"outcome-{outcome.id}"),
                code=outcome.id,
                framework="ESCO" if outcome.esco_skill else "Learning outcomes of this micro-credential",
            )
        )
    level = eqf_level(d)
    out.append(
        alignment_entry(
            EQF_LEVEL,
            f"EQF level {level}",
            EQF_URI.format(level=level),
            code=str(level),
            framework="European Qualifications Framework (EQF)",
        )
    )
    if d.level.qf_ehea is not None:
        cycle = d.level.qf_ehea
        out.append(
            alignment_entry(
                QF_EHEA_CYCLE,
                f"QF-EHEA {cycle.value.replace('_', ' ')}",
                here("level"),
                code=cycle.value,
                framework="Qualifications Framework of the EHEA (QF-EHEA)",
            )
        )
    out.append(
        alignment_entry(
            FIELD_OF_STUDY,
            f"ISCED-F {d.isced_field}",
            ISCED_F_URI.format(code=d.isced_field),
            code=d.isced_field,
            framework="ISCED-F 2013",
        )
    )
    ects, hours = decimal_text(d.workload.ects), d.workload.notional_hours
    out.append(
        alignment_entry(
            WORKLOAD,
            f"{ects} ECTS credits ({hours} hours)",
            ECTS_URI,
            code=ects,
            framework="European Credit Transfer and Accumulation System (ECTS)",
            description=f"Notional workload: {ects} ECTS credits, {hours} hours of learning",
        )
    )
    for tag in d.languages:
        out.append(alignment_entry(LANGUAGE, tag, here("languages"), code=tag, framework="BCP 47 language tag"))
    out.append(_participation(issuance, text))
    methods = ",".join(m.value for m in d.assessment.methods)
    out.append(
        alignment_entry(
            ASSESSMENT,
            "Assessment: " + methods.replace("_", " ").replace(",", ", "),
            here("assessment"),
            code=methods,
            description=text(d.assessment.description),
        )
    )
    if d.supervision is not None:
        s = d.supervision
        name = f"{_SUPERVISION_NAMES[s.supervision]} {_IDENTITY_NAMES[s.identity_verification]}"
        url = SUPERVISION_URIS.get((s.supervision, s.identity_verification), here("supervision"))
        out.append(
            alignment_entry(SUPERVISION, name, url, code=f"{s.supervision.value}/{s.identity_verification.value}")
        )
    qa = d.quality_assurance
    qa_name = f"{qa.kind.value.capitalize()} quality assurance" + (f" by {qa.agency}" if qa.agency else "")
    qa_description = "; ".join(filter(None, [text(qa.description), f"DEQAR {qa.deqar_id}" if qa.deqar_id else None]))
    out.append(
        alignment_entry(
            QUALITY_ASSURANCE,
            qa_name,
            qa.url or here("quality-assurance"),
            code=qa.kind.value,
            description=qa_description or None,
        )
    )
    out.append(_prerequisites(issuance, text))
    if d.grading is not None:
        out.append(
            alignment_entry(
                GRADING,
                "Grading",
                here("grading"),
                code=",".join(d.grading.scheme_ids) or None,
                description=text(d.grading.description),
            )
        )
    if d.integration is not None:
        stackable = d.integration.stackable
        out.append(
            alignment_entry(
                STACKABILITY,
                "Stackable" if stackable else "Not stackable",
                here("integration"),
                code="stackable" if stackable else "not-stackable",
                description=text(d.integration.description),
            )
        )
    if d.further_information_url:
        out.append(alignment_entry(FURTHER_INFORMATION, "Further information", d.further_information_url))
    return out


def _partners(issuance: IssuanceInput, preferred: Sequence[str]) -> list[dict[str, Any]]:
    refs = {b.institution_id: b for b in issuance.awarding_bodies}
    out = []
    for body in issuance.awarding_bodies:
        role = "Coordinating institution and issuer" if body is issuance.issuer else "Co-awarding partner"
        out.append(body_entry(AWARDING_BODY, body, role, preferred))
    for partner in issuance.definition.partners:
        if partner.institution_id in refs or PartnerRole.AWARDING in partner.roles:
            continue
        name = pick_text(partner.name, preferred)[1]
        roles = ", ".join(r.value for r in partner.roles)
        out.append(
            alignment_entry(
                CONTRIBUTING_PARTNER,
                name,
                anchor(issuance.achievement_id, f"partner-{partner.institution_id}"),
                code=partner.country,
                framework="ISO 3166-1 alpha-2 country of the partner",
                description=f"Partner ({roles}); institution {partner.institution_id}; country {partner.country}",
            )
        )
    return out


def body_entry(target_type: str, body: InstitutionRef, role: str, preferred: Sequence[str]) -> dict[str, Any]:
    region = f", region {body.region}" if body.region else ""
    return alignment_entry(
        target_type,
        pick_text(body.name, preferred)[1],
        body.did,
        code=body.country,
        framework="ISO 3166-1 alpha-2 country of the awarding body",
        description=f"{role}; institution {body.institution_id}; country {body.country}{region}",
    )


def _participation(issuance: IssuanceInput, text: Any) -> dict[str, Any]:
    p = issuance.definition.participation
    flags = [flag for flag, on in (("evening", p.evening), ("distance", p.distance)) if on]
    name = _MODE_NAMES[p.mode] + (f" ({', '.join(flags)})" if flags else "")
    return alignment_entry(
        PARTICIPATION,
        name,
        MODE_URIS[p.mode],
        code=p.mode.value,
        framework="Europass modes of learning and assessment",
        description=text(p.description),
    )


def _prerequisites(issuance: IssuanceInput, text: Any) -> dict[str, Any]:
    pre = issuance.definition.prerequisites
    if pre.kind is PrerequisiteKind.DIPLOMA_LEVEL:
        name = f"A diploma at EQF level {pre.diploma_eqf_level} or higher"
    elif pre.kind is PrerequisiteKind.MICRO_CREDENTIALS:
        name = "Micro-credentials: " + ", ".join(pre.micro_credential_ids)
    else:
        name = "No prerequisites"
    return alignment_entry(
        PREREQUISITES,
        name,
        anchor(issuance.achievement_id, "prerequisites"),
        code=pre.kind.value,
        description=text(pre.description),
    )
