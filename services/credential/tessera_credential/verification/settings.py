"""Settings of ``POST /verify``'s worker processes and memo (environment variables).

Beside ``IssuanceSettings`` (``VERIFY_MAX_BYTES``, ``VERIFY_MAX_DEPTH``, ``VERIFY_CONCURRENCY``);
documented in docs/verification.md.
"""

from __future__ import annotations

import os

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class VerificationSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    verify_processes: int = Field(
        default=-1,
        ge=-1,
        le=256,
        description="worker processes for the signature checks: -1 = one per CPU, 0 = a thread (VERIFY_CONCURRENCY)",
    )
    verify_memo_entries: int = Field(
        default=4096,
        ge=0,
        le=1_000_000,
        description="proof checks remembered by (document bytes, key bytes); 0 turns the memo off",
    )

    def processes(self) -> int:
        """The number of worker processes (0: verify in a thread of the service's process)."""
        if self.verify_processes >= 0:
            return self.verify_processes
        try:
            return max(1, len(os.sched_getaffinity(0)))
        except AttributeError:  # not on Linux
            return max(1, os.cpu_count() or 1)
