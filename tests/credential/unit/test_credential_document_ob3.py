"""The unsigned/signed OB 3.0 credential: both 1EdTech schemas, no undefined term, every Annex I element
in a signed field, OB3 shapes the schemas and the contexts demand, and input consistency rules."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from pydantic import ValidationError

from tessera_credential.documents import (
    ANNEX_I,
    SchemaValidationError,
    build_ob3_credential,
    ensure_valid_ob3,
    resolve,
    validate_ob3,
)
from tessera_credential.documents.alignments import AWARDING_BODY, awarding_bodies_of
from tessera_credential.documents.common import hash_identity
from tessera_credential.documents.schemas import _registry, validate
from tessera_credential.proofs import check_signable
from tessera_shared.contract import catalogue as cat
from tests.credential.unit.credential_document_testdata import (
    BASE,
    definition,
    institution,
    issuance,
    signed_credential,
)
from tests.credential.unit.proofs_testdata import REPO, STANDARDS

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def joint() -> dict[str, Any]:
    return build_ob3_credential(issuance(joint=True))


@pytest.fixture(scope="module")
def solo() -> dict[str, Any]:
    return build_ob3_credential(issuance(joint=False))


# ------------------------------------------------------------------------------------- schemas


@pytest.mark.parametrize("which", ["joint", "solo"])
def test_generated_credentials_pass_both_1edtech_schemas(which: str, request: pytest.FixtureRequest) -> None:
    document = request.getfixturevalue(which)
    strict, lenient = validate_ob3(document)
    assert strict.valid, strict.errors
    assert lenient.valid, lenient.errors
    assert strict.schema_id != lenient.schema_id  # two distinct schemas, told apart by title


def test_signed_credentials_pass_both_schemas() -> None:
    for joint in (True, False):
        strict, lenient = validate_ob3(signed_credential(joint))
        assert strict.valid and lenient.valid, (strict.errors, lenient.errors)


def test_schema_validation_can_fail_and_names_the_field(joint: dict[str, Any]) -> None:
    broken = copy.deepcopy(joint)
    broken["credentialSubject"]["identifier"][1]["type"] = ["IdentityObject"]  # strict wants a string here
    del broken["validFrom"]
    strict, lenient = validate_ob3(broken)
    assert not strict.valid and not lenient.valid
    assert any("validFrom" in e for e in strict.errors)
    assert any("identifier" in e for e in strict.errors)
    bad_date = copy.deepcopy(joint)
    bad_date["validFrom"] = "30/06/2025"  # formats are asserted, not just annotated
    assert not validate("strict", bad_date).valid
    ensure_valid_ob3(joint)
    with pytest.raises(SchemaValidationError, match="validFrom"):
        ensure_valid_ob3(bad_date)


def test_schemas_are_the_vendored_mirror_copies_and_never_fetched() -> None:
    vendored = REPO / "services/credential/tessera_credential/documents/schemas"
    for path in vendored.glob("*.json"):
        mirror = STANDARDS / "schemas" / path.name
        if mirror.exists():
            assert path.read_bytes() == mirror.read_bytes(), path.name
    with pytest.raises(Exception, match=r"example\.org"):
        _registry().get_or_retrieve("https://example.org/not-vendored.json")


# ------------------------------------------------------------------------------- signability


@pytest.mark.parametrize("engine", ["oxigraph", "pyld"])
def test_no_undefined_terms_in_generated_credentials(engine: str, joint: dict[str, Any], solo: dict[str, Any]) -> None:
    for document in (joint, solo, signed_credential()):
        report = check_signable(document, engine=engine)  # type: ignore[arg-type]
        assert report.ok, report.problems


def test_objects_carry_their_type_and_list_fields_are_arrays(joint: dict[str, Any]) -> None:
    string_typed = {
        "IdentityObject",
        "IdentifierEntry",
        "Image",
        "BitstringStatusListEntry",
        "1EdTechJsonSchemaValidator2019",
    }

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            assert "type" in node, f"object without type at {path or '/'}"
            kind = node["type"]
            assert isinstance(kind, list) or kind in string_typed, f"type at {path} must be an array: {kind}"
            for key, value in node.items():
                if key != "@context":
                    walk(value, f"{path}.{key}")
        elif isinstance(node, list):
            for item in node:
                walk(item, path)

    walk(joint, "")
    subject = joint["credentialSubject"]
    for field in ("identifier", "result"):
        assert isinstance(subject[field], list)
    for field in ("alignment", "resultDescription"):
        assert isinstance(subject["achievement"][field], list)
    assert isinstance(joint["evidence"], list) and isinstance(joint["credentialSchema"], list)


# ----------------------------------------------------------------------------------- Annex I


@pytest.mark.parametrize("element", ANNEX_I, ids=lambda e: e.key)
def test_every_annex_i_element_is_in_a_signed_field(element: Any) -> None:
    document = signed_credential()
    signed_part = {k: v for k, v in document.items() if k != "proof"}
    for path in element.ob3:
        values = resolve(signed_part, path)
        assert values, f"{element.key}: nothing at {path}"
        assert all(v not in ("", None, [], {}) for v in values), f"{element.key}: empty value at {path}"


def test_annex_i_values_are_the_definition_s(joint: dict[str, Any]) -> None:
    i = issuance()
    achievement = joint["credentialSubject"]["achievement"]
    assert joint["name"] == achievement["name"] == "Applied Data Science"
    assert joint["issuer"]["address"]["addressCountryCode"] == "BE"
    assert joint["validFrom"] == joint["awardedDate"] == "2025-06-30T14:30:00Z"
    assert joint["validUntil"] == "2028-06-30T14:30:00Z"  # criteria validity: 36 months
    assert achievement["creditsAvailable"] == 6 and isinstance(achievement["creditsAvailable"], int)
    assert joint["credentialSubject"]["creditsEarned"] == 6
    assert resolve(joint, "credentialSubject.achievement.alignment[targetType=ext:EQFLevel].targetUrl") == [
        "http://data.europa.eu/snb/eqf/6"
    ]
    bodies = awarding_bodies_of(joint)
    assert [(b["did"], b["country"]) for b in bodies] == [
        (i.issuer.did, "BE"),
        (institution("uva.nl").did, "NL"),
        (institution("unibo.it").did, "IT"),
    ]
    contributing = resolve(joint, "credentialSubject.achievement.alignment[targetType=ext:ContributingPartner]")
    assert [c["targetCode"] for c in contributing] == ["DK"]
    outcomes = resolve(joint, "credentialSubject.achievement.alignment[targetType=ext:LearningOutcome].targetUrl")
    assert outcomes[0].startswith("http://data.europa.eu/esco/skill/")
    values = {
        r["resultDescription"].rsplit("#", 1)[1]: r.get("value", r.get("status"))
        for r in joint["credentialSubject"]["result"]
    }
    assert values == {
        "result-status": "Completed",
        "result-weighted-average": "0.7",
        "result-component-DS1-ugent-20": "14",
        "result-component-DS2-uva-10": "B",
        "result-component-DS3-unibo-30": "pass",
    }
    described = {d["id"] for d in achievement["resultDescription"]}
    assert all(r["resultDescription"] in described for r in joint["credentialSubject"]["result"])


def test_learner_is_identified_by_name_and_salted_email_hash(joint: dict[str, Any]) -> None:
    identifiers = {i["identityType"]: i for i in joint["credentialSubject"]["identifier"]}
    email = identifiers["emailAddress"]
    assert email["hashed"] is True and email["salt"] == issuance().learner.salt
    assert email["identityHash"] == hash_identity("ana.andromeda@example.org", email["salt"])
    assert "Ana.Andromeda" not in json.dumps(joint)  # the address itself never appears
    assert identifiers["name"] == {
        "type": "IdentityObject",
        "identityType": "name",
        "hashed": False,
        "identityHash": "Ana Andromeda",
    }
    assert identifiers["ext:EuropeanStudentIdentifier"]["hashed"] is True
    assert joint["credentialSubject"]["name"] == "Ana Andromeda"


def test_criteria_evidence_schema_and_status(joint: dict[str, Any]) -> None:
    criteria = joint["credentialSubject"]["achievement"]["criteria"]
    assert criteria["id"] == f"{BASE}/achievements/MC-DATA/v3/criteria.json"
    assert criteria["narrative"].startswith("To earn this micro-credential")
    evidence = joint["evidence"][0]
    assert "[met] component DS2 passed" in evidence["narrative"]
    assert [s["type"] for s in joint["credentialSchema"]] == ["1EdTechJsonSchemaValidator2019"] * 2
    assert joint["@context"][-1] == "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
    status = joint["credentialStatus"]
    assert isinstance(status, dict) and status["type"] == "BitstringStatusListEntry"
    assert status["statusListIndex"] == "94567" and status["statusPurpose"] == "revocation"
    assert status["statusListCredential"] == f"{BASE}/status/revocation/1"


def test_superseding_credential_links_its_predecessor() -> None:
    predecessor = f"{BASE}/credentials/00000001"
    document = build_ob3_credential(issuance(serial=2, predecessor_id=predecessor))
    links = [e for e in document["evidence"] if e["id"] == predecessor]
    assert links and links[0]["genre"] == "Supersedes"
    assert all(r.valid for r in validate_ob3(document)) and check_signable(document).ok


def test_same_input_same_document_and_language_choice() -> None:
    assert build_ob3_credential(issuance()) == build_ob3_credential(issuance())
    dutch = build_ob3_credential(issuance(language="nl"))
    assert dutch["name"] == "Toegepaste datawetenschap"
    assert dutch["credentialSubject"]["achievement"]["inLanguage"] == "nl"


def test_optional_annex_i_elements_are_omitted_not_invented() -> None:
    bare = definition(supervision=None, grading=None, integration=None, further_information_url=None)
    document = build_ob3_credential(issuance(definition=bare))
    kinds = {a["targetType"] for a in document["credentialSubject"]["achievement"]["alignment"]}
    assert not kinds & {
        "ext:SupervisionAndIdentityVerification",
        "ext:GradingScheme",
        "ext:IntegrationStackability",
        "ext:FurtherInformation",
    }
    assert AWARDING_BODY in kinds and all(r.valid for r in validate_ob3(document))


# -------------------------------------------------------------------------- input consistency


def test_issuer_must_be_the_coordinator() -> None:
    with pytest.raises(ValidationError, match="not the coordinator"):
        issuance(issuer=institution("uva.nl"), co_awarders=(institution("ugent.be"), institution("unibo.it")))


@pytest.mark.parametrize(
    "co_awarders",
    [
        ("uva.nl",),  # an awarding body that would not sign
        ("uva.nl", "unibo.it", "ku.dk"),  # a contributing partner is not an awarding body
        ("uva.nl", "uva.nl"),
    ],
)
def test_co_awarders_are_exactly_the_other_awarding_partners(co_awarders: tuple[str, ...]) -> None:
    with pytest.raises(ValidationError, match="co-awarders"):
        issuance(co_awarders=tuple(institution(i) for i in co_awarders))


def test_every_awarding_body_needs_its_own_did() -> None:
    twin = institution("uva.nl").model_copy(update={"did": institution("ugent.be").did})
    with pytest.raises(ValidationError, match="own DID"):
        issuance(co_awarders=(twin, institution("unibo.it")))


def test_level_is_required_by_annex_i() -> None:
    from tessera_credential.documents import DocumentInputError

    with pytest.raises(DocumentInputError, match="level"):
        build_ob3_credential(issuance(definition=definition(level=cat.Level())))


# ---------------------------------------------------------------------------------------- docs


def test_mapping_document_lists_every_annex_i_path() -> None:
    text = (REPO / "docs" / "credential-mapping.md").read_text(encoding="utf-8")
    for element in ANNEX_I:
        assert element.label in text
        for path in (*element.ob3, *element.elm):
            assert f"`{path}`" in text, path
