"""Institution private keys encrypted at rest: AES-256-GCM under a key-encryption key (KEK).

The KEK comes from the environment (``CREDENTIAL_KEY_ENCRYPTION_KEY``: 32 random bytes, base64) and
never touches the database. A sealed key is ``0x01 || nonce(12) || AES-GCM(seed) || tag(16)`` with
the institution, key number and public key as associated data, so a sealed seed copied onto
another row does not open, and the opened seed must reproduce the stored public key. ``kek_id`` (a
SHA-256 fingerprint of the KEK, not the KEK) is stored beside each sealed key so that starting with
the wrong KEK is reported clearly instead of as a decryption failure deep in a signing batch.

Nothing here has a ``repr`` that shows key material.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from tessera_credential.proofs.multikey import Ed25519Multikey

ENV_VAR = "CREDENTIAL_KEY_ENCRYPTION_KEY"
_VERSION = b"\x01"
_NONCE = 12


class KeyEncryptionError(RuntimeError):
    """The key-encryption key is missing, malformed, or not the one that sealed the stored keys."""


class KeyEncryptionKey:
    """The 32-byte AES key that seals institution keys. ``repr`` shows only its fingerprint."""

    __slots__ = ("_aead", "kek_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise KeyEncryptionError(f"{ENV_VAR} must be 32 bytes (base64-encoded); got {len(key)} bytes")
        self._aead = AESGCM(key)
        self.kek_id = hashlib.sha256(b"tessera-credential-kek-id|" + key).hexdigest()[:32]

    @classmethod
    def from_base64(cls, value: str) -> KeyEncryptionKey:
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise KeyEncryptionError(f"{ENV_VAR} is not valid base64") from None
        return cls(raw)

    @classmethod
    def generate(cls) -> KeyEncryptionKey:
        return cls(os.urandom(32))

    def __repr__(self) -> str:
        return f"KeyEncryptionKey(kek_id={self.kek_id!r})"

    __str__ = __repr__

    def __reduce__(self) -> None:  # type: ignore[override]
        raise TypeError("a key-encryption key cannot be pickled")

    @staticmethod
    def _aad(institution_id: str, key_number: int, public_key: bytes) -> bytes:
        return b"tessera-credential-key|v1|%s|%d|%s" % (institution_id.encode(), key_number, public_key.hex().encode())

    def seal(self, key: Ed25519Multikey, institution_id: str, key_number: int) -> bytes:
        nonce = os.urandom(_NONCE)
        aad = self._aad(institution_id, key_number, key.public_key)
        return _VERSION + nonce + self._aead.encrypt(nonce, key.seed, aad)

    def open(self, sealed: bytes, institution_id: str, key_number: int, public_key: bytes) -> Ed25519Multikey:
        if len(sealed) != 1 + _NONCE + 32 + 16 or sealed[:1] != _VERSION:
            raise KeyEncryptionError(f"sealed key {institution_id}#key-{key_number} has an unknown format")
        nonce, body = sealed[1 : 1 + _NONCE], sealed[1 + _NONCE :]
        try:
            seed = self._aead.decrypt(nonce, body, self._aad(institution_id, key_number, public_key))
        except InvalidTag:
            raise KeyEncryptionError(
                f"sealed key {institution_id}#key-{key_number} does not open with this {ENV_VAR}"
            ) from None
        key = Ed25519Multikey(seed)
        if key.public_key != public_key:  # cannot happen with an intact AEAD; checked anyway
            raise KeyEncryptionError(f"sealed key {institution_id}#key-{key_number} does not match its public key")
        return key


def kek_from_environment(value: str | None) -> KeyEncryptionKey:
    """The KEK from the setting's value, or a startup error that says what to do."""
    if not value or not value.strip():
        raise KeyEncryptionError(
            f"{ENV_VAR} is not set: the credential service needs a 32-byte key-encryption key (base64) to "
            "protect the institutions' signing keys. Generate one with "
            '`python -c "import base64,os; print(base64.b64encode(os.urandom(32)).decode())"`, keep it in '
            "your secret store, and never change it without re-encrypting the stored keys."
        )
    return KeyEncryptionKey.from_base64(value)
