"""Ed25519 keys as W3C Multikey (multibase base58btc + multicodec) and did:key resolution.

Encodings (Controlled Identifiers / Multikey):
  public  = "z" + base58btc(0xed 0x01 || 32-byte key)      -> "z6Mk..."
  secret  = "z" + base58btc(0x80 0x26 || 32-byte seed)     -> "z3u2..."
  did:key = "did:key:" + public; verification method id = did + "#" + public.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .errors import InvalidKeyError

ED25519_PUB_PREFIX = b"\xed\x01"
ED25519_PRIV_PREFIX = b"\x80\x26"
_KEY_LEN = 32


def _decode_multibase(value: str, prefix: bytes, what: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise InvalidKeyError(f"{what} must be multibase base58btc ('z' prefix)")
    try:
        raw = base58.b58decode(value[1:])
    except ValueError as exc:
        raise InvalidKeyError(f"{what} is not valid base58btc") from exc
    if len(raw) != len(prefix) + _KEY_LEN or not raw.startswith(prefix):
        raise InvalidKeyError(f"{what} is not an Ed25519 multikey (multicodec {prefix.hex()} + 32 bytes)")
    return raw[len(prefix):]


def encode_public_multibase(public_key: bytes) -> str:
    if len(public_key) != _KEY_LEN:
        raise InvalidKeyError("Ed25519 public keys are 32 bytes")
    return "z" + base58.b58encode(ED25519_PUB_PREFIX + public_key).decode("ascii")


def decode_public_multibase(value: str) -> bytes:
    return _decode_multibase(value, ED25519_PUB_PREFIX, "publicKeyMultibase")


def encode_secret_multibase(seed: bytes) -> str:
    if len(seed) != _KEY_LEN:
        raise InvalidKeyError("Ed25519 seeds are 32 bytes")
    return "z" + base58.b58encode(ED25519_PRIV_PREFIX + seed).decode("ascii")


def decode_secret_multibase(value: str) -> bytes:
    return _decode_multibase(value, ED25519_PRIV_PREFIX, "secretKeyMultibase")


def did_key_from_public(public_key: bytes) -> str:
    return "did:key:" + encode_public_multibase(public_key)


def resolve_did_key(verification_method: str) -> bytes | None:
    """Public key of a `did:key:z6Mk...[#z6Mk...]` verification method; None if not a did:key.

    Usable directly as (part of) the key resolver passed to proof verification. A did:key whose
    fragment differs from its key, or that is not Ed25519, raises `InvalidKeyError`.
    """
    if not verification_method.startswith("did:key:"):
        return None
    did, _, fragment = verification_method.partition("#")
    multibase = did[len("did:key:"):]
    if fragment and fragment != multibase:
        raise InvalidKeyError("did:key fragment must repeat the key's multibase value")
    return decode_public_multibase(multibase)


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    """Ed25519 verification that returns False (never raises) for bad keys or signatures."""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Ed25519Multikey:
    """An Ed25519 signing key with its Multikey encodings. `repr` never shows the secret."""

    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.seed) != _KEY_LEN:
            raise InvalidKeyError("Ed25519 seeds are 32 bytes")

    @classmethod
    def generate(cls) -> Ed25519Multikey:
        return cls(Ed25519PrivateKey.generate().private_bytes_raw())

    @classmethod
    def from_secret_multibase(cls, value: str) -> Ed25519Multikey:
        return cls(decode_secret_multibase(value))

    @cached_property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @cached_property
    def public_key(self) -> bytes:
        return self._private.public_key().public_bytes_raw()

    @property
    def public_multibase(self) -> str:
        return encode_public_multibase(self.public_key)

    @property
    def secret_multibase(self) -> str:
        return encode_secret_multibase(self.seed)

    @property
    def did_key(self) -> str:
        return did_key_from_public(self.public_key)

    @property
    def did_key_verification_method(self) -> str:
        return f"{self.did_key}#{self.public_multibase}"

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)
