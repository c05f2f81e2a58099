"""Verify a submitted credential (untrusted bytes) and explain the outcome in a JSON-serialisable report.

Order of work, cheapest and safest first:

1. input caps: size and nesting depth are checked on the raw bytes *before* parsing
   (`proofs.parse_untrusted_json`); refusals raise typed `UntrustedInputError`s (`http_status` 4xx);
   JSON that is not an object raises `NotACredentialError` (422). Nothing else raises.
2. both 1EdTech OB 3.0 JSON Schemas (strict and lenient);
3. contexts: only the vendored allow-list; an unknown context is reported and never fetched (the
   proofs are then not checked: without the context nobody knows what was signed);
4. signability: terms no context defines would not be covered by any signature;
5. every proof (at most `IssuerPolicy.max_proofs`): which awarding body's key, how the key was resolved
   (this consortium's did:web through the caller's resolver, did:key locally; any other method is
   reported, not resolved), valid or not and why;
6. the issuer's proof comes first and is controlled by the issuer (its verification method's DID is
   the issuer id); every awarding body the credential names has a valid proof; the issuer is
   trusted by the caller's policy;
7. status (Bitstring Status List entry, looked up through the caller's `status_of`);
8. validity dates against `now`.

Verdict: "valid" when every check passes; "indeterminate" when the only failures come from a key
resolver error or a status that could not be determined (retry later); otherwise "invalid".

`verify_credential` runs it in one call. The parts, for `engine.Verifier` (POST /verify):
`parse_document` (step 1), `resolve_keys` (the keys of step 5, per request), `check_document`
(steps 2-5: the CPU, a pure function of the bytes and the keys' bytes, run in a worker process and
memoised) and `assemble_report` (steps 6-8 and the verdict, per request).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from tessera_credential.documents.alignments import awarding_bodies_of
from tessera_credential.documents.common import STATUS_ENTRY_TYPE
from tessera_credential.documents.schemas import SchemaResult, validate
from tessera_credential.documents.signing import controller_of, issuer_id
from tessera_credential.proofs import (
    DEFAULT_LOADER,
    ContextLoader,
    InvalidKeyError,
    JsonLimits,
    MalformedInputError,
    ProofError,
    parse_untrusted_json,
    resolve_did_key,
    verify_document,
)
from tessera_credential.proofs.canonical import check_signable_and_canonicalize_unsecured
from tessera_credential.proofs.contexts import CREDENTIALS_V2
from tessera_credential.proofs.jsonld_document import scan_document
from tessera_credential.proofs.signing import proofs_of

StatusValue = Literal["active", "revoked", "superseded", "unknown"]
StatusLookup = Callable[[str, int], str]
"""(status list credential URL, index) -> "active" | "revoked" | "superseded" | "unknown"."""
KeyLookup = Callable[[str], bytes | None]
"""did:web verification method -> raw 32-byte Ed25519 key, None when unknown (may raise on outage)."""

MAX_LISTED = 50  # cap on every list in the report (hostile input must not make the report huge)
_STATUS_VALUES = frozenset({"active", "revoked", "superseded", "unknown"})
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_PROOF_STRING_FIELDS = ("type", "cryptosuite", "verificationMethod", "proofPurpose", "proofValue")


class NotACredentialError(MalformedInputError):
    """Well-formed JSON that is not a JSON object, so cannot be a credential."""

    http_status = 422


@dataclass(frozen=True)
class IssuerPolicy:
    """What this verifier expects. `trusted_issuers=None` accepts any issuer (reported as not checked)."""

    trusted_issuers: frozenset[str] | None = None
    require_every_awarding_body: bool = True
    require_status: bool = True
    max_proofs: int = 16
    # 256 KiB: a 3-partner credential is ~13 KB and a CLR bundle adds ~13 KB per stacked credential.
    # Verification costs roughly 5-10 s of CPU per MB of hostile input (JSON Schema, guard, RDFC),
    # so the public endpoint should not accept the proofs library's 1 MB default.
    limits: JsonLimits = field(default_factory=lambda: JsonLimits(max_bytes=262_144, max_depth=32))


@dataclass
class VerificationReport:
    verdict: Literal["valid", "invalid", "indeterminate"]
    credential_id: str | None
    issuer: str | None
    checked_at: str
    input: dict[str, Any]
    schemas: list[dict[str, Any]]
    contexts: dict[str, Any]
    signable: dict[str, Any]
    proofs: list[dict[str, Any]]
    issuer_proof: dict[str, Any]
    awarding_bodies: list[dict[str, Any]]
    issuer_policy: dict[str, Any]
    status: dict[str, Any]
    validity: dict[str, Any]
    problems: list[str]
    retryable: list[str]

    def to_dict(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


class _KeyResolution:
    """Resolves verification methods and records, per method, what happened (for the report)."""

    def __init__(self, resolve_key: KeyLookup) -> None:
        self.resolve_key = resolve_key
        self.keys: dict[str, bytes | None] = {}
        self.outcomes: dict[str, dict[str, str]] = {}

    def __call__(self, method: str) -> bytes | None:
        key, outcome = self._resolve(method)
        self.keys[method] = key
        self.outcomes[method] = outcome
        return key

    def _resolve(self, method: str) -> tuple[bytes | None, dict[str, str]]:
        if len(method) > 2048:
            return None, {"method": "unknown", "outcome": "invalid", "detail": "verification method id too long"}
        if method.startswith("did:key:"):
            try:
                key = resolve_did_key(method)
            except InvalidKeyError as exc:
                return None, {"method": "did:key", "outcome": "invalid", "detail": str(exc)}
            return key, {"method": "did:key", "outcome": "resolved"}
        if method.startswith("did:web:"):
            try:
                key = self.resolve_key(method)
            except Exception as exc:  # an outage of our own key store is not a forgery: retryable
                return None, {"method": "did:web", "outcome": "resolver_error", "detail": type(exc).__name__}
            if key is None:
                return None, {
                    "method": "did:web",
                    "outcome": "not_found",
                    "detail": "not a key of this consortium's did:web identifiers",
                }
            if not isinstance(key, bytes) or len(key) != 32:
                return None, {"method": "did:web", "outcome": "invalid", "detail": "resolver returned no Ed25519 key"}
            return key, {"method": "did:web", "outcome": "resolved"}
        parts = method.split(":")
        name = f"did:{parts[1]}" if len(parts) > 2 and parts[0] == "did" else "not a DID"
        return None, {
            "method": name[:64],
            "outcome": "unsupported_method",
            "detail": "only did:web (this consortium) and did:key are resolved; nothing is fetched",
        }


@dataclass(frozen=True)
class ResolvedKeys:
    """The keys of every verification method a document's proofs name, resolved once per request.

    `keys`: method -> raw Ed25519 key or None (what the signature checks use, see `check_document`);
    `outcomes`: method -> how it was resolved (the report's `key_resolution`).
    """

    keys: Mapping[str, bytes | None]
    outcomes: Mapping[str, dict[str, str]]


def resolve_keys(document: Mapping[str, Any], resolve_key: KeyLookup, max_proofs: int = 16) -> ResolvedKeys:
    """Resolve the verification method of every well-formed proof (none when there are more than
    `max_proofs`: those are not verified). Resolver exceptions become `resolver_error` outcomes."""
    raw_proofs = proofs_of(document)
    resolution = _KeyResolution(resolve_key)
    if len(raw_proofs) <= max_proofs:
        for method in sorted({p["verificationMethod"] for p in raw_proofs if _malformed(p) is None}):
            resolution(method)
    return ResolvedKeys(resolution.keys, resolution.outcomes)


@dataclass(frozen=True)
class DocumentChecks:
    """What the document alone and the bytes of its proofs' keys decide: the JSON Schemas, the
    contexts, signability, and every proof's signature (`proofs`: (valid, reason) per listed proof).

    A pure function of (the document, the key bytes, `max_proofs`) — and of the time only through a
    proof's `expires` — which is what lets `verification.memo` remember it. Status, validity dates,
    the issuer policy and how each key was resolved are not in here: they are decided per request
    by `assemble_report`.
    """

    schemas: tuple[dict[str, Any], ...]
    contexts: dict[str, Any]
    signable: dict[str, Any]
    proofs: tuple[tuple[bool, str | None], ...]
    proofs_verified: bool  # False: not verified at all (no proof, too many, contexts not allowed)
    used_methods: frozenset[str]  # the verification methods the signature checks looked up
    problems: tuple[str, ...]


def verify_credential(
    raw: bytes | str,
    *,
    resolve_key: KeyLookup,
    status_of: StatusLookup,
    now: datetime,
    policy: IssuerPolicy | None = None,
    loader: ContextLoader = DEFAULT_LOADER,
) -> VerificationReport:
    """Report on `raw` (see the module docstring); raises only `UntrustedInputError` subclasses."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")  # a caller bug, not hostile input
    policy = policy or IssuerPolicy()
    size = len(raw.encode("utf-8") if isinstance(raw, str) else raw)
    document = parse_document(raw, policy)
    keys = resolve_keys(document, resolve_key, policy.max_proofs)
    checks = check_document(document, keys.keys, now=now, max_proofs=policy.max_proofs, loader=loader)
    return assemble_report(document, checks, keys, status_of=status_of, now=now, policy=policy, size=size)


