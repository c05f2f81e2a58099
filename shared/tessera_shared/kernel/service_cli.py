"""The command line every service shares: serve, migrate, provision, rebuild, dlq, asyncapi.

``tessera-<service> <command>`` (and ``tessera <service> <command>``) build the service from its
composition root, so a rebuild or a redrive runs the very handlers the service runs.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from tessera_shared.kernel import db
from tessera_shared.kernel.asyncapi import asyncapi_json
from tessera_shared.kernel.consumer import list_dead_letters
from tessera_shared.kernel.logging import configure as configure_logging
from tessera_shared.kernel.nats import provision_subscription
from tessera_shared.kernel.runtime import Runtime, ServiceDefinition

Build = Callable[[], ServiceDefinition]


async def _with_runtime(build: Build, work: Callable[[Runtime], Any], *, nats: bool = True) -> Any:
    definition = build()
    definition.settings.run_background = False
    runtime = Runtime(definition)
    await runtime.migrate()
    runtime.pool = await db.create_pool(definition.settings.database_url, size=4)
    try:
        if nats:
            await runtime.start()
        else:
            from tessera_shared.kernel.eventstore import EventStore
            from tessera_shared.kernel.projections import ProjectionRunner

            runtime.store = EventStore(runtime.pool, source=runtime.source, service=runtime.name)
            runtime.projections = ProjectionRunner(
                runtime.store, definition.projections, dsn=definition.settings.database_url
            )
        return await work(runtime)
    finally:
        if nats:
            await runtime.stop()
        else:
            await runtime.pool.close()


def make_cli(build: Build, create_app_path: str) -> typer.Typer:
    cli = typer.Typer(no_args_is_help=True, add_completion=False)
    dlq = typer.Typer(no_args_is_help=True, help="Dead letters: list and redrive")
    cli.add_typer(dlq, name="dlq")
    console = Console()

    @cli.command()
    def serve(reload: bool = False) -> None:
        """Run the HTTP API with its relay, consumers and projections."""
        import uvicorn

        s = build().settings
        uvicorn.run(create_app_path, factory=True, host=s.http_host, port=s.http_port, reload=reload, log_config=None)

    @cli.command()
    def migrate() -> None:
        """Create the database if needed and apply pending migrations."""
        definition = build()
        configure_logging(definition.settings.log_level, "console")
        applied = asyncio.run(Runtime(definition).migrate())
        console.print(f"applied: {applied or 'nothing (up to date)'}")

    @cli.command()
    def provision() -> None:
        """Create/update this service's stream and its durable consumers."""

        async def work(rt: Runtime) -> None:
            assert rt.js is not None
            for c in rt.consumers:  # fails after a minute if a source stream never appears
                await provision_subscription(rt.js, c.spec.subscription, c.namespace, c.spec.policy)

        asyncio.run(_with_runtime(build, work))
        console.print("provisioned")

    @cli.command()
    def rebuild(projection: str = typer.Argument("all", help="a projection name, or 'all'")) -> None:
        """Drop a read model and replay it from the event store."""

        async def work(rt: Runtime) -> dict[str, int]:
            assert rt.projections is not None
            targets = rt.projections.projections if projection == "all" else [rt.projections.by_name(projection)]
            return {p.name: await rt.projections.rebuild(p) for p in targets}

        console.print(asyncio.run(_with_runtime(build, work, nats=False)))

    @dlq.command("list")
    def dlq_list(
        all_: bool = typer.Option(False, "--all", help="include redriven ones"),
        as_json: bool = typer.Option(False, "--json"),
    ) -> None:
        """Dead letters not yet redriven."""

        async def work(rt: Runtime) -> list[dict[str, Any]]:
            assert rt.pool is not None
            return await list_dead_letters(rt.pool, include_redriven=all_)

        rows = asyncio.run(_with_runtime(build, work, nats=False))
        if as_json:
            console.print_json(json.dumps(rows, default=str))
            return
        table = Table("id", "consumer", "type", "deliveries", "error", "created")
        for r in rows:
            table.add_row(
                str(r["id"]),
                r["consumer"],
                r["event_type"] or "?",
                str(r["delivery_count"]),
                r["error"][:80],
                str(r["created_at"]),
            )
        console.print(table)

    @dlq.command("redrive")
    def dlq_redrive(
        ids: list[int] = typer.Option(None, "--id", help="dead letter id (repeatable)"),
        consumer: str = typer.Option("", help="only this consumer"),
    ) -> None:
        """Run dead letters through their consumer's handler again (after a fix)."""

        async def work(rt: Runtime) -> dict[str, dict[str, int]]:
            return {c.name: await c.redrive(ids or None) for c in rt.consumers if not consumer or c.name == consumer}

        console.print(asyncio.run(_with_runtime(build, work)))

    @cli.command()
    def asyncapi() -> None:
        """Print this service's AsyncAPI 3.0 document."""
        print(asyncapi_json(build()))

    return cli
