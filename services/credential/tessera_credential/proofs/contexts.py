"""Offline JSON-LD document loader backed by vendored, hash-pinned context files.

Why: canonicalization must never fetch a context at run time (no network, and a remote context
is an attacker-controlled rewrite of what a signature means). Unknown URLs raise
`UnknownContextError`. The production allow-list deliberately omits the W3C examples context;
tests add it with `ContextLoader(extra={url: path})`.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cachetools import LRUCache  # a pyld dependency

from .errors import UnknownContextError

CREDENTIALS_V2 = "https://www.w3.org/ns/credentials/v2"
DATA_INTEGRITY_V2 = "https://w3id.org/security/data-integrity/v2"
MULTIKEY_V1 = "https://w3id.org/security/multikey/v1"
OB_V3P0 = "https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json"
OB_V3P0_EXTENSIONS = "https://purl.imsglobal.org/spec/ob/v3p0/extensions.json"
CLR_V2P0 = "https://purl.imsglobal.org/spec/clr/v2p0/context-2.0.1.json"


@dataclass(frozen=True, slots=True)
class VendoredContext:
    """One allow-listed context: file in `tessera_credential/contexts/` and its pinned SHA-256."""

    url: str
    filename: str
    sha256: str


PRODUCTION_CONTEXTS: Mapping[str, VendoredContext] = MappingProxyType(
    {
        c.url: c
        for c in (
            VendoredContext(
                CREDENTIALS_V2,
                "credentials-v2.jsonld",
                "59955ced6697d61e03f2b2556febe5308ab16842846f5b586d7f1f7adec92734",
            ),
            VendoredContext(
                DATA_INTEGRITY_V2,
                "data-integrity-v2.jsonld",
                "67f21e6e33a6c14e5ccfd2fc7865f7474fb71a04af7e94136cb399dfac8ae8f4",
            ),
            VendoredContext(
                MULTIKEY_V1, "multikey-v1.jsonld", "ba2c182de2d92f7e47184bcca8fcf0beaee6d3986c527bf664c195bbc7c58597"
            ),
            VendoredContext(
                OB_V3P0,
                "ob-v3p0-context-3.0.3.json",
                "ef2fa9c7846dce233cc166b43639027278be4ee44f00bb1d45c75de2dd0cd761",
            ),
            VendoredContext(
                OB_V3P0_EXTENSIONS,
                "ob-v3p0-extensions.json",
                "146f85aa16effd7ca1da8056eb443f53ce1eca8a34186cb062832c0a97d889c3",
            ),
            VendoredContext(
                CLR_V2P0, "clr-v2p0-2.0.1.json", "880f1902d4158f2f33ce06af41b90719977cd1ea337a9de2e41edb3ff5e543d6"
            ),
        )
    }
)

PyldLoader = Callable[[str, Any], dict[str, Any]]


class ContextLoader:
    """Maps context URLs to local JSON documents; parsed documents are cached per loader.

    Returned documents are shared: treat them as read-only (pyld gets deep copies).
    """

    def __init__(self, extra: Mapping[str, Path | str] | None = None) -> None:
        self._extra = {url: Path(path) for url, path in (extra or {}).items()}
        self._cache: dict[str, Any] = {}
        self._json_terms: frozenset[str] | None = None
        # pyld's module-level resolved-context cache is keyed by URL and would serve a context
        # to any later caller without asking its loader (an allow-list bypass). Each loader gets
        # its own bounded cache instead (bounded: embedded contexts are cached by content too).
        self.pyld_context_cache: LRUCache[Any, Any] = LRUCache(maxsize=256)  # used under canon_pyld's lock
        # Canonical proof configurations with `created` abstracted (cryptosuites.canonical_proof_configuration):
        # per loader, since they depend on the contexts it serves; bounded, as verified proofs are untrusted.
        self.proof_config_templates: LRUCache[Any, Any] = LRUCache(maxsize=1024)
        self.proof_config_lock = threading.Lock()  # LRUCache reorders on reads; issuance signs in threads
        # Context pruning for the pyoxigraph parse (context_pruning.py): the analysis of each set of
        # URLs (a few: URLs are allow-listed), and pruned contexts per set of needed terms (bounded:
        # documents to verify are untrusted; issued documents of one kind share one entry).
        self.context_sets: dict[frozenset[str], Any] = {}
        self.pruned_contexts: LRUCache[Any, Any] = LRUCache(maxsize=256)
        self.pruning_lock = threading.Lock()

    @property
    def urls(self) -> frozenset[str]:
        return frozenset(PRODUCTION_CONTEXTS) | frozenset(self._extra)

    def with_extra(self, extra: Mapping[str, Path | str]) -> ContextLoader:
        """A new loader that also serves `extra` (e.g. test-only contexts)."""
        return ContextLoader({**self._extra, **extra})

    def document(self, url: str) -> Any:
        """The parsed JSON document for `url` (`{"@context": ...}`); raises `UnknownContextError`."""
        cached = self._cache.get(url)
        if cached is None:
            cached = self._cache[url] = json.loads(self._read(url))
        return cached

    def context(self, url: str) -> Any:
        """The value of the document's top-level `@context` member, ready to inline."""
        return self.document(url)["@context"]

    def pyld_loader(self) -> PyldLoader:
        """A pyld `documentLoader` that serves only this loader's URLs (never the network)."""

        def load(url: str, options: Any = None) -> dict[str, Any]:
            return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(self.document(url))}

        return load

    def json_literal_terms(self) -> frozenset[str]:
        """Terms typed `@json` anywhere in the served contexts (their values are JSON literals)."""
        if self._json_terms is None:
            terms: set[str] = set()
            for url in self.urls:
                terms.update(_json_typed_terms(self.context(url)))
            self._json_terms = frozenset(terms)
        return self._json_terms

    def _read(self, url: str) -> bytes:
        if url in self._extra:
            return self._extra[url].read_bytes()
        vendored = PRODUCTION_CONTEXTS.get(url)
        if vendored is None:
            raise UnknownContextError(url)
        data = resources.files("tessera_credential").joinpath("contexts").joinpath(vendored.filename).read_bytes()
        if hashlib.sha256(data).hexdigest() != vendored.sha256:
            # 1EdTech files may only be redistributed unmodified; a changed file also changes
            # what every signature means. Refuse loudly instead of canonicalizing with it.
            raise RuntimeError(f"vendored context {vendored.filename} does not match its pinned SHA-256")
        return data


def _json_typed_terms(context: Any) -> Iterator[str]:
    for ctx in context if isinstance(context, list) else [context]:
        if not isinstance(ctx, dict):
            continue
        for term, definition in ctx.items():
            if isinstance(definition, dict):
                if definition.get("@type") == "@json":
                    yield term
                if "@context" in definition:
                    yield from _json_typed_terms(definition["@context"])


DEFAULT_LOADER = ContextLoader()
