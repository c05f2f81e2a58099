"""ELM v3 / European Digital Credential (EDC) JSON-LD export of a micro-credential award, offline.

Built from the same `IssuanceInput` as the Open Badges credential (one source of truth), following the
Commission's Annex I sample (`Sample-MC-Annex1-unsigned.jsonld`): a `Person` holding one
`LearningAchievement` (`hasClaim`), awarded by an `AwardingProcess` naming every awarding body,
specified by a `Qualification` (learning outcomes with ESCO skills, ECTS credit points, volume of
learning, EQF level, ISCED-F field, languages, mode, entry requirements, notes), proven by a
`LearningAssessment` (grade, supervision and identity verification, assessment specification).
The path of every Annex I element is in docs/credential-mapping.md.

EDC requires what Open Badges does not: an issuer with an eIDAS legal identifier, a display image
(page 1 of the human-readable credential) and an issuing date (`issued`), so the caller passes them.
The EDC is *unsigned* here: EDC credentials are sealed with a qualified e-seal (JAdES), which is
outside this service; the OB 3.0 credential is the signed original, and the export names it
(`identifier`, scheme "Open Badges 3.0 credential").

`export_elm` refuses to return a document that uses an undefined term (the same guard as signing)
or fails the `EDC-generic-no-cv` SHACL shapes (`validate_elm`, pyshacl, offline).
"""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any, Literal

from tessera_credential.documents.alignments import MODE_URIS, SUPERVISION_URIS, eqf_level
from tessera_credential.documents.common import (
    add_months,
    decimal_text,
    hash_identity,
    normalise_email,
    pick_text,
    xsd_datetime,
)
from tessera_credential.documents.elm_vocab import (
    BASE64_ENCODING,
    CREDENTIAL_SCHEME,
    CREDIT_SCHEME,
    ECTS,
    EDC_SHAPES_ID,
    ELM_CONTEXT,
    ENCODING_SCHEME,
    EQF_SCHEME,
    ESCO_SKILLS_SCHEME,
    FILE_TYPE_SCHEME,
    FILE_TYPES,
    GENERIC_PROFILE,
    ISCED_SCHEME,
    LEARNING_OPPORTUNITY_SCHEME,
    MODE_SCHEME,
    SHORT_LEARNING_PROGRAMME,
    SUPERVISION_SCHEME,
    concept,
    country_concept,
    elm_file,
    elm_loader,
    language_concept,
    tessera_concept,
)
from tessera_credential.documents.errors import ElmExportError
from tessera_credential.documents.inputs import InstitutionRef, IssuanceInput
from tessera_credential.documents.ob3 import explanation_narrative, preferred_languages
from tessera_credential.proofs import check_signable
from tessera_credential.proofs.canon_oxigraph import parse_jsonld
from tessera_shared.contract.catalogue import PartnerProfile, PartnerRole

_NAMESPACE = uuid.UUID("5d1c0f3e-7a51-4c2b-9a63-2f4a3c9b8e10")  # Tessera ELM ids (uuid5 under it)
_MODE_LABELS = {"online": "Online", "on_site": "Presential", "blended": "Blended", "hybrid": "Hybrid"}


@dataclass(frozen=True)
class DisplayImage:
    """Page 1 of the human-readable credential (EDC requires one), PNG or JPEG bytes."""

    content: bytes
    media_type: Literal["image/png", "image/jpeg"] = "image/png"


@dataclass(frozen=True)
class LegalIdentifier:
    """The issuer's eIDAS legal identifier (e.g. its VAT or national registration number)."""

    notation: str
    country: str  # ISO 3166-1 alpha-2 of the registry
    scheme_name: str | None = None


@dataclass(frozen=True)
class ElmValidation:
    conforms: bool
    violations: tuple[str, ...]
    seconds: float


def build_elm_credential(
    issuance: IssuanceInput,
    *,
    issued_at: datetime,
    issuer_legal_identifier: LegalIdentifier,
    display_image: DisplayImage,
) -> dict[str, Any]:
    """The unsigned EDC JSON-LD document (not validated: `export_elm` validates)."""
    return _Builder(issuance, issued_at, issuer_legal_identifier, display_image).credential()


