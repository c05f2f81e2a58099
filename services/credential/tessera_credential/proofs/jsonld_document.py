"""JSON-level facts about a JSON-LD document, and context inlining for pyoxigraph.

Why a JSON-level scan: some JSON-LD features are treated differently by pyoxigraph (RDF 1.2
directional strings, shortest round-trip doubles) than by pyld/jsonld.js (what other verifiers
run), and some data is silently ignored by every processor (`@foo` keys). One cheap pass finds
them, so the fast path is only used where it is known to agree with the reference.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from .contexts import ContextLoader

# JSON-LD 1.1 keywords; any other key that looks like a keyword ("@" + letters) is ignored.
KEYWORDS = frozenset({
    "@base", "@container", "@context", "@direction", "@graph", "@id", "@import", "@included",
    "@index", "@json", "@language", "@list", "@nest", "@none", "@prefix", "@propagate",
    "@protected", "@reverse", "@set", "@type", "@value", "@version", "@vocab",
})
_MAX_SAFE_INTEGER = 2**53 - 1  # I-JSON: JavaScript verifiers cannot represent more


@dataclass(slots=True)
class DocumentScan:
    """What one walk over the JSON found (paths are JSON-pointer-like, for error messages)."""

    context_urls: set[str] = field(default_factory=set)
    embedded_contexts: list[str] = field(default_factory=list)
    json_literals: list[str] = field(default_factory=list)
    directions: list[str] = field(default_factory=list)
    lossy_numbers: list[str] = field(default_factory=list)
    long_doubles: list[str] = field(default_factory=list)
    non_finite_numbers: list[str] = field(default_factory=list)
    ignored_keys: list[str] = field(default_factory=list)

    @property
    def fast_path_ok(self) -> bool:
        """True when pyoxigraph is known to produce the same RDF as pyld for this document."""
        return not (self.embedded_contexts or self.json_literals or self.directions
                    or self.lossy_numbers or self.long_doubles)


def scan_document(document: Any, json_terms: frozenset[str]) -> DocumentScan:
    scan = DocumentScan()
    _scan(document, [], json_terms, scan)
    return scan


def _path(parts: list[Any]) -> str:
    """JSON-pointer-like path of the keys/indexes in `parts` (built only for findings: most scans
    find nothing, and formatting every path was most of the scan's time)."""
    return "".join(f"/{part}" for part in parts)


def _scan(node: Any, parts: list[Any], json_terms: frozenset[str], scan: DocumentScan) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            parts.append(key)
            if key == "@context":
                for ctx in value if isinstance(value, list) else [value]:
                    if isinstance(ctx, str):
                        scan.context_urls.add(ctx)
                    else:
                        scan.embedded_contexts.append(_path(parts))
                parts.pop()
                continue
            if key in json_terms or (key == "@type" and value == "@json"):
                scan.json_literals.append(_path(parts))
            elif key == "@direction":
                scan.directions.append(_path(parts))
            elif key.startswith("@") and key[1:].isalpha() and key not in KEYWORDS:
                scan.ignored_keys.append(_path(parts))
            if isinstance(value, (dict, list, float, int)):  # strings, booleans and null hold nothing
                _scan(value, parts, json_terms, scan)
            parts.pop()
    elif isinstance(node, list):
        for i, item in enumerate(node):
            if isinstance(item, (dict, list, float, int)):
                parts.append(i)
                _scan(item, parts, json_terms, scan)
                parts.pop()
    elif isinstance(node, float) and not math.isfinite(node):
        scan.non_finite_numbers.append(_path(parts))  # not JSON at all: orjson would even write null
    elif isinstance(node, float):
        if node % 1 != 0 or abs(node) >= 1e21:
            # JSON-LD (pyld, jsonld.js) writes doubles as "%1.15E" (16 significant digits, trailing
            # zeros trimmed); pyoxigraph writes the shortest round-trip form. -9.527 becomes
            # "-9.526999999999999E0" in the first and "-9.527E0" in the second.
            sixteen = f"{node:1.15E}"
            if float(sixteen) != node:  # not even the value survives: the signature won't cover it
                scan.lossy_numbers.append(f"{_path(parts)} = {node!r}")
            elif Decimal(sixteen) != Decimal(repr(node)):
                scan.long_doubles.append(_path(parts))
        elif abs(node) > _MAX_SAFE_INTEGER:  # written as an integer, beyond what JavaScript reads
            scan.lossy_numbers.append(f"{_path(parts)} = {node!r}")
    elif isinstance(node, int) and not isinstance(node, bool) and abs(node) > _MAX_SAFE_INTEGER:
        scan.lossy_numbers.append(f"{_path(parts)} = {node!r}")


def rewrite_contexts(document: Any, rewrite: Callable[[list[Any]], list[Any]]) -> Any:
    """Copy of `document` where every `@context` value (as a list) is replaced by `rewrite(list)`."""
    if isinstance(document, dict):
        return {
            key: rewrite(value if isinstance(value, list) else [value])
            if key == "@context" else rewrite_contexts(value, rewrite)
            for key, value in document.items()
        }
    if isinstance(document, list):
        return [rewrite_contexts(item, rewrite) for item in document]
    return document


def inline_contexts(
    document: Any, loader: ContextLoader, rewrite: Callable[[list[Any]], list[Any]] | None = None
) -> Any:
    """Replace context URLs by the vendored context objects (pyoxigraph has no document loader),
    then optionally pass every `@context` list through `rewrite` (used by the guard)."""

    def inline(contexts: list[Any]) -> list[Any]:
        out = [loader.context(c) if isinstance(c, str) else c for c in contexts]
        return rewrite(out) if rewrite is not None else out

    return rewrite_contexts(document, inline)
