"""Signing by every awarding body: issuer first, one independent proof per co-awarder (a proof set)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tessera_credential.documents import SigningInputError, build_ob3_credential, sign_credential
from tessera_credential.proofs import Ed25519Multikey, UndefinedTermError, verify_document
from tests.credential.unit.credential_document_testdata import (
    CREATED,
    issuance,
    key_of,
    resolve_test_key,
    signed_credential,
    signers,
    verify,
    vm_of,
)

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def unsigned() -> dict[str, Any]:
    return build_ob3_credential(issuance())


def test_issuer_proof_first_then_each_co_awarder() -> None:
    signed = signed_credential()
    proofs = signed["proof"]
    assert isinstance(proofs, list) and len(proofs) == 3
    assert [p["verificationMethod"] for p in proofs] == [vm_of("ugent.be"), vm_of("uva.nl"), vm_of("unibo.it")]
    assert all(
        p["type"] == "DataIntegrityProof"
        and p["cryptosuite"] == "eddsa-rdfc-2022"
        and p["proofPurpose"] == "assertionMethod"
        and p["created"] == CREATED
        for p in proofs
    )
    assert verify_document(signed, resolve_test_key).verified


def test_solo_credential_has_a_one_element_proof_array() -> None:
    signed = signed_credential(joint=False)
    assert isinstance(signed["proof"], list) and len(signed["proof"]) == 1
    assert verify_document(signed, resolve_test_key).verified


def test_every_proof_verifies_through_the_report() -> None:
    report = verify(signed_credential())
    assert report["verdict"] == "valid", report["problems"]
    assert [p["valid"] for p in report["proofs"]] == [True, True, True]
    assert [p["role"] for p in report["proofs"]] == ["issuer", "co-awarder", "co-awarder"]
    assert [p["awarding_body"]["country"] for p in report["proofs"]] == ["BE", "NL", "IT"]


def test_proofs_are_a_set_each_over_the_document_without_the_others() -> None:
    signed = signed_credential()
    for keep in range(3):
        alone = {**signed, "proof": [signed["proof"][keep]]}
        assert verify_document(alone, resolve_test_key).verified, keep


def test_signing_is_deterministic_for_the_same_inputs(unsigned: dict[str, Any]) -> None:
    (key, vm), co = signers()
    assert sign_credential(unsigned, key, vm, co, created=CREATED) == signed_credential()


def test_refuses_undefined_terms_before_signing(unsigned: dict[str, Any]) -> None:
    (key, vm), co = signers()
    tampered = copy.deepcopy(unsigned)
    tampered["credentialSubject"]["achievement"]["ectsPerSemester"] = 3  # no context defines it
    with pytest.raises(UndefinedTermError) as raised:
        sign_credential(tampered, key, vm, co, created=CREATED)
    assert "ectsPerSemester" in raised.value.terms
    untyped = copy.deepcopy(unsigned)
    del untyped["credentialSubject"]["achievement"]["type"]  # creditsAvailable is only defined under its type
    with pytest.raises(UndefinedTermError, match="creditsAvailable"):
        sign_credential(untyped, key, vm, co, created=CREATED)


def test_refuses_an_issuer_key_of_another_did(unsigned: dict[str, Any]) -> None:
    _, co = signers()
    with pytest.raises(SigningInputError, match="not controlled by issuer"):
        sign_credential(unsigned, key_of("uva.nl"), vm_of("uva.nl"), co, created=CREATED)


@pytest.mark.parametrize(
    "co_signers",
    [
        ["uva.nl"],  # unibo.it is an awarding body that would not sign
        ["uva.nl", "unibo.it", "ku.dk"],  # ku.dk is not an awarding body
        ["uva.nl", "uva.nl"],
    ],
)
def test_refuses_signers_that_are_not_exactly_the_awarding_bodies(
    unsigned: dict[str, Any], co_signers: list[str]
) -> None:
    (key, vm), _ = signers()
    with pytest.raises(SigningInputError):
        sign_credential(unsigned, key, vm, [(key_of(i), vm_of(i)) for i in co_signers], created=CREATED)


def test_refuses_to_sign_twice_and_verification_methods_without_fragment(unsigned: dict[str, Any]) -> None:
    (key, vm), co = signers()
    with pytest.raises(SigningInputError, match="already signed"):
        sign_credential(signed_credential(), key, vm, co, created=CREATED)
    with pytest.raises(SigningInputError):
        sign_credential(unsigned, key, vm.split("#")[0], co, created=CREATED)


def test_a_wrong_private_key_is_caught_by_verification(unsigned: dict[str, Any]) -> None:
    (_, vm), co = signers()
    forged = sign_credential(unsigned, Ed25519Multikey.generate(), vm, co, created=CREATED)
    report = verify(forged)
    assert report["verdict"] == "invalid"
    assert report["proofs"][0]["reason"] == "signature does not match"
    assert not report["issuer_proof"]["valid"]
