"""The two EdDSA Data Integrity cryptosuites: transformation, proof configuration, hashing.

Both compute hashData = SHA-256(canonical proof configuration) || SHA-256(canonical document)
(proof hash first, as in the W3C test vectors) and differ only in the canonicalization:
eddsa-rdfc-2022 uses RDFC-1.0 N-Quads, eddsa-jcs-2022 uses JCS (RFC 8785) JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .canonical import canonicalize, jcs
from .contexts import DEFAULT_LOADER, ContextLoader
from .errors import InvalidProofError
from .jsonld_document import scan_document

EDDSA_RDFC_2022 = "eddsa-rdfc-2022"
EDDSA_JCS_2022 = "eddsa-jcs-2022"
CRYPTOSUITES = frozenset({EDDSA_RDFC_2022, EDDSA_JCS_2022})
PROOF_TYPE = "DataIntegrityProof"
# xsd:dateTimeStamp as Data Integrity requires for `created` / `expires` (timezone mandatory).
_DATETIME = re.compile(r"^-?\d{4,}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


@dataclass(frozen=True, slots=True)
class HashData:
    """Every intermediate value of the hashing step (tests compare each with the vectors)."""

    canonical_document: bytes
    canonical_proof_config: bytes

    @property
    def document_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_document).digest()

    @property
    def proof_hash(self) -> bytes:
        return hashlib.sha256(self.canonical_proof_config).digest()

    @property
    def combined(self) -> bytes:
        """The 64 bytes that are signed: proof hash || document hash."""
        return self.proof_hash + self.document_hash


def proof_configuration(options: Mapping[str, Any], context: Any) -> dict[str, Any]:
    """Proof options without `proofValue`, checked, with the document's `@context`."""
    if options.get("type") != PROOF_TYPE:
        raise InvalidProofError(f"proof type must be {PROOF_TYPE!r}")
    if options.get("cryptosuite") not in CRYPTOSUITES:
        raise InvalidProofError(f"unsupported cryptosuite {options.get('cryptosuite')!r}")
    for name in ("created", "expires"):
        value = options.get(name)
        if value is not None and not (isinstance(value, str) and _DATETIME.match(value)):
            raise InvalidProofError(f"proof {name} must be an xsd:dateTimeStamp, got {value!r}")
    config = {k: v for k, v in options.items() if k not in ("proofValue", "@context")}
    if context is not None:
        config["@context"] = context
    return config


_CREATED_PREDICATE = "<http://purl.org/dc/terms/created> "
_DATETIME_SUFFIX = '"^^<http://www.w3.org/2001/XMLSchema#dateTime> .'


@dataclass(frozen=True, slots=True)
class ProofConfigTemplate:
    """Canonical N-Quads of a proof configuration, its `created` line cut around the value."""

    other_lines: tuple[str, ...]
    created_prefix: str
    created_suffix: str

    def render(self, created: str) -> bytes:
        """What `canonicalize` returns for the same configuration with this `created` (see below)."""
        lines = [*self.other_lines, self.created_prefix + created + self.created_suffix]
        lines.sort()  # code-point order, as canon_oxigraph.canonical_nquads sorts
        return "".join(line + "\n" for line in lines).encode("utf-8")


def _template_key(config: Mapping[str, Any], require_signable: bool) -> tuple[bool, str] | None:
    """Cache key: the exact configuration with `created` blanked, or None if not templatable.

    Only string values (and a string or string-list `@context`): the JSON text is then injective,
    so equal keys mean equal configurations except for `created`.
    """
    created = config.get("created")
    if not (isinstance(created, str) and _DATETIME.match(created)):
        return None
    for name, value in config.items():
        if not (
            isinstance(value, str)
            or (name == "@context" and isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            return None
    return require_signable, json.dumps({**config, "created": ""}, ensure_ascii=False)


def _derive_template(
    canonical: str, config: Mapping[str, Any], key_json: str, loader: ContextLoader
) -> ProofConfigTemplate | None:
    """The template of a freshly canonicalized configuration, when substituting `created` is exact.

    Why it is exact: `created` matches xsd:dateTimeStamp (digits, `-T:.Z+`: nothing N-Quads escapes);
    JSON-LD copies a typed string into the literal verbatim (pyoxigraph too, strict or lenient, even for
    impossible dates: tested); no check of the guard or of the complexity cap reads a literal's value;
    and with at most one blank node its RDFC-1.0 label is `_:c14n0` whatever the hashes. So another
    `created` changes exactly this one line, and the lines are re-sorted. Refused (None) whenever that
    line is not unambiguous: the value also elsewhere, a second blank node, the pyld path.
    """
    created: str = config["created"]
    if created in key_json or "_:c14n1" in canonical or canonical.count(created) != 1:
        return None
    if not scan_document(config, loader.json_literal_terms()).fast_path_ok:
        return None
    lines = canonical.split("\n")
    if lines[-1] == "":
        lines.pop()
    index = next(i for i, line in enumerate(lines) if created in line)
    prefix, _, suffix = lines[index].partition(created)
    if not (prefix.endswith(_CREATED_PREDICATE + '"') and suffix == _DATETIME_SUFFIX):
        return None
    return ProofConfigTemplate(tuple(lines[:index] + lines[index + 1 :]), prefix, suffix)


def canonical_proof_configuration(config: Mapping[str, Any], loader: ContextLoader, *, require_signable: bool) -> bytes:
    """RDFC-1.0 canonical form of a proof configuration (UTF-8), from a per-loader template cache.

    Why: a configuration costs a full JSON-LD parse (~3 ms, nearly all context processing), three per
    joint credential on signing and on verifying, although across credentials it only differs in
    `created` (signers and contexts repeat). A miss costs what it always did; a hit, microseconds.
    """
    key = _template_key(config, require_signable)
    if key is None:
        return canonicalize(config, loader, require_signable=require_signable).encode("utf-8")
    with loader.proof_config_lock:
        template: ProofConfigTemplate | None = loader.proof_config_templates.get(key)
    if template is not None:
        return template.render(config["created"])
    canonical = canonicalize(config, loader, require_signable=require_signable)  # raises: nothing cached
    template = _derive_template(canonical, config, key[1], loader)
    if template is not None:
        with loader.proof_config_lock:
            loader.proof_config_templates[key] = template
    return canonical.encode("utf-8")


def hash_data(
    unsecured_document: Mapping[str, Any],
    proof_options: Mapping[str, Any],
    *,
    loader: ContextLoader = DEFAULT_LOADER,
    require_signable: bool = True,
    canonical_document: bytes | None = None,
) -> HashData:
    """Canonicalize document and proof configuration with the proof's cryptosuite.

    For eddsa-jcs-2022 a proof that carries its own `@context` is hashed with that context
    (and the document takes it too, as the spec's verification algorithm requires); otherwise
    the document's `@context` is used, as for eddsa-rdfc-2022. `canonical_document` lets a caller
    reuse the RDFC-1.0 form of a document it already canonicalized (proof sets).
    """
    suite = proof_options.get("cryptosuite")
    if suite == EDDSA_JCS_2022:
        context = proof_options.get("@context", unsecured_document.get("@context"))
        config = proof_configuration(proof_options, context)
        document = {**unsecured_document, "@context": context} if context is not None else dict(unsecured_document)
        return HashData(jcs(document), jcs(config))
    config = proof_configuration(proof_options, unsecured_document.get("@context"))
    canonical_config = canonical_proof_configuration(config, loader, require_signable=require_signable)
    if canonical_document is None:
        canonical_document = canonicalize(unsecured_document, loader, require_signable=require_signable).encode()
    return HashData(canonical_document, canonical_config)
