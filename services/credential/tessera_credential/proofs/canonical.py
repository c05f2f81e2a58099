"""Production canonicalization: RDFC-1.0 (fastest correct path) and JCS (RFC 8785).

Path choice: pyoxigraph is ~2x faster than pyld, and proven byte-identical on the test vectors
and on generated OB 3.0 credentials. It is used unless the JSON scan finds a feature where the
two are known to differ (embedded contexts, `@json` literals, `@direction`, doubles that do
not survive JSON-LD's 16-digit form); those documents go through the pyld reference path, which
is what other verifiers (jsonld.js, pyld) compute.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pyoxigraph as ox
import rfc8785

from .canon_oxigraph import canonical_nquads, canonicalize_oxigraph
from .canon_pyld import canonicalize_pyld
from .complexity import DEFAULT_MAX_PERMUTATIONS
from .contexts import DEFAULT_LOADER, ContextLoader
from .errors import CanonicalizationError, ProofError
from .guard import SignabilityReport, inspect_oxigraph
from .jsonld_document import scan_document
from .node_memo import SplitQuads, memo_node

SEC_PROOF = ox.NamedNode("https://w3id.org/security#proof")


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


def check_signable_and_canonicalize_unsecured(
    document: Mapping[str, Any],
    loader: ContextLoader = DEFAULT_LOADER,
    *,
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
) -> tuple[SignabilityReport, str | None]:
    """`check_signable(document)` (the whole, secured document) and, from the same JSON-LD parse, the
    RDFC-1.0 form of the document without its `proof` member (what eddsa-rdfc-2022 proofs sign).

    Why: verification needs both, and each is a full pyoxigraph parse (~10 ms for a joint credential,
    nearly all context processing). The report is computed exactly as `check_signable` computes it.
    The canonical form is None whenever it is not certainly `canonicalize(without proof)`: the guard
    found problems (its lenient parse then differs from a strict one), the pyld path would be taken,
    or the root proofs do not separate cleanly (see `_without_root_proofs`); callers then canonicalize.
    """
    scan = scan_document(document, loader.json_literal_terms())
    report, quads = inspect_oxigraph(document, loader, scan, allow_embedded_contexts=False)
    if not report.ok or not scan.fast_path_ok or scan.non_finite_numbers:
        return report, None
    proofs = document.get("proof")
    proofs = proofs if isinstance(proofs, list) else [proofs]
    if not proofs or not all(isinstance(p, dict) and not any(k.startswith("@") for k in p) for p in proofs):
        return report, None
    # A clean report: these quads equal a strict plain parse (see `canonicalize`). Removing `proof`
    # from the JSON only removes what it contributed, and the document's data stays as it was: the
    # sub-document's scan is a subset of this clean one, so `canonicalize` would take this fast path.
    kept = _without_root_proofs(quads, len(proofs))
    if kept is None:
        return report, None
    try:
        return report, canonical_nquads(kept, max_permutations)
    except ProofError:  # e.g. the complexity cap: raised where it always was, by the proofs' own canonicalization
        return report, None


def _without_root_proofs(quads: list[ox.Quad], count: int) -> list[ox.Quad] | None:
    """The quads minus the root `proof` member's contribution, or None unless it is unambiguous.

    `proof` (credentials v2, protected) is `sec:proof` with `@container: @graph`: each proof object
    becomes a fresh blank-node named graph, linked from the root node by one default-graph triple.
    Accepted only when exactly one subject has `sec:proof` links in the default graph, exactly
    `count` of them to `count` distinct blank nodes (a nested, e.g. endorsement, proof would be a
    second subject), and no blank node of the removed graphs (nested graphs included) occurs in what
    is kept: then the kept quads are exactly those of the document without `proof`.
    """
    links = [q for q in quads if q.predicate == SEC_PROOF and isinstance(q.graph_name, ox.DefaultGraph)]
    graphs = {q.object for q in links}
    if len(links) != count or len(graphs) != count or len({q.subject for q in links}) != 1:
        return None
    if not all(isinstance(g, ox.BlankNode) for g in graphs):
        return None
    removed: set[Any] = set(graphs)
    while True:  # graphs nested inside a proof (a graph container in it) go with it
        nested = {q.object for q in quads if q.graph_name in removed and isinstance(q.object, ox.BlankNode)}
        nested &= {q.graph_name for q in quads}
        if nested <= removed:
            break
        removed |= nested
    link_set = set(links)  # exactly the links: any other reference to a removed graph is caught below
    own, node = memo_node(quads)
    if node is not None and node.derived("links or graphs", _links_or_graphs):
        own, node = quads, None
    # A memoised achievement in the default graph without proof links keeps all its quads, and shares
    # no blank node with the rest: only the document's own quads need the checks, and stay split.
    kept = [q for q in own if q.graph_name not in removed and q not in link_set]
    inside = {t for q in quads if q.graph_name in removed for t in (q.subject, q.object) if isinstance(t, ox.BlankNode)}
    if (inside | removed) & {t for q in kept for t in (q.subject, q.object, q.graph_name)}:
        return None
    return SplitQuads(kept, node) if node is not None else kept


def _links_or_graphs(quads: list[ox.Quad]) -> bool:
    return any(q.predicate == SEC_PROOF or not isinstance(q.graph_name, ox.DefaultGraph) for q in quads)


def jcs(value: Any) -> bytes:
    """JSON Canonicalization Scheme (RFC 8785) bytes; refuses values outside I-JSON."""
    try:
        return rfc8785.dumps(value)
    except rfc8785.CanonicalizationError as exc:
        raise CanonicalizationError(f"cannot canonicalize as JCS: {exc}") from exc
