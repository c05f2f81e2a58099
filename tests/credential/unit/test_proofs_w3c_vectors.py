"""W3C vc-di-eddsa test vectors reproduced byte for byte (Ed25519 is deterministic)."""

from __future__ import annotations

import base58
import pytest

from tessera_credential.proofs import (
    Ed25519Multikey,
    add_proof,
    canonicalize_oxigraph,
    canonicalize_pyld,
    create_proof,
    hash_data,
    resolve_did_key,
    verify_document,
)
from tessera_credential.proofs.signing import chained_input
from tests.credential.unit.proofs_testdata import VECTOR_LOADER, W3C, read_json, read_text

pytestmark = pytest.mark.unit

SUITES = [("eddsa-rdfc-2022", "DataInt"), ("eddsa-jcs-2022", "JCS")]
SET_CHAIN = W3C / "proof-set-chain"
ID1 = "urn:uuid:26329423-bec9-4b2e-88cb-a7c7d9dc4544"
ID2 = "urn:uuid:8cc9022b-6b14-4cf3-8571-74972c5feb54"
ID3 = "urn:uuid:d94f792a-c546-4d06-b38a-da070ab56c23"


def vector_key() -> Ed25519Multikey:
    return Ed25519Multikey.from_secret_multibase(read_json(W3C / "keyPair.json")["privateKeyMultibase"])


def set_chain_keys() -> list[Ed25519Multikey]:
    pairs = read_json(SET_CHAIN / "multiKeyPairs.json")
    return [Ed25519Multikey.from_secret_multibase(pairs[f"keyPair{i}"]["privateKeyMultibase"]) for i in range(1, 5)]


@pytest.mark.parametrize(("suite", "suffix"), SUITES)
def test_every_intermediate_value_matches_the_vector(suite: str, suffix: str) -> None:
    folder = W3C / suite
    unsigned = read_json(W3C / "unsigned.json")
    proof_config = read_json(folder / f"proofConfig{suffix}.json")  # the vector's config, with @context
    key = vector_key()

    data = hash_data(unsigned, proof_config, loader=VECTOR_LOADER)

    assert data.canonical_document.decode("utf-8") == read_text(folder / f"canonDoc{suffix}.txt")
    assert data.document_hash.hex() == read_text(folder / f"docHash{suffix}.txt")
    assert data.canonical_proof_config.decode("utf-8") == read_text(folder / f"proofCanon{suffix}.txt")
    assert data.proof_hash.hex() == read_text(folder / f"proofHash{suffix}.txt")
    assert data.combined.hex() == read_text(folder / f"combinedHash{suffix}.txt")
    signature = key.sign(data.combined)
    assert signature.hex() == read_text(folder / f"sigHex{suffix}.txt")
    assert "z" + base58.b58encode(signature).decode() == read_text(folder / f"sigBTC58{suffix}.txt")


@pytest.mark.parametrize(("suite", "suffix"), SUITES)
def test_signing_the_unsigned_vector_yields_the_signed_vector(suite: str, suffix: str) -> None:
    expected = read_json(W3C / suite / f"signed{suffix}.json")
    signed = add_proof(
        read_json(W3C / "unsigned.json"), vector_key(), cryptosuite=suite,
        created=expected["proof"]["created"], loader=VECTOR_LOADER,
    )
    assert signed["proof"] == expected["proof"]
    assert signed == expected
    result = verify_document(read_json(W3C / suite / f"signed{suffix}.json"), resolve_did_key, loader=VECTOR_LOADER)
    assert result.verified
    assert [(p.cryptosuite, p.valid, p.reason) for p in result.proofs] == [(suite, True, None)]


def test_rdfc_canonical_document_is_identical_with_both_engines() -> None:
    unsigned = read_json(W3C / "unsigned.json")
    expected = read_text(W3C / "eddsa-rdfc-2022" / "canonDocDataInt.txt")
    assert canonicalize_oxigraph(unsigned, VECTOR_LOADER) == expected
    assert canonicalize_pyld(unsigned, VECTOR_LOADER) == expected


