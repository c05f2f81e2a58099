"""POST /verify's engine: the split verification gives verify_credential's report exactly; the memo of
the cryptographic checks answers only identical bytes with identical keys, while status, dates and
keys are decided on every request; worker processes give the same reports and survive a dead one."""

from __future__ import annotations

import asyncio
import copy
import json
import os
import signal
import time
from datetime import timedelta
from typing import Any

import pytest

from tessera_credential.proofs import Ed25519Multikey, JsonLimits
from tessera_credential.verification import engine as engine_module
from tessera_credential.verification import verify_credential
from tessera_credential.verification.engine import Verifier, VerifierUnavailableError
from tessera_credential.verification.memo import ProofCheckMemo, memo_key
from tessera_credential.verification.report import IssuerPolicy, parse_document
from tessera_credential.verification.settings import VerificationSettings
from tests.credential.unit.credential_document_testdata import NOW, resolve_test_key, signed_credential, vm_of

pytestmark = pytest.mark.unit
POLICY = IssuerPolicy(limits=JsonLimits(max_bytes=262_144, max_depth=32))


def active(url: str, index: int) -> str:
    return "active"


def raw_of(document: dict[str, Any]) -> bytes:
    return json.dumps(document).encode()


async def verified(verifier: Verifier, raw: bytes, **options: Any) -> dict[str, Any]:
    options.setdefault("resolve_key", resolve_test_key)
    options.setdefault("status_of", active)
    options.setdefault("now", NOW)
    options.setdefault("policy", POLICY)
    report = await verifier.verify(raw, parse_document(raw, options["policy"]), **options)
    return report.to_dict()


def reference(raw: bytes, **options: Any) -> dict[str, Any]:
    options.setdefault("resolve_key", resolve_test_key)
    options.setdefault("status_of", active)
    options.setdefault("now", NOW)
    options.setdefault("policy", POLICY)
    return verify_credential(raw, **options).to_dict()


def thread_verifier(entries: int = 64) -> Verifier:
    return Verifier(VerificationSettings(verify_processes=0, verify_memo_entries=entries))


