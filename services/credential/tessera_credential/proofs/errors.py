"""Typed errors of the proofs library.

Why a hierarchy: the HTTP layer maps `UntrustedInputError` to 4xx (using `http_status`), while a
`ProofError` that is not untrusted-input related means the document cannot be processed as asked
(unknown context, undefined term, bad key) and deserves a precise message for the caller.
"""

from __future__ import annotations


class ProofError(Exception):
    """Base class of every error raised by `tessera_credential.proofs`."""


class UntrustedInputError(ProofError, ValueError):
    """Input refused before (or instead of) expensive processing; callers answer with 4xx."""

    http_status: int = 400


class InputTooLargeError(UntrustedInputError):
    """Input bytes (or decompressed bytes) exceed the configured cap."""

    http_status = 413


class InputTooDeepError(UntrustedInputError):
    """JSON nesting exceeds the configured depth (checked before parsing)."""

    http_status = 422


class MalformedInputError(UntrustedInputError):
    """Not UTF-8 JSON, duplicate keys, non-finite numbers, lone surrogates, bad base64..."""


class CanonicalizationTooComplexError(UntrustedInputError):
    """Blank-node structure whose RDFC-1.0 canonicalization would take exponential time."""

    http_status = 422


class UnknownContextError(ProofError, LookupError):
    """A JSON-LD context URL that is not vendored; we never fetch contexts over the network."""

    def __init__(self, url: str) -> None:
        super().__init__(f"JSON-LD context {url!r} is not in the offline allow-list (never fetched)")
        self.url = url


class CanonicalizationError(ProofError):
    """The document is not valid JSON-LD / JSON for the chosen canonicalization."""


class UnsignableDataError(ProofError):
    """The document holds data that RDFC-1.0 would silently drop, so a signature would not cover it."""

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("document contains data a signature would not cover: " + "; ".join(problems))
        self.problems = problems


class UndefinedTermError(UnsignableDataError):
    """Terms (properties or types) that none of the document's contexts define."""

    def __init__(self, terms: tuple[str, ...], problems: tuple[str, ...]) -> None:
        super().__init__(problems)
        self.terms = terms


class InvalidKeyError(ProofError, ValueError):
    """Malformed multibase/multicodec key material or an unsupported did:key."""


class InvalidProofError(ProofError, ValueError):
    """Proof options or a proof object that cannot be used to create a proof."""


class StatusListError(ProofError, ValueError):
    """Malformed, truncated or too-short Bitstring Status List, or an index out of range."""
