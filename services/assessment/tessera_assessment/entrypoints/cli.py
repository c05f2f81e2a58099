"""``tessera-assessment``: serve, migrate, provision, rebuild, dlq, asyncapi."""

from tessera_assessment.bootstrap import build
from tessera_shared.kernel.service_cli import make_cli

cli = make_cli(build, "tessera_assessment.bootstrap:create_app")


def main() -> None:
    cli()
