"""Benchmark RDFC-1.0 canonicalization (pyld vs pyoxigraph) and Data Integrity sign/verify.

Usage (from the repository root):
    uv run python bench/canonicalization.py                 # 300 credentials
    uv run python bench/canonicalization.py --count 5000    # thousands, same generator as the tests

Prints one JSON object. Credentials come from the test corpus generator (OB 3.0 shaped, unicode,
numbers, arrays, anonymous objects); every run also re-checks that both engines agree.
`issued_ob3_cpu_ms` canonicalizes credentials built by Tessera's own document builder (the joint
micro-credential: 3 awarding bodies, ~11 KB, ~280 quads), unsigned (issuance) and signed with its
proof set (verification), with the pruned contexts (production) and with the full ones.
`joint_ob3_cpu_ms` is the service's own work on that joint credential (so 3 proofs).
Every timing is CPU milliseconds per credential (process time: stable on a shared machine), best of
3 rounds; the per-second rates are derived from CPU time too. Each signature has its own `created`
(as in production: proof-configuration templates are reused, exact repeats are not).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tessera_credential.proofs import (  # noqa: E402
    EDDSA_JCS_2022,
    EDDSA_RDFC_2022,
    Ed25519Multikey,
    add_proof,
    canon_oxigraph,
    canonicalize,
    canonicalize_oxigraph,
    canonicalize_pyld,
    check_signable,
    jcs,
    resolve_did_key,
    verify_document,
    verify_signature,
)
from tessera_credential.proofs.canon_oxigraph import parse_jsonld  # noqa: E402
from tessera_credential.proofs.canonical import check_signable_and_canonicalize_unsecured  # noqa: E402
from tessera_credential.proofs.contexts import DEFAULT_LOADER  # noqa: E402
from tessera_credential.proofs.jsonld_document import scan_document  # noqa: E402
from tests.credential.unit.proofs_testdata import generate_ob3_credentials  # noqa: E402

JOINT_COUNT = 30


def cpu_ms(function: Callable[[Any], Any], items: list[Any], rounds: int = 3) -> float:
    """Best-of-`rounds` CPU milliseconds per item (after a warm-up on the first two)."""
    for item in items[:2]:
        function(item)
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for item in items:
            function(item)
        best = min(best, (time.process_time() - started) * 1000 / len(items))
    return round(best, 2)


@contextlib.contextmanager
def full_contexts() -> Iterator[None]:
    """Within: the pyoxigraph path inlines the full vendored contexts (no context pruning)."""
    saved = canon_oxigraph.inline_pruned_contexts
    canon_oxigraph.inline_pruned_contexts = lambda *args, **kwargs: None
    try:
        yield
    finally:
        canon_oxigraph.inline_pruned_contexts = saved


def full_contexts_rdfc(document: Any) -> str:
    with full_contexts():
        return canonicalize_oxigraph(document)


def issued_ob3_cpu_ms() -> dict[str, Any]:
    """Canonicalization of Tessera-built joint OB 3.0 credentials: issuance (guard + RDFC-1.0 of the
    unsigned credential, one parse) and verification (guard of the signed credential + RDFC-1.0 of it
    without its proofs, one parse), with pruned (production) and full contexts (same bytes: checked)."""
    from tessera_credential.documents import build_ob3_credential, sign_credential
    from tests.credential.unit.credential_document_testdata import CREATED, issuance, signers

    (key, vm), co_signers = signers(True)
    docs = [build_ob3_credential(issuance(True, serial=i)) for i in range(JOINT_COUNT)]
    signed = [sign_credential(d, key, vm, co_signers, created=CREATED) for d in docs]

    def issue(d: dict[str, Any]) -> str:
        return canonicalize(d, require_signable=True)

    def verify(d: dict[str, Any]) -> str | None:
        return check_signable_and_canonicalize_unsecured(d)[1]

    with full_contexts():
        expected = [canonicalize_pyld(d) for d in docs]
        full = [(issue(d), verify(s)) for d, s in zip(docs, signed, strict=True)]
        timings_full = {
            "issue_rdfc_with_guard": cpu_ms(issue, docs),
            "verify_guard_and_rdfc": cpu_ms(verify, signed),
            "jsonld_parse": cpu_ms(parse_jsonld, docs),
        }
    if full != [(issue(d), verify(s)) for d, s in zip(docs, signed, strict=True)] or [f[0] for f in full] != expected:
        raise SystemExit("pruned and full contexts (or pyld) disagree on an issued credential")
    return {
        "credential_bytes": len(json.dumps(docs[0], ensure_ascii=False).encode()),
        "issue_rdfc_with_guard": cpu_ms(issue, docs),
        "verify_guard_and_rdfc": cpu_ms(verify, signed),
        "jsonld_parse": cpu_ms(parse_jsonld, docs),
        "full_contexts": timings_full,
    }


def joint_ob3_cpu_ms() -> dict[str, float]:
    """Schema validation, signing by 3 awarding bodies and the full verification report, per credential."""
    from tessera_credential.documents import build_ob3_credential, sign_credential, validate_ob3
    from tests.credential.unit.credential_document_testdata import issuance, signers, verify

    (key, vm), co_signers = signers(True)
    docs = [build_ob3_credential(issuance(True, serial=i)) for i in range(JOINT_COUNT)]
    moments = iter(range(10**9))

    def created() -> str:
        i = next(moments)
        return f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}Z"

    def sign(doc: dict[str, Any]) -> dict[str, Any]:
        return sign_credential(doc, key, vm, co_signers, created=created())

    signed = [json.dumps(sign(d)).encode() for d in docs]
    return {
        "schema_validation_strict_and_lenient": cpu_ms(validate_ob3, docs),
        "sign_3_proofs": cpu_ms(sign, docs),
        "issue_validate_and_sign": cpu_ms(lambda d: (validate_ob3(d), sign(d)), docs),
        "verification_report": cpu_ms(verify, signed),
    }


def per_item_ms(function: Callable[[Any], Any], items: list[Any]) -> float:
    return cpu_ms(function, items, rounds=1)


def per_second(function: Callable[[Any], Any], items: list[Any]) -> float:
    return round(1000 / max(cpu_ms(function, items), 1e-6), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=300, help="credentials to canonicalize per engine")
    parser.add_argument("--sign-count", type=int, default=200, help="credentials to sign/verify per suite")
    parser.add_argument("--seed", type=int, default=20240501)
    args = parser.parse_args()

    docs = generate_ob3_credentials(args.count, args.seed)
    for doc in docs[:5]:  # warm caches (pyld resolved contexts, vendored files)
        canonicalize_pyld(doc), canonicalize_oxigraph(doc)

    json_terms = DEFAULT_LOADER.json_literal_terms()
    identical = sum(canonicalize_oxigraph(d) == canonicalize_pyld(d) for d in docs)
    fast_path = sum(scan_document(d, json_terms).fast_path_ok for d in docs)
    key = Ed25519Multikey.generate()
    sign_docs = docs[: args.sign_count]
    results: dict[str, Any] = {
        "credentials": len(docs),
        "mean_credential_bytes": round(sum(len(json.dumps(d, ensure_ascii=False).encode()) for d in docs) / len(docs)),
        "engines_identical": f"{identical}/{len(docs)}",
        "fast_path_share": round(fast_path / len(docs), 3),
        "ms_per_credential": {
            "pyld_rdfc": per_item_ms(canonicalize_pyld, docs),
            "pyoxigraph_rdfc": per_item_ms(canonicalize_oxigraph, docs),
            "pyoxigraph_rdfc_full_contexts": per_item_ms(full_contexts_rdfc, docs),
            "production_rdfc": per_item_ms(canonicalize, docs),
            "production_rdfc_with_guard": per_item_ms(lambda d: canonicalize(d, require_signable=True), docs),
            "guard_pyld_engine": per_item_ms(lambda d: check_signable(d, engine="pyld"), docs),
            "jcs": per_item_ms(jcs, docs),
        },
    }
    for suite in (EDDSA_RDFC_2022, EDDSA_JCS_2022):
        started = time.process_time()
        signed = [add_proof(d, key, cryptosuite=suite) for d in sign_docs]
        results[f"{suite}_sign_per_second"] = round(len(signed) / (time.process_time() - started), 1)
        started = time.process_time()
        outcomes = [verify_document(d, resolve_did_key).verified for d in signed]
        results[f"{suite}_verify_per_second"] = round(len(signed) / (time.process_time() - started), 1)
        if not all(outcomes):
            raise SystemExit(f"{suite}: a freshly signed credential did not verify")
    messages = [os.urandom(64) for _ in range(2000)]
    signatures = [key.sign(m) for m in messages]
    results["raw_ed25519_sign_per_second"] = per_second(key.sign, messages)
    results["raw_ed25519_verify_per_second"] = per_second(
        lambda i: verify_signature(key.public_key, signatures[i], messages[i]), list(range(len(messages)))
    )
    results["issued_ob3_cpu_ms"] = issued_ob3_cpu_ms()
    results["joint_ob3_cpu_ms"] = joint_ob3_cpu_ms()
    results["machine"] = {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
