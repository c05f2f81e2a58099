"""``tessera-catalogue``: serve, migrate, provision, rebuild, dlq, asyncapi."""

from tessera_catalogue.bootstrap import build
from tessera_shared.kernel.service_cli import make_cli

cli = make_cli(build, "tessera_catalogue.bootstrap:create_app")


def main() -> None:
    cli()
