"""The institutions' Ed25519 key pairs: sealed at rest, rotated, published as did:web documents.

* ``did``: the did:web mapping of ``PUBLIC_BASE_URL`` and the DID documents.
* ``sealing``: AES-256-GCM encryption of private keys under ``CREDENTIAL_KEY_ENCRYPTION_KEY``.
* ``store``: SQL (creation, rotation, opening the active key, public keys).
* ``resolver``: verification-method → public key for this consortium's did:web and did:key.

See docs/credential-keys-and-status.md.
"""

from tessera_credential.keys.did import DidWeb, PublicKeyRecord, is_institution_id
from tessera_credential.keys.resolver import ConsortiumKeys, load_resolver
from tessera_credential.keys.sealing import KeyEncryptionError, KeyEncryptionKey, kek_from_environment
from tessera_credential.keys.store import SigningKey

__all__ = [
    "ConsortiumKeys",
    "DidWeb",
    "KeyEncryptionError",
    "KeyEncryptionKey",
    "PublicKeyRecord",
    "SigningKey",
    "is_institution_id",
    "kek_from_environment",
    "load_resolver",
]
