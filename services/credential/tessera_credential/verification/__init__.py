"""Verification of submitted credentials: a structured, JSON-serialisable report (see `report`)."""

from tessera_credential.verification.report import (
    IssuerPolicy,
    NotACredentialError,
    VerificationReport,
    verify_credential,
)

__all__ = ["IssuerPolicy", "NotACredentialError", "VerificationReport", "verify_credential"]