def export_elm(
    issuance: IssuanceInput,
    *,
    issued_at: datetime,
    issuer_legal_identifier: LegalIdentifier,
    display_image: DisplayImage,
) -> dict[str, Any]:
    """The EDC document, guaranteed to use only defined terms and to conform to EDC-generic-no-cv."""
    document = build_elm_credential(
        issuance, issued_at=issued_at, issuer_legal_identifier=issuer_legal_identifier, display_image=display_image
    )
    report = check_signable(document, elm_loader())
    if not report.ok:
        raise ElmExportError("ELM export holds undefined terms: " + "; ".join(report.problems[:5]))
    validation = validate_elm(document)
    if not validation.conforms:
        raise ElmExportError("ELM export fails EDC-generic-no-cv: " + " | ".join(validation.violations[:5]))
    return document


@cache
def _shapes() -> Any:
    import rdflib  # heavy: imported on first use only

    return rdflib.Graph().parse(elm_file("EDC-generic-no-cv.ttl"), format="turtle")


def validate_elm(document: Mapping[str, Any]) -> ElmValidation:
    """SHACL validation against the vendored EDC-generic-no-cv shapes (contexts served locally)."""
    import pyoxigraph as ox
    import pyshacl
    import rdflib
    from rdflib.namespace import SH

    started = time.perf_counter()
    quads = parse_jsonld(document, elm_loader())  # an EDC has no named graphs: keep the triples
    ntriples = ox.serialize([ox.Triple(q.subject, q.predicate, q.object) for q in quads], format=ox.RdfFormat.N_TRIPLES)
    graph = rdflib.Graph().parse(data=(ntriples or b"").decode("utf-8"), format="nt")
    conforms, results, _ = pyshacl.validate(graph, shacl_graph=_shapes(), inference="none")
    violations = tuple(
        sorted(
            f"{results.value(r, SH.focusNode)} {results.value(r, SH.resultPath)}: {results.value(r, SH.resultMessage)}"
            for r in results.subjects(predicate=SH.resultSeverity)
        )
    )
    return ElmValidation(bool(conforms), violations, time.perf_counter() - started)


