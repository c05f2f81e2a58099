"""RDFC-1.0 canonicalization with pyld (the reference path).

pyld 3.3 implements URDNA2015 (= RDFC-1.0's algorithm) but serializes literals with the pre-RDF 1.2
escaping: it writes U+0000-U+001F (except TAB, LF, CR) and U+007F raw, while RDFC-1.0, pyoxigraph
and rdf-canonize (JS) write \\b, \\f and \\uXXXX. Because those serializations are also hashed to
label blank nodes, post-processing the text is not enough: the hashing itself must see the right
form. We therefore run pyld's own URDNA2015 methods against an RDFC-1.0 N-Quad serializer, by
rebinding (not monkeypatching) the methods that reference `serialize_nquad`, so no other user of
pyld in the process is affected.
"""

from __future__ import annotations

import json
import re
import threading
import types
from collections.abc import Callable, Iterator
from typing import Any

import pyld.canon as pyld_canon
from pyld import jsonld
from pyld.context_resolver import ContextResolver

from .complexity import DEFAULT_MAX_PERMUTATIONS, Quad, check_blank_node_complexity
from .contexts import DEFAULT_LOADER, ContextLoader
from .errors import CanonicalizationError, ProofError

_XSD_STRING = "http://www.w3.org/2001/XMLSchema#string"
_RDF_LANGSTRING = "http://www.w3.org/1999/02/22-rdf-syntax-ns#langString"
_ECHAR = {0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0C: "\\f", 0x0D: "\\r", 0x22: '\\"', 0x5C: "\\\\"}
_ESCAPES = {c: _ECHAR.get(c, f"\\u{c:04X}") for c in (*range(0x20), 0x22, 0x5C, 0x7F)}
_NEEDS_ESCAPE = re.compile("[\x00-\x1f\x7f\"\\\\]")


def _term(term: dict[str, Any]) -> str:
    value: str = term["value"]
    return value if term["type"] == "blank node" else "<" + value + ">"


def serialize_nquad(triple: dict[str, Any], graph_name: str | None = None) -> str:
    """One canonical N-Quad (RDF 1.2 canonical literal escaping), pyld's quad dict as input."""
    obj = triple["object"]
    if obj["type"] == "literal":
        value: str = obj["value"]
        if _NEEDS_ESCAPE.search(value):
            value = value.translate(_ESCAPES)
        out = '"' + value + '"'
        datatype: str = obj["datatype"]
        if datatype == _RDF_LANGSTRING:
            out += "@" + str(obj["language"]) if obj.get("language") else ""
        elif datatype != _XSD_STRING:
            out += "^^<" + datatype + ">"
    else:
        out = _term(obj)
    quad = _term(triple["subject"]) + " " + _term(triple["predicate"]) + " " + out
    graph: str | None = triple.get("name", {"value": graph_name})["value"]
    if graph is not None:
        quad += " " + (graph if graph.startswith("_:") else "<" + graph + ">")
    return quad + " .\n"


PYLD_LOCK = threading.Lock()
_RDFC_GLOBALS = {**vars(pyld_canon), "serialize_nquad": serialize_nquad}


class _Rdfc10(pyld_canon.URDNA2015):  # type: ignore[misc]
    """pyld's URDNA2015 whose N-Quad serialization (for hashing and output) is RDFC-1.0's."""


for _name, _fn in vars(pyld_canon.URDNA2015).items():
    if isinstance(_fn, types.FunctionType) and "serialize_nquad" in _fn.__code__.co_names:
        setattr(_Rdfc10, _name, types.FunctionType(
            _fn.__code__, _RDFC_GLOBALS, _fn.__name__, _fn.__defaults__, _fn.__closure__))
if not any(isinstance(v, types.FunctionType) for v in vars(_Rdfc10).values()):
    raise ImportError("pyld.canon no longer calls serialize_nquad; revisit canon_pyld")


def pyld_options(loader: ContextLoader, base: str | None) -> dict[str, Any]:
    """pyld options that serve contexts only from `loader`, with that loader's own cache."""
    pyld_loader = loader.pyld_loader()
    return {
        "base": base,
        "documentLoader": pyld_loader,
        "contextResolver": ContextResolver(loader.pyld_context_cache, pyld_loader),
        "produceGeneralizedRdf": False,
    }


def run_pyld(operation: Callable[[Any, dict[str, Any]], Any], document: Any, options: dict[str, Any]) -> Any:
    """Run a pyld operation under the process-wide pyld lock, surfacing our own errors.

    pyld is not thread-safe: resolved contexts (shared through the cache) carry LRU caches that
    it mutates while reading ("OrderedDict mutated during iteration", KeyErrors under load).
    pyld is the reference/fallback path, so serializing it costs little.
    """
    with PYLD_LOCK:
        try:
            return operation(document, options)
        except jsonld.JsonLdError as exc:
            raise unwrap_pyld_error(exc) from exc


def to_rdf_dataset(document: Any, loader: ContextLoader = DEFAULT_LOADER) -> dict[str, list[Any]]:
    """pyld's JSON-LD -> RDF dataset (graph name -> triples), contexts served from `loader`."""
    # base None: relative IRIs are dropped, exactly as pyoxigraph does without a base IRI
    dataset: dict[str, list[Any]] = run_pyld(jsonld.to_rdf, document, pyld_options(loader, None))
    return dataset


def canonicalize_pyld(
    document: Any,
    loader: ContextLoader = DEFAULT_LOADER,
    *,
    max_permutations: int = DEFAULT_MAX_PERMUTATIONS,
) -> str:
    """RDFC-1.0 canonical N-Quads of a JSON-LD document, via pyld."""
    dataset = to_rdf_dataset(document, loader)
    check_blank_node_complexity(_quad_strings(dataset), max_permutations)
    return _Rdfc10().main(dataset, {"format": "application/n-quads"})  # type: ignore[no-any-return]


def _quad_strings(dataset: dict[str, list[Any]]) -> Iterator[Quad]:
    for graph_name, triples in dataset.items():
        graph = "" if graph_name == "@default" else graph_name if graph_name.startswith("_:") else f"<{graph_name}>"
        for t in triples:
            o = t["object"]
            obj = _term(o) if o["type"] != "literal" else json.dumps([o["value"], o["datatype"], o.get("language")])
            yield (_term(t["subject"]), _term(t["predicate"]), obj, graph)


def unwrap_pyld_error(exc: BaseException) -> ProofError:
    """Surface our own errors (e.g. UnknownContextError) that pyld wrapped in JsonLdError."""
    seen: BaseException | None = exc
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        if isinstance(seen, ProofError):
            return seen
        visited.add(id(seen))
        seen = getattr(seen, "cause", None) or seen.__cause__ or seen.__context__
    return CanonicalizationError(f"invalid JSON-LD: {exc}")
