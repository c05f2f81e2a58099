"""``tessera``: the operator's command line.

Keys and tokens; provisioning of every stream and consumer; the consortium's status, partners,
signing keys, results uploads, dead letters and read models (``operator_cli``); the contract's JSON
Schemas; the local consortium (``tessera run``, ``tessera demo``); and each service's own commands
(``tessera credential dlq list``).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import sys
from pathlib import Path

import typer
from rich.console import Console

from tessera_shared import operator_cli
from tessera_shared.contract.base import registered_types
from tessera_shared.contract.topology import CONTEXTS, SUBSCRIPTIONS
from tessera_shared.demo.cli import demo as demo_command
from tessera_shared.kernel import auth
from tessera_shared.kernel.nats import (
    ConsumerPolicy,
    connect,
    ensure_stream,
    provision_subscription,
    stream_config,
)

app = typer.Typer(no_args_is_help=True, add_completion=False, help=__doc__)
keys = typer.Typer(no_args_is_help=True, help="The operator's token-signing key pair")
token = typer.Typer(no_args_is_help=True, help="Bearer tokens for institutions' staff and learners")
contract = typer.Typer(no_args_is_help=True, help="The public event contract")
app.add_typer(keys, name="keys")
app.add_typer(token, name="token")
app.add_typer(contract, name="contract")
console = Console()


@keys.command("create")
def keys_create(directory: Path = typer.Option(Path(".data/keys"), "--dir")) -> None:
    """Create the operator's Ed25519 key pair (private key file mode 0600)."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / "operator-private.pem", directory / "operator-public.pem"
    if private.exists():
        raise typer.BadParameter(f"{private} exists; refusing to overwrite a key")
    priv, pub = auth.generate_keypair()
    private.write_bytes(priv)
    private.chmod(0o600)
    public.write_bytes(pub)
    console.print(f"private: {private}\npublic:  {public}  (give services TOKEN_PUBLIC_KEY={public})")


@token.command("mint")
def token_mint(
    key: Path = typer.Option(Path(".data/keys/operator-private.pem"), help="operator private key"),
    sub: str = typer.Option(..., help="the user's or learner's id"),
    role: list[str] = typer.Option(..., help=f"one of {', '.join(auth.ROLES)} (repeatable)"),
    institution: str = typer.Option("", help="SCHAC id of the user's institution"),
    ttl: int = typer.Option(3600, min=1, help="seconds until expiry"),
    issuer: str = typer.Option("tessera-operator", envvar="TOKEN_ISSUER", help="iss claim (services' TOKEN_ISSUER)"),
    audience: str = typer.Option("tessera", envvar="TOKEN_AUDIENCE", help="aud claim (services' TOKEN_AUDIENCE)"),
) -> None:
    """Print a signed bearer token (EdDSA JWT: sub, roles, institution, iat, exp, iss, aud)."""
    unknown = set(role) - set(auth.ROLES)
    if unknown:
        raise typer.BadParameter(f"unknown role(s): {', '.join(sorted(unknown))}", param_hint="--role")
    print(
        auth.mint_token(
            key.read_bytes(),
            subject=sub,
            roles=role,
            institution=institution or None,
            ttl_seconds=ttl,
            issuer=issuer,
            audience=audience,
        )
    )


@app.command()
def provision(
    nats_url: str = typer.Option("nats://127.0.0.1:4222", envvar="NATS_URL"),
    namespace: str = typer.Option("", envvar="NATS_NAMESPACE"),
    replicas: int = typer.Option(1, envvar="STREAM_REPLICAS"),
    max_deliver: int = typer.Option(5, envvar="CONSUMER_MAX_DELIVER"),
) -> None:
    """Create/update every context's stream and every durable consumer (the deploy job)."""

    async def work() -> None:
        nc = await connect(nats_url)
        js = nc.jetstream()
        for ctx in CONTEXTS:
            await ensure_stream(js, stream_config(ctx, namespace, replicas))
        for sub in SUBSCRIPTIONS:
            await provision_subscription(js, sub, namespace, ConsumerPolicy(max_deliver=max_deliver))
        await nc.close()

    asyncio.run(work())
    console.print(f"{len(CONTEXTS)} streams, {len(SUBSCRIPTIONS)} consumers provisioned")


@contract.command("export")
def contract_export(out: Path = typer.Option(Path("docs/contract"), "--out")) -> None:
    """Write the JSON Schema of every event type (what ``dataschema`` names) to ``out``."""
    _load_services()
    out.mkdir(parents=True, exist_ok=True)
    for event_type, model in sorted(registered_types().items()):
        if event_type.split(".")[1] in CONTEXTS:
            (out / f"{event_type}.json").write_text(json.dumps(model.model_json_schema(), indent=2) + "\n")
    console.print(f"schemas written to {out}")


@app.command("nats-permissions")
def nats_permissions(
    out: Path = typer.Option(Path("deploy/nats/permissions.conf"), "--out"),
    namespace: str = typer.Option("", envvar="NATS_NAMESPACE"),
) -> None:
    """Write the NATS users and subject permissions derived from the topology."""
    from tessera_shared.kernel.nats_permissions import permissions_conf

    out.write_text(permissions_conf(namespace))
    console.print(f"written {out}")


@app.command()
def run(data_dir: Path = typer.Option(Path(".data"), envvar="TESSERA_DATA_DIR")) -> None:
    """Start NATS, PostgreSQL and the four services locally (what ``make run`` does)."""
    from tessera_shared.launcher import run as run_consortium

    raise typer.Exit(run_consortium(data_dir.resolve()))


app.command("demo")(demo_command)
app.command("status")(operator_cli.status)
app.command("rebuild")(operator_cli.rebuild)
app.add_typer(operator_cli.dlq, name="dlq")
app.add_typer(operator_cli.institution, name="institution")
app.add_typer(operator_cli.results, name="results")
keys.command("rotate")(operator_cli.rotate_key)


def _load_services() -> None:
    for name in CONTEXTS:
        try:
            importlib.import_module(f"tessera_{name}.bootstrap")
        except ImportError:
            continue


def _add_service_commands(argv: list[str]) -> None:
    """Each service's own commands under its name (``tessera credential dlq list``).

    Importing a service loads its whole composition root, which takes seconds; so only the service
    named on the command line is imported, and the others are listed in the help by name only."""
    wanted = argv[1] if len(argv) > 1 else None
    for name in CONTEXTS:
        if importlib.util.find_spec(f"tessera_{name}") is None:
            continue
        if name == wanted:
            module = importlib.import_module(f"tessera_{name}.entrypoints.cli")
            app.add_typer(module.cli, name=name, help=f"the {name} service's commands")
        else:
            app.add_typer(typer.Typer(), name=name, help=f"the {name} service's commands (tessera {name} --help)")


def main() -> None:
    _add_service_commands(sys.argv)
    app()
