"""Settings of keys, status lists, issuance and verification (environment variables).

Read by :func:`tessera_credential.issuance.wiring.wire_issuance` beside the service's own
``CredentialSettings`` (which part 1 owns); documented in docs/credential-keys-and-status.md.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from tessera_credential.keys.sealing import KeyEncryptionKey, kek_from_environment

_LOOPBACK = {"localhost", "127.0.0.1", "::1"}
# Publicly known on purpose: used only when PUBLIC_BASE_URL is a loopback address (a developer's
# machine, whose did:web identifiers nobody else can resolve), so `make run` works out of the box.
DEVELOPMENT_KEK = KeyEncryptionKey(b"tessera development only - never".ljust(32, b"!")[:32])


class IssuanceSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", case_sensitive=False)

    credential_key_encryption_key: SecretStr | None = Field(
        default=None, description="32 random bytes, base64: seals the institutions' private keys (required)"
    )
    issuance_batch_size: int = Field(default=16, ge=1, le=500, description="awards signed per transaction")
    issuance_processes: int | None = Field(
        default=None, ge=0, le=64, description="signing processes (unset: one per CPU; 0: a thread of the service)"
    )
    issuance_concurrency: int = Field(
        default=2, ge=1, le=16, description="issuance batches in flight at once, each in its own transaction"
    )
    issuance_poll_seconds: float = Field(default=1.0, gt=0, description="queue polling besides LISTEN/NOTIFY")
    issuance_retry_max_seconds: float = Field(default=60.0, gt=0, description="longest wait before a retry")
    status_list_max_age_seconds: int = Field(default=10, ge=0, description="Cache-Control max-age of status lists")
    verify_max_bytes: int = Field(default=1_048_576, ge=1024, description="largest credential POST /verify reads")
    verify_max_depth: int = Field(default=32, ge=4, description="deepest JSON nesting POST /verify parses")
    verify_concurrency: int = Field(default=2, ge=1, description="verifications running at once (CPU bound)")

    def signing_processes(self) -> int:
        """``ISSUANCE_PROCESSES``, or one per CPU when unset."""
        return self.issuance_processes if self.issuance_processes is not None else (os.cpu_count() or 1)

    def key_encryption_key(self, public_base_url: str) -> KeyEncryptionKey:
        """The KEK; without one, a startup error — except on a loopback PUBLIC_BASE_URL (development)."""
        value = self.credential_key_encryption_key.get_secret_value() if self.credential_key_encryption_key else None
        if not value and is_loopback(public_base_url):
            return DEVELOPMENT_KEK
        return kek_from_environment(value)


def is_loopback(public_base_url: str) -> bool:
    return (urlsplit(public_base_url).hostname or "").lower() in _LOOPBACK
