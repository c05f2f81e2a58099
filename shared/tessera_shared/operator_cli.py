"""Operator commands of ``tessera`` that act on a running consortium.

Over the services' HTTP APIs, with a short-lived token minted from the operator's private key
(``--key``), the services at ``--base`` on ports ``--port-base`` + 1 … 4 (as ``make run`` puts them):
``status``, ``institution register``, ``keys rotate`` and ``results upload`` (in chunks).

Over the services' databases (``--database-url`` with ``{service}`` in it, else
``<SERVICE>_DATABASE_URL``, else the service's default): ``dlq list``, ``dlq redrive`` and
``rebuild``, for every service at once (or ``--service``). They build each service from its
composition root, so a redrive or a rebuild runs the very handlers and projections the service
runs, as ``tessera <service> dlq …`` and ``tessera <service> rebuild`` do for the one service whose
``DATABASE_URL`` is set.

Long operations (upload, redrive, rebuild) show a progress bar on a terminal, and one line per step
otherwise (logs, CI).
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import hashlib
import importlib
import io
import json
import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import Progress
from rich.table import Table

from tessera_shared.kernel import auth, db
from tessera_shared.launcher import DEFAULT_PORT_BASE, SERVICE_ORDER, service_ports

if TYPE_CHECKING:  # the kernel's runtime is imported by the commands that need it (a second saved per call)
    from tessera_shared.kernel.consumer import Consumer
    from tessera_shared.kernel.projections import ProjectionRunner
    from tessera_shared.kernel.runtime import ServiceDefinition
    from tessera_shared.kernel.settings import ServiceSettings

console = Console()
err_console = Console(stderr=True)
institution = typer.Typer(no_args_is_help=True, help="Consortium partners")
results = typer.Typer(no_args_is_help=True, help="Assessment results")
dlq = typer.Typer(no_args_is_help=True, help="Dead letters of every service: list and redrive")

KEY = typer.Option(Path(".data/keys/operator-private.pem"), "--key", help="operator private key")
BASE = typer.Option("http://127.0.0.1", "--base", help="scheme and host where the services listen")
PORT_BASE = typer.Option(
    DEFAULT_PORT_BASE,
    "--port-base",
    envvar="TESSERA_PORT_BASE",
    help="the services listen on port-base + 1 … 4 (catalogue, enrolment, assessment, credential)",
)
DATABASE_URL = typer.Option(
    "",
    "--database-url",
    help="the services' databases, {service} standing for the service's name, e.g. "
    "postgresql://postgres@127.0.0.1:15432/tessera_{service} (make run); default: <SERVICE>_DATABASE_URL, "
    "else the service's own default",
)
SERVICES = typer.Option(None, "--service", help="only this service (repeatable); default: all four")


# ------------------------------------------------------------------------------------------ helpers


def _service_url(base: str, port_base: int, service: str) -> str:
    return f"{base.rstrip('/')}:{service_ports(port_base)[service]}"


def _bearer(
    key: Path, roles: list[str], subject: str = "tessera-cli", institution_id: str | None = None
) -> dict[str, str]:
    """A 10-minute token for ``roles``, with the issuer and audience the services expect."""
    try:
        private_pem = key.read_bytes()
    except OSError as exc:
        raise typer.BadParameter(f"cannot read the operator key {key}: {exc.strerror}", param_hint="--key") from None
    token = auth.mint_token(
        private_pem,
        subject=subject,
        roles=roles,
        institution=institution_id,
        ttl_seconds=600,
        issuer=os.environ.get("TOKEN_ISSUER", "tessera-operator"),
        audience=os.environ.get("TOKEN_AUDIENCE", "tessera"),
    )
    return {"Authorization": f"Bearer {token}"}


def _problem(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:500]
    if isinstance(body, dict):
        return str(body.get("detail") or body.get("title") or body)[:500]
    return str(body)[:500]


def _send(client: httpx.Client, method: str, url: str, **kwargs: Any) -> httpx.Response:
    try:
        return client.request(method, url, **kwargs)
    except httpx.HTTPError as exc:
        err_console.print(f"[red]cannot reach {escape(url)}[/red]: {escape(type(exc).__name__)} {escape(str(exc))}")
        raise typer.Exit(1) from None


def _fail(response: httpx.Response) -> None:
    if response.status_code >= 400:
        err_console.print(f"[red]{response.status_code}[/red] {escape(_problem(response))}")
        raise typer.Exit(1)


@contextlib.contextmanager
def _progress(description: str, total: int, unit: str) -> Iterator[Callable[[int], None]]:
    """``advance(n)``: a rich progress bar on a terminal, else one ``done/total`` line per step."""
    done = 0
    if console.is_terminal:
        with Progress(console=console) as progress:
            task = progress.add_task(description, total=total)

            def advance_bar(n: int) -> None:
                progress.advance(task, n)

            yield advance_bar
        return

    console.print(f"{description}: 0/{total} {unit}", highlight=False)

    def advance_line(n: int) -> None:
        nonlocal done
        done += n
        percent = 100 * done // total if total else 100
        console.print(f"{description}: {done}/{total} {unit} ({percent}%)", highlight=False)

    yield advance_line


# ------------------------------------------------------------------------------ over the HTTP APIs


def status(
    key: Path = KEY,
    base: str = BASE,
    port_base: int = PORT_BASE,
    as_json: bool = typer.Option(False, "--json", help="each service's GET /admin/status, as JSON"),
) -> None:
    """Relay lag, consumer lag, dead letters and last event of every service (GET /admin/status).

    Exits 1 when a service cannot be reached or refuses the operator token."""
    headers = _bearer(key, ["operator"])
    report: dict[str, Any] = {}
    with httpx.Client(timeout=10) as client:
        for name in SERVICE_ORDER:
            url = f"{_service_url(base, port_base, name)}/admin/status"
            try:
                r = client.get(url, headers=headers)
            except httpx.HTTPError as exc:
                report[name] = {"error": f"unreachable: {type(exc).__name__}", "url": url}
                continue
            if r.status_code != 200:
                report[name] = {"error": f"{r.status_code}: {_problem(r)}", "url": url}
                continue
            report[name] = r.json()
    failed = any("error" in st for st in report.values())
    if as_json:
        print(json.dumps(report, indent=2, default=str))
        raise typer.Exit(1 if failed else 0)
    table = Table("service", "relay lag", "consumer lag", "dead letters", "last event")
    for name, st in report.items():
        if "error" in st:
            table.add_row(name, f"[red]{escape(st['error'])}[/red]", "", "", "")
            continue
        relay = st["relay"]
        relay_text = (
            f"{relay['unpublished']} unpublished, oldest {relay['oldest_unpublished_seconds']} s"
            f" ({'active' if relay['active'] else 'standby'})"
        )
        lags = "\n".join(f"{c}: {v['lag'] if 'lag' in v else v.get('error')}" for c, v in st["consumers"].items())
        dead = st["dead_letters"]
        dead_text = str(sum(dead.values())) + "".join(f"\n{c}: {n}" for c, n in sorted(dead.items()))
        last = st["last_event"]
        last_text = f"#{last['global_position']} {last['event_type']}\n{last['recorded_at']}" if last else "-"
        table.add_row(name, relay_text, lags or "-", dead_text, last_text)
    console.print(table)
    raise typer.Exit(1 if failed else 0)


@institution.command("register")
def register(
    file: Path = typer.Argument(..., help="an institution as JSON (docs/catalogue.md), or a JSON list of them"),
    key: Path = KEY,
    base: str = BASE,
    port_base: int = PORT_BASE,
) -> None:
    """Register partner institutions in the catalogue (POST /institutions as the operator).

    One that is already registered is reported and left as it is. Exits 1 if any is refused."""
    body = json.loads(file.read_text(encoding="utf-8"))
    items: list[Any] = body if isinstance(body, list) else [body]
    headers = _bearer(key, ["operator"])
    url = f"{_service_url(base, port_base, 'catalogue')}/institutions"
    refused = 0
    with httpx.Client(timeout=30) as client:
        for item in items:
            name = item.get("institution_id", "?") if isinstance(item, dict) else "?"
            r = _send(client, "POST", url, json=item, headers=headers)
            if r.status_code == 201:
                console.print(f"registered {r.json()['institution_id']} (version {r.json()['version']})")
            elif r.status_code == 409:
                console.print(f"{name}: already registered, left as it is")
            else:
                refused += 1
                err_console.print(f"[red]{name}: {r.status_code}[/red] {escape(_problem(r))}")
    if refused:
        raise typer.Exit(1)


def rotate_key(
    institution_id: str = typer.Argument(..., help="SCHAC id, e.g. ugent.be"),
    key: Path = KEY,
    base: str = BASE,
    port_base: int = PORT_BASE,
) -> None:
    """Rotate an institution's credential-signing key on the credential service.

    The new key signs from now on; the old one stays in the institution's DID document, so
    credentials signed with it keep verifying. The institution's status lists are re-signed."""
    url = f"{_service_url(base, port_base, 'credential')}/institutions/{institution_id}/keys/rotate"
    with httpx.Client(timeout=60) as client:
        r = _send(client, "POST", url, headers=_bearer(key, ["operator"]))
    _fail(r)
    body = r.json()
    console.print(
        f"{body['institution_id']}: active key {body['active_verification_method']}\n"
        f"retired (still verifies): {body['retired_verification_method'] or '-'}\n"
        f"status lists re-signed: {body['status_lists_resigned']}",
        highlight=False,
    )


