"""Sign a credential by every awarding body: the issuer's proof first, then one proof per co-awarder.

A W3C Data Integrity *proof set*: each eddsa-rdfc-2022 `DataIntegrityProof` (`assertionMethod`) signs
the document without any proof, so the proofs are independent (a verifier checks each on its own,
and removing one leaves the others valid but the credential incomplete — the verification report
says which awarding body is missing). The issuer's proof comes first and its verification method
must belong to the issuer's DID.

Refused before anything is signed: terms the contexts do not define (they would be silently left
out of every signature), an already signed document, a co-signer that the credential does not name
as an awarding body, an awarding body without a co-signer, and the same DID signing twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tessera_credential.documents.alignments import awarding_bodies_of
from tessera_credential.documents.errors import SigningInputError
from tessera_credential.proofs import DEFAULT_LOADER, ContextLoader, Ed25519Multikey, canonicalize, create_proof
from tessera_credential.proofs.cryptosuites import EDDSA_RDFC_2022

Signer = tuple[Ed25519Multikey, str]
"""(signing key, verification method id such as `did:web:...:institutions:uva.nl#key-2`)."""


def controller_of(verification_method: str) -> str:
    """The DID part of a DID URL (`did:web:x#key-1` -> `did:web:x`)."""
    return verification_method.split("#", 1)[0]


def issuer_id(document: Mapping[str, Any]) -> str | None:
    issuer = document.get("issuer")
    value = issuer.get("id") if isinstance(issuer, Mapping) else issuer
    return value if isinstance(value, str) else None


def sign_credential(
    document: Mapping[str, Any],
    issuer_key: Ed25519Multikey,
    issuer_vm: str,
    co_signers: Sequence[Signer] = (),
    created: datetime | str | None = None,
    *,
    loader: ContextLoader = DEFAULT_LOADER,
) -> dict[str, Any]:
    """A copy of `document` whose `proof` is the array [issuer proof, co-signer proofs...]."""
    if "proof" in document:
        raise SigningInputError("document is already signed; sign the unsigned document")
    issuer = issuer_id(document)
    if issuer is None or "#" not in issuer_vm or controller_of(issuer_vm) != issuer:
        raise SigningInputError(f"issuer verification method {issuer_vm!r} is not controlled by issuer {issuer!r}")
    signer_dids = [controller_of(issuer_vm), *(controller_of(vm) for _, vm in co_signers)]
    if any("#" not in vm for _, vm in co_signers) or len(set(signer_dids)) != len(signer_dids):
        raise SigningInputError(f"every signer needs its own DID URL verification method: {signer_dids}")
    bodies = [body["did"] for body in awarding_bodies_of(document)]
    if bodies:  # a credential naming its awarding bodies must be signed by exactly those
        if sorted(bodies) != sorted(signer_dids):
            raise SigningInputError(f"signers {signer_dids} are not the credential's awarding bodies {bodies}")
    elif co_signers:
        raise SigningInputError("co-signers given but the credential names no awarding bodies")
    unsigned = dict(document)
    # Refuses (UndefinedTermError naming every term) what would be left unsigned; the canonical form
    # is shared by every proof of the set, since each signs the same document without proofs.
    canonical = canonicalize(unsigned, loader, require_signable=True).encode("utf-8")
    created = created if created is not None else datetime.now(UTC)  # one timestamp for the whole set
    proofs = [
        create_proof(
            unsigned,
            key,
            cryptosuite=EDDSA_RDFC_2022,
            verification_method=vm,
            created=created,
            loader=loader,
            canonical_document=canonical,
        )
        for key, vm in [(issuer_key, issuer_vm), *co_signers]
    ]
    return {**unsigned, "proof": proofs}
