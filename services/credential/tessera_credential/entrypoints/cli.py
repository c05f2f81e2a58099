"""``tessera-credential``: serve, migrate, provision, rebuild, dlq, asyncapi."""

from tessera_credential.bootstrap import build
from tessera_shared.kernel.service_cli import make_cli

cli = make_cli(build, "tessera_credential.bootstrap:create_app")


def main() -> None:
    cli()
