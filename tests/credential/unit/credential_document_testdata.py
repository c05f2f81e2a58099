"""Issuance inputs for the document tests: a joint 3-awarding-partner micro-credential and a solo one.

Keys are fixed seeds (Ed25519 is deterministic), DIDs follow the consortium's did:web layout, and
the explanation comes from the real criteria evaluator, so the evidence is what production stores.
"""

from __future__ import annotations

import functools
import hashlib
import json
import struct
import zlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from tessera_credential.documents import IssuanceInput
from tessera_credential.documents.inputs import AwardInfo, InstitutionRef, LearnerIdentity, StatusEntry
from tessera_credential.proofs import Ed25519Multikey
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract import criteria as cr
from tessera_shared.contract.credential import ComponentGrade, GradeSummary

BASE = "https://creds.tessera.example"
DID_PREFIX = "did:web:creds.tessera.example:institutions:"
AWARDED_AT = datetime(2025, 6, 30, 14, 30, tzinfo=UTC)
CREATED = "2025-06-30T14:31:00Z"


def key_of(institution_id: str) -> Ed25519Multikey:
    return Ed25519Multikey(hashlib.sha256(f"tessera-test-key:{institution_id}".encode()).digest())


def did_of(institution_id: str) -> str:
    return DID_PREFIX + institution_id


def vm_of(institution_id: str, key_number: int = 1) -> str:
    return f"{did_of(institution_id)}#key-{key_number}"


INSTITUTIONS: dict[str, dict[str, Any]] = {
    "ugent.be": {
        "name": {"en": "Ghent University", "nl": "Universiteit Gent"},
        "country": "BE",
        "region": "BE-VOV",
        "erasmus": "B  GENT01",
    },
    "uva.nl": {
        "name": {"en": "University of Amsterdam", "nl": "Universiteit van Amsterdam"},
        "country": "NL",
        "region": None,
        "erasmus": "NL AMSTERD01",
    },
    "unibo.it": {
        "name": {"en": "University of Bologna", "it": "Università di Bologna"},
        "country": "IT",
        "region": None,
        "erasmus": "I  BOLOGNA01",
    },
    "ku.dk": {"name": {"en": "University of Copenhagen"}, "country": "DK", "region": None, "erasmus": None},
}


def institution(institution_id: str) -> InstitutionRef:
    info = INSTITUTIONS[institution_id]
    return InstitutionRef(
        did=did_of(institution_id),
        institution_id=institution_id,
        name=info["name"],
        country=info["country"],
        region=info["region"],
        url=f"https://www.{institution_id}/",
        logo_url=f"{BASE}/logos/{institution_id}.png",
        erasmus_code=info["erasmus"],
    )


def partner(institution_id: str, *roles: cat.PartnerRole) -> cat.PartnerProfile:
    info = INSTITUTIONS[institution_id]
    return cat.PartnerProfile(institution_id=institution_id, roles=roles, name=info["name"], country=info["country"])


C, A, T = cat.PartnerRole.COORDINATOR, cat.PartnerRole.AWARDING, cat.PartnerRole.CONTRIBUTING
COMPONENTS = (
    ("DS1", "ugent.be", Decimal("2.5"), {"en": "Data wrangling", "nl": "Data verwerken"}),
    ("DS2", "uva.nl", Decimal("2.5"), {"en": "Statistical learning"}),
    ("DS3", "unibo.it", Decimal("1"), {"en": "Data ethics"}),
)


def definition(joint: bool = True, **changes: Any) -> cat.MicroCredentialDefinition:
    components = COMPONENTS if joint else COMPONENTS[:1]
    partners = (
        (partner("ugent.be", C, A, T), partner("uva.nl", A, T), partner("unibo.it", A, T), partner("ku.dk", T))
        if joint
        else (partner("ugent.be", C, A, T),)
    )
    rule = cr.AllOf(criteria=tuple(cr.ComponentPassed(component=code) for code, *_ in components))
    criteria = cr.AwardCriteria(rule=rule, validity_months=36)
    fields: dict[str, Any] = {
        "title": {"en": "Applied Data Science", "nl": "Toegepaste datawetenschap"},
        "description": {
            "en": "A joint micro-credential in applied data science.",
            "nl": "Een gezamenlijke microcredential in toegepaste datawetenschap.",
        },
        "learning_outcomes": (
            cat.LearningOutcome(
                id="LO1",
                text={"en": "Clean and combine data sets", "nl": "Data opschonen"},
                esco_skill="http://data.europa.eu/esco/skill/ccdf3597-5c80-410f-896d-e1bdfa223de9",
            ),
            cat.LearningOutcome(id="LO2", text={"en": "Explain the ethics of data use"}),
        ),
        "workload": cat.Workload(ects=sum((c[2] for c in components), Decimal(0)), notional_hours=168),
        "level": cat.Level(eqf=6, qf_ehea=cat.QfEheaCycle.FIRST),
        "isced_field": "0688",
        "languages": ("en", "nl"),
        "participation": cat.Participation(
            mode=cat.ParticipationMode.BLENDED, evening=True, description={"en": "Evening classes and online modules"}
        ),
        "assessment": cat.AssessmentInfo(
            methods=(cat.AssessmentMethod.WRITTEN_EXAM, cat.AssessmentMethod.PROJECT),
            description={"en": "A written exam and a group project"},
        ),
        "supervision": cat.Supervision(
            supervision=cat.SupervisionKind.SUPERVISED_ONLINE, identity_verification=cat.IdentityVerification.ONLINE
        ),
        "quality_assurance": cat.QualityAssurance(
            kind=cat.QualityAssuranceKind.EXTERNAL,
            agency="NVAO",
            deqar_id="AG0016",
            url="https://www.nvao.net/",
            description={"en": "Accredited joint programme"},
        ),
        "prerequisites": cat.Prerequisites(
            kind=cat.PrerequisiteKind.DIPLOMA_LEVEL,
            diploma_eqf_level=5,
            description={"en": "A short-cycle diploma or higher"},
        ),
        "grading": cat.GradingInfo(
            scheme_ids=("ugent-20", "uva-10", "unibo-30"), description={"en": "Each partner grades on its own scale"}
        ),
        "integration": cat.Integration(stackable=True, description={"en": "Stacks into the Data pathway"}),
        "further_information_url": "https://www.tessera.example/mc/applied-data-science",
        "components": tuple(
            cat.Component(code=code, title=title, ects=ects, semester=cat.Semester.FIRST, teaching_institution=inst)
            for code, inst, ects, title in components
        ),
        "partners": partners,
        "criteria": criteria,
        "criteria_narrative": cr.narratives(criteria, ["nl"]),
    }
    fields.update(changes)
    return cat.MicroCredentialDefinition(**fields)


