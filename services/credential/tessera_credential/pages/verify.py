"""The live verification shown on a credential's public page.

The page runs ``verification.report.verify_credential`` — the same report as ``POST /verify`` — on
the **stored** signed document, with this consortium's keys (active and retired) and the status
list entry the document names, looked up in this database. Nothing is fetched over the network.

Verification costs ≈ 0.1–0.15 s of CPU, and the page is public, so:

* at most ``concurrency`` verifications run at once, in worker threads (the event loop stays free);
* a report is reused for ``ttl_seconds`` per credential, **status and document digest**: a
  revocation or supersession (or any change of the stored document) changes the key, so it shows
  at once; only the "checked on" time and the validity window can be up to ``ttl_seconds`` old;
* the cache holds at most ``max_entries`` reports (oldest dropped first).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections import OrderedDict
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog

from tessera_credential.keys.did import DidWeb
from tessera_credential.keys.resolver import ConsortiumKeys
from tessera_credential.proofs import JsonLimits, ProofError, UntrustedInputError
from tessera_credential.status.lookup import snapshot_for
from tessera_credential.verification.report import IssuerPolicy, verify_credential

log = structlog.get_logger(__name__)

# Our own stored documents (a CLR bundle grows with each stacked credential): generous, still capped.
STORED_LIMITS = JsonLimits(max_bytes=4 * 1_048_576, max_depth=64)


class LiveVerifier:
    def __init__(self, dids: DidWeb, *, concurrency: int = 2, ttl_seconds: float = 60.0, max_entries: int = 512):
        self.dids = dids
        self.ttl_seconds = ttl_seconds
        self.max_entries = max_entries
        self._concurrency = concurrency
        self._slots: asyncio.Semaphore | None = None
        self._cache: OrderedDict[tuple[str, str, str], tuple[float, dict[str, Any]]] = OrderedDict()

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:  # created on the serving loop, not at import or wiring time
            self._slots = asyncio.Semaphore(self._concurrency)
        return self._slots

    def cached(self, key: tuple[str, str, str]) -> dict[str, Any] | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        expires, report = entry
        if expires < time.monotonic():
            self._cache.pop(key, None)
            return None
        return report

    def _remember(self, key: tuple[str, str, str], report: dict[str, Any]) -> None:
        self._cache[key] = (time.monotonic() + self.ttl_seconds, report)
        self._cache.move_to_end(key)
        while len(self._cache) > self.max_entries:
            self._cache.popitem(last=False)

    async def report(self, pool: asyncpg.Pool, row: dict[str, Any]) -> dict[str, Any] | None:
        """The report (``VerificationReport.to_dict()``) of a stored credential, or None when it could
        not be produced (logged; the page then says so instead of failing)."""
        credential_id, document = str(row["credential_id"]), row["document"]
        try:
            raw = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
        except (TypeError, ValueError) as exc:
            log.warning("page verification failed", credential_id=credential_id, error=type(exc).__name__)
            return None
        key = (credential_id, str(row["status"]), hashlib.sha256(raw).hexdigest())
        found = self.cached(key)
        if found is not None:
            return found
        try:
            async with pool.acquire() as conn:
                keys = await ConsortiumKeys.load(conn, self.dids)
                statuses = await snapshot_for(conn, self.dids, document)
            trusted = frozenset(self.dids.did(institution_id) for institution_id, _ in keys.keys)
            policy = IssuerPolicy(trusted_issuers=trusted, limits=STORED_LIMITS)
            async with self._semaphore():
                result = await asyncio.to_thread(
                    verify_credential,
                    raw,
                    resolve_key=keys.resolve_key,
                    status_of=statuses.status_of,
                    now=datetime.now(UTC),
                    policy=policy,
                )
        except (UntrustedInputError, ProofError, ValueError, TypeError, RecursionError) as exc:
            log.warning("page verification failed", credential_id=credential_id, error=type(exc).__name__)
            return None
        report = result.to_dict()
        if report.get("verdict") != "indeterminate":  # an outage is not remembered: the next view retries
            self._remember(key, report)
        return report
