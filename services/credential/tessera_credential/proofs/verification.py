"""Verify every Data Integrity proof of a document (proof sets and chains), reporting per proof.

Why a report and not an exception: a credential can carry several proofs (issuer, endorser,
notary...); the caller needs to know which verification method failed and why, and an unknown
verification method is an expected outcome (reported), not a crash. Only the key resolver's own
exceptions propagate, so a did:web outage is not mistaken for a forged credential.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import base58

from .contexts import DEFAULT_LOADER, ContextLoader
from .cryptosuites import CRYPTOSUITES, EDDSA_JCS_2022, EDDSA_RDFC_2022, PROOF_TYPE, hash_data
from .errors import ProofError
from .multikey import verify_signature
from .signing import chained_input, proofs_of, without_proof

KeyResolver = Callable[[str], bytes | None]
"""Verification method id -> raw 32-byte Ed25519 public key, or None when unknown."""


@dataclass(frozen=True, slots=True)
class ProofCheck:
    index: int
    proof_id: str | None
    verification_method: str | None
    cryptosuite: str | None
    valid: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class VerificationResult:
    proofs: tuple[ProofCheck, ...]

    @property
    def verified(self) -> bool:
        """True only if there is at least one proof and every proof is valid."""
        return bool(self.proofs) and all(p.valid for p in self.proofs)


def verify_document(
    document: Mapping[str, Any],
    resolve_key: KeyResolver,
    *,
    loader: ContextLoader = DEFAULT_LOADER,
    expected_proof_purpose: str | None = "assertionMethod",
    require_signable: bool = True,
    now: datetime | None = None,
    unsecured_canonical: bytes | None = None,
) -> VerificationResult:
    """Check each proof in `document["proof"]` independently (chains sign their previous proofs).

    `require_signable` (default on) also fails proofs over documents holding data RDFC-1.0 drops
    (undefined terms...): such a signature is valid but does not cover everything shown.
    `unsecured_canonical`: the RDFC-1.0 form of the document without `proof`, when the caller already
    has it from a signability-checked parse (`canonical.check_signable_and_canonicalize_unsecured`);
    eddsa-rdfc-2022 proofs without `previousProof` then use it instead of canonicalizing again.
    """
    verifier = _Verifier(
        document, resolve_key, loader, expected_proof_purpose, require_signable, now or datetime.now(UTC)
    )
    if unsecured_canonical is not None:
        verifier.canonical_documents[_cache_key(EDDSA_RDFC_2022, None)] = unsecured_canonical
    checks = []
    for index, proof in enumerate(proofs_of(document)):
        if not isinstance(proof, Mapping):
            checks.append(ProofCheck(index, None, None, None, False, "proof is not an object"))
            continue
        try:
            reason = verifier.check(proof)
        except ProofError as exc:  # canonicalization refused the document or the proof options
            reason = f"{type(exc).__name__}: {exc}"
        checks.append(
            ProofCheck(
                index,
                _str_or_none(proof.get("id")),
                _str_or_none(proof.get("verificationMethod")),
                _str_or_none(proof.get("cryptosuite")),
                reason is None,
                reason,
            )
        )
    return VerificationResult(tuple(checks))


@dataclass
class _Verifier:
    document: Mapping[str, Any]
    resolve_key: KeyResolver
    loader: ContextLoader
    expected_purpose: str | None
    require_signable: bool
    now: datetime
    # Proofs of a set sign the same proof-less document: canonicalize it once, not per proof.
    canonical_documents: dict[str, bytes] = field(default_factory=dict)

    def check(self, proof: Mapping[str, Any]) -> str | None:
        """None if the proof is valid, else the reason."""
        if proof.get("type") != PROOF_TYPE:
            return f"unsupported proof type {proof.get('type')!r}"
        suite = proof.get("cryptosuite")
        if suite not in CRYPTOSUITES:
            return f"unsupported cryptosuite {suite!r}"
        if self.expected_purpose is not None and proof.get("proofPurpose") != self.expected_purpose:
            return f"proofPurpose {proof.get('proofPurpose')!r} is not {self.expected_purpose!r}"
        method = proof.get("verificationMethod")
        if not isinstance(method, str):
            return "verificationMethod must be a string"
        signature = _decode_proof_value(proof.get("proofValue"))
        if signature is None:
            return "proofValue is not a multibase base58btc 64-byte Ed25519 signature"
        expires = proof.get("expires")
        expires_at = _parse_datetime(expires) if isinstance(expires, str) else None
        if expires_at is not None and expires_at <= self.now:
            return "proof expired"
        previous = proof.get("previousProof")
        if previous is not None and not (
            isinstance(previous, str) or (isinstance(previous, list) and all(isinstance(p, str) for p in previous))
        ):  # untrusted JSON: a number or nested array here must not escape as a TypeError
            return "previousProof must be a string or an array of strings"
        try:
            unsecured = chained_input(self.document, previous) if previous else without_proof(self.document)
        except ProofError as exc:
            return str(exc)
        if suite == EDDSA_JCS_2022 and "@context" in proof and not _is_prefix(proof["@context"], unsecured):
            return "proof @context is not a prefix of the document's @context"
        public_key = self.resolve_key(method)
        if public_key is None:
            return f"unknown verification method {method!r}"
        cache_key = _cache_key(suite, previous)
        data = hash_data(
            unsecured,
            proof,
            loader=self.loader,
            require_signable=self.require_signable,
            canonical_document=self.canonical_documents.get(cache_key),
        )
        if suite != EDDSA_JCS_2022:  # JCS depends on the proof's @context and is cheap anyway
            self.canonical_documents[cache_key] = data.canonical_document
        if not verify_signature(public_key, signature, data.combined):
            return "signature does not match"
        return None


def _cache_key(suite: Any, previous: Any) -> str:
    """Which unsecured document a proof signs: its cryptosuite and the proofs it chains to."""
    return f"{suite}|{json.dumps(previous, sort_keys=True)}"


def _is_prefix(context: Any, document: Mapping[str, Any]) -> bool:
    """eddsa-jcs-2022: the proof's @context must start the document's @context, in order."""
    ctx_list = context if isinstance(context, list) else [context]
    doc_context = document.get("@context")
    doc_list = doc_context if isinstance(doc_context, list) else [doc_context]
    return doc_list[: len(ctx_list)] == ctx_list


def _decode_proof_value(value: Any) -> bytes | None:
    if not isinstance(value, str) or not value.startswith("z"):
        return None
    try:
        raw = base58.b58decode(value[1:])
    except ValueError:
        return None
    return raw if len(raw) == 64 else None


def _parse_datetime(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
