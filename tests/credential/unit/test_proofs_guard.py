"""Undefined-term guard: data RDFC-1.0 would silently drop is refused, with the terms named."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tessera_credential.proofs import (
    EDDSA_JCS_2022,
    Ed25519Multikey,
    UndefinedTermError,
    UnsignableDataError,
    canonicalize,
    canonicalize_pyld,
    check_signable,
    create_proof,
    ensure_signable,
    hash_data,
    verify_document,
)
from tessera_credential.proofs.contexts import CREDENTIALS_V2, OB_V3P0
from tests.credential.unit.proofs_testdata import EDTECH, VECTOR_LOADER, W3C, read_json

pytestmark = pytest.mark.unit

ENGINES = ["oxigraph", "pyld"]


def badge() -> dict[str, Any]:
    return copy.deepcopy(read_json(EDTECH / "obv3p0-eddsa-rdfc-2022-vector.json")["unsignedCredential"])


def clr() -> dict[str, Any]:
    return copy.deepcopy(read_json(EDTECH / "clrv2p0-eddsa-rdfc-2022-vector.json")["unsignedCredential"])


def _mutations() -> dict[str, tuple[dict[str, Any], set[str], set[str]]]:
    """name -> (document, expected undefined terms, expected problem fragments)."""
    cases: dict[str, tuple[dict[str, Any], set[str], set[str]]] = {}

    doc = badge()
    doc["grade"] = "A+"
    cases["top-level property"] = (doc, {"grade"}, {"undefined term 'grade' (property)"})

    doc = badge()
    doc["credentialSubject"]["achievement"]["criteria"]["passMark"] = {"minimum": 5}
    cases["nested properties"] = (doc, {"passMark", "minimum"}, {"undefined term 'passMark' (property)"})

    doc = badge()
    doc["credentialSubject"]["achievement"]["type"] = ["Achievement", "MicroCredential"]
    cases["undefined type"] = (doc, {"MicroCredential"}, {"undefined term 'MicroCredential' (type)"})

    doc = badge()
    del doc["credentialSubject"]["achievement"]["type"]  # "criteria" is only defined under Achievement
    cases["missing type"] = (doc, {"criteria"}, {"undefined term 'criteria' (property)"})

    doc = badge()
    doc["credentialSubject"]["achievement"]["creditsAvailable"] = 6  # only defined under Achievement
    doc["credentialSubject"]["creditsAvailble"] = 6  # typo under AchievementSubject
    cases["typo"] = (doc, {"creditsAvailble"}, {"undefined term 'creditsAvailble' (property)"})

    doc = clr()
    doc["credentialSubject"]["verifiableCredential"][0]["credentialSubject"]["ects"] = 6
    cases["inside an embedded credential"] = (doc, {"ects"}, set())

    doc = badge()
    doc["issuer"]["id"] = "issuers/565049"
    cases["relative IRI"] = (doc, set(), {"relative IRI 'issuers/565049' (node)"})

    doc = badge()
    doc["credentialSubject"]["id"] = "did:example:has space"
    cases["invalid IRI"] = (doc, set(), {"invalid IRI 'did:example:has space' (node)"})

    doc = badge()
    doc["name"] = {"@value": "Teamwork", "@language": "en_GB!"}
    cases["invalid language tag"] = (doc, set(), {"invalid language tag 'en_gb!'"})

    doc = badge()
    doc["@comment"] = "ignored by every JSON-LD processor"
    cases["keyword-like key"] = (doc, set(), {"ignored keyword-like key at /@comment"})

    doc = badge()
    doc["name"] = {"@value": "Teamwork", "@language": "en", "@direction": "ltr"}
    cases["direction"] = (doc, set(), {"@direction at /name/@direction"})

    doc = badge()
    doc["credentialSubject"]["achievement"]["creditsAvailable"] = 0.30000000000000004
    cases["lossy number"] = (doc, set(), {"number not signed exactly"})

    doc = badge()
    doc["@context"] = [*doc["@context"], {"ects": "https://example.org/ects"}]
    doc["ects"] = 6
    cases["embedded context"] = (doc, set(), {"embedded (non-URL) JSON-LD context at /@context"})
    return cases


MUTATIONS = _mutations()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(MUTATIONS))
def test_guard_finds_what_a_signature_would_not_cover(name: str, engine: str) -> None:
    document, terms, fragments = MUTATIONS[name]
    report = check_signable(document, engine=engine)  # type: ignore[arg-type]
    assert not report.ok
    assert set(report.undefined_terms) == terms
    for fragment in fragments:
        assert any(fragment in problem for problem in report.problems), (fragment, report.problems)


@pytest.mark.parametrize("name", list(MUTATIONS))
def test_both_engines_report_the_same_problems(name: str) -> None:
    document = MUTATIONS[name][0]
    oxigraph, pyld = check_signable(document), check_signable(document, engine="pyld")
    assert set(oxigraph.problems) == set(pyld.problems)


@pytest.mark.parametrize("engine", ENGINES)
def test_clean_documents_pass(engine: str) -> None:
    assert check_signable(badge(), engine=engine).ok  # type: ignore[arg-type]
    assert check_signable(clr(), engine=engine).ok  # type: ignore[arg-type]
    # the W3C examples context defines terms through its own @vocab: that data is signed
    assert check_signable(read_json(W3C / "unsigned.json"), VECTOR_LOADER, engine=engine).ok  # type: ignore[arg-type]
    # -9.527 is written differently by pyld and pyoxigraph, but its value is signed exactly
    doc = badge()
    doc["credentialSubject"]["achievement"]["creditsAvailable"] = -9.527
    assert check_signable(doc, engine=engine).ok  # type: ignore[arg-type]


def test_undefined_term_error_names_the_terms() -> None:
    doc = badge()
    doc["grade"] = "A+"
    doc["credentialSubject"]["achievement"]["type"] = ["Achievement", "MicroCredential"]
    with pytest.raises(UndefinedTermError) as info:
        ensure_signable(doc)
    assert set(info.value.terms) == {"grade", "MicroCredential"}
    assert "'grade'" in str(info.value) and "'MicroCredential'" in str(info.value)
    with pytest.raises(UndefinedTermError):
        canonicalize(doc, require_signable=True)
    # what the guard protects against: canonicalization without it silently drops the data
    assert "A+" not in canonicalize(doc) and "MicroCredential" not in canonicalize_pyld(doc)


def test_other_problems_raise_unsignable_data_error() -> None:
    doc = badge()
    doc["issuer"]["id"] = "issuers/565049"
    with pytest.raises(UnsignableDataError) as info:
        ensure_signable(doc)
    assert not isinstance(info.value, UndefinedTermError)
    assert "relative IRI" in str(info.value)


def test_embedded_contexts_are_allowed_on_request_and_then_checked() -> None:
    doc = badge()
    doc["@context"] = [*doc["@context"], {"ects": "https://example.org/ects"}]
    doc["ects"] = 6
    assert check_signable(doc, allow_embedded_contexts=True).ok
    doc["ectz"] = 6
    assert check_signable(doc, allow_embedded_contexts=True).undefined_terms == ("ectz",)


def test_context_reset_does_not_hide_undefined_terms() -> None:
    doc = {"@context": [None, CREDENTIALS_V2, OB_V3P0], "type": ["VerifiableCredential"], "grade": "A"}
    for engine in ENGINES:
        assert check_signable(doc, engine=engine).undefined_terms == ("grade",)  # type: ignore[arg-type]


def test_signing_refuses_undefined_terms_but_jcs_signs_the_json_as_is() -> None:
    key = Ed25519Multikey.generate()
    doc = badge()
    doc["grade"] = "A+"
    with pytest.raises(UndefinedTermError):
        create_proof(doc, key)
    proof = create_proof(doc, key, cryptosuite=EDDSA_JCS_2022)  # JCS covers every byte
    signed = {**doc, "proof": proof}
    keys = {key.did_key_verification_method: key.public_key}
    assert verify_document(signed, keys.get).verified
    signed["grade"] = "B"
    assert not verify_document(signed, keys.get).verified


def test_misspelled_proof_options_are_refused_too() -> None:
    options = {"type": "DataIntegrityProof", "cryptosuite": "eddsa-rdfc-2022", "created": "2024-01-01T00:00:00Z",
               "verificationMethod": "did:example:issuer#key-1", "proofPurpse": "assertionMethod"}
    with pytest.raises(UndefinedTermError) as info:
        hash_data(badge(), options)
    assert info.value.terms == ("proofPurpse",)


def test_verification_reports_unsignable_documents_instead_of_accepting_them() -> None:
    key = Ed25519Multikey.generate()
    doc = badge()
    doc["grade"] = "A+"
    proof = create_proof(doc, key, require_signable=False)  # e.g. signed by a careless issuer
    signed = {**doc, "proof": proof}
    keys = {key.did_key_verification_method: key.public_key}
    strict = verify_document(signed, keys.get)
    assert not strict.verified
    assert "UndefinedTermError" in (strict.proofs[0].reason or "")
    lax = verify_document(signed, keys.get, require_signable=False)
    assert lax.verified  # the signature is valid...
    signed["grade"] = "F"
    assert verify_document(signed, keys.get, require_signable=False).verified  # ...but does not cover "grade"
