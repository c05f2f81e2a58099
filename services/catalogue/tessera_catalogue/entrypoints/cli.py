"""``tessera-catalogue``: serve, migrate, provision, rebuild, dlq, asyncapi, advance-offerings."""

import asyncio
from datetime import date, datetime

import typer
from rich.console import Console

from tessera_catalogue.application.offerings import advance_offerings
from tessera_catalogue.application.unit_of_work import UnitOfWork
from tessera_catalogue.bootstrap import build
from tessera_catalogue.config import CatalogueSettings
from tessera_shared.kernel import db
from tessera_shared.kernel.eventstore import EventStore
from tessera_shared.kernel.runtime import Runtime
from tessera_shared.kernel.service_cli import make_cli

cli = make_cli(build, "tessera_catalogue.bootstrap:create_app")


@cli.command("advance-offerings")
def advance_offerings_command(
    today: str = typer.Option("", help="the date to advance to (YYYY-MM-DD); default: today in CATALOGUE_TIMEZONE"),
) -> None:
    """Take the lifecycle steps the offerings' dates make due (open, close, start, finish): for a cron
    job when the in-process clock (OFFERING_CLOCK_SECONDS) is off. Events reach NATS via the outbox
    relay of the running service."""
    settings = CatalogueSettings()
    day = date.fromisoformat(today) if today else datetime.now(settings.zone).date()

    async def work() -> dict[str, list[str]]:
        definition = build(settings)
        await Runtime(definition).migrate()
        pool = await db.create_pool(settings.database_url, size=2)
        try:
            store = EventStore(pool, source="/tessera/catalogue", service="catalogue")
            taken = await advance_offerings(UnitOfWork(pool, store, settings.volume_rules), day)
            return {k: list(v) for k, v in taken.items()}
        finally:
            await pool.close()

    Console().print(asyncio.run(work()) or f"nothing due on {day}")


def main() -> None:
    cli()
