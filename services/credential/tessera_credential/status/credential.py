"""The signed ``BitstringStatusListCredential`` of a list, and (re)signing it.

Signer: the list's issuing institution — the coordinator that issued every credential the list
covers — with its active key (eddsa-rdfc-2022, ``assertionMethod``). The Bitstring Status List
spec expects the list's issuer to be the credential's issuer, and it lets any verifier check the
list with the same DID document it used for the credential. After a key rotation the issuer's
lists are signed again with the new key (``touch_issuer``); a list signed before stays verifiable
because retired keys stay in the DID document.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

from tessera_credential.keys import store as key_store
from tessera_credential.keys.did import DidWeb
from tessera_credential.keys.sealing import KeyEncryptionKey
from tessera_credential.proofs.contexts import CREDENTIALS_V2
from tessera_credential.proofs.signing import add_proof, format_datetime
from tessera_credential.proofs.status_list import BitstringStatusList
from tessera_credential.status import lists
from tessera_shared.kernel.db import Conn


def list_url(dids: DidWeb, list_id: str) -> str:
    return f"{dids.public_base}/status-lists/{list_id}"


def status_list_entry(dids: DidWeb, entry: lists.StatusEntry) -> dict[str, Any]:
    """The ``credentialStatus`` object a credential carries for its entry (index as a string)."""
    url = list_url(dids, entry.list_id)
    return {
        "id": f"{url}#{entry.index}",
        "type": "BitstringStatusListEntry",
        "statusPurpose": lists.PURPOSE,
        "statusListIndex": str(entry.index),
        "statusListCredential": url,
    }


def unsigned_list_credential(
    dids: DidWeb, list_id: str, issuer_did: str, bits: BitstringStatusList, valid_from: datetime
) -> dict[str, Any]:
    url = list_url(dids, list_id)
    return {
        "@context": [CREDENTIALS_V2],
        "id": url,
        "type": ["VerifiableCredential", "BitstringStatusListCredential"],
        "issuer": issuer_did,
        "validFrom": format_datetime(valid_from),
        "credentialSubject": {
            "id": f"{url}#list",
            "type": "BitstringStatusList",
            "statusPurpose": lists.PURPOSE,
            "encodedList": bits.encode(),
        },
    }


async def sign_list(conn: Conn, kek: KeyEncryptionKey, dids: DidWeb, list_id: str) -> bool:
    """Sign the list as its bits are now, if it changed since it was last signed. In the caller's
    transaction; the row lock keeps two signers from interleaving. True if it signed."""
    row = await lists.lock_list(conn, list_id)
    if row is None or row.signed_version >= row.version:
        return False
    await key_store.ensure_keys(conn, kek, [row.issuer_id])
    signer = (await key_store.signing_keys(conn, kek, [row.issuer_id]))[row.issuer_id]
    bits = BitstringStatusList(row.size)
    for index in await lists.set_indexes(conn, list_id):
        bits.set(index, 1)
    now = datetime.now(UTC)
    unsigned = unsigned_list_credential(dids, list_id, dids.did(row.issuer_id), bits, now)
    method = dids.verification_method(row.issuer_id, signer.key_number)
    signed = await asyncio.to_thread(add_proof, unsigned, signer.key, verification_method=method, created=now)
    await lists.save_signed(conn, list_id, row.version, signed)
    return True


async def sign_lists(conn: Conn, kek: KeyEncryptionKey, dids: DidWeb, list_ids: list[str]) -> int:
    signed = 0
    for list_id in sorted(set(list_ids)):  # fixed lock order
        signed += await sign_list(conn, kek, dids, list_id)
    return signed
