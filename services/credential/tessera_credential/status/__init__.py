"""Bitstring Status Lists of issued credentials (revocation; supersession sets the same bit).

* ``lists``: SQL — lists per issuing institution, random unique index allocation, the bits.
* ``credential``: the signed ``BitstringStatusListCredential`` and re-signing.

See docs/credential-keys-and-status.md.
"""

from tessera_credential.status.credential import list_url, sign_list, sign_lists, status_list_entry
from tessera_credential.status.lists import LIST_SIZE, PURPOSE, StatusEntry, allocate

__all__ = [
    "LIST_SIZE",
    "PURPOSE",
    "StatusEntry",
    "allocate",
    "list_url",
    "sign_list",
    "sign_lists",
    "status_list_entry",
]
