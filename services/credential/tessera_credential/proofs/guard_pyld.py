"""Reference engine of the undefined-term guard: pyld expansion with the sentinel contexts.

This is the check as the standards notes describe it (expand, then look for the sentinel
prefix); `guard.py` runs the same idea through pyoxigraph for speed and tests prove they agree.
One deliberate difference: an undefined term whose value is `[]` survives expansion (so it is
reported here) but yields no triple, so the RDF-based engine cannot see it; it carries no data.
"""

from __future__ import annotations

from typing import Any

from pyld import jsonld

from .canon_pyld import pyld_options, run_pyld
from .contexts import ContextLoader
from .guard import RELATIVE_BASE, Findings, SignabilityReport, add_sentinel_vocab
from .jsonld_document import rewrite_contexts

_CONTAINERS = ("@graph", "@included", "@set", "@list")


def inspect_pyld(document: Any, loader: ContextLoader, scan_problems: list[str]) -> SignabilityReport:
    """Expand `document` with sentinel `@vocab` and base IRI and collect everything suspicious."""
    instrumented = rewrite_contexts(document, add_sentinel_vocab)
    expanded = run_pyld(jsonld.expand, instrumented, pyld_options(loader, RELATIVE_BASE))
    found = Findings()
    found.problems.update(dict.fromkeys(scan_problems))
    _walk(expanded, found)
    return found.report()


def _walk(node: Any, found: Findings) -> None:
    if isinstance(node, list):
        for item in node:
            _walk(item, found)
        return
    if not isinstance(node, dict):
        return
    if "@value" in node:  # value object: only its datatype and language are IRIs/tags
        datatype = node.get("@type")
        if isinstance(datatype, str) and datatype != "@json":
            found.iri(datatype, "datatype")
        if isinstance(node.get("@language"), str):
            found.language(node["@language"])
        return
    for key, value in node.items():
        if key == "@id":
            found.iri(value, "node")
        elif key == "@type":
            for type_iri in value:
                found.iri(type_iri, "type")
        elif key in _CONTAINERS:
            _walk(value, found)
        elif key == "@reverse":
            for prop, values in value.items():
                found.iri(prop, "property")
                _walk(values, found)
        elif not key.startswith("@"):
            found.iri(key, "property")
            _walk(value, found)
