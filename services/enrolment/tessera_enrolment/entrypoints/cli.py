"""``tessera-enrolment``: serve, migrate, provision, rebuild, dlq, asyncapi."""

from tessera_enrolment.bootstrap import build
from tessera_shared.kernel.service_cli import make_cli

cli = make_cli(build, "tessera_enrolment.bootstrap:create_app")


def main() -> None:
    cli()