class _Builder:
    def __init__(
        self, issuance: IssuanceInput, issued_at: datetime, legal: LegalIdentifier, image: DisplayImage
    ) -> None:
        self.i = issuance
        self.d = issuance.definition
        self.issued_at = issued_at
        self.legal = legal
        self.image = image
        self.preferred = preferred_languages(issuance)
        self.lang = pick_text(self.d.title, self.preferred)[0]

    # ------------------------------------------------------------------------------ helpers
    def id(self, kind: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{self.i.credential_id}|{kind}')}"

    def note(self, kind: str, english: str, extra: Mapping[str, str] | None = None) -> dict[str, Any]:
        literal = dict(extra or {})
        literal["en"] = f"{english}: {literal['en']}" if "en" in literal else english
        return {
            "id": self.id(f"note/{kind}"),
            "type": "Note",
            "noteLiteral": literal,
            "subject": tessera_concept("note-subject", kind, kind.replace("-", " ")),
        }

    def country(self, alpha2: str) -> dict[str, Any]:
        value = country_concept(alpha2)
        if value is None:
            raise ElmExportError(f"country {alpha2!r} has no EU authority code in the ELM vocabulary table")
        return value

    def languages(self) -> list[dict[str, Any]]:
        found = [c for tag in self.d.languages if (c := language_concept(tag)) is not None]
        if not found:
            raise ElmExportError(f"none of the languages {list(self.d.languages)} is in the EU language table")
        return list({c["id"]: c for c in found}.values())

    def organisation(
        self, body: InstitutionRef | PartnerProfile, legal: LegalIdentifier | None = None
    ) -> dict[str, Any]:
        schac = body.institution_id
        org_id = body.did if isinstance(body, InstitutionRef) else f"urn:schac:homeOrganization:{schac}"
        address: dict[str, Any] = {
            "id": self.id(f"address/{schac}"),
            "type": "Address",
            "countryCode": self.country(body.country),
        }
        org: dict[str, Any] = {
            "id": org_id,
            "type": "Organisation",
            "legalName": dict(body.name),
            "location": [{"id": self.id(f"location/{schac}"), "type": "Location", "address": [address]}],
            "identifier": [
                {
                    "id": self.id(f"schac/{schac}"),
                    "type": "Identifier",
                    "schemeName": "SCHAC home organisation",
                    "notation": schac,
                }
            ],
        }
        if body.erasmus_code:
            org["identifier"].append(
                {
                    "id": self.id(f"erasmus/{schac}"),
                    "type": "Identifier",
                    "schemeName": "Erasmus institution code",
                    "notation": body.erasmus_code,
                }
            )
        if isinstance(body, InstitutionRef) and body.url:
            org["homepage"] = [{"id": self.id(f"homepage/{schac}"), "type": "WebResource", "contentURL": body.url}]
        if legal is not None:
            identifier: dict[str, Any] = {
                "id": self.id("issuer-legal-identifier"),
                "type": "LegalIdentifier",
                "notation": legal.notation,
                "spatial": self.country(legal.country),
            }
            if legal.scheme_name:
                identifier["schemeName"] = legal.scheme_name
            org["eIDASIdentifier"] = identifier
        return org

    # ---------------------------------------------------------------------------- document
    def credential(self) -> dict[str, Any]:
        i, d = self.i, self.d
        doc: dict[str, Any] = {
            "@context": list(ELM_CONTEXT),
            "id": self.id("credential"),
            "type": ["VerifiableCredential", "EuropeanDigitalCredential"],
            "credentialProfiles": [concept(GENERIC_PROFILE, CREDENTIAL_SCHEME, "Generic")],
            "displayParameter": self.display(),
            "identifier": [
                {
                    "id": self.id("ob3-id"),
                    "type": "Identifier",
                    "schemeName": "Open Badges 3.0 credential",
                    "notation": i.credential_id,
                }
            ],
            "credentialSchema": [{"id": EDC_SHAPES_ID, "type": "ShaclValidator2017"}],
            "credentialSubject": self.person(),
            "evidence": [
                {
                    "id": self.id("evidence"),
                    "type": "Evidence",
                    "dcType": tessera_concept(
                        "evidence-type", "criteria-evaluation", "Evaluation of the award criteria"
                    ),
                    "evidenceStatement": explanation_narrative(i.award.explanation),
                }
            ],
            "issuer": self.organisation(i.issuer, self.legal),
            "issuanceDate": xsd_datetime(self.issued_at),
            "issued": xsd_datetime(self.issued_at),
            "validFrom": xsd_datetime(i.award.awarded_at),
        }
        if d.criteria.validity_months is not None:
            until = xsd_datetime(add_months(i.award.awarded_at, d.criteria.validity_months))
            doc["validUntil"] = doc["expirationDate"] = until
        return doc

    def display(self) -> dict[str, Any]:
        primary = language_concept(self.lang) or self.languages()[0]
        file_type = FILE_TYPES[self.image.media_type]
        image = {
            "id": self.id("display-image"),
            "type": "MediaObject",
            "content": base64.b64encode(self.image.content).decode("ascii"),
            "contentEncoding": concept(BASE64_ENCODING, ENCODING_SCHEME, "base64"),
            "contentType": concept(f"{FILE_TYPE_SCHEME}/{file_type}", FILE_TYPE_SCHEME, file_type, "file-type"),
        }
        return {
            "id": self.id("display"),
            "type": "DisplayParameter",
            "title": dict(self.d.title),
            "description": dict(self.d.description),
            "language": self.languages(),
            "primaryLanguage": primary,
            "individualDisplay": [
                {
                    "id": self.id("individual-display"),
                    "type": "IndividualDisplay",
                    "language": primary,
                    "displayDetail": [
                        {"id": self.id("display-detail"), "type": "DisplayDetail", "image": image, "page": 1}
                    ],
                }
            ],
        }

    def person(self) -> dict[str, Any]:
        learner = self.i.learner
        names = {"givenName": learner.given_name, "familyName": learner.family_name, "fullName": learner.full_name}
        identifiers = [
            {
                "id": self.id("learner-email"),
                "type": "Identifier",
                "schemeName": "Salted SHA-256 of the e-mail address (Open Badges identityHash; salt "
                + learner.salt
                + ")",
                "notation": hash_identity(normalise_email(learner.email), learner.salt),
            }
        ]
        if learner.european_student_identifier:
            identifiers.append(
                {
                    "id": self.id("learner-esi"),
                    "type": "Identifier",
                    "schemeName": "Salted SHA-256 of the European Student Identifier (salt " + learner.salt + ")",
                    "notation": hash_identity(learner.european_student_identifier.strip(), learner.salt),
                }
            )
        return {
            "id": self.id("person"),
            "type": "Person",
            **{k: {self.lang: v} for k, v in names.items()},
            "identifier": identifiers,
            "hasClaim": [self.achievement()],
        }

    def awarding_process(self) -> dict[str, Any]:
        bodies = [self.organisation(b, self.legal if b is self.i.issuer else None) for b in self.i.awarding_bodies]
        return {
            "id": self.id("awarding-process"),
            "type": "AwardingProcess",
            "awardingBody": bodies,
            "awardingDate": xsd_datetime(self.i.award.awarded_at),
        }

    def achievement(self) -> dict[str, Any]:
        earned = Decimal(self.i.award.grade_summary.ects_earned)
        return {
            "id": self.id("achievement"),
            "type": "LearningAchievement",
            "title": dict(self.d.title),
            "description": dict(self.d.description),
            "awardedBy": self.awarding_process(),
            "creditReceived": [
                {
                    "id": self.id("credit-received"),
                    "type": "CreditPoint",
                    "framework": concept(ECTS, CREDIT_SCHEME, "European Credit Transfer System"),
                    "point": decimal_text(earned),
                }
            ],
            "provenBy": [self.assessment()],
            "specifiedBy": self.qualification(),
        }

    def qualification(self) -> dict[str, Any]:
        d = self.d
        level = eqf_level(d)
        notes = [self.note("quality-assurance", self._qa_text(), d.quality_assurance.description)]
        if d.level.qf_ehea is not None:
            notes.append(self.note("qf-ehea", f"QF-EHEA {d.level.qf_ehea.value.replace('_', ' ')}"))
        if d.integration is not None:
            stack = "Stackable" if d.integration.stackable else "Not stackable"
            notes.append(
                self.note("integration-stackability", f"Integration / stackability: {stack}", d.integration.description)
            )
        contributing = [p for p in d.partners if PartnerRole.AWARDING not in p.roles]
        if contributing:
            names = ", ".join(f"{pick_text(p.name, self.preferred)[1]} ({p.country})" for p in contributing)
            notes.append(self.note("contributing-partners", f"Contributing partners: {names}"))
        q: dict[str, Any] = {
            "id": self.id("qualification"),
            "type": "Qualification",
            "title": dict(d.title),
            "description": dict(d.description),
            "learningOutcome": [self.outcome(o) for o in d.learning_outcomes],
            "creditPoint": [
                {
                    "id": self.id("credit-point"),
                    "type": "CreditPoint",
                    "framework": concept(ECTS, CREDIT_SCHEME, "European Credit Transfer System"),
                    "point": decimal_text(d.workload.ects),
                }
            ],
            "volumeOfLearning": f"PT{d.workload.notional_hours}H",
            "eqfLevel": concept(f"http://data.europa.eu/snb/eqf/{level}", EQF_SCHEME, f"Level {level}"),
            "thematicArea": [concept(f"http://data.europa.eu/snb/isced-f/{d.isced_field}", ISCED_SCHEME)],
            "language": self.languages(),
            "mode": [
                concept(
                    MODE_URIS[d.participation.mode],
                    MODE_SCHEME,
                    _MODE_LABELS[d.participation.mode.value],
                )
            ],
            "dcType": [concept(SHORT_LEARNING_PROGRAMME, LEARNING_OPPORTUNITY_SCHEME, "Short learning programme")],
            "isPartialQualification": False,
            "entryRequirement": self.note("prerequisites", self._prerequisites_text(), d.prerequisites.description),
            "additionalNote": notes,
            "provenBy": [self.assessment_specification()],
        }
        if d.participation.description:
            q["additionalNote"].append(
                self.note("form-of-participation", "Form of participation", d.participation.description)
            )
        if d.further_information_url:
            q["homepage"] = [
                {"id": self.id("further-information"), "type": "WebResource", "contentURL": d.further_information_url}
            ]
        return q

    def outcome(self, outcome: Any) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id(f"outcome/{outcome.id}"),
            "type": "LearningOutcome",
            "title": dict(outcome.text),
        }
        if outcome.esco_skill:
            out["relatedESCOSkill"] = [concept(outcome.esco_skill, ESCO_SKILLS_SCHEME)]
        return out

    def assessment_specification(self) -> dict[str, Any]:
        a = self.d.assessment
        methods = ", ".join(m.value.replace("_", " ") for m in a.methods)
        spec: dict[str, Any] = {
            "id": self.id("assessment-specification"),
            "type": "LearningAssessmentSpecification",
            "title": {"en": f"Assessment: {methods}"},
            "hasPart": [
                {
                    "id": self.id(f"assessment-method/{m.value}"),
                    "type": "LearningAssessmentSpecification",
                    "title": {"en": m.value.replace("_", " ").capitalize()},
                    "dcType": tessera_concept("assessment-method", m.value, m.value.replace("_", " ")),
                }
                for m in a.methods
            ],
        }
        if a.description:
            spec["description"] = dict(a.description)
        if self.d.grading is not None:
            scheme: dict[str, Any] = {
                "id": self.id("grading-scheme"),
                "type": "GradingScheme",
                "title": {"en": "Grading: " + (", ".join(self.d.grading.scheme_ids) or "-")},
            }
            if self.d.grading.description:
                scheme["description"] = dict(self.d.grading.description)
            spec["gradingScheme"] = scheme
        return spec

    def assessment(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id("assessment"),
            "type": "LearningAssessment",
            "title": dict(self.d.title),
            "grade": {"id": self.id("grade"), "type": "Note", "noteLiteral": {"en": self._grade_text()}},
            "awardedBy": self.awarding_process(),
            "specifiedBy": self.assessment_specification(),
            "dateIssued": xsd_datetime(self.i.award.awarded_at),
        }
        s = self.d.supervision
        if s is not None:
            label = f"{s.supervision.value.replace('_', ' ')} / identity verification {s.identity_verification.value}"
            uri = SUPERVISION_URIS.get((s.supervision, s.identity_verification))
            out["idVerification"] = (
                concept(uri, SUPERVISION_SCHEME, label)
                if uri
                else tessera_concept(
                    "supervision-verification", f"{s.supervision.value}.{s.identity_verification.value}", label
                )
            )
            out["additionalNote"] = [
                self.note("supervision-identity-verification", f"Supervision and identity verification: {label}")
            ]
        return out

    # ------------------------------------------------------------------------------- texts
    def _qa_text(self) -> str:
        qa = self.d.quality_assurance
        parts = [f"{qa.kind.value.capitalize()} quality assurance"]
        if qa.agency:
            parts.append(f"by {qa.agency}")
        if qa.deqar_id:
            parts.append(f"(DEQAR {qa.deqar_id})")
        if qa.url:
            parts.append(qa.url)
        return " ".join(parts)

    def _prerequisites_text(self) -> str:
        pre = self.d.prerequisites
        if pre.kind.value == "diploma_level":
            return f"Prerequisites: a diploma at EQF level {pre.diploma_eqf_level} or higher"
        if pre.kind.value == "micro_credentials":
            return "Prerequisites: the micro-credentials " + ", ".join(pre.micro_credential_ids)
        return "Prerequisites: none"

    def _grade_text(self) -> str:
        summary = self.i.award.grade_summary
        parts = ["Passed"]
        if summary.weighted_average is not None:
            average = decimal_text(Decimal(str(summary.weighted_average)))
            parts.append(f"ECTS-weighted average normalised grade {average} (0 lowest, 1 highest)")
        parts += [f"{code}: {g.grade} ({g.scheme_id})" for code, g in sorted(summary.component_grades.items())]
        return "; ".join(parts)
