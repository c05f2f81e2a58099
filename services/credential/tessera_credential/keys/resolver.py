"""Key resolution for verification: this consortium's did:web keys (from the database) and did:key.

``verify_document`` calls its resolver synchronously, while the keys live in PostgreSQL; so a
:class:`ConsortiumKeys` snapshot is loaded first (every public key of every institution: a few
per institution, one small query) and its :meth:`ConsortiumKeys.resolve_key` answers from memory.
Nothing is ever fetched over the network: a did:web of another host, or any other DID method,
resolves to ``None`` (the verification report calls it unknown) — never an exception.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from tessera_credential.keys import store
from tessera_credential.keys.did import DidWeb, PublicKeyRecord
from tessera_credential.proofs.errors import InvalidKeyError
from tessera_credential.proofs.multikey import resolve_did_key
from tessera_shared.kernel.db import Conn

MAX_METHOD_LENGTH = 2048


@dataclass(frozen=True)
class ConsortiumKeys:
    dids: DidWeb
    keys: dict[tuple[str, int], PublicKeyRecord] = field(default_factory=dict)

    @classmethod
    def of(cls, dids: DidWeb, records: Iterable[PublicKeyRecord]) -> ConsortiumKeys:
        return cls(dids, {(r.institution_id, r.key_number): r for r in records})

    @classmethod
    async def load(cls, conn: Conn, dids: DidWeb) -> ConsortiumKeys:
        return cls.of(dids, await store.all_public_keys(conn))

    def record(self, verification_method: str) -> PublicKeyRecord | None:
        if not isinstance(verification_method, str) or len(verification_method) > MAX_METHOD_LENGTH:
            return None
        parsed = self.dids.parse_verification_method(verification_method)
        return self.keys.get(parsed) if parsed is not None else None

    def resolve_key(self, verification_method: str) -> bytes | None:
        """Raw Ed25519 public key of ``verification_method``, or None when it is not one we can resolve.

        * ``did:web:<our host>...:institutions:<id>#key-<n>``: the stored key, active or retired;
        * ``did:key:z6Mk...[#z6Mk...]``: the key the identifier encodes (malformed → None);
        * anything else (other hosts, other methods, garbage): None.
        """
        if not isinstance(verification_method, str) or len(verification_method) > MAX_METHOD_LENGTH:
            return None
        if verification_method.startswith("did:key:"):
            try:
                return resolve_did_key(verification_method)
            except InvalidKeyError:
                return None
        found = self.record(verification_method)
        return found.public_key if found is not None else None


async def load_resolver(conn: Conn, dids: DidWeb) -> ConsortiumKeys:
    """A resolver over the keys as they are now (call its ``resolve_key``)."""
    return await ConsortiumKeys.load(conn, dids)
