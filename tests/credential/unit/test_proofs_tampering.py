"""Any change to a signed credential or its proof makes verification fail (and says why)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tessera_credential.proofs import (
    EDDSA_JCS_2022,
    EDDSA_RDFC_2022,
    Ed25519Multikey,
    add_proof,
    create_proof,
    resolve_did_key,
    verify_document,
)
from tests.credential.unit.proofs_testdata import generate_ob3_credentials

pytestmark = pytest.mark.unit

SUITES = [EDDSA_RDFC_2022, EDDSA_JCS_2022]
ISSUER = Ed25519Multikey.from_secret_multibase("z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq")
MALLORY = Ed25519Multikey.generate()
CREATED = "2024-05-01T12:00:00Z"


def rich_credential() -> dict[str, Any]:
    """The generated credential with the most leaves: arrays, blank nodes, numbers, status."""
    return max(generate_ob3_credentials(60, seed=99), key=lambda c: len(list(_paths(c))))


def signed(suite: str) -> dict[str, Any]:
    return add_proof(rich_credential(), ISSUER, cryptosuite=suite, created=CREATED)


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every key path (for deletion) and leaf path (for modification) below `node`."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else []
    for key, value in items:
        yield (*path, key)
        yield from _paths(value, (*path, key))


def _tampered_leaf(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 0.5
    if isinstance(value, str):
        return value + "x"
    return None  # containers are covered by deleting their keys


def _get_parent(document: Any, path: tuple[Any, ...]) -> Any:
    for key in path[:-1]:
        document = document[key]
    return document


def mutations(document: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in _paths(without_proof := {k: v for k, v in document.items() if k != "proof"}):
        deleted = copy.deepcopy(without_proof)
        parent = _get_parent(deleted, path)
        del parent[path[-1]]
        yield f"delete {path}", {**deleted, "proof": document["proof"]}
        new_value = _tampered_leaf(_get_parent(without_proof, path)[path[-1]])
        if new_value is not None:
            changed = copy.deepcopy(without_proof)
            _get_parent(changed, path)[path[-1]] = new_value
            yield f"modify {path}", {**changed, "proof": document["proof"]}


@pytest.mark.parametrize("suite", SUITES)
def test_the_untampered_credential_verifies(suite: str) -> None:
    result = verify_document(signed(suite), resolve_did_key)
    assert result.verified
    assert result.proofs[0].verification_method == ISSUER.did_key_verification_method


@pytest.mark.parametrize("suite", SUITES)
def test_modifying_or_deleting_any_signed_field_breaks_the_proof(suite: str) -> None:
    document = signed(suite)
    checked = 0
    for description, tampered in mutations(document):
        result = verify_document(tampered, resolve_did_key)
        assert not result.verified, description
        assert result.proofs[0].reason, description
        checked += 1
    assert checked > 80  # the credential really has that many fields


@pytest.mark.parametrize("suite", SUITES)
def test_adding_a_defined_field_breaks_the_proof(suite: str) -> None:
    document = signed(suite)
    document["description"] = "added after signing"
    assert not verify_document(document, resolve_did_key).verified


def test_rdfc_signs_meaning_and_jcs_signs_bytes() -> None:
    rdfc, jcs = signed(EDDSA_RDFC_2022), signed(EDDSA_JCS_2022)
    for document in (rdfc, jcs):
        document["issuer"]["type"] = "Profile"  # ["Profile"] -> "Profile": same RDF, different JSON
        document["credentialSubject"] = dict(reversed(document["credentialSubject"].items()))
    assert verify_document(rdfc, resolve_did_key).verified
    assert not verify_document(jcs, resolve_did_key).verified


@pytest.mark.parametrize("suite", SUITES)
@pytest.mark.parametrize(("field", "value", "reason"), [
    ("type", "Ed25519Signature2020", "unsupported proof type"),
    ("cryptosuite", "ecdsa-rdfc-2019", "unsupported cryptosuite"),
    ("created", "2024-05-01T12:00:01Z", "signature does not match"),
    ("proofPurpose", "authentication", "proofPurpose"),
    ("verificationMethod", MALLORY.did_key_verification_method, "signature does not match"),
    ("verificationMethod", "did:web:unknown.example#key-1", "unknown verification method"),
    ("proofValue", "z" + "1" * 88, "not a multibase base58btc 64-byte"),
    ("proofValue", "u" + "A" * 86, "not a multibase base58btc 64-byte"),
])
def test_tampering_with_the_proof_is_reported(suite: str, field: str, value: str, reason: str) -> None:
    document = signed(suite)
    document["proof"][field] = value
    result = verify_document(document, resolve_did_key)
    assert not result.verified
    assert reason in (result.proofs[0].reason or "")


@pytest.mark.parametrize("suite", SUITES)
def test_switching_the_cryptosuite_or_flipping_a_signature_byte_fails(suite: str) -> None:
    document = signed(suite)
    document["proof"]["cryptosuite"] = EDDSA_JCS_2022 if suite == EDDSA_RDFC_2022 else EDDSA_RDFC_2022
    assert verify_document(document, resolve_did_key).proofs[0].reason == "signature does not match"
    document = signed(suite)
    value = document["proof"]["proofValue"]
    document["proof"]["proofValue"] = value[:-1] + ("2" if value[-1] != "2" else "3")
    assert not verify_document(document, resolve_did_key).verified
    # proofPurpose is signed too, not only checked
    document = signed(suite)
    document["proof"]["proofPurpose"] = "authentication"
    result = verify_document(document, resolve_did_key, expected_proof_purpose=None)
    assert result.proofs[0].reason == "signature does not match"


@pytest.mark.parametrize("suite", SUITES)
def test_swapped_keys_fail(suite: str) -> None:
    document = signed(suite)
    assert not verify_document(document, lambda _vm: MALLORY.public_key).verified
    forged = add_proof(rich_credential(), MALLORY, cryptosuite=suite, created=CREATED,
                       verification_method=ISSUER.did_key_verification_method)  # claims the issuer's key
    result = verify_document(forged, resolve_did_key)
    assert not result.verified and result.proofs[0].reason == "signature does not match"


def test_removing_the_proof_leaves_nothing_verified() -> None:
    document = signed(EDDSA_RDFC_2022)
    del document["proof"]
    result = verify_document(document, resolve_did_key)
    assert not result.verified and result.proofs == ()


def test_proof_sets_are_reported_per_proof() -> None:
    endorser = Ed25519Multikey.generate()
    document = add_proof(signed(EDDSA_RDFC_2022), endorser, cryptosuite=EDDSA_JCS_2022, created=CREATED,
                         verification_method="did:web:endorser.example#key-1")
    assert isinstance(document["proof"], list) and len(document["proof"]) == 2
    # each proof signs the document without the other proofs: removing one keeps the other valid
    assert verify_document({**document, "proof": document["proof"][0]}, resolve_did_key).verified

    def resolver(vm: str) -> bytes | None:
        return endorser.public_key if vm == "did:web:endorser.example#key-1" else resolve_did_key(vm)

    assert verify_document(document, resolver).verified
    partial = verify_document(document, resolve_did_key)  # the did:web method is unknown to it
    assert not partial.verified
    assert [(p.cryptosuite, p.valid) for p in partial.proofs] == [(EDDSA_RDFC_2022, True), (EDDSA_JCS_2022, False)]
    assert partial.proofs[1].reason == "unknown verification method 'did:web:endorser.example#key-1'"
    assert partial.proofs[1].verification_method == "did:web:endorser.example#key-1"


def test_expired_proofs_fail_and_malformed_proofs_are_reported() -> None:
    now = datetime(2024, 6, 1, tzinfo=UTC)
    proof = create_proof(rich_credential(), ISSUER, created=CREATED, expires=now - timedelta(days=1))
    document = {**rich_credential(), "proof": proof}
    assert verify_document(document, resolve_did_key, now=now - timedelta(days=2)).verified
    assert verify_document(document, resolve_did_key, now=now).proofs[0].reason == "proof expired"
    document["proof"] = ["not a proof", {"type": "DataIntegrityProof"}]
    result = verify_document(document, resolve_did_key)
    assert [p.valid for p in result.proofs] == [False, False]
    assert result.proofs[0].reason == "proof is not an object"
