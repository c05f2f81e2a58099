"""``tessera keys create`` and ``tessera token mint``, run as the installed console script."""

from __future__ import annotations

import stat
import time
from pathlib import Path

import jwt
import pytest

from tessera_shared.kernel.auth import TokenVerifier, Unauthorized, load_public_key
from tests.operations.conftest import operator_env, run_tessera

pytestmark = pytest.mark.integration


async def test_keys_create_writes_a_pair_and_minted_tokens_verify_with_its_public_key(tmp_path: Path):
    keys = tmp_path / "keys"
    created = await run_tessera("keys", "create", "--dir", str(keys), env=operator_env())
    assert created.returncode == 0, created.output
    private, public = keys / "operator-private.pem", keys / "operator-public.pem"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert str(public) in created.stdout
    first = private.read_bytes()

    again = await run_tessera("keys", "create", "--dir", str(keys), env=operator_env())
    assert again.returncode != 0 and "refusing to overwrite" in again.output
    assert private.read_bytes() == first

    minted = await run_tessera(
        "token", "mint", "--key", str(private), "--sub", "alice", "--institution", "ugent.be",
        "--role", "assessor", "--role", "registrar", "--ttl", "120",
        env=operator_env(),
    )  # fmt: skip
    assert minted.returncode == 0, minted.output
    token = minted.stdout.strip()
    verifier = TokenVerifier(load_public_key(str(public)), issuer="tessera-operator", audience="tessera")
    principal = verifier.verify(token)
    assert principal.subject == "alice"
    assert principal.institution == "ugent.be"
    assert principal.roles == frozenset({"assessor", "registrar"})

    claims = jwt.decode(token, options={"verify_signature": False})
    assert 115 <= claims["exp"] - time.time() <= 121

    # another operator's public key does not verify it
    other = tmp_path / "other"
    assert (await run_tessera("keys", "create", "--dir", str(other), env=operator_env())).returncode == 0
    stranger = TokenVerifier(
        load_public_key(str(other / "operator-public.pem")), issuer="tessera-operator", audience="tessera"
    )
    with pytest.raises(Unauthorized):
        stranger.verify(token)


async def test_token_mint_follows_the_services_issuer_and_audience_and_refuses_unknown_roles(tmp_path: Path):
    assert (await run_tessera("keys", "create", "--dir", str(tmp_path), env=operator_env())).returncode == 0
    key = str(tmp_path / "operator-private.pem")
    public = load_public_key(str(tmp_path / "operator-public.pem"))

    operator = await run_tessera("token", "mint", "--key", key, "--sub", "op", "--role", "operator", env=operator_env())
    assert operator.returncode == 0, operator.output
    principal = TokenVerifier(public, issuer="tessera-operator", audience="tessera").verify(operator.stdout.strip())
    assert principal.is_operator and principal.institution is None

    env = operator_env(TOKEN_ISSUER="consortium-x", TOKEN_AUDIENCE="tessera-x")
    custom = await run_tessera("token", "mint", "--key", key, "--sub", "op", "--role", "operator", env=env)
    assert custom.returncode == 0, custom.output
    assert TokenVerifier(public, issuer="consortium-x", audience="tessera-x").verify(custom.stdout.strip()).is_operator
    with pytest.raises(Unauthorized):
        TokenVerifier(public, issuer="tessera-operator", audience="tessera").verify(custom.stdout.strip())

    refused = await run_tessera("token", "mint", "--key", key, "--sub", "x", "--role", "superuser", env=operator_env())
    assert refused.returncode != 0 and "superuser" in refused.output and refused.stdout.strip() == ""
