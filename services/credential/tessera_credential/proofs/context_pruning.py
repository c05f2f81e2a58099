"""Prune the inlined vendored contexts to the term definitions a document can reach (pyoxigraph path).

Why: pyoxigraph clones the whole active context (every term definition, scoped-context JSON included)
for every node that applies a type- or property-scoped context, and re-processes that scoped context
each time. With the full OB 3.0 + credentials v2 contexts inlined, that was ~90 % of the JSON-LD ->
RDF time of an issued credential (the same document, pre-expanded, parses ~10x faster); pruned
contexts give the same quads ~2.5x faster (bench/canonicalization.py).

Soundness (why the quads, and every error, stay those of the full contexts). A JSON-LD processor only
reads a term definition (a) when it looks up a string of the document (a key, a value: `@type`
values, `@vocab`/`@id`-typed values, type-map keys...) or the part of such a string before its first
colon (compact IRIs), or (b) while processing the contexts themselves: term definitions that refer to
other terms, the protected-term check (a redefinition must equal the protected definition), errors in
a definition, and the nullification check of a type-scoped `null` context. So a definition of term T
is dropped only if
  1. T is not among the document's strings, nor the prefixes of those strings ("needed" terms), and
  2. T is *inert* in the context set: every definition of T, at any depth, is the same definition
     (so no redefinition of T can ever fail the protected check), and that definition is
     self-contained (IRIs absolute or keywords and not themselves terms, only `@id`, `@type`,
     `@container` and a likewise self-contained `@context`), so it reads no other term, no `@vocab`,
     no base IRI, and it is error-free (also checked by parsing it alone, strict and lenient).
Definitions that are not inert are kept everywhere as they are, with everything they refer to.
The scoped context of a kept inert term is pruned the same way (all its copies identically, so
equal definitions stay equal); any other definition is kept byte for byte. Context-level keywords
are always kept. Not pruned at all (the caller uses the full contexts): a document with an embedded
(non-URL) context, a JSON literal (the literal would hold the inlined context), a URL whose context
is not a plain object (or list of objects), `@import`, a rewrite that adds anything but `@vocab`,
and a document that may use as a type a term whose scoped context is `null` (its nullification check
depends on how many protected terms are active). The test suite compares pruned and full parses on
every credential kind, the vectors and adversarial documents.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import orjson
import pyoxigraph as ox

from .contexts import ContextLoader
from .jsonld_document import KEYWORDS, rewrite_contexts

_DEFINITION_KEYS = frozenset({"@id", "@type", "@container", "@context"})
_TYPE_KEYWORDS = frozenset({"@id", "@json", "@none", "@vocab"})
_KEYWORDS = KEYWORDS - {"@context"}  # "@context" excluded: it cannot be aliased
_CONTAINERS = frozenset(
    tuple(sorted(c))
    for c in (
        ["@index"],
        ["@index", "@set"],
        ["@language"],
        ["@language", "@set"],
        ["@graph"],
        ["@graph", "@set"],
        ["@graph", "@id"],
        ["@graph", "@id", "@set"],
        ["@graph", "@index"],
        ["@graph", "@index", "@set"],
        ["@id"],
        ["@id", "@set"],
        ["@list"],
        ["@set"],
        ["@type"],
        ["@type", "@set"],
    )
)
_REWRITE_KEYS = frozenset({"@vocab"})  # what a context rewrite (the guard's sentinel) may add


@dataclass(frozen=True, slots=True)
class ContextSet:
    """What pruning needs to know about the contexts of a set of URLs (computed once per set)."""

    terms: frozenset[str]  # every term defined anywhere, scoped contexts included
    inert: frozenset[str]  # droppable when not needed (see the module docstring)
    always: frozenset[str]  # kept whatever the document: non-inert terms and what they refer to
    null_scoped: frozenset[str]  # terms with a `null` in their own scoped context
    type_maps: bool  # some term has an `@type` container (its keys are types)
    # Type-scoped contexts: term -> scoped terms that are redundant when it is used as a type only
    # (see `_redundant_scoped_terms`).
    redundant: Mapping[str, frozenset[str]]


def _prefixes(value: str) -> Iterator[str]:
    """The compact-IRI prefixes a processor may look up for `value` (first segment; second if empty)."""
    if ":" in value:
        first, _, rest = value.partition(":")
        yield first
        if not first and ":" in rest:
            yield rest.partition(":")[0]


def _strings(value: Any, out: set[str], *, keys: bool = True) -> None:
    """Every string (and with `keys`, every key) in a JSON value, with their prefixes."""
    if isinstance(value, str):
        out.add(value)
        out.update(_prefixes(value))
    elif isinstance(value, dict):
        for key, item in value.items():
            if keys:
                out.add(key)
            out.update(_prefixes(key))
            _strings(item, out, keys=keys)
    elif isinstance(value, list):
        for item in value:
            _strings(item, out, keys=keys)


def _context_objects(context: Any) -> list[Any]:
    return context if isinstance(context, list) else [context]


def _valid_term(term: str) -> bool:
    return bool(term) and ":" not in term and "/" not in term and not term.startswith("@")


def _normalised(definition: Any) -> dict[str, Any] | None:
    """A definition as the processor compares it: strings are `{"@id": ...}`, `@protected` aside."""
    if isinstance(definition, str):
        return {"@id": definition}
    if isinstance(definition, dict):
        if "@protected" in definition and not isinstance(definition["@protected"], bool):
            return None
        return {k: v for k, v in definition.items() if k != "@protected"}
    return None


def _absolute_or_keyword(value: Any, allowed_keywords: frozenset[str], terms: frozenset[str]) -> bool:
    """An IRI the processor returns as is whatever the active context: a keyword, or `scheme://...`
    that no context defines as a term (a term lookup comes before the absolute-IRI shortcut)."""
    if not isinstance(value, str):
        return False
    if value.startswith("@"):
        return value in allowed_keywords
    scheme, colon, rest = value.partition(":")
    if not (scheme and colon and rest.startswith("//")) or value in terms:
        return False
    try:
        ox.NamedNode(value)
    except ValueError:
        return False
    return True


def _self_contained(definition: Any, terms: frozenset[str]) -> bool:
    """True when the definition reads nothing of the active context and cannot fail to process."""
    normal = _normalised(definition)
    if normal is None or not set(normal) <= _DEFINITION_KEYS or "@id" not in normal:
        return False
    if not _absolute_or_keyword(normal["@id"], _KEYWORDS, terms):
        return False
    if "@type" in normal and not _absolute_or_keyword(normal["@type"], _TYPE_KEYWORDS, terms):
        return False
    if "@container" in normal:
        container = normal["@container"]
        items = container if isinstance(container, list) else [container]
        if not all(isinstance(c, str) for c in items) or tuple(sorted(items)) not in _CONTAINERS:
            return False
        if "@type" in items and normal.get("@type", "@id") not in ("@id", "@vocab"):
            return False
    if "@context" in normal:
        scoped = normal["@context"]
        if not isinstance(scoped, dict):
            return False
        for key, value in scoped.items():
            if key == "@protected":
                if not isinstance(value, bool):
                    return False
            elif key == "@version":
                if value != 1.1 or isinstance(value, bool):
                    return False
            elif not (_valid_term(key) and _self_contained(value, terms)):
                return False
    return True


def _parses_alone(term: str, definition: Any) -> bool:
    """Belt and braces: pyoxigraph accepts the definition on its own, strict and lenient."""
    return _parses(orjson.dumps({"@context": {term: definition}}))


@lru_cache(maxsize=4096)
def _parses(payload: bytes) -> bool:
    try:
        for lenient in (False, True):
            list(ox.parse(payload, ox.RdfFormat.JSON_LD, lenient=lenient))
    except (SyntaxError, ValueError):
        return False
    return True


def analyse_contexts(contexts: Iterable[Any]) -> ContextSet | None:
    """The `ContextSet` of these (vendored, inlined) context values; None if they are not prunable."""
    definitions: dict[str, list[Any]] = defaultdict(list)
    keyword_strings: set[str] = set()
    null_scoped: set[str] = set()
    type_maps = False

    def visit(context: Any) -> bool:
        nonlocal type_maps
        for item in _context_objects(context):
            if not isinstance(item, dict):
                continue  # null / URL inside a scoped context: its owner is not self-contained
            for key, value in item.items():
                if key.startswith("@"):
                    if key == "@import":
                        return False
                    _strings(value, keyword_strings)
                    continue
                definitions[key].append(value)
                if isinstance(value, dict):
                    container = value.get("@container")
                    if container == "@type" or (isinstance(container, list) and "@type" in container):
                        type_maps = True
                    if "@context" in value:
                        scoped = value["@context"]
                        if any(c is None for c in _context_objects(scoped)):
                            null_scoped.add(key)
                        if not visit(scoped):
                            return False
        return True

    top_level: list[dict[str, Any]] = []
    for context in contexts:
        objects = _context_objects(context)
        if not all(isinstance(item, dict) for item in objects) or not visit(context):
            return None
        top_level.extend(objects)
    terms = frozenset(definitions)
    inert: set[str] = set()
    always: set[str] = set(keyword_strings)
    for term, found in definitions.items():
        forms = {json.dumps(_normalised(d), sort_keys=True) for d in found}
        if (
            _valid_term(term)
            and len(forms) == 1
            and _self_contained(found[0], terms)
            and _parses_alone(term, _normalised(found[0]))
        ):
            inert.add(term)
        else:
            always.add(term)
            always.update(_prefixes(term))  # a `prefix:suffix` term is expanded with its prefix
            for definition in found:  # everything it may refer to (values and prefixes, any depth)
                _strings(definition, always, keys=False)
    return ContextSet(
        terms,
        frozenset(inert),
        frozenset(always & terms),
        frozenset(null_scoped),
        type_maps,
        _redundant_scoped_terms(top_level, definitions, frozenset(inert)),
    )


def _redundant_scoped_terms(
    top_level: list[dict[str, Any]], definitions: Mapping[str, list[Any]], inert: frozenset[str]
) -> dict[str, frozenset[str]]:
    """For an inert term T defined only in top-level contexts: the inert terms of T's scoped context
    that every top-level context defining T also defines.

    Why they are redundant when T is only used as a type: a type-scoped context is applied onto the
    active context in which T was found. Terms leave an active context only through a `null` context
    (T goes too) or a revert to an earlier active context (which held T only with those terms too:
    T only comes from a top-level context, which brings them). So they are already defined there,
    and inert terms have one definition: re-defining them changes nothing but their protected flag,
    which only matters to redefinitions (all equal: never refused) and to the nullification check
    of a `null` context with protected terms (a type-scoped or embedded one: never pruned, see
    `inline_pruned_contexts`). Not so for a property-scoped context: it is applied after the revert
    to the parent's previous context, which may lack them.
    """
    redundant: dict[str, frozenset[str]] = {}
    for term in inert:
        found = definitions[term]
        holders = [ctx for ctx in top_level if term in ctx]
        if len(holders) != len(found) or not isinstance(found[0], dict):
            continue  # also defined in a scoped context
        scoped = found[0].get("@context")
        if not isinstance(scoped, dict):
            continue
        common = set(scoped) & inert
        for ctx in holders:
            common &= ctx.keys()
        if common:
            redundant[term] = frozenset(common)
    return redundant


def prune_context(
    context: Any,
    needed: frozenset[str],
    inert: frozenset[str],
    redundant: Mapping[str, frozenset[str]] | None = None,
) -> Any:
    """`context` without the inert terms that are not needed (scoped contexts of inert terms too),
    and without the `redundant` terms of the type-scoped contexts of the terms it maps."""
    if isinstance(context, list):
        return [prune_context(item, needed, inert, redundant) for item in context]
    if not isinstance(context, dict):
        return context
    pruned: dict[str, Any] = {}
    for key, value in context.items():
        if key not in inert:  # keywords and non-inert terms: untouched
            pruned[key] = value
        elif key in needed:
            if isinstance(value, dict) and "@context" in value:
                scoped = prune_context(value["@context"], needed, inert)
                drop = redundant.get(key) if redundant else None
                if drop:
                    scoped = {k: v for k, v in scoped.items() if k not in drop}
                value = {**value, "@context": scoped}
            pruned[key] = value
    return pruned


@dataclass(slots=True)
class _Walk:
    """One pass over the document: its strings, its context URLs, and whether pruning applies."""

    keys: set[str] = field(default_factory=set)
    values: set[str] = field(default_factory=set)
    urls: list[str] = field(default_factory=list)
    lists: set[tuple[str, ...]] = field(default_factory=set)
    contexts: int = 0  # `@context` entries
    ok: bool = True

    def strings(self) -> set[str]:
        """Keys and string values, with their compact-IRI prefixes: what a processor may look up."""
        found = self.keys | self.values
        for value in [v for v in found if ":" in v]:
            found.update(_prefixes(value))
        return found


def _walk(node: Any, json_terms: frozenset[str], walk: _Walk) -> None:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "@context":
                walk.contexts += 1
                contexts = _context_objects(value)
                if all(isinstance(ctx, str) for ctx in contexts):
                    walk.urls.extend(contexts)
                    walk.lists.add(tuple(contexts))
                else:
                    walk.ok = False
                continue
            if key in json_terms:
                walk.ok = False  # a JSON literal: pyoxigraph would serialize any inlined context into it
            walk.keys.add(key)
            if isinstance(value, str):
                walk.values.add(value)
            else:
                _walk(value, json_terms, walk)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str):
                walk.values.add(item)
            else:
                _walk(item, json_terms, walk)
    elif isinstance(node, str):
        walk.values.add(node)


def context_set(loader: ContextLoader, urls: frozenset[str]) -> ContextSet | None:
    """The loader's cached analysis of these URLs' contexts (raises `UnknownContextError` as loading does)."""
    with loader.pruning_lock:
        if urls in loader.context_sets:
            cached: ContextSet | None = loader.context_sets[urls]
            return cached
    analysis = analyse_contexts(loader.context(url) for url in sorted(urls))
    with loader.pruning_lock:
        loader.context_sets[urls] = analysis
    return analysis


def inline_pruned_contexts(
    document: Any, loader: ContextLoader, rewrite: Callable[[list[Any]], list[Any]] | None = None
) -> Any | None:
    """`jsonld_document.inline_contexts(document, loader, rewrite)` with pruned contexts, or None
    when pruning does not apply (the caller then inlines the full contexts)."""
    walk = _Walk()
    _walk(document, loader.json_literal_terms(), walk)
    if not walk.ok or not walk.urls or "@json" in walk.values:
        return None
    full = {url: loader.context(url) for url in walk.urls}  # unknown URLs raise here, in document order
    analysis = context_set(loader, frozenset(full))
    if analysis is None or analysis.null_scoped & (walk.keys | walk.values if analysis.type_maps else walk.values):
        return None
    seeds = walk.strings()
    try:
        if rewrite is not None:  # what the rewrite adds (the guard's sentinel @vocab) is looked up too
            for contexts in walk.lists:
                originals = [full[url] for url in contexts]
                for added in _added(rewrite(originals), originals):
                    _strings(added, seeds)
        needed = analysis.terms.intersection(seeds) | analysis.always
        as_property = frozenset(analysis.redundant.keys() & walk.keys)
        pruned = _pruned(loader, analysis, full, needed, as_property)

        def inline(contexts: list[Any]) -> list[Any]:
            out = [pruned[url] for url in contexts]
            if rewrite is None:
                return out
            rewritten = rewrite(out)
            for added in _added(rewritten, out):  # the additions accounted for above, or no pruning
                if not _strings_within(added, seeds):
                    raise _NotPrunable
            return rewritten

        if walk.contexts == 1 and isinstance(document, dict) and "@context" in document:
            # the usual credential: one context list, at the root; no need to copy the whole tree
            value = document["@context"]
            return {**document, "@context": inline(value if isinstance(value, list) else [value])}
        return rewrite_contexts(document, inline)
    except _NotPrunable:
        return None


def _pruned(
    loader: ContextLoader,
    analysis: ContextSet,
    full: Mapping[str, Any],
    needed: frozenset[str],
    as_property: frozenset[str],
) -> Mapping[str, Any]:
    """The pruned context of each URL, from the loader's bounded cache (documents of one kind share
    an entry). Type-scoped contexts lose their redundant terms unless the type is also a key."""
    key = (frozenset(full), needed, as_property)
    with loader.pruning_lock:
        pruned: Mapping[str, Any] | None = loader.pruned_contexts.get(key)
    if pruned is None:
        redundant = {t: terms for t, terms in analysis.redundant.items() if t not in as_property}
        pruned = {url: prune_context(ctx, needed, analysis.inert, redundant) for url, ctx in full.items()}
        with loader.pruning_lock:
            loader.pruned_contexts[key] = pruned
    return pruned


class _NotPrunable(Exception):
    """A context rewrite added something pruning does not account for: use the full contexts."""


def _added(rewritten: list[Any], originals: list[Any]) -> Iterator[dict[str, Any]]:
    """The contexts a rewrite added (only `{"@vocab": ...}` objects are accounted for)."""
    kept = {id(ctx) for ctx in originals}
    for item in rewritten:
        if id(item) in kept:
            continue
        if not (isinstance(item, dict) and set(item) <= _REWRITE_KEYS):
            raise _NotPrunable
        yield item


def _strings_within(value: Any, seeds: set[str]) -> bool:
    found: set[str] = set()
    _strings(value, found)
    return found <= seeds