@pytest.fixture
def checks_run(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the cryptographic checks a thread-mode verifier really runs (memo misses)."""
    runs: list[int] = []
    original = engine_module.check_document

    def counting(*args: Any, **kwargs: Any) -> Any:
        runs.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(engine_module, "check_document", counting)
    return runs


def documents() -> dict[str, dict[str, Any]]:
    genuine = signed_credential()
    tampered = copy.deepcopy(genuine)
    tampered["credentialSubject"]["achievement"]["name"] = "Forged"
    missing = copy.deepcopy(genuine)
    del missing["proof"][2]
    unknown_context = copy.deepcopy(genuine)
    unknown_context["@context"] = [*unknown_context["@context"], "https://evil.example/context.json"]
    malformed = copy.deepcopy(genuine)
    malformed["proof"][1]["proofValue"] = 7
    outsider = Ed25519Multikey(bytes([9]) * 32)
    foreign = copy.deepcopy(genuine)
    foreign["proof"][2]["verificationMethod"] = outsider.did_key_verification_method
    many = copy.deepcopy(genuine)
    many["proof"] = [genuine["proof"][0]] * 17
    return {
        "genuine": genuine,
        "tampered": tampered,
        "missing co-awarder": missing,
        "unsigned": {k: v for k, v in genuine.items() if k != "proof"},
        "unknown context": unknown_context,
        "malformed proof": malformed,
        "did:key outsider": foreign,
        "too many proofs": many,
    }


@pytest.mark.parametrize("name", list(documents()))
async def test_the_split_verification_gives_verify_credentials_report(name: str) -> None:
    raw = raw_of(documents()[name])
    verifier = thread_verifier()
    first, again = await verified(verifier, raw), await verified(verifier, raw)
    assert first == reference(raw)
    assert again == first  # from the memo: the same report
    assert verifier.memo is not None and verifier.memo.hits == 1


async def test_a_key_outage_is_reported_the_same_way() -> None:
    def down(method: str) -> bytes | None:
        raise ConnectionError("key store down")

    raw = raw_of(signed_credential())
    report = await verified(thread_verifier(), raw, resolve_key=down)
    assert report == reference(raw, resolve_key=down)
    assert report["verdict"] == "indeterminate"


async def test_the_memo_answers_only_identical_bytes_with_identical_keys(checks_run: list[int]) -> None:
    verifier = thread_verifier()
    genuine = signed_credential()
    raw = raw_of(genuine)
    assert (await verified(verifier, raw))["verdict"] == "valid"
    assert (await verified(verifier, raw))["verdict"] == "valid"
    assert len(checks_run) == 1

    # another byte anywhere: checked again (here the same JSON, re-serialised: still valid)
    assert (await verified(verifier, json.dumps(genuine, indent=1).encode()))["verdict"] == "valid"
    assert len(checks_run) == 2
    tampered = copy.deepcopy(genuine)
    tampered["credentialSubject"]["achievement"]["name"] += "!"
    forged = await verified(verifier, raw_of(tampered))
    assert forged["verdict"] == "invalid" and not any(p["valid"] for p in forged["proofs"])
    assert len(checks_run) == 3

    # the same bytes with another key behind a verification method: checked again, not valid
    other = Ed25519Multikey.generate().public_key

    def rotated(method: str) -> bytes | None:
        return other if method == vm_of("uva.nl") else resolve_test_key(method)

    report = await verified(verifier, raw, resolve_key=rotated)
    assert report["verdict"] == "invalid" and [p["valid"] for p in report["proofs"]] == [True, False, True]
    assert len(checks_run) == 4

    def gone(method: str) -> bytes | None:
        return None if method == vm_of("uva.nl") else resolve_test_key(method)

    report = await verified(verifier, raw, resolve_key=gone)
    assert report["verdict"] == "invalid" and report["proofs"][1]["key_resolution"]["outcome"] == "not_found"
    assert len(checks_run) == 5
    # and the genuine key again: a hit, valid
    assert (await verified(verifier, raw))["verdict"] == "valid"
    assert len(checks_run) == 5


async def test_status_dates_and_policy_are_decided_on_every_request(checks_run: list[int]) -> None:
    verifier = thread_verifier()
    raw = raw_of(signed_credential())
    assert (await verified(verifier, raw))["verdict"] == "valid"

    revoked = await verified(verifier, raw, status_of=lambda url, index: "revoked")
    assert revoked["verdict"] == "invalid" and "the credential is revoked" in revoked["problems"]
    unknown = await verified(verifier, raw, status_of=lambda url, index: "unknown")
    assert unknown["verdict"] == "indeterminate"
    early = await verified(verifier, raw, now=NOW - timedelta(days=365))
    assert "not valid yet (validFrom is in the future)" in early["problems"]
    late = await verified(verifier, raw, now=NOW + timedelta(days=365 * 4))
    assert "expired (validUntil has passed)" in late["problems"]
    untrusted = await verified(verifier, raw, policy=IssuerPolicy(trusted_issuers=frozenset({"did:web:x"})))
    assert untrusted["verdict"] == "invalid" and untrusted["issuer_policy"] == {"checked": True, "trusted": False}
    assert (await verified(verifier, raw))["verdict"] == "valid"
    assert len(checks_run) == 1  # every one of those was a memo hit


async def test_a_proof_with_expires_is_never_memoised(checks_run: list[int]) -> None:
    verifier = thread_verifier()
    document = signed_credential()
    document["proof"][0]["expires"] = "2026-01-01T00:00:00Z"
    raw = raw_of(document)
    assert memo_key(raw, document, {}, 16) is None
    await verified(verifier, raw)
    await verified(verifier, raw)
    assert len(checks_run) == 2 and verifier.memo is not None and verifier.memo.bypassed == 2


async def test_concurrent_requests_for_one_document_share_one_check(checks_run: list[int]) -> None:
    verifier = thread_verifier()
    raw = raw_of(signed_credential())
    reports = await asyncio.gather(*(verified(verifier, raw) for _ in range(6)))
    assert len(checks_run) == 1 and all(r["verdict"] == "valid" for r in reports)


async def test_without_a_memo_every_request_is_checked(checks_run: list[int]) -> None:
    verifier = thread_verifier(entries=0)
    raw = raw_of(signed_credential())
    await verified(verifier, raw)
    await verified(verifier, raw)
    assert verifier.memo is None and len(checks_run) == 2


def test_the_memo_is_a_bounded_lru() -> None:
    memo = ProofCheckMemo(2)
    a, b, c = ((bytes([i]) * 32, 16, ()) for i in range(3))
    checks: Any = object()
    memo.put(a, checks)
    memo.put(b, checks)
    assert memo.get(a) is checks  # a is now the most recent
    memo.put(c, checks)
    assert len(memo) == 2 and memo.get(b) is None and memo.get(a) is checks and memo.get(c) is checks
    assert memo.stats() == {"entries": 2, "hits": 3, "misses": 1, "bypassed": 0}


def test_settings() -> None:
    assert VerificationSettings(verify_processes=0).processes() == 0
    assert VerificationSettings(verify_processes=3).processes() == 3
    assert VerificationSettings(verify_processes=-1).processes() >= 1


async def test_worker_processes_give_the_same_reports_and_survive_a_dead_worker() -> None:
    verifier = Verifier(VerificationSettings(verify_processes=1, verify_memo_entries=0))
    verifier.start()
    try:
        for name, document in documents().items():
            raw = raw_of(document)
            assert await verified(verifier, raw) == reference(raw), name
        executor = verifier._executor
        assert executor is not None
        [pid] = [p.pid for p in executor._processes.values()]  # type: ignore[attr-defined]
        assert pid != os.getpid()
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while not executor._broken and time.monotonic() < deadline:  # type: ignore[attr-defined]  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        raw = raw_of(signed_credential())
        with pytest.raises(VerifierUnavailableError):
            await verified(verifier, raw)
        assert verifier._executor is not executor  # replaced
        assert (await verified(verifier, raw))["verdict"] == "valid"
    finally:
        await verifier.stop()
    assert verifier._executor is None
    with pytest.raises(VerifierUnavailableError):
        await verified(verifier, raw_of(signed_credential()))


async def test_stopping_answers_queued_checks_unavailable_and_finishes_running_ones() -> None:
    verifier = Verifier(VerificationSettings(verify_processes=1, verify_memo_entries=0))
    verifier.start()
    raw = raw_of(signed_credential())
    assert (await verified(verifier, raw))["verdict"] == "valid"  # the worker is up
    requests = [asyncio.ensure_future(verified(verifier, raw)) for _ in range(8)]
    await asyncio.sleep(0.01)  # two submitted (one running, one queued), six waiting for a slot
    await verifier.stop()
    outcomes = await asyncio.gather(*requests, return_exceptions=True)
    assert all(isinstance(o, dict | VerifierUnavailableError) for o in outcomes), outcomes
    assert any(isinstance(o, VerifierUnavailableError) for o in outcomes)