def _start_lines(text: str, delimiter: str) -> list[int]:
    """The physical line each non-blank data row starts on, as the assessment service counts them."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader, None)
    lines, start = [], reader.line_num + 1
    for cells in reader:
        line, start = start, reader.line_num + 1
        if any(cell.strip() for cell in cells):
            lines.append(line)
    return lines


@results.command("upload")
def upload(
    offering: str = typer.Argument(..., help="the offering id"),
    file: Path = typer.Argument(..., help="CSV with a header row (docs/assessment.md, 'Bulk upload')"),
    assessor: str = typer.Option(..., help="the assessor's user id (the token's subject)"),
    institution_id: str = typer.Option(..., "--institution", help="the assessor's institution"),
    chunk: int = typer.Option(5000, min=1, help="rows per upload request"),
    key: Path = KEY,
    base: str = BASE,
    port_base: int = PORT_BASE,
) -> None:
    """Upload an exam session's results in chunks, with a progress bar.

    Each chunk is one upload with an Idempotency-Key derived from its content, so running the
    command again resumes safely: chunks already recorded are not recorded twice. Rejected rows are
    listed with their line in FILE; the command then exits 1 (the valid rows are recorded)."""
    text = file.read_text(encoding="utf-8-sig")
    delimiter = max((",", ";", "\t"), key=text.split("\n", 1)[0].count)  # as the service reads it
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        raise typer.BadParameter(f"{file} is empty", param_hint="FILE")
    rows = [cells for cells in reader if any(cell.strip() for cell in cells)]
    file_lines = _start_lines(text, delimiter)
    headers = _bearer(key, ["assessor"], assessor, institution_id) | {"Content-Type": "text/csv"}
    url = f"{_service_url(base, port_base, 'assessment')}/offerings/{offering}/results/uploads"
    accepted = rejected = 0
    errors: list[dict[str, Any]] = []
    with _progress(f"uploading {len(rows)} rows", len(rows), "rows") as advance, httpx.Client(timeout=300) as client:
        for start in range(0, len(rows), chunk):
            out = io.StringIO()
            csv.writer(out, delimiter=delimiter, lineterminator="\n").writerows([header, *rows[start : start + chunk]])
            body = out.getvalue()
            idem = hashlib.sha256(f"{offering}:{start}:{body}".encode()).hexdigest()
            r = _send(client, "POST", url, content=body.encode(), headers=headers | {"Idempotency-Key": idem})
            _fail(r)
            report = r.json()
            accepted += int(report["accepted"])
            rejected += int(report["rejected"])
            to_file = dict(zip(_start_lines(body, delimiter), file_lines[start : start + chunk], strict=False))
            errors += [e | {"line": to_file.get(e.get("line", 0), e.get("line"))} for e in report["errors"]]
            advance(min(chunk, len(rows) - start))
    console.print(f"accepted {accepted}, rejected {rejected} of {len(rows)} rows")
    if errors:
        table = Table("line", "field", "code", "reason")
        for e in errors:
            field, code = str(e.get("field") or ""), str(e.get("code", ""))
            table.add_row(str(e["line"]), field, code, escape(str(e.get("reason", ""))))
        console.print(table)
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- over the databases


def _services(selected: list[str] | None) -> list[str]:
    unknown = sorted(set(selected or ()) - set(SERVICE_ORDER))
    if unknown:
        raise typer.BadParameter(f"unknown service(s) {', '.join(unknown)}; one of {', '.join(SERVICE_ORDER)}")
    return [name for name in SERVICE_ORDER if not selected or name in selected]


def _settings_class(service: str) -> type[ServiceSettings]:
    from tessera_shared.kernel.settings import ServiceSettings

    cls = getattr(importlib.import_module(f"tessera_{service}.config"), f"{service.capitalize()}Settings")
    assert isinstance(cls, type) and issubclass(cls, ServiceSettings)
    return cls


def _database_url(service: str, template: str) -> str:
    if template:
        return template.replace("{service}", service)
    from_env = os.environ.get(f"{service.upper()}_DATABASE_URL")
    return from_env or str(_settings_class(service).model_fields["database_url"].default)


def _check_template(template: str, services: list[str]) -> None:
    if template and "{service}" not in template and len(services) > 1:
        raise typer.BadParameter(
            "name the database with {service} in it, or give one --service", param_hint="--database-url"
        )


def _definition(service: str, database_url: str) -> ServiceDefinition:
    """The service as its composition root builds it, on ``database_url``, nothing in the background."""
    from tessera_shared.kernel.logging import configure as configure_logging
    from tessera_shared.kernel.runtime import ServiceDefinition

    settings = _settings_class(service)(database_url=database_url, run_background=False)
    configure_logging(settings.log_level, "console")  # on stderr: stdout stays the command's output
    definition = importlib.import_module(f"tessera_{service}.bootstrap").build(settings)
    assert isinstance(definition, ServiceDefinition)
    return definition


@contextlib.asynccontextmanager
async def _pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    """A small pool on an existing database (never creates one, unlike a service's start)."""
    pool = await db.create_pool(database_url, size=3)
    try:
        yield pool
    finally:
        await pool.close()


def _unreachable(service: str, exc: BaseException) -> str:
    message = f"{service}: {type(exc).__name__}: {exc}"
    err_console.print(f"[red]{escape(message)}[/red]")
    return message


@dlq.command("list")
def dlq_list(
    services: list[str] = SERVICES,
    include_redriven: bool = typer.Option(False, "--all", help="include redriven ones"),
    as_json: bool = typer.Option(False, "--json"),
    database_url: str = DATABASE_URL,
) -> None:
    """Dead letters of every service: consumer, event type, deliveries, error.

    Exits 1 when a service's database cannot be read."""
    from tessera_shared.kernel.consumer import list_dead_letters

    names = _services(services)
    _check_template(database_url, names)

    async def work() -> tuple[list[dict[str, Any]], list[str]]:
        rows: list[dict[str, Any]] = []
        problems: list[str] = []
        for name in names:
            try:
                async with _pool(_database_url(name, database_url)) as pool:
                    found = await list_dead_letters(pool, include_redriven=include_redriven)
            except (OSError, asyncpg.PostgresError) as exc:
                problems.append(_unreachable(name, exc))
                continue
            rows += [{"service": name, **r} for r in found]
        return rows, problems

    rows, problems = asyncio.run(work())
    if as_json:
        print(json.dumps(rows, indent=2, default=str))
    else:
        table = Table("service", "id", "consumer", "type", "deliveries", "error", "created", "redriven")
        for r in rows:
            redriven = str(r["redriven_at"] or "") or (f"failed: {r['redrive_error']}" if r["redrive_error"] else "")
            table.add_row(
                r["service"],
                str(r["id"]),
                r["consumer"],
                r["event_type"] or "?",
                str(r["delivery_count"]),
                escape(r["error"][:100]),
                str(r["created_at"]),
                escape(redriven[:100]),
            )
        console.print(table)
        console.print(f"{len(rows)} dead letter(s)" + ("" if include_redriven else " not yet redriven"))
    if problems:
        raise typer.Exit(1)


async def _redrive_one(pool: asyncpg.Pool, consumer: Consumer | None, dead_letter_id: int) -> str | None:
    """Redrive one dead letter; the error if it failed again, None if it was handled."""
    if consumer is None:
        return "this service has no such consumer"
    result = await consumer.redrive([dead_letter_id])
    if result["failed"]:
        return str(await pool.fetchval("SELECT redrive_error FROM dead_letters WHERE id = $1", dead_letter_id))
    return None


@dlq.command("redrive")
def dlq_redrive(
    services: list[str] = SERVICES,
    ids: list[int] = typer.Option(None, "--id", help="only this dead letter (repeatable; needs one service)"),
    consumer: str = typer.Option("", "--consumer", help="only this consumer, e.g. credential--assessment"),
    database_url: str = DATABASE_URL,
) -> None:
    """Run open dead letters through their consumer's handler again, after a fix, with a progress bar.

    Each goes through the same inbox and handler in its own transaction, so an event that was
    handled meanwhile is not applied twice. One that succeeds is marked redriven; one that fails
    again keeps its record with the new error, and the command exits 1."""
    from tessera_shared.kernel.runtime import Runtime

    if consumer:
        owner = consumer.split("--")[0]
        if services and services != [owner]:
            raise typer.BadParameter(f"consumer {consumer} belongs to the {owner} service", param_hint="--consumer")
        services = [owner]
    names = _services(services)
    if ids and len(names) != 1:
        raise typer.BadParameter("dead letter ids are per service: give one --service (or --consumer)")
    _check_template(database_url, names)

    async def work() -> tuple[dict[tuple[str, str], dict[str, int]], list[dict[str, Any]], list[str]]:
        todo: dict[str, list[asyncpg.Record]] = {}
        problems: list[str] = []
        for name in names:
            try:
                async with _pool(_database_url(name, database_url)) as pool:
                    todo[name] = await pool.fetch(
                        """SELECT id, consumer FROM dead_letters
                           WHERE redriven_at IS NULL AND ($1 = '' OR consumer = $1)
                             AND ($2::bigint[] IS NULL OR id = ANY($2)) ORDER BY id""",
                        consumer,
                        ids or None,
                    )
            except (OSError, asyncpg.PostgresError) as exc:
                problems.append(_unreachable(name, exc))
        outcome: dict[tuple[str, str], dict[str, int]] = {}
        failures: list[dict[str, Any]] = []
        total = sum(len(rows) for rows in todo.values())
        with _progress(f"redriving {total} dead letters", total, "dead letters") as advance:
            for name, rows in todo.items():
                if not rows:
                    continue
                runtime = Runtime(_definition(name, _database_url(name, database_url)))
                await runtime.start()  # migrations (none due), NATS, the consumers; nothing runs in the background
                try:
                    assert runtime.pool is not None
                    consumers = {c.name: c for c in runtime.consumers}
                    for row in rows:
                        counts = outcome.setdefault((name, row["consumer"]), {"redriven": 0, "failed": 0})
                        error = await _redrive_one(runtime.pool, consumers.get(row["consumer"]), row["id"])
                        counts["failed" if error else "redriven"] += 1
                        if error:
                            failures.append({"service": name, **dict(row), "error": error})
                        advance(1)
                finally:
                    await runtime.stop()
        return outcome, failures, problems

    outcome, failures, problems = asyncio.run(work())
    table = Table("service", "consumer", "redriven", "failed again")
    for (name, consumer_name), counts in sorted(outcome.items()):
        table.add_row(name, consumer_name, str(counts["redriven"]), str(counts["failed"]))
    console.print(table if outcome else "no open dead letters to redrive")
    for f in failures:
        where = f"{f['service']} #{f['id']} {f['consumer']}"
        err_console.print(f"[red]still failing[/red] {where}: {escape(str(f['error']))}")
    if failures or problems:
        raise typer.Exit(1)


def rebuild(
    projection: str = typer.Argument("all", help="a projection (read model) name, or 'all'"),
    services: list[str] = SERVICES,
    database_url: str = DATABASE_URL,
) -> None:
    """Truncate read models and replay them from each service's event store, with a progress bar.

    A projection name selects the services that have it. The services may keep running."""
    from tessera_shared.kernel.eventstore import EventStore
    from tessera_shared.kernel.projections import ProjectionRunner

    names = _services(services)
    _check_template(database_url, names)
    plan = {name: _definition(name, _database_url(name, database_url)) for name in names}
    chosen = {
        name: [p for p in d.projections if projection in ("all", p.name)] for name, d in plan.items() if d.projections
    }
    chosen = {name: ps for name, ps in chosen.items() if ps}
    if not chosen:
        known = sorted(p.name for d in plan.values() for p in d.projections)
        raise typer.BadParameter(f"no projection {projection!r} in {', '.join(names)}; known: {', '.join(known)}")

    async def replay(runner: ProjectionRunner, pool: asyncpg.Pool, name: str, projection_name: str) -> int:
        total = int(await pool.fetchval("SELECT coalesce(max(global_position), 0) FROM events"))
        with _progress(f"rebuilding {name}/{projection_name}", total, "events") as advance:
            task = asyncio.create_task(runner.rebuild(runner.by_name(projection_name)))
            shown = 0
            while not task.done():
                await asyncio.wait({task}, timeout=0.5)
                position = await pool.fetchval(
                    "SELECT position FROM projection_checkpoints WHERE projection = $1", projection_name
                )
                now = min(int(position or 0), total) if not task.done() else total
                if now > shown:
                    advance(now - shown)
                    shown = now
            return task.result()

    async def work() -> tuple[dict[str, int], list[str]]:
        replayed: dict[str, int] = {}
        problems: list[str] = []
        for name, projections in chosen.items():
            url = _database_url(name, database_url)
            try:
                async with _pool(url) as pool:
                    store = EventStore(pool, source=f"/tessera/{name}", service=name)
                    runner = ProjectionRunner(store, projections, dsn=url)
                    for p in projections:
                        replayed[f"{name}/{p.name}"] = await replay(runner, pool, name, p.name)
            except (OSError, asyncpg.PostgresError) as exc:
                problems.append(_unreachable(name, exc))
        return replayed, problems

    replayed, problems = asyncio.run(work())
    for name, count in replayed.items():
        console.print(f"rebuilt {name}: {count} events replayed", highlight=False)
    if problems:
        raise typer.Exit(1)
