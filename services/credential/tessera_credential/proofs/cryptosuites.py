"""The two EdDSA Data Integrity cryptosuites: transformation, proof configuration, hashing.

Both compute hashData = SHA-256(canonical proof configuration) || SHA-256(canonical document)
(proof hash first, as in the W3C test vectors) and differ only in the canonicalization:
eddsa-rdfc-2022 uses RDFC-1.0 N-Quads, eddsa-jcs-2022 uses JCS (RFC 8785) JSON.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .canonical import canonicalize, jcs
from .contexts import DEFAULT_LOADER, ContextLoader
from .errors import InvalidProofError

EDDSA_RDFC_2022 = "eddsa-rdfc-2022"
EDDSA_JCS_2022 = "eddsa-jcs-2022"
CRYPTOSUITES = frozenset({EDDSA_RDFC_2022, EDDSA_JCS_2022})
PROOF_TYPE = "DataIntegrityProof"
# xsd:dateTimeStamp as Data Integrity requires for `created` / `expires` (timezone mandatory).
_DATETIME = re.compile(r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class HashData:
    """Every intermediate value of the hashing step (tests compare each with the vectors)."""

    canonical_document: bytes
    canonical_proof_config: bytes

    @property
    def document_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_document).digest()

    @property
    def proof_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_proof_config).digest()

    @property
    def combined(self) -> bytes:
        """The 64 bytes that are signed: proof hash || document hash."""
        return self.proof_hash + self.document_hash


def proof_configuration(options: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Proof options without `proofValue`, checked, with the document's `@context`."""
    if options.get("type") != PROOF_TYPE:
        raise InvalidProofError(f"proof type must be {PROOF_TYPE!r}")
    if options.get("cryptosuite") not in CRYPTOSUITES:
        raise InvalidProofError(f"unsupported cryptosuite {options.get('cryptosuite')!r}")
    for name in ("created", "expires"):
        value = options.get(name)
        if value is not None and not (isinstance(value, str) and _DATETIME.match(value)):
            raise InvalidProofError(f"proof {name} must be an xsd:dateTimeStamp, got {value!r}")
    config = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    if context is not None:
        config["@context"] = context
    return config


def hash_data(
    unsecured_document: Mapping[str, Any],
    proof_options: Mapping[str, Any],
    *,
    loader: ContextLoader = DEFAULT_LOADER,
    require_signable: bool = True,
    canonical_document: bytes | None = None,
) -> HashData:
    """Canonicalize document and proof configuration with the proof's cryptosuite.

    For eddsa-jcs-2022 a proof that carries its own `@context` is hashed with that context
    (and the document takes it too, as the spec's verification algorithm requires); otherwise
    the document's `@context` is used, as for eddsa-rdfc-2022. `canonical_document` lets a caller
    reuse the RDFC-1.0 form of a document it already canonicalized (proof sets).
    """
    suite = proof_options.get("cryptosuite")
    if suite == EDDSA_JCS_2022:
        context = proof_options.get("@context", unsecured_document.get("@context"))
        config = proof_configuration(proof_options, context)
        document = {**unsecured_document, "@context": context} if context is not None else dict(unsecured_document)
        return HashData(jcs(document), jcs(config))
    config = proof_configuration(proof_options, unsecured_document.get("@context"))
    canonical_config = canonicalize(config, loader, require_signable=require_signable).encode("utf-8")
    if canonical_document is None:
        canonical_document = canonicalize(unsecured_document, loader, require_signable=require_signable).encode()
    return HashData(canonical_document, canonical_config)
