"""RDFC-1.0 canonicalization with pyoxigraph (the fast path).

pyoxigraph's Python API has no JSON-LD document loader, so the vendored contexts are inlined into
the document before parsing. Its N-Quads writer already uses the RDF 1.2 canonical escaping that
RDFC-1.0 and rdf-canonize (JS) use; only the line order has to be made canonical (sorted by code
point, which is how Python compares `str`).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

import orjson
import pyoxigraph as ox

from .complexity import DEFAULT_MAX_PERMUTATIONS, Signature, check_grouped_blank_nodes, first_degree_signatures
from .context_pruning import inline_pruned_contexts
from .contexts import DEFAULT_LOADER, ContextLoader
from .errors import CanonicalizationError
from .jsonld_document import inline_contexts
from .node_memo import NodeMemo, memo_node

NODE_MEMO = NodeMemo()

_BLANK = ox.BlankNode


def parse_jsonld(
    document: Any,
    loader: ContextLoader = DEFAULT_LOADER,
    *,
    context_rewrite: Callable[[list[Any]], list[Any]] | None = None,
    base_iri: str | None = None,
    lenient: bool = False,
    prune_contexts: bool = True,
) -> list[ox.Quad]:
    """JSON-LD -> RDF quads with contexts served from `loader` (unknown URLs raise).

    `prune_contexts`: inline only the term definitions the document can reach (same quads and
    errors, about twice as fast; see context_pruning.py); False inlines the full contexts.
    An Open Badge's achievement is parsed once per process, not once per credential (node_memo.py).
    """

    def parse(doc: Any) -> list[ox.Quad]:
        return _parse_whole(doc, loader, context_rewrite, base_iri, lenient, prune_contexts)

    options = (loader, context_rewrite, base_iri, lenient, prune_contexts)
    return NODE_MEMO.parse(document, options, parse, canonical_nquads)


def _parse_whole(
    document: Any,
    loader: ContextLoader,
    context_rewrite: Callable[[list[Any]], list[Any]] | None,
    base_iri: str | None,
    lenient: bool,
    prune_contexts: bool,
) -> list[ox.Quad]:
    inlined = inline_pruned_contexts(document, loader, context_rewrite) if prune_contexts else None
    if inlined is None:
        inlined = inline_contexts(document, loader, context_rewrite)
    try:
        payload = orjson.dumps(inlined)
    except TypeError:  # integers beyond 64 bits: fall back to the stdlib serializer
        payload = json.dumps(inlined, ensure_ascii=False, allow_nan=False).encode("utf-8")
    try:
        return list(ox.parse(payload, ox.RdfFormat.JSON_LD, base_iri=base_iri, lenient=lenient))
    except (SyntaxError, ValueError) as exc:
        raise CanonicalizationError(f"invalid JSON-LD: {exc}") from exc


def canonical_nquads(quads: Iterable[ox.Quad], max_permutations: int = DEFAULT_MAX_PERMUTATIONS) -> str:
    """Canonical N-Quads (RDFC-1.0, c14n blank node labels, code-point sorted lines)."""
    quads = quads if isinstance(quads, list) else list(quads)
    own, node = memo_node(quads)
    if node is None:
        check_grouped_blank_nodes(blank_node_quads(quads), max_permutations)
    else:  # a memoised achievement's blank nodes are grouped and signed once per process
        node_grouped, node_signatures = node.derived("blank nodes", _grouped_and_signed)
        check_grouped_blank_nodes({**blank_node_quads(own), **node_grouped}, max_permutations, node_signatures)
    dataset = ox.Dataset(quads)
    dataset.canonicalize(ox.CanonicalizationAlgorithm.RDFC_1_0)
    text = ox.serialize(dataset, format=ox.RdfFormat.N_QUADS)
    if text is None:  # only when an output file is given; keeps mypy and readers honest
        raise CanonicalizationError("pyoxigraph returned no serialization")
    # Split on LF only: str.splitlines() would also split inside literals at U+2028, U+0085...
    # which canonical N-Quads leave unescaped.
    lines = text.decode("utf-8").split("\n")
    if lines[-1] == "":
        lines.pop()
    lines.sort()
    return "".join(line + "\n" for line in lines)


def canonicalize_oxigraph(
    document: Any,
    loader: ContextLoader = DEFAULT_LOADER,
    *,
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document, via pyoxigraph."""
    return canonical_nquads(parse_jsonld(document, loader), max_permutations)


def _grouped_and_signed(quads: list[ox.Quad]) -> tuple[dict[str, list[tuple[Any, ...]]], dict[str, Signature]]:
    grouped = blank_node_quads(quads)
    return grouped, first_degree_signatures(grouped)


def blank_node_quads(quads: Iterable[ox.Quad]) -> dict[str, list[tuple[Any, ...]]]:
    """The quads holding a blank node (subject, object or graph; predicates are IRIs), grouped by it,
    as `complexity.check_grouped_blank_nodes` takes them: blank nodes as their `_:` labels, other
    terms as pyoxigraph terms (equal iff the RDF terms are). Duplicates are harmless there."""
    quads_of: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for quad in quads:
        subject, predicate, obj, graph = quad
        s_blank, o_blank, g_blank = type(subject) is _BLANK, type(obj) is _BLANK, type(graph) is _BLANK
        if not (s_blank or o_blank or g_blank):
            continue
        row = (
            "_:" + subject.value if s_blank else subject,
            predicate,
            "_:" + obj.value if o_blank else obj,
            "_:" + graph.value if g_blank else graph,
        )
        if s_blank:
            quads_of[row[0]].append(row)
        if o_blank:
            quads_of[row[2]].append(row)
        if g_blank:
            quads_of[row[3]].append(row)
    return quads_of
