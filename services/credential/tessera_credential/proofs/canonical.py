"""Production canonicalization: RDFC-1.0 (fastest correct path) and JCS (RFC 8785).

Path choice: pyoxigraph is ~2x faster than pyld, and proven byte-identical on the test vectors
and on generated OB 3.0 credentials. It is used unless the JSON scan finds a feature where the
two are known to differ (embedded contexts, `@json` literals, `@direction`, doubles that do
not survive JSON-LD's 16-digit form); those documents go through the pyld reference path, which
is what other verifiers (jsonld.js, pyld) compute.
"""

from __future__ import annotations

from typing import Any

import rfc8785

from .canon_oxigraph import canonical_nquads, canonicalize_oxigraph
from .canon_pyld import canonicalize_pyld
from .complexity import DEFAULT_MAX_PERMUTATIONS
from .contexts import DEFAULT_LOADER, ContextLoader
from .errors import CanonicalizationError
from .guard import inspect_oxigraph
from .jsonld_document import scan_document


def canonicalize(
    document: Any,
    loader: ContextLoader = DEFAULT_LOADER,
    *,
    require_signable: bool = False,
    allow_embedded_contexts: bool = False,
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document (UTF-8 text, one quad per line).

    With `require_signable=True` the undefined-term guard runs first and raises
    `UndefinedTermError` / `UnsignableDataError`; its (clean) parse is then reused as the input
    of canonicalization, so signing costs one JSON-LD parse, not two.
    """
    scan = scan_document(document, loader.json_literal_terms())
    if scan.non_finite_numbers:
        raise CanonicalizationError(f"non-finite numbers are not JSON: {scan.non_finite_numbers}")
    if require_signable:
        report, quads = inspect_oxigraph(document, loader, scan, allow_embedded_contexts)
        report.raise_if_unsignable()
        if scan.fast_path_ok:
            # The sentinel @vocab/base only change undefined terms and relative IRIs, and the
            # lenient parse only keeps invalid IRIs/tags: the clean report proves there were none,
            # so these quads equal those of a plain strict parse (asserted in the test suite).
            return canonical_nquads(quads, max_permutations)
    if scan.fast_path_ok:
        return canonicalize_oxigraph(document, loader, max_permutations=max_permutations)
    return canonicalize_pyld(document, loader, max_permutations=max_permutations)


def jcs(value: Any) -> bytes:
    """JSON Canonicalization Scheme (RFC 8785) bytes; refuses values outside I-JSON."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(f"cannot canonicalize as JCS: {exc}") from exc
