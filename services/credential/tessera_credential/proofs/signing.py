"""Create Data Integrity proofs, proof sets and proof chains (W3C VC Data Integrity 1.0, §4.1-4.2).

A proof signs the document *without* any existing proofs (so proofs in a set are independent);
a chained proof (`previous_proof`) additionally signs the proofs it names, placed in `proof`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import base58

from .contexts import DEFAULT_LOADER, ContextLoader
from .cryptosuites import EDDSA_JCS_2022, EDDSA_RDFC_2022, PROOF_TYPE, hash_data
from .errors import InvalidProofError
from .multikey import Ed25519Multikey


def proofs_of(document: Mapping[str, Any]) -> list[Any]:
    """The document's proofs as a list (`proof` may be absent, one object or an array)."""
    proof = document.get("proof")
    if proof is None:
        return []
    return list(proof) if isinstance(proof, list) else [proof]


def without_proof(document: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in document.items() if k != "proof"}


def chained_input(document: Mapping[str, Any], previous_proof: str | Sequence[str]) -> dict[str, Any]:
    """The document a chained proof signs: no proofs except those named by `previousProof`."""
    ids = [previous_proof] if isinstance(previous_proof, str) else list(previous_proof)
    by_id = {p.get("id"): p for p in proofs_of(document) if isinstance(p, Mapping) and p.get("id")}
    missing = [i for i in ids if i not in by_id]
    if missing:
        raise InvalidProofError(f"previousProof {missing} not found among the document's proofs")
    return {**without_proof(document), "proof": [by_id[i] for i in ids]}


def format_datetime(moment: datetime) -> str:
    """xsd:dateTimeStamp in UTC with second precision, e.g. 2024-05-01T12:00:00Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def create_proof(
    document: Mapping[str, Any],
    key: Ed25519Multikey,
    *,
    cryptosuite: str = EDDSA_RDFC_2022,
    verification_method: str | None = None,
    created: datetime | str | None = None,
    proof_purpose: str = "assertionMethod",
    proof_id: str | None = None,
    previous_proof: str | Sequence[str] | None = None,
    expires: datetime | str | None = None,
    loader: ContextLoader = DEFAULT_LOADER,
    require_signable: bool = True,
    canonical_document: bytes | None = None,
) -> dict[str, Any]:
    """A signed proof object for `document` (existing proofs are excluded from what is signed).

    `require_signable` (default on) refuses documents with undefined terms or other data RDFC-1.0
    would drop; it only matters for eddsa-rdfc-2022 (JCS signs the JSON bytes as they are).
    `canonical_document` is the RDFC-1.0 form of the document without proofs when the caller has it
    already: every proof of a proof set signs the same document, so it is canonicalized once.
    """
    options: dict[str, Any] = {"type": PROOF_TYPE}
    if proof_id is not None:
        options["id"] = proof_id
    options["cryptosuite"] = cryptosuite
    created = created if created is not None else datetime.now(UTC)
    options["created"] = created if isinstance(created, str) else format_datetime(created)
    if expires is not None:
        options["expires"] = expires if isinstance(expires, str) else format_datetime(expires)
    options["verificationMethod"] = verification_method or key.did_key_verification_method
    options["proofPurpose"] = proof_purpose
    if previous_proof is not None:
        options["previousProof"] = previous_proof
    signed_input = chained_input(document, previous_proof) if previous_proof else without_proof(document)
    if cryptosuite == EDDSA_JCS_2022 and "@context" in document:
        options["@context"] = document["@context"]  # eddsa-jcs-2022 proofs carry the context
    reuse = canonical_document if cryptosuite == EDDSA_RDFC_2022 and not previous_proof else None
    data = hash_data(signed_input, options, loader=loader, require_signable=require_signable, canonical_document=reuse)
    return {**options, "proofValue": "z" + base58.b58encode(key.sign(data.combined)).decode("ascii")}


def add_proof(document: Mapping[str, Any], key: Ed25519Multikey, **options: Any) -> dict[str, Any]:
    """A copy of `document` with one more proof (`proof` becomes an array once there are two)."""
    proof = create_proof(document, key, **options)
    existing = proofs_of(document)
    return {**document, "proof": [*existing, proof] if existing else proof}
