"""Pure cryptographic / JSON-LD library of the credential service (no I/O, no network).

- `untrusted`: size- and depth-capped JSON parsing for untrusted bytes.
- `contexts`: offline, hash-pinned JSON-LD context loader (unknown URLs raise).
- `canonical`: RDFC-1.0 (pyoxigraph fast path, pyld reference) and JCS.
- `context_pruning`: the inlined contexts cut to what a document can reach (pyoxigraph parses ~2.5x faster).
- `guard`: refuse documents with undefined terms / data a signature would not cover.
- `multikey`: Ed25519 Multikey encodings, did:key resolution.
- `signing` / `verification`: Data Integrity eddsa-rdfc-2022 and eddsa-jcs-2022, proof sets/chains.
- `status_list`: W3C Bitstring Status List.
"""

from .canon_oxigraph import canonicalize_oxigraph
from .canon_pyld import canonicalize_pyld
from .canonical import canonicalize, jcs
from .contexts import DEFAULT_LOADER, PRODUCTION_CONTEXTS, ContextLoader
from .cryptosuites import EDDSA_JCS_2022, EDDSA_RDFC_2022, HashData, hash_data
from .errors import (
    CanonicalizationError,
    CanonicalizationTooComplexError,
    InputTooDeepError,
    InputTooLargeError,
    InvalidKeyError,
    InvalidProofError,
    MalformedInputError,
    ProofError,
    StatusListError,
    UndefinedTermError,
    UnknownContextError,
    UnsignableDataError,
    UntrustedInputError,
)
from .guard import SignabilityReport, check_signable, ensure_signable
from .multikey import (
    Ed25519Multikey,
    decode_public_multibase,
    encode_public_multibase,
    resolve_did_key,
    verify_signature,
)
from .signing import add_proof, create_proof
from .status_list import BitstringStatusList, StatusListLimits
from .untrusted import JsonLimits, parse_untrusted_json
from .verification import KeyResolver, ProofCheck, VerificationResult, verify_document

__all__ = [
    "DEFAULT_LOADER",
    "EDDSA_JCS_2022",
    "EDDSA_RDFC_2022",
    "PRODUCTION_CONTEXTS",
    "BitstringStatusList",
    "CanonicalizationError",
    "CanonicalizationTooComplexError",
    "ContextLoader",
    "Ed25519Multikey",
    "HashData",
    "InputTooDeepError",
    "InputTooLargeError",
    "InvalidKeyError",
    "InvalidProofError",
    "JsonLimits",
    "KeyResolver",
    "MalformedInputError",
    "ProofCheck",
    "ProofError",
    "SignabilityReport",
    "StatusListError",
    "StatusListLimits",
    "UndefinedTermError",
    "UnknownContextError",
    "UnsignableDataError",
    "UntrustedInputError",
    "VerificationResult",
    "add_proof",
    "canonicalize",
    "canonicalize_oxigraph",
    "canonicalize_pyld",
    "check_signable",
    "create_proof",
    "decode_public_multibase",
    "encode_public_multibase",
    "ensure_signable",
    "hash_data",
    "jcs",
    "parse_untrusted_json",
    "resolve_did_key",
    "verify_document",
    "verify_signature",
]
