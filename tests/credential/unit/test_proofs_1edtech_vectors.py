"""1EdTech Open Badges 3.0 and CLR 2.0 eddsa-rdfc-2022 vectors (canonical N-Quads, hashes, proofValue)."""

from __future__ import annotations

import hashlib
from typing import Any

import base58
import pytest

from tessera_credential.proofs import (
    Ed25519Multikey,
    add_proof,
    canonicalize,
    canonicalize_oxigraph,
    canonicalize_pyld,
    encode_public_multibase,
    hash_data,
    verify_document,
)
from tessera_credential.proofs.cryptosuites import proof_configuration
from tests.credential.unit.proofs_testdata import EDTECH, read_json, read_text

pytestmark = pytest.mark.unit

VECTORS = ["obv3p0", "clrv2p0"]


def vector(name: str) -> dict[str, Any]:
    data: dict[str, Any] = read_json(EDTECH / f"{name}-eddsa-rdfc-2022-vector.json")
    return data


def vector_key(v: dict[str, Any]) -> Ed25519Multikey:
    return Ed25519Multikey(bytes.fromhex(v["privateKeyHex(64-byte seed||pub)"])[:32])


@pytest.mark.parametrize("name", VECTORS)
def test_document_canonical_nquads_match_with_every_engine(name: str) -> None:
    v = vector(name)
    expected = read_text(EDTECH / name / "document-canon.txt")
    assert canonicalize_oxigraph(v["unsignedCredential"]) == expected
    assert canonicalize_pyld(v["unsignedCredential"]) == expected
    assert canonicalize(v["unsignedCredential"], require_signable=True) == expected
    assert hashlib.sha256(expected.encode()).hexdigest() == v["documentHashHex"]


@pytest.mark.parametrize("name", VECTORS)
def test_proof_configuration_canonical_form_and_hash(name: str) -> None:
    v = vector(name)
    config = proof_configuration(v["proofOptions"], v["unsignedCredential"]["@context"])
    expected = read_text(EDTECH / name / "proof-canon.txt")
    assert canonicalize_oxigraph(config) == expected
    assert canonicalize_pyld(config) == expected
    assert hashlib.sha256(expected.encode()).hexdigest() == v["proofHashHex"]


@pytest.mark.parametrize("name", VECTORS)
def test_signature_and_proof_value_are_reproduced(name: str) -> None:
    v = vector(name)
    key = vector_key(v)
    assert key.public_key.hex() == v["publicKeyHex"]
    assert key.public_multibase == v["publicKeyMultibase"] == encode_public_multibase(key.public_key)

    data = hash_data(v["unsignedCredential"], v["proofOptions"])
    assert data.document_hash.hex() == v["documentHashHex"]
    assert data.proof_hash.hex() == v["proofHashHex"]
    assert key.sign(data.combined).hex() == v["signatureHex"]

    options = v["proofOptions"]
    signed = add_proof(v["unsignedCredential"], key, created=options["created"],
                       verification_method=options["verificationMethod"])
    assert signed["proof"] == {**options, "proofValue": v["proofValue"]}
    assert signed["proof"]["proofValue"] == "z" + base58.b58encode(bytes.fromhex(v["signatureHex"])).decode()


@pytest.mark.parametrize("name", VECTORS)
def test_vector_proof_verifies_through_a_key_resolver(name: str) -> None:
    v = vector(name)
    options = v["proofOptions"]
    signed = {**v["unsignedCredential"], "proof": [{**options, "proofValue": v["proofValue"]}]}
    keys = {options["verificationMethod"]: bytes.fromhex(v["publicKeyHex"])}
    result = verify_document(signed, keys.get)
    assert result.verified
    assert result.proofs[0].verification_method == options["verificationMethod"]

    signed["name"] = signed["name"] + "!"
    assert not verify_document(signed, keys.get).verified