def parse_document(raw: bytes | str, policy: IssuerPolicy) -> dict[str, Any]:
    """The credential as a JSON object: caps first (typed 4xx refusals), then `NotACredentialError`."""
    document = parse_untrusted_json(raw, policy.limits)
    if not isinstance(document, dict):
        raise NotACredentialError(f"a credential is a JSON object, not {type(document).__name__}")
    return document


def check_document(
    document: dict[str, Any],
    keys: Mapping[str, bytes | None],
    *,
    now: datetime,
    max_proofs: int = 16,
    loader: ContextLoader = DEFAULT_LOADER,
) -> DocumentChecks:
    """Steps 2-5 of the module docstring: the CPU-heavy part (JSON Schemas, RDFC-1.0, Ed25519).

    `keys` answers every key lookup (a method not in it has no key: the proof is not valid)."""
    return _DocumentCheck(document, keys, now, max_proofs, loader).run()


def check_raw(
    raw: bytes, limits: JsonLimits, keys: Mapping[str, bytes | None], now: datetime, max_proofs: int
) -> DocumentChecks:
    """`check_document` of `raw` (parsed again under the same caps): what a worker process runs."""
    document = parse_untrusted_json(raw, limits)
    if not isinstance(document, dict):
        raise NotACredentialError(f"a credential is a JSON object, not {type(document).__name__}")
    return check_document(document, keys, now=now, max_proofs=max_proofs)


