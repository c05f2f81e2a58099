"""SQL of the Bitstring Status Lists: lists, random index allocation, the bits, signing state.

* A list belongs to one issuing institution (the coordinator that issues the credentials it
  covers) and signs with that institution's key; it has ``size`` >= 131,072 entries.
* Indexes are drawn uniformly at random (``secrets``) so an index says nothing about when or to whom
  a credential was issued (herd privacy). ``PRIMARY KEY (list_id, status_index)`` makes them unique:
  an index drawn twice (by us or a concurrent transaction) is simply drawn again. A list takes at
  most ``capacity`` = half its size, so a draw succeeds with probability >= 1/2, and then closes;
  the next allocation opens a new list (``status_lists_one_open``: one open list per issuer).
* The bit of an entry is not stored separately: it is ``status <> 'active'`` of the credential that
  owns the index, so the list can never disagree with the credential table. ``version`` is bumped by
  every change of a bit; the signed list (``credential``) is of ``signed_version``.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from tessera_credential.proofs.status_list import MIN_BITS
from tessera_shared.kernel.db import Conn

LIST_SIZE = MIN_BITS  # 131,072 one-bit entries: a 16 KB bitstring
PURPOSE = "revocation"
MAX_DRAWS = 64  # rounds of redraws before giving up (each succeeds for at least half the entries)


class AllocationError(RuntimeError):
    """Could not find free indexes (should never happen below capacity)."""


@dataclass(frozen=True)
class StatusEntry:
    list_id: str
    index: int


@dataclass(frozen=True)
class ListRow:
    list_id: str
    issuer_id: str
    size: int
    version: int
    signed_version: int
    credential: dict[str, Any] | None


def new_list_id() -> str:
    return uuid.uuid4().hex


async def _open_list(conn: Conn, issuer_id: str, size: int) -> str:
    """The issuer's open list, created if there is none (concurrent creators agree on one)."""
    while True:
        list_id = await conn.fetchval(
            "SELECT list_id FROM status_lists WHERE issuer_id = $1 AND purpose = $2 AND open", issuer_id, PURPOSE
        )
        if list_id is not None:
            return str(list_id)
        created = await conn.fetchval(
            """INSERT INTO status_lists (list_id, issuer_id, purpose, size, capacity)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (issuer_id, purpose) WHERE open DO NOTHING RETURNING list_id""",
            new_list_id(),
            issuer_id,
            PURPOSE,
            size,
            size // 2,
        )
        if created is not None:
            return str(created)


async def allocate(
    conn: Conn, issuer_id: str, credential_ids: list[str], *, size: int = LIST_SIZE, unsigned: set[str] | None = None
) -> dict[str, StatusEntry]:
    """A random, unique status-list entry for each credential id (in the caller's transaction).

    Usually one statement: the open list's entries are counted and drawn together; a list to open,
    a closing list or an index drawn twice take more. ``unsigned`` collects the lists that lent
    entries and were not signed as they stood when they did (a new list: its first signature is
    due; whoever signs re-checks under the list's lock, :func:`..credential.sign_list`)."""
    result: dict[str, StatusEntry] = {}
    pending = list(credential_ids)
    while pending:
        list_id, taken, drawn, needs_signing = await _reserve_and_draw(conn, issuer_id, pending, size)
        if needs_signing and unsigned is not None:
            unsigned.add(list_id)
        batch, pending = pending[:taken], pending[taken:]
        result.update(drawn)
        if missing := [c for c in batch if c not in drawn]:
            result.update(await _draw(conn, list_id, missing, size))
    return result


