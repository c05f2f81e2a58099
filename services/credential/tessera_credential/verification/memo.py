"""A bounded LRU memo of the *cryptographic* part of a verification (`report.DocumentChecks`).

Employers verify the same credential again and again (the share link's bytes); its JSON Schema
checks, RDFC-1.0 canonicalisation and Ed25519 signature checks give the same answer every time,
because they are a pure function of

* the submitted bytes (the proofs included): the key is their SHA-256 — any changed byte, anywhere,
  is another key, so a changed document is never answered from the memo;
* the raw bytes of the key every proof's verification method resolved to *in this request* (or
  None): resolved again on every request, from the keys as they are now, and part of the key — a
  key that changed, or is gone, is another key, so it is never answered from the memo either;
* `IssuerPolicy.max_proofs` (part of the key);
* the time, only through a proof's `expires`: a document with such a proof is never memoised.

What a request still decides itself, memo or not: the key resolution outcomes, the issuer policy,
which proof belongs to which awarding body, the status (revocation, suspension) and the validity
dates (`report.assemble_report`). This is a memo, not verification speed: a miss costs a full
check (docs/verification.md reports both).
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from prometheus_client import Counter

from tessera_credential.proofs.signing import proofs_of
from tessera_credential.verification.report import DocumentChecks

MemoKey = tuple[bytes, int, tuple[tuple[str, bytes | None], ...]]

MEMO_LOOKUPS = Counter(
    "tessera_verification_memo_total",
    "POST /verify proof checks by memo outcome (hit, miss, bypass: not memoisable, e.g. a proof with expires)",
    ["outcome"],
)


def memo_key(
    raw: bytes, document: Mapping[str, Any], keys: Mapping[str, bytes | None], max_proofs: int
) -> MemoKey | None:
    """The memo key of a check of `raw` (parsed: `document`) with `keys`; None when not memoisable."""
    if any(isinstance(p, Mapping) and "expires" in p for p in proofs_of(document)):
        return None  # the check depends on the time
    return (hashlib.sha256(raw).digest(), max_proofs, tuple(sorted(keys.items())))


class ProofCheckMemo:
    """Least recently used first out, at most `max_entries` (event-loop thread only: no locking)."""

    def __init__(self, max_entries: int) -> None:
        if max_entries < 1:
            raise ValueError("a memo holds at least one entry")
        self.max_entries = max_entries
        self._entries: OrderedDict[MemoKey, DocumentChecks] = OrderedDict()
        self.hits = self.misses = self.bypassed = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: MemoKey | None) -> DocumentChecks | None:
        if key is None:
            self.bypassed += 1
            MEMO_LOOKUPS.labels("bypass").inc()
            return None
        checks = self._entries.get(key)
        if checks is None:
            self.misses += 1
            MEMO_LOOKUPS.labels("miss").inc()
            return None
        self._entries.move_to_end(key)
        self.hits += 1
        MEMO_LOOKUPS.labels("hit").inc()
        return checks

    def put(self, key: MemoKey, checks: DocumentChecks) -> None:
        self._entries[key] = checks
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def stats(self) -> dict[str, int]:
        return {"entries": len(self), "hits": self.hits, "misses": self.misses, "bypassed": self.bypassed}
