"""CLR 2.0 pathway bundle: schema, undefined-term guard (vendored CLR context), signatures of the bundle
and of each stacked credential, associations, and the learner/member consistency rules."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from tessera_credential.documents import (
    PathwayIssuanceInput,
    build_clr_credential,
    build_ob3_credential,
    sign_credential,
    validate_clr,
)
from tessera_credential.documents.inputs import LearnerIdentity, StatusEntry
from tessera_credential.proofs import check_signable, verify_document
from tessera_shared.contract import catalogue as cat
from tessera_shared.contract import criteria as cr
from tests.credential.unit.credential_document_testdata import (
    AWARDED_AT,
    BASE,
    CREATED,
    definition,
    institution,
    issuance,
    learner,
    resolve_test_key,
    signed_credential,
    signers,
    verify,
)

pytestmark = pytest.mark.unit

MEMBERS = (
    cr.PathwayMember(micro_credential_id="MC-DATA", title={"en": "Applied Data Science"}, ects=Decimal(6)),
    cr.PathwayMember(micro_credential_id="MC-ML", title={"en": "Machine Learning"}, ects=Decimal("7.5")),
    cr.PathwayMember(micro_credential_id="MC-VIS", title={"en": "Visualisation"}, ects=Decimal(3)),
)
RULE = cr.AtLeastMicroCredentials(count=2)


def second_credential() -> dict[str, Any]:
    (key, vm), co = signers()
    second = issuance(serial=2, micro_credential_id="MC-ML", achievement_id=f"{BASE}/achievements/MC-ML/v1", version=1)
    return sign_credential(build_ob3_credential(second), key, vm, co, created=CREATED)


def pathway_input(credentials: tuple[dict[str, Any], ...] | None = None, **changes: Any) -> PathwayIssuanceInput:
    pathway = cat.PathwayDefinition(
        title={"en": "Data Science Pathway", "nl": "Traject datawetenschap"},
        description={"en": "Stack two."},
        members=MEMBERS,
        rule=RULE,
        level=cat.Level(eqf=6),
        partners=definition().partners,
        narrative=cr.pathway_narratives(RULE, MEMBERS, ["nl"]),
    )
    fields: dict[str, Any] = {
        "credential_id": f"{BASE}/credentials/pathway-1",
        "issuer": institution("ugent.be"),
        "co_awarders": (institution("uva.nl"), institution("unibo.it")),
        "learner": learner(),
        "pathway_id": "PW-DATA",
        "version": 1,
        "achievement_id": f"{BASE}/pathways/PW-DATA/v1",
        "definition": pathway,
        "award_id": "pathway-award-1",
        "awarded_at": AWARDED_AT,
        "explanation": cr.evaluate_pathway(RULE, MEMBERS, {"MC-DATA": ["a1"], "MC-ML": ["a2"]}),
        "criteria_url": f"{BASE}/pathways/PW-DATA/v1/criteria.json",
        "status": StatusEntry(status_list_credential=f"{BASE}/status/revocation/1", status_list_index=17),
        "credentials": credentials or (signed_credential(), second_credential()),
    }
    fields.update(changes)
    return PathwayIssuanceInput(**fields)


@pytest.fixture(scope="module")
def clr() -> dict[str, Any]:
    return build_clr_credential(pathway_input())


def test_clr_bundle_passes_the_clr_schema(clr: dict[str, Any]) -> None:
    result = validate_clr(clr)
    assert result.valid, result.errors
    broken = copy.deepcopy(clr)
    broken["credentialSubject"]["association"][0]["associationType"] = "stacksOnto"
    assert not validate_clr(broken).valid


@pytest.mark.parametrize("engine", ["oxigraph", "pyld"])
def test_clr_bundle_has_no_undefined_terms(clr: dict[str, Any], engine: str) -> None:
    report = check_signable(clr, engine=engine)  # type: ignore[arg-type]
    assert report.ok, report.problems


def test_bundle_holds_the_stacked_credentials_and_associations(clr: dict[str, Any]) -> None:
    subject = clr["credentialSubject"]
    assert clr["type"] == ["VerifiableCredential", "ClrCredential"]
    assert [a["humanCode"] for a in subject["achievement"]] == ["PW-DATA", "MC-DATA", "MC-ML"]
    assert [c["id"] for c in subject["verifiableCredential"]] == [
        f"{BASE}/credentials/00000001",
        f"{BASE}/credentials/00000002",
    ]
    assert {(a["sourceId"], a["associationType"], a["targetId"]) for a in subject["association"]} == {
        (f"{BASE}/achievements/MC-DATA/v3", "isPartOf", f"{BASE}/pathways/PW-DATA/v1"),
        (f"{BASE}/achievements/MC-ML/v1", "isPartOf", f"{BASE}/pathways/PW-DATA/v1"),
    }
    pathway = subject["achievement"][0]
    assert pathway["creditsAvailable"] == 13.5  # 6 + 7.5 held
    stacked = {
        a["targetCode"]: a["targetDescription"]
        for a in pathway["alignment"]
        if a["targetType"] == "ext:StackedMicroCredential"
    }
    assert stacked == {"MC-DATA": "6 ECTS; held", "MC-ML": "7.5 ECTS; held", "MC-VIS": "3 ECTS; not part of this award"}
    assert "2 of 3 micro-credentials held" in clr["evidence"][0]["narrative"]


def test_signed_bundle_and_every_stacked_credential_verify(clr: dict[str, Any]) -> None:
    (key, vm), co = signers()
    signed = sign_credential(clr, key, vm, co, created=CREATED)
    result = verify_document(signed, resolve_test_key)
    assert result.verified and len(result.proofs) == 3
    for inner in signed["credentialSubject"]["verifiableCredential"]:
        assert verify(inner)["verdict"] == "valid"  # an employer can still verify each one on its own
    report = verify(signed)  # the bundle itself: checked against the CLR 2.0 schema, not OB 3.0's
    assert [s["schema"] for s in report["schemas"]] == ["clr"] and report["schemas"][0]["valid"]
    assert report["verdict"] == "valid", report
    tampered = copy.deepcopy(signed)
    tampered["credentialSubject"]["verifiableCredential"][1]["credentialSubject"]["creditsEarned"] = 30
    assert not any(p.valid for p in verify_document(tampered, resolve_test_key).proofs)


def test_a_credential_of_another_learner_is_refused() -> None:
    other = LearnerIdentity(given_name="Bo", family_name="Other", email="bo@example.org", salt="c2FsdHNhbHRzYWx0c2FsdA")
    with pytest.raises(ValidationError, match="another learner"):
        pathway_input(learner=other)


def test_non_members_duplicates_and_unsigned_credentials_are_refused() -> None:
    first = signed_credential()
    outsider = copy.deepcopy(first)
    outsider["credentialSubject"]["achievement"]["humanCode"] = "MC-OTHER"
    with pytest.raises(ValidationError, match="member"):
        pathway_input(credentials=(first, outsider))
    with pytest.raises(ValidationError, match="member"):
        pathway_input(credentials=(first, first))
    with pytest.raises(ValidationError, match="not signed"):
        pathway_input(credentials=({k: v for k, v in first.items() if k != "proof"},))