def assemble_report(
    document: dict[str, Any],
    checks: DocumentChecks,
    keys: ResolvedKeys,
    *,
    status_of: StatusLookup,
    now: datetime,
    policy: IssuerPolicy,
    size: int,
) -> VerificationReport:
    """Steps 6-8 and the verdict, on every request: which proof is whose, the issuer policy, the
    key resolution outcomes, the status and the validity dates. Cheap (no canonicalization)."""
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return _Verification(document, checks, keys.outcomes, status_of, now, policy, size).run()


@dataclass
class _DocumentCheck:
    document: dict[str, Any]
    keys: Mapping[str, bytes | None]
    now: datetime
    max_proofs: int
    loader: ContextLoader
    problems: list[str] = field(default_factory=list)
    used_methods: set[str] = field(default_factory=set)
    # RDFC-1.0 form of the document without `proof`, from the guard's own parse (None: not derivable)
    unsecured_canonical: bytes | None = None

    def fail(self, problem: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)

    def key_of(self, method: str) -> bytes | None:
        self.used_methods.add(method)
        return self.keys.get(method)

    def run(self) -> DocumentChecks:
        doc = self.document
        # A pathway credential is a CLR 2.0 ClrCredential bundle: checked against the CLR schema.
        types = doc.get("type")
        is_clr = "ClrCredential" in (types if isinstance(types, list) else [types])
        schemas = [self.schema("clr")] if is_clr else [self.schema(name) for name in ("strict", "lenient")]
        contexts = self.contexts()
        signable = self.signable(contexts["allowed"])
        proofs, verified = self.proofs(contexts, signable_checked=signable["ok"])
        return DocumentChecks(
            schemas=tuple(s.to_dict() for s in schemas),
            contexts=contexts,
            signable=signable,
            proofs=proofs,
            proofs_verified=verified,
            used_methods=frozenset(self.used_methods),
            problems=tuple(self.problems),
        )

    def schema(self, name: str) -> SchemaResult:
        try:
            result = validate(name, self.document)
        except (RecursionError, ValueError, TypeError) as exc:
            result = SchemaResult(name, "", False, (f"schema validation failed: {type(exc).__name__}",))
        if not result.valid:
            self.fail(f"does not pass the {name} OB 3.0 JSON Schema")
        return result

    def contexts(self) -> dict[str, Any]:
        scan = scan_document(self.document, self.loader.json_literal_terms())
        known = self.loader.urls
        unknown = sorted(url for url in scan.context_urls if url not in known)
        top = self.document.get("@context")
        first = top[0] if isinstance(top, list) and top else top
        allowed = not unknown and not scan.embedded_contexts and first == CREDENTIALS_V2
        if unknown:
            self.fail("uses JSON-LD contexts outside the allow-list (never fetched): " + ", ".join(unknown[:5]))
        if scan.embedded_contexts:
            self.fail("embeds JSON-LD contexts (only the vendored context URLs are accepted)")
        if first != CREDENTIALS_V2:
            self.fail(f"the first @context must be {CREDENTIALS_V2}")
        return {
            "allowed": allowed,
            "urls": sorted(scan.context_urls)[:MAX_LISTED],
            "unknown": unknown[:MAX_LISTED],
            "embedded": scan.embedded_contexts[:MAX_LISTED],
        }

    def signable(self, contexts_allowed: bool) -> dict[str, Any]:
        if not contexts_allowed:
            return {"checked": False, "ok": False, "undefined_terms": [], "problems": ["contexts not allowed"]}
        try:
            # One parse for two results: the guard's report (as `check_signable` gives it) and, when
            # certain, what the eddsa-rdfc-2022 proofs sign, so verifying them needs no second parse.
            report, unsecured = check_signable_and_canonicalize_unsecured(self.document, self.loader)
            ok, terms, problems = report.ok, list(report.undefined_terms), list(report.problems)
            self.unsecured_canonical = unsecured.encode("utf-8") if unsecured is not None else None
        except (ProofError, ValueError, TypeError, RecursionError) as exc:
            ok, terms, problems = False, [], [f"{type(exc).__name__}: {exc}"[:500]]
        if not ok:
            self.fail("holds data no signature covers (undefined terms or invalid JSON-LD)")
        return {"checked": True, "ok": ok, "undefined_terms": terms[:MAX_LISTED], "problems": problems[:MAX_LISTED]}

    def proofs(
        self, contexts: dict[str, Any], signable_checked: bool
    ) -> tuple[tuple[tuple[bool, str | None], ...], bool]:
        raw_proofs = proofs_of(self.document)
        if not raw_proofs:
            self.fail("has no proof")
            return (), False
        if len(raw_proofs) > self.max_proofs:
            self.fail(f"has {len(raw_proofs)} proofs, more than the {self.max_proofs} verified")
            return tuple((False, "not verified: too many proofs") for _ in raw_proofs[:MAX_LISTED]), False
        if not contexts["allowed"]:
            self.fail("proofs not verified: the document's contexts are not all allowed")
            return tuple((False, "not verified: contexts not allowed") for _ in raw_proofs), False
        malformed = {i: reason for i, p in enumerate(raw_proofs) if (reason := _malformed(p))}
        checks: dict[int, tuple[bool, str | None]] = {}
        well_formed = [p for i, p in enumerate(raw_proofs) if i not in malformed]
        if well_formed:
            try:
                # The guard already ran (step 4). If it found problems, the proofs run it again and
                # fail with its reason: a signature over data RDFC-1.0 drops is not a proof of it.
                result = verify_document(
                    {**self.document, "proof": well_formed},
                    self.key_of,
                    loader=self.loader,
                    now=self.now,
                    require_signable=not signable_checked,
                    # only set after a clean guard of this very document (so signable_checked is True)
                    unsecured_canonical=self.unsecured_canonical if signable_checked else None,
                )
                indexes = [i for i in range(len(raw_proofs)) if i not in malformed]
                checks = {indexes[c.index]: (c.valid, c.reason) for c in result.proofs}
            except (ProofError, ValueError, TypeError, KeyError, RecursionError) as exc:
                checks = {i: (False, f"not verifiable: {type(exc).__name__}") for i in range(len(raw_proofs))}
        return (
            tuple(
                (False, malformed[index]) if index in malformed else checks.get(index, (False, "?"))
                for index in range(len(raw_proofs))
            ),
            True,
        )


