"""``tessera demo``: seed the demo consortium and cohort into running services.

Registered on the ``tessera`` command line as ``demo`` (``app.command("demo")(demo)`` in
``tessera_shared/cli.py``); also ``python -m tessera_shared.demo``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from tessera_shared.demo import DemoError, Endpoints, run_demo_sync
from tessera_shared.launcher import DEFAULT_PORT_BASE, service_ports


def demo(
    base: str = typer.Option("http://127.0.0.1", help="scheme and host where the services listen"),
    key: Path = typer.Option(Path(".data/keys/operator-private.pem"), help="operator private key"),
    port_base: int = typer.Option(
        DEFAULT_PORT_BASE, envvar="TESSERA_PORT_BASE", help="services listen on port-base + 1 … 4"
    ),
    timeout: float = typer.Option(300.0, help="seconds to wait, in all, for events to cross the services"),
) -> None:
    """Seed the demo consortium (three universities, a joint and a stand-alone micro-credential, a
    pathway, two open offerings) and cohort (enrolments, results, a resit, corrections) through the
    services' APIs; running it again changes nothing."""
    endpoints = Endpoints.local(base, service_ports(port_base))
    try:
        report = run_demo_sync(endpoints, key.read_bytes(), timeout=timeout)
    except (DemoError, OSError) as exc:
        typer.echo(f"demo failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(report.summary())


def main() -> None:
    typer.run(demo)
