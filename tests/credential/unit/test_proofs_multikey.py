"""Ed25519 Multikey encodings and did:key resolution."""

from __future__ import annotations

import base58
import pytest

from tessera_credential.proofs import (
    Ed25519Multikey,
    InvalidKeyError,
    decode_public_multibase,
    encode_public_multibase,
    resolve_did_key,
    verify_signature,
)
from tessera_credential.proofs.multikey import decode_secret_multibase, encode_secret_multibase
from tests.credential.unit.proofs_testdata import W3C, read_json

pytestmark = pytest.mark.unit


def vector_pairs() -> list[dict[str, str]]:
    pairs = read_json(W3C / "proof-set-chain" / "multiKeyPairs.json")
    return [read_json(W3C / "keyPair.json"), *pairs.values()]


@pytest.mark.parametrize("pair", vector_pairs(), ids=lambda p: p["publicKeyMultibase"][:12])
def test_vector_key_pairs_round_trip(pair: dict[str, str]) -> None:
    key = Ed25519Multikey.from_secret_multibase(pair["privateKeyMultibase"])
    assert key.public_multibase == pair["publicKeyMultibase"]
    assert key.secret_multibase == pair["privateKeyMultibase"]
    assert key.public_multibase.startswith("z6Mk") and key.secret_multibase.startswith("z3u2")
    assert decode_public_multibase(pair["publicKeyMultibase"]) == key.public_key
    assert encode_public_multibase(key.public_key) == pair["publicKeyMultibase"]
    assert encode_secret_multibase(decode_secret_multibase(pair["privateKeyMultibase"])) == pair["privateKeyMultibase"]
    assert key.did_key == "did:key:" + pair["publicKeyMultibase"]
    vm = key.did_key_verification_method
    assert vm == f"did:key:{pair['publicKeyMultibase']}#{pair['publicKeyMultibase']}"
    assert resolve_did_key(vm) == resolve_did_key(key.did_key) == key.public_key


def test_generated_keys_sign_and_verify() -> None:
    key, other = Ed25519Multikey.generate(), Ed25519Multikey.generate()
    assert key.public_key != other.public_key
    signature = key.sign(b"message")
    assert len(signature) == 64
    assert verify_signature(key.public_key, signature, b"message")
    assert not verify_signature(key.public_key, signature, b"messagE")
    assert not verify_signature(other.public_key, signature, b"message")
    assert not verify_signature(b"\x00" * 31, signature, b"message")  # malformed key: False, not a crash
    assert Ed25519Multikey.from_secret_multibase(key.secret_multibase).public_key == key.public_key


def test_secret_never_appears_in_repr() -> None:
    key = Ed25519Multikey.generate()
    assert key.secret_multibase not in repr(key) and key.seed.hex() not in repr(key)


def test_non_did_key_methods_are_left_to_other_resolvers() -> None:
    assert resolve_did_key("did:web:ugent.be#key-1") is None
    assert resolve_did_key("https://example.edu/issuers/565049#key-1") is None


@pytest.mark.parametrize("bad", [
    "6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2",  # no multibase prefix
    "z3u2en7t5LR2WtQH5PfFqMqwVHBeXouLzo6haApm8XHqvjxq",  # a secret key, not a public key
    "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ",  # truncated
    "z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ0",  # '0' is not base58
    "z" + base58.b58encode(b"\xe7\x01" + b"\x02" * 33).decode(),  # secp256k1 multicodec
])
def test_malformed_public_keys_are_rejected(bad: str) -> None:
    with pytest.raises(InvalidKeyError):
        decode_public_multibase(bad)
    with pytest.raises(InvalidKeyError):
        resolve_did_key(f"did:key:{bad}")


def test_did_key_fragment_must_repeat_the_key() -> None:
    key, other = Ed25519Multikey.generate(), Ed25519Multikey.generate()
    with pytest.raises(InvalidKeyError):
        resolve_did_key(f"{key.did_key}#{other.public_multibase}")


def test_malformed_secrets_are_rejected() -> None:
    with pytest.raises(InvalidKeyError):
        Ed25519Multikey.from_secret_multibase("z6MkrJVnaZkeFzdQyMZu1cgjg7k1pZZ6pvBQ7XJPt4swbTQ2")
    with pytest.raises(InvalidKeyError):
        Ed25519Multikey(b"short")