def award(defn: cat.MicroCredentialDefinition, award_id: str = "award-1") -> AwardInfo:
    facts = cr.Facts(
        components={
            c.code: cr.ComponentFacts(
                ects=c.ects, result=cr.ComponentResult(score=Decimal("0.7"), passed=True, event_ids=(f"ev-{c.code}",))
            )
            for c in defn.components
        }
    )
    grades = {
        c.code: ComponentGrade(
            ects=str(c.ects),
            grade=g,
            scheme_id=s,
            scheme_kind=k,
            normalised_score=0.7,
            passed=True,
            attempt=1,
            result_id=f"res-{c.code}",
        )
        for c, (g, s, k) in zip(
            defn.components,
            [("14", "ugent-20", "numeric"), ("B", "uva-10", "letter"), ("pass", "unibo-30", "pass_fail")],
            strict=False,
        )
    }
    summary = GradeSummary(
        ects_earned=str(defn.workload.ects),
        weighted_average=0.7,
        components={c: 0.7 for c in grades},
        component_grades=grades,
    )
    return AwardInfo(
        award_id=award_id, awarded_at=AWARDED_AT, grade_summary=summary, explanation=cr.evaluate(defn.criteria, facts)
    )


def learner(esi: bool = True) -> LearnerIdentity:
    return LearnerIdentity(
        given_name="Ana",
        family_name="Andromeda",
        email="Ana.Andromeda@Example.org",
        salt="c2FsdHNhbHRzYWx0c2FsdA",
        european_student_identifier="urn:schac:personalUniqueCode:int:esi:be:12345" if esi else None,
    )


def issuance(joint: bool = True, serial: int = 1, **changes: Any) -> IssuanceInput:
    defn = changes.pop("definition", None) or definition(joint)
    fields: dict[str, Any] = {
        "credential_id": f"{BASE}/credentials/{serial:08d}",
        "issuer": institution("ugent.be"),
        "co_awarders": (institution("uva.nl"), institution("unibo.it")) if joint else (),
        "learner": learner(),
        "micro_credential_id": "MC-DATA",
        "version": 3,
        "achievement_id": f"{BASE}/achievements/MC-DATA/v3",
        "definition": defn,
        "award": award(defn),
        "criteria_url": f"{BASE}/achievements/MC-DATA/v3/criteria.json",
        "status": StatusEntry(status_list_credential=f"{BASE}/status/revocation/1", status_list_index=94567),
        "achievement_image_url": f"{BASE}/achievements/MC-DATA/v3/badge.svg",
    }
    fields.update(changes)
    return IssuanceInput(**fields)


def signers(joint: bool = True) -> tuple[tuple[Ed25519Multikey, str], list[tuple[Ed25519Multikey, str]]]:
    issuer = (key_of("ugent.be"), vm_of("ugent.be"))
    co = [(key_of(i), vm_of(i)) for i in ("uva.nl", "unibo.it")] if joint else []
    return issuer, co


def resolve_test_key(verification_method: str) -> bytes | None:
    """The consortium did:web resolver of the tests: key-1 of every known institution."""
    for institution_id in INSTITUTIONS:
        if verification_method == vm_of(institution_id):
            return key_of(institution_id).public_key
    return None


NOW = datetime(2025, 7, 15, 9, 0, tzinfo=UTC)


@functools.cache
def _signed(joint: bool) -> str:
    from tessera_credential.documents import build_ob3_credential, sign_credential

    (key, vm), co = signers(joint)
    return json.dumps(sign_credential(build_ob3_credential(issuance(joint)), key, vm, co, created=CREATED))


def signed_credential(joint: bool = True) -> dict[str, Any]:
    """A fresh copy of the signed joint (3 awarding bodies) or solo credential."""
    return json.loads(_signed(joint))


def active(status_list: str, index: int) -> str:
    return "active"


def verify(document: dict[str, Any] | bytes, **options: Any) -> dict[str, Any]:
    """`verify_credential` with the test resolver, all statuses active and NOW, as a plain dict."""
    from tessera_credential.verification import verify_credential

    raw = document if isinstance(document, bytes) else json.dumps(document).encode()
    options.setdefault("resolve_key", resolve_test_key)
    options.setdefault("status_of", active)
    options.setdefault("now", NOW)
    return verify_credential(raw, **options).to_dict()


def png(width: int = 4, height: int = 4) -> bytes:
    """A valid, tiny RGB PNG (the ELM display image of the tests)."""
    rows = b"".join(b"\x00" + b"\x1f\x5f\x9f" * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
