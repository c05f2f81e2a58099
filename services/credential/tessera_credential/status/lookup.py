"""Status of a credential entry for the verification report: ``(list URL, index) -> status``.

The report asks synchronously; the answer lives in PostgreSQL; so :func:`snapshot_for` reads the
one entry a submitted document names, before verification starts. The answer is what the signed
list says (the bit), refined by the credential table: a set bit is ``revoked`` or ``superseded``
(the owning credential's status), a clear bit is ``active`` — also for an index no credential owns,
because that is what any verifier reading the list sees. Lists of other hosts, unknown lists and
out-of-range indexes are ``unknown`` (never fetched).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tessera_credential.keys.did import DidWeb
from tessera_shared.kernel.db import Conn

_INDEX = re.compile(r"0|[1-9][0-9]{0,9}")
_LIST_ID = re.compile(r"[0-9a-f]{32}")


def list_id_of(dids: DidWeb, url: str) -> str | None:
    prefix = f"{dids.public_base}/status-lists/"
    if not url.startswith(prefix):
        return None
    list_id = url[len(prefix) :]
    return list_id if _LIST_ID.fullmatch(list_id) else None


@dataclass(frozen=True)
class StatusSnapshot:
    values: dict[tuple[str, int], str] = field(default_factory=dict)

    def status_of(self, url: str, index: int) -> str:
        return self.values.get((url, index), "unknown")


async def entry_status(conn: Conn, list_id: str, index: int) -> str:
    row = await conn.fetchrow(
        """SELECT l.size, c.status FROM status_lists l
           LEFT JOIN issued_credentials c ON c.status_list_id = l.list_id AND c.status_index = $2
           WHERE l.list_id = $1""",
        list_id,
        index,
    )
    if row is None or not 0 <= index < row["size"]:
        return "unknown"
    return str(row["status"] or "active")


async def snapshot_for(conn: Conn, dids: DidWeb, document: Any) -> StatusSnapshot:
    entry = document.get("credentialStatus") if isinstance(document, Mapping) else None
    if not isinstance(entry, Mapping):
        return StatusSnapshot()
    url, index = entry.get("statusListCredential"), entry.get("statusListIndex")
    if not isinstance(url, str) or not isinstance(index, str) or not _INDEX.fullmatch(index):
        return StatusSnapshot()
    value = int(index)
    list_id = list_id_of(dids, url)
    if list_id is None or value >= 2**31:
        return StatusSnapshot()
    return StatusSnapshot({(url, value): await entry_status(conn, list_id, value)})
