"""RDFC-1.0 canonicalization with pyoxigraph (the fast path).

pyoxigraph's Python API has no JSON-LD document loader, so the vendored contexts are inlined into
the document before parsing. Its N-Quads writer already uses the RDF 1.2 canonical escaping that
RDFC-1.0 and rdf-canonize (JS) use; only the line order has to be made canonical (sorted by code
point, which is how Python compares `str`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import orjson
import pyoxigraph as ox

from .complexity import DEFAULT_MAX_PERMUTATIONS, Quad, check_blank_node_complexity
from .contexts import DEFAULT_LOADER, ContextLoader
from .errors import CanonicalizationError
from .jsonld_document import inline_contexts


def parse_jsonld(
    document: Any,
    loader: ContextLoader = DEFAULT_LOADER,
    *,
    context_rewrite: Callable[[list[Any]], list[Any]] | None = None,
    base_iri: str | None = None,
    lenient: bool = False,
) -> list[ox.Quad]:
    """JSON-LD -> RDF quads with contexts served from `loader` (unknown URLs raise)."""
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
    dataset = ox.Dataset(quads)
    # Only quads holding a blank node matter to the cap: don't stringify the others (~half of them).
    check_blank_node_complexity(quad_strings(q for q in dataset if _has_blank_node(q)), max_permutations)
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


def _has_blank_node(quad: ox.Quad) -> bool:
    """A blank node where the complexity cap looks (subject, object, graph; predicates are IRIs)."""
    return (
        isinstance(quad.subject, ox.BlankNode)
        or isinstance(quad.object, ox.BlankNode)
        or isinstance(quad.graph_name, ox.BlankNode)
    )


def quad_strings(quads: Iterable[ox.Quad]) -> Iterator[Quad]:
    """Quads as N-Triples-ish strings for the complexity guard (blank nodes keep the `_:` prefix)."""
    for q in quads:
        graph = "" if isinstance(q.graph_name, ox.DefaultGraph) else str(q.graph_name)
        yield (str(q.subject), str(q.predicate), str(q.object), graph)
