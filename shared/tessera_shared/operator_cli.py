"""Operator commands that go through the services' APIs with a short-lived operator token.

``tessera institution register FILE``, ``tessera keys rotate INSTITUTION`` and
``tessera results upload OFFERING FILE`` (big CSV files in chunks, with a progress bar).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from pathlib import Path

import httpx
import typer
from rich.console import Console
from rich.progress import Progress

from tessera_shared.kernel import auth
from tessera_shared.launcher import SERVICES

console = Console()
institution = typer.Typer(no_args_is_help=True, help="Consortium partners")
results = typer.Typer(no_args_is_help=True, help="Assessment results")

KEY = typer.Option(Path(".data/keys/operator-private.pem"), help="operator private key")
BASE = typer.Option("http://127.0.0.1", help="where the services listen (ports as in `make run`)")


def _bearer(
    key: Path, roles: list[str], subject: str = "tessera-cli", institution_id: str | None = None
) -> dict[str, str]:
    token = auth.mint_token(key.read_bytes(), subject=subject, roles=roles, institution=institution_id, ttl_seconds=600)
    return {"Authorization": f"Bearer {token}"}


def _fail(response: httpx.Response) -> None:
    if response.status_code >= 400:
        console.print(f"[red]{response.status_code}[/red] {response.text}")
        raise typer.Exit(1)


@institution.command("register")
def register(
    file: Path = typer.Argument(..., help="institution JSON (see docs/catalogue.md)"), key: Path = KEY, base: str = BASE
) -> None:
    """Register a partner institution in the catalogue."""
    body = json.loads(file.read_text())
    r = httpx.post(f"{base}:{SERVICES['catalogue']}/institutions", json=body, headers=_bearer(key, ["operator"]))
    _fail(r)
    console.print(r.json())


def rotate_key(
    institution_id: str = typer.Argument(..., help="SCHAC id, e.g. ugent.be"), key: Path = KEY, base: str = BASE
) -> None:
    """Rotate an institution's credential-signing key (old keys stay resolvable)."""
    r = httpx.post(
        f"{base}:{SERVICES['credential']}/institutions/{institution_id}/keys/rotate", headers=_bearer(key, ["operator"])
    )
    _fail(r)
    console.print(r.json())


@results.command("upload")
def upload(
    offering: str = typer.Argument(...),
    file: Path = typer.Argument(..., help="CSV with a header row (docs/assessment.md)"),
    assessor: str = typer.Option(..., help="the assessor's user id (token subject)"),
    institution_id: str = typer.Option(..., "--institution", help="the assessor's institution"),
    chunk: int = typer.Option(5000, help="rows per upload request"),
    key: Path = KEY,
    base: str = BASE,
) -> None:
    """Upload an exam session in chunks; each chunk is idempotent, so re-running resumes safely."""
    text = file.read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(text))
    header, rows = next(reader), list(reader)
    headers = _bearer(key, ["assessor"], assessor, institution_id) | {"Content-Type": "text/csv"}
    accepted = errors = 0
    with Progress(console=console) as progress, httpx.Client(timeout=300) as client:
        task = progress.add_task(f"uploading {len(rows)} rows", total=len(rows))
        for start in range(0, len(rows), chunk):
            out = io.StringIO()
            csv.writer(out).writerows([header, *rows[start : start + chunk]])
            body = out.getvalue()
            idem = hashlib.sha256(f"{offering}:{start}:{body}".encode()).hexdigest()[:64]
            r = client.post(
                f"{base}:{SERVICES['assessment']}/offerings/{offering}/results/uploads",
                content=body,
                headers=headers | {"Idempotency-Key": idem},
            )
            _fail(r)
            report = r.json()
            accepted += int(
                report.get("accepted", 0)
                if isinstance(report.get("accepted"), int)
                else len(report.get("accepted", []))
            )
            errors += len(report.get("errors", []))
            progress.advance(task, min(chunk, len(rows) - start))
    console.print(f"accepted {accepted}, errors {errors}")
