"""Undefined-term guard: refuse documents holding data that RDFC-1.0 would silently drop.

Why: JSON-LD -> RDF drops every property or type that no context defines, every relative or
invalid IRI and every `@foo` key, without an error; a signature over the canonical N-Quads then
does not cover that data, and anyone can change it. We make such data visible by expanding with a
sentinel `@vocab` (undefined terms become `urn:undefined-term:<term>`) and a sentinel base IRI
(relative IRIs become `tessera-relative-iri:...`), then refuse if either appears.

The sentinel `@vocab` is *prepended* to every `@context` (and re-added after a `null` reset):
a context that defines its own `@vocab` (e.g. the W3C examples context) then still wins, because
data mapped through a real `@vocab` is signed, not dropped.

Two engines share this module: "oxigraph" (fast; lenient parse so invalid IRIs stay visible) and
"pyld" (reference; walks the expanded JSON-LD). Tests prove they agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import pyoxigraph as ox

from .contexts import DEFAULT_LOADER, ContextLoader
from .errors import UndefinedTermError, UnsignableDataError
from .jsonld_document import DocumentScan, scan_document
from .node_memo import memo_node

UNDEFINED_VOCAB = "urn:undefined-term:"
RELATIVE_BASE = "tessera-relative-iri://base/"
_RELATIVE_SCHEME = "tessera-relative-iri:"
_SENTINEL_CONTEXT = {"@vocab": UNDEFINED_VOCAB}
_RDF_TYPE = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
Engine = Literal["oxigraph", "pyld"]


@dataclass(frozen=True, slots=True)
class SignabilityReport:
    """Outcome of the guard: undefined term names, and every problem as a readable sentence."""

    undefined_terms: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def ok(self) -> bool:
        return not self.problems

    def raise_if_unsignable(self) -> None:
        if self.undefined_terms:
            raise UndefinedTermError(self.undefined_terms, self.problems)
        if self.problems:
            raise UnsignableDataError(self.problems)


class Findings:
    """Collects undefined terms and problems (ordered, de-duplicated) for both engines."""

    def __init__(self) -> None:
        self.undefined: dict[str, None] = {}  # ordered set
        self.problems: dict[str, None] = {}

    def iri(self, value: str, role: str) -> None:
        if value.startswith(UNDEFINED_VOCAB):
            term = value[len(UNDEFINED_VOCAB) :]
            self.undefined[term] = None
            self.problems[f"undefined term {term!r} ({role})"] = None
        elif value.startswith(_RELATIVE_SCHEME):
            shown = value[len(RELATIVE_BASE) :] if value.startswith(RELATIVE_BASE) else value
            self.problems[f"relative IRI {shown!r} ({role})"] = None
        elif not value.startswith("_:") and not _valid_iri(value):
            self.problems[f"invalid IRI {value!r} ({role})"] = None

    def language(self, tag: str) -> None:
        try:
            ox.Literal("", language=tag)
        except ValueError:
            self.problems[f"invalid language tag {tag.lower()!r}"] = None  # tags are case-insensitive

    def report(self) -> SignabilityReport:
        return SignabilityReport(tuple(self.undefined), tuple(self.problems))


def _valid_iri(value: str) -> bool:
    try:
        ox.NamedNode(value)  # the same RFC 3987 check pyoxigraph's strict parser applies
    except ValueError:
        return False
    return True


def add_sentinel_vocab(contexts: list[Any]) -> list[Any]:
    """`@context` list with the sentinel vocab first and after every `null` (context reset)."""
    out: list[Any] = [_SENTINEL_CONTEXT]
    for ctx in contexts:
        out.append(ctx)
        if ctx is None:
            out.append(_SENTINEL_CONTEXT)
    return out


def scan_problems(scan: DocumentScan, allow_embedded_contexts: bool) -> list[str]:
    """Problems visible in the JSON itself (before any JSON-LD processing)."""
    problems = [f"ignored keyword-like key at {p}" for p in scan.ignored_keys]
    problems += [f"@direction at {p} is not signed by RDFC-1.0 (dropped by JSON-LD to RDF)" for p in scan.directions]
    problems += [f"number not signed exactly (beyond I-JSON / 16 digits) at {p}" for p in scan.lossy_numbers]
    problems += [f"non-finite number at {p}" for p in scan.non_finite_numbers]
    if not allow_embedded_contexts:
        problems += [f"embedded (non-URL) JSON-LD context at {p}" for p in scan.embedded_contexts]
    return problems


Key = tuple[str, str]  # (IRI or language tag, its role): what the guard checks, once per document


def inspect_oxigraph(
    document: Any, loader: ContextLoader, scan: DocumentScan, allow_embedded_contexts: bool
) -> tuple[SignabilityReport, list[ox.Quad]]:
    """Guard via one lenient, instrumented pyoxigraph parse; also returns the parsed quads."""
    from .canon_oxigraph import parse_jsonld  # local import: canon_oxigraph is heavier

    found = Findings()
    found.problems.update(dict.fromkeys(scan_problems(scan, allow_embedded_contexts)))
    quads = parse_jsonld(document, loader, context_rewrite=add_sentinel_vocab, base_iri=RELATIVE_BASE, lenient=True)
    # Each (IRI, role) and language tag is checked once: findings are idempotent and ordered by first
    # occurrence, so repeats change nothing, and a credential repeats few IRIs hundreds of times. A
    # memoised achievement's distinct terms are listed once per process (node_memo.py); they come
    # after the document's own, as its quads do.
    own, node = memo_node(quads)
    keys = distinct_terms(own)
    if node is not None:
        seen = set(keys)
        keys += [key for key in node.derived("guard terms", distinct_terms) if key not in seen]
    for value, role in keys:
        if role == "@language":
            found.language(value)
        else:
            found.iri(value, role)
    return found.report(), quads


def distinct_terms(quads: list[ox.Quad]) -> list[Key]:
    """Every (IRI, role) and (language tag, "@language") of ``quads``, in order of first occurrence."""
    checked: dict[Key, None] = {}
    for quad in quads:
        object_role = "type" if quad.predicate.value == _RDF_TYPE else "node"
        for term, role in ((quad.subject, "node"), (quad.object, object_role), (quad.graph_name, "node")):
            if isinstance(term, ox.NamedNode):
                key = (term.value, role)
            elif isinstance(term, ox.Literal):
                key = (term.datatype.value, "datatype")
                if term.language:
                    checked.setdefault((term.language, "@language"), None)
            else:
                continue
            checked.setdefault(key, None)
        checked.setdefault((quad.predicate.value, "property"), None)
    return list(checked)


def check_signable(
    document: Any,
    loader: ContextLoader = DEFAULT_LOADER,
    *,
    engine: Engine = "oxigraph",
    allow_embedded_contexts: bool = False,
) -> SignabilityReport:
    """Report data in `document` that a RDFC-1.0 signature would not cover (never raises for it)."""
    scan = scan_document(document, loader.json_literal_terms())
    if engine == "pyld":
        from .guard_pyld import inspect_pyld

        return inspect_pyld(document, loader, scan_problems(scan, allow_embedded_contexts))
    return inspect_oxigraph(document, loader, scan, allow_embedded_contexts)[0]


def ensure_signable(document: Any, loader: ContextLoader = DEFAULT_LOADER, **options: Any) -> None:
    """Raise `UndefinedTermError` (naming the terms) or `UnsignableDataError` if not signable."""
    check_signable(document, loader, **options).raise_if_unsignable()