def test_proof_set_vectors_are_reproduced_and_each_proof_verifies() -> None:
    k1, k2, _, _ = set_chain_keys()
    unsigned = read_json(SET_CHAIN / "unsigned.json")
    config1, config2 = read_json(SET_CHAIN / "proofSetConfig1.json"), read_json(SET_CHAIN / "proofSetConfig2.json")

    proof1 = create_proof(unsigned, k1, proof_id=ID1, created=config1["created"], loader=VECTOR_LOADER)
    assert proof1 == read_json(SET_CHAIN / "proofSetConfigSigned1.json")
    set1 = add_proof(unsigned, k1, proof_id=ID1, created=config1["created"], loader=VECTOR_LOADER)
    assert set1 == read_json(SET_CHAIN / "signedProofSet1.json")
    set2 = add_proof(set1, k2, proof_id=ID2, created=config2["created"], loader=VECTOR_LOADER)
    assert set2["proof"][1] == read_json(SET_CHAIN / "proofSetConfigSigned2.json")
    assert set2 == read_json(SET_CHAIN / "signedProofSet2.json")

    for name, count in (("signedProofSet1.json", 1), ("signedProofSet2.json", 2)):
        result = verify_document(read_json(SET_CHAIN / name), resolve_did_key, loader=VECTOR_LOADER)
        assert result.verified
        assert [p.valid for p in result.proofs] == [True] * count
        assert [p.proof_id for p in result.proofs] == [ID1, ID2][:count]


def test_proof_chain_vectors_are_reproduced_and_verify() -> None:
    _, _, k3, k4 = set_chain_keys()
    set2 = read_json(SET_CHAIN / "signedProofSet2.json")
    chain1_config = read_json(SET_CHAIN / "proofChainConfig1.json")
    chain2_config = read_json(SET_CHAIN / "proofChainConfig2.json")

    # the document each chained proof signs ("temp docs" in the vectors)
    assert chained_input(set2, [ID1, ID2]) == read_json(SET_CHAIN / "proofChainTempDoc1.json")
    chain1 = add_proof(set2, k3, proof_id=ID3, created=chain1_config["created"],
                       previous_proof=chain1_config["previousProof"], loader=VECTOR_LOADER)
    assert chain1["proof"][2] == read_json(SET_CHAIN / "proofChainConfigSigned1.json")
    assert chain1 == read_json(SET_CHAIN / "signedProofChain1.json")

    assert chained_input(chain1, ID3) == read_json(SET_CHAIN / "proofChainTempDoc2.json")
    chain2 = add_proof(chain1, k4, created=chain2_config["created"],
                       previous_proof=chain2_config["previousProof"], loader=VECTOR_LOADER)
    assert chain2["proof"][3] == read_json(SET_CHAIN / "proofChainConfigSigned2.json")
    assert chain2 == read_json(SET_CHAIN / "signedProofChain2.json")

    for name, count in (("signedProofChain1.json", 3), ("signedProofChain2.json", 4)):
        result = verify_document(read_json(SET_CHAIN / name), resolve_did_key, loader=VECTOR_LOADER)
        assert result.verified, result
        assert len(result.proofs) == count


def test_chained_proof_fails_when_a_previous_proof_is_removed() -> None:
    chain2 = read_json(SET_CHAIN / "signedProofChain2.json")
    chain2["proof"] = [p for p in chain2["proof"] if p.get("id") != ID3]
    result = verify_document(chain2, resolve_did_key, loader=VECTOR_LOADER)
    assert not result.verified
    assert [p.valid for p in result.proofs] == [True, True, False]
    assert ID3 in (result.proofs[2].reason or "")


def test_chained_proof_fails_when_a_previous_proof_is_altered() -> None:
    chain1 = read_json(SET_CHAIN / "signedProofChain1.json")
    chain1["proof"][0]["created"] = "2023-02-24T23:36:39Z"  # invalidates proof 1 and the chain over it
    result = verify_document(chain1, resolve_did_key, loader=VECTOR_LOADER)
    assert [p.valid for p in result.proofs] == [False, True, False]
    assert result.proofs[2].reason == "signature does not match"