@dataclass
class _Verification:
    document: dict[str, Any]
    checks: DocumentChecks
    outcomes: Mapping[str, dict[str, str]]
    status_of: StatusLookup
    now: datetime
    policy: IssuerPolicy
    size: int
    problems: list[str] = field(default_factory=list)
    retryable: list[str] = field(default_factory=list)
    unresolved: set[str] = field(default_factory=set)  # controllers whose key lookup failed (outage)

    def fail(self, problem: str) -> None:
        if len(self.problems) < MAX_LISTED:
            self.problems.append(problem)

    def run(self) -> VerificationReport:
        doc, checks = self.document, self.checks
        self.problems = list(checks.problems)
        proofs = self.proofs()
        issuer = issuer_id(doc)
        issuer_proof = self.issuer_proof(issuer, proofs)
        bodies = self.awarding_bodies(issuer, proofs)
        issuer_policy = self.issuer_policy(issuer)
        status = self.status()
        validity = self.validity()
        verdict: Literal["valid", "invalid", "indeterminate"] = (
            "invalid" if self.problems else "indeterminate" if self.retryable else "valid"
        )
        credential_id = doc.get("id")
        return VerificationReport(
            verdict=verdict,
            credential_id=credential_id[:2048] if isinstance(credential_id, str) else None,
            issuer=issuer[:2048] if issuer else None,
            checked_at=_iso(self.now),
            input={
                "bytes": self.size,
                "max_bytes": self.policy.limits.max_bytes,
                "max_depth": self.policy.limits.max_depth,
            },
            # copies: the checks may be a memo's, shared between requests
            schemas=[_json_copy(s) for s in checks.schemas],
            contexts=_json_copy(checks.contexts),
            signable=_json_copy(checks.signable),
            proofs=proofs,
            issuer_proof=issuer_proof,
            awarding_bodies=bodies,
            issuer_policy=issuer_policy,
            status=status,
            validity=validity,
            problems=self.problems,
            retryable=self.retryable,
        )

    # ----------------------------------------------------------------------------------- checks

    def proofs(self) -> list[dict[str, Any]]:
        raw_proofs = proofs_of(self.document)
        checks = self.checks
        if not checks.proofs_verified:  # the reasons (none, too many, contexts) are in checks.problems
            listed = zip(raw_proofs, checks.proofs, strict=False)  # "too many": the first MAX_LISTED
            return [_proof_entry(i, p, v, r, None) for i, (p, (v, r)) in enumerate(listed)]
        entries = []
        for index, proof in enumerate(raw_proofs):
            valid, reason = checks.proofs[index] if index < len(checks.proofs) else (False, "?")
            method = proof.get("verificationMethod") if isinstance(proof, dict) else None
            outcome = self.outcomes.get(method) if isinstance(method, str) and method in checks.used_methods else None
            if outcome and outcome["outcome"] == "resolver_error":
                self.retryable.append(f"proof {index}: key resolution failed ({outcome.get('detail')})")
                self.unresolved.add(controller_of(str(method)))
            elif not valid:
                self.fail(f"proof {index} is not valid: {reason}")
            entries.append(_proof_entry(index, proof, valid, reason, dict(outcome) if outcome else None))
        return entries

    def issuer_proof(self, issuer: str | None, proofs: list[dict[str, Any]]) -> dict[str, Any]:
        first = proofs[0] if proofs else None
        controlled = bool(first and issuer and first["controller"] == issuer)
        valid = bool(first and first["valid"])
        if issuer is None:
            self.fail("has no issuer id")
        elif not controlled:
            self.fail("the first proof is not the issuer's (its verification method is not controlled by the issuer)")
        for entry in proofs:
            if issuer and entry["controller"] == issuer:
                entry["role"] = "issuer"
        return {"present": first is not None, "first_is_issuer": controlled, "valid": controlled and valid}

    def awarding_bodies(self, issuer: str | None, proofs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        bodies = [{**b, "name": b["name"][:300], "did": b["did"][:2048]} for b in awarding_bodies_of(self.document)]
        if issuer and not any(b["did"] == issuer for b in bodies):
            bodies.insert(0, {"did": issuer, "name": _issuer_name(self.document), "country": ""})
        signed_by = {p["controller"] for p in proofs if p["valid"]}
        by_did = {b["did"]: b for b in bodies}
        out = []
        for body in bodies[:MAX_LISTED]:
            signed = body["did"] in signed_by
            if signed or not self.policy.require_every_awarding_body:
                pass
            elif body["did"] in self.unresolved:  # its key could not be looked up: retry, not forged
                self.retryable.append(f"awarding body {body['did']}: signature not checked (key lookup failed)")
            else:
                self.fail(f"awarding body {body['name']!r} ({body['did']}) has no valid proof")
            out.append({**body, "signed": signed})
        for entry in proofs:
            named = by_did.get(entry["controller"] or "")
            if named:
                entry["awarding_body"] = {"name": named["name"], "country": named["country"]}
                entry["role"] = entry["role"] or "co-awarder"
            elif entry["valid"]:
                entry["role"] = "not an awarding body"
                self.fail(f"proof {entry['index']} is by {entry['controller']}, which is not a named awarding body")
        return out

    def issuer_policy(self, issuer: str | None) -> dict[str, Any]:
        trusted = self.policy.trusted_issuers
        if trusted is None:
            return {"checked": False, "trusted": None}
        ok = issuer in trusted
        if not ok:
            self.fail(f"issuer {issuer!r} is not one this verifier trusts")
        return {"checked": True, "trusted": ok}

    def status(self) -> dict[str, Any]:
        entry = self.document.get("credentialStatus")
        if entry is None:
            if self.policy.require_status:
                self.fail("has no credentialStatus (cannot tell whether it was revoked)")
            return {"checked": False, "status": "absent"}
        problem = _status_entry_problem(entry)
        if problem:
            self.fail(f"credentialStatus: {problem}")
            return {"checked": False, "status": "invalid", "detail": problem}
        url, index = entry["statusListCredential"], int(entry["statusListIndex"])
        detail: str | None = None
        try:
            value = self.status_of(url, index)
        except Exception as exc:  # a status service outage: we cannot tell, so retry later
            value, detail = "unknown", f"status lookup failed: {type(exc).__name__}"
        if value not in _STATUS_VALUES:
            value, detail = "unknown", "status lookup returned an unexpected value"
        if value in ("revoked", "superseded"):
            self.fail(f"the credential is {value}")
        elif value == "unknown":
            self.retryable.append("revocation status unknown" + (f" ({detail})" if detail else ""))
        out: dict[str, Any] = {
            "checked": True,
            "status": value,
            "purpose": entry.get("statusPurpose"),
            "status_list": url,
            "index": index,
        }
        if detail:
            out["detail"] = detail
        return out

    def validity(self) -> dict[str, Any]:
        valid_from, valid_until = self.document.get("validFrom"), self.document.get("validUntil")
        start, end = _parse(valid_from), _parse(valid_until) if valid_until is not None else None
        ok = True
        if start is None:
            ok = False
            self.fail("validFrom is missing or not an RFC 3339 date-time with timezone")
        elif start > self.now:
            ok = False
            self.fail("not valid yet (validFrom is in the future)")
        if valid_until is not None and end is None:
            ok = False
            self.fail("validUntil is not an RFC 3339 date-time with timezone")
        elif end is not None and end <= self.now:
            ok = False
            self.fail("expired (validUntil has passed)")
        return {
            "ok": ok,
            "now": _iso(self.now),
            "valid_from": valid_from if isinstance(valid_from, str) else None,
            "valid_until": valid_until if isinstance(valid_until, str) else None,
        }


def _json_copy(value: Any) -> Any:
    """A copy of JSON-shaped data (dicts, lists, tuples as lists, scalars): ~5x cheaper than deepcopy."""
    if isinstance(value, dict):
        return {k: _json_copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_copy(v) for v in value]
    return value


def _malformed(proof: Any) -> str | None:
    if not isinstance(proof, dict):
        return "proof is not an object"
    for name in _PROOF_STRING_FIELDS:
        if not isinstance(proof.get(name), str):
            return f"proof {name} must be a string"
    for name in ("created", "expires", "id"):
        if name in proof and not isinstance(proof[name], str):
            return f"proof {name} must be a string"
    previous = proof.get("previousProof")
    if previous is not None and not (
        isinstance(previous, str) or (isinstance(previous, list) and all(isinstance(p, str) for p in previous))
    ):
        return "previousProof must be a string or an array of strings"
    return None


def _proof_entry(index: int, proof: Any, valid: bool, reason: str | None, key: dict[str, str] | None) -> dict[str, Any]:
    fields = proof if isinstance(proof, dict) else {}
    method = fields.get("verificationMethod")
    method = method[:2048] if isinstance(method, str) else None
    suite = fields.get("cryptosuite")
    return {
        "index": index,
        "verification_method": method,
        "controller": controller_of(method) if method else None,
        "cryptosuite": suite[:100] if isinstance(suite, str) else None,
        "role": None,
        "awarding_body": None,
        "key_resolution": key or {"outcome": "not_attempted"},
        "valid": valid,
        "reason": reason[:500] if reason else None,
    }


def _status_entry_problem(entry: Any) -> str | None:
    if not isinstance(entry, Mapping):
        return "must be one object"
    if entry.get("type") != STATUS_ENTRY_TYPE:
        return f"type must be {STATUS_ENTRY_TYPE}"
    if entry.get("statusPurpose") not in ("revocation", "suspension"):
        return "statusPurpose must be revocation or suspension"
    index = entry.get("statusListIndex")
    if not isinstance(index, str) or not re.fullmatch(r"0|[1-9][0-9]{0,9}", index):
        return "statusListIndex must be a string of decimal digits"
    url = entry.get("statusListCredential")
    if not isinstance(url, str) or not re.match(r"^https?://[^\s]+$", url) or len(url) > 2048:
        return "statusListCredential must be an http(s) URL"
    return None


def _parse(value: Any) -> datetime | None:
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _issuer_name(document: Mapping[str, Any]) -> str:
    issuer = document.get("issuer")
    name = issuer.get("name") if isinstance(issuer, Mapping) else None
    return name if isinstance(name, str) else ""
