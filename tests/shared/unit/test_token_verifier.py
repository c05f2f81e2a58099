"""The token verifier remembers accepted tokens until they expire, and only those."""

from __future__ import annotations

import time

import jwt
import pytest

from tessera_shared.kernel.auth import TokenVerifier, Unauthorized, generate_keypair, load_public_key, mint_token

pytestmark = pytest.mark.unit
PRIVATE, PUBLIC = generate_keypair()
OTHER_PRIVATE, _ = generate_keypair()


def _verifier() -> TokenVerifier:
    return TokenVerifier(load_public_key(PUBLIC.decode()), issuer="tessera-operator", audience="tessera", leeway=0)


def _counting(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    decoded: list[str] = []
    real = jwt.decode

    def decode(token: str, *args, **kwargs):  # type: ignore[no-untyped-def]
        decoded.append(token)
        return real(token, *args, **kwargs)

    monkeypatch.setattr(jwt, "decode", decode)
    return decoded


def test_a_token_is_verified_once_and_then_remembered(monkeypatch):
    decoded = _counting(monkeypatch)
    verifier = _verifier()
    token = mint_token(PRIVATE, subject="a", roles=["assessor"], institution="ugent.be")
    first, second = verifier.verify(token), verifier.verify(token)
    assert first == second and first.institution == "ugent.be" and first.has("assessor")
    assert decoded == [token]


def test_a_remembered_token_is_refused_once_it_expires():
    verifier = _verifier()
    token = mint_token(PRIVATE, subject="a", roles=["assessor"], ttl_seconds=60, now=time.time() - 58.5)
    verifier.verify(token)
    expires = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, expires - time.time()) + 0.05)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(token)


def test_refused_tokens_are_never_remembered(monkeypatch):
    decoded = _counting(monkeypatch)
    verifier = _verifier()
    forged = mint_token(OTHER_PRIVATE, subject="a", roles=["operator"])
    for _ in range(2):
        with pytest.raises(Unauthorized):
            verifier.verify(forged)
    assert decoded == [forged, forged]
    header, payload, signature = mint_token(PRIVATE, subject="a", roles=["assessor"]).split(".")
    flipped = "B" if signature[10] == "A" else "A"  # a whole base64 digit: it changes the signature
    tampered = ".".join((header, payload, signature[:10] + flipped + signature[11:]))
    with pytest.raises(Unauthorized):
        verifier.verify(tampered)


def test_it_remembers_a_bounded_number_of_tokens(monkeypatch):
    monkeypatch.setattr(TokenVerifier, "REMEMBERED", 3)
    decoded = _counting(monkeypatch)
    verifier = _verifier()
    tokens = [mint_token(PRIVATE, subject=f"s{i}", roles=["learner"]) for i in range(4)]
    for t in tokens:
        verifier.verify(t)
    verifier.verify(tokens[0])  # the oldest was dropped: verified again
    verifier.verify(tokens[3])  # still remembered
    assert decoded == [*tokens, tokens[0]]