async def _reserve_and_draw(
    conn: Conn, issuer_id: str, wanted: list[str], size: int
) -> tuple[str, int, dict[str, StatusEntry], bool]:
    """Up to ``len(wanted)`` entries of the issuer's open list: found, locked, counted and drawn in
    one statement (the first ``n`` credentials get a random index each; one drawn twice is drawn
    again by the caller); a list is created first when none is open (or the open one closed while
    this one waited). Returns (list, n, the entries drawn, whether the list needs signing)."""
    while True:
        row = await conn.fetchrow(
            """WITH cur AS (SELECT list_id, least(cardinality($2::text[]), capacity - allocated) AS n
                            FROM status_lists WHERE issuer_id = $1 AND purpose = $3 AND open FOR UPDATE),
                    taken AS (UPDATE status_lists s SET allocated = s.allocated + cur.n,
                                                        open = s.allocated + cur.n < s.capacity
                              FROM cur WHERE s.list_id = cur.list_id AND cur.n > 0
                              RETURNING cur.list_id, cur.n, s.version > s.signed_version AS unsigned),
                    drawn AS (INSERT INTO status_list_entries (list_id, status_index, credential_id)
                              SELECT taken.list_id, u.i, u.c
                              FROM taken, unnest($4::int[], $2::text[]) WITH ORDINALITY AS u(i, c, o)
                              WHERE u.o <= taken.n
                              ON CONFLICT (list_id, status_index) DO NOTHING RETURNING credential_id, status_index)
               SELECT taken.list_id, taken.n, taken.unsigned,
                      (SELECT array_agg(ROW(credential_id, status_index)) FROM drawn) AS drawn
               FROM taken""",
            issuer_id,
            wanted,
            PURPOSE,
            [secrets.randbelow(size) for _ in wanted],
        )
        if row is not None:
            list_id = str(row["list_id"])
            drawn = {c: StatusEntry(list_id, i) for c, i in row["drawn"] or ()}
            return list_id, int(row["n"]), drawn, bool(row["unsigned"])
        await _open_list(conn, issuer_id, size)


async def _draw(conn: Conn, list_id: str, credential_ids: list[str], size: int) -> dict[str, StatusEntry]:
    found: dict[str, StatusEntry] = {}
    pending = list(credential_ids)
    for _ in range(MAX_DRAWS):
        if not pending:
            return found
        candidates = [secrets.randbelow(size) for _ in pending]
        rows = await conn.fetch(
            """INSERT INTO status_list_entries (list_id, status_index, credential_id)
               SELECT $1, i, c FROM unnest($2::int[], $3::text[]) AS u(i, c)
               ON CONFLICT (list_id, status_index) DO NOTHING RETURNING credential_id, status_index""",
            list_id,
            candidates,
            pending,
        )
        for r in rows:
            found[r["credential_id"]] = StatusEntry(list_id, r["status_index"])
        pending = [c for c in pending if c not in found]
    raise AllocationError(f"no free index in status list {list_id} after {MAX_DRAWS} draws")


async def release(conn: Conn, entries: list[StatusEntry]) -> None:
    """Give back entries allocated for credentials that were not issued after all."""
    if not entries:
        return
    await conn.execute(
        """DELETE FROM status_list_entries e USING unnest($1::text[], $2::int[]) AS u(l, i)
           WHERE e.list_id = u.l AND e.status_index = u.i""",
        [e.list_id for e in entries],
        [e.index for e in entries],
    )


async def touch(conn: Conn, list_ids: list[str]) -> None:
    """A bit of these lists changed (or their signer did): they need signing again."""
    if list_ids:
        await conn.execute("UPDATE status_lists SET version = version + 1 WHERE list_id = ANY($1::text[])", list_ids)


async def touch_issuer(conn: Conn, issuer_id: str) -> None:
    await conn.execute("UPDATE status_lists SET version = version + 1 WHERE issuer_id = $1", issuer_id)


async def set_indexes(conn: Conn, list_id: str) -> list[int]:
    """Indexes whose bit is set: credentials of this list that are revoked or superseded."""
    rows = await conn.fetch(
        "SELECT status_index FROM issued_credentials WHERE status_list_id = $1 AND status <> 'active'", list_id
    )
    return [r["status_index"] for r in rows]


def _list_row(r: Any) -> ListRow:
    return ListRow(r["list_id"], r["issuer_id"], r["size"], r["version"], r["signed_version"], r["credential"])


async def lock_list(conn: Conn, list_id: str) -> ListRow | None:
    r = await conn.fetchrow(
        """SELECT list_id, issuer_id, size, version, signed_version, credential FROM status_lists
           WHERE list_id = $1 FOR UPDATE""",
        list_id,
    )
    return _list_row(r) if r is not None else None


async def save_signed(conn: Conn, list_id: str, version: int, credential: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE status_lists SET credential = $3, signed_version = $2, signed_at = clock_timestamp()
           WHERE list_id = $1""",
        list_id,
        version,
        credential,
    )


# Status lists whose bits changed since they were last signed, at most $1 of them.
UNSIGNED = "SELECT list_id FROM status_lists WHERE version > signed_version ORDER BY list_id LIMIT $1"


async def signed_credential(conn: Conn, list_id: str) -> dict[str, Any] | None:
    value: dict[str, Any] | None = await conn.fetchval(
        "SELECT credential FROM status_lists WHERE list_id = $1 AND credential IS NOT NULL", list_id
    )
    return value
