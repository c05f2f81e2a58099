"""deploy/compose.yml proven without a Docker engine: its wiring, run as local processes.

The test reads compose.yml and does what ``docker compose up`` would, with compose's host names
mapped to loopback and published ports to free ones:

* NATS: a nats-server run with the compose ``command`` and ``environment`` (the passwords), its
  config being deploy/nats/nats.conf with only the listen ports and the store directory changed,
  next to deploy/nats/permissions.conf as the volumes place them (so its ``include`` is the real one);
* PostgreSQL: the session's test server, set up by deploy/postgres/init-databases.sh exactly as the
  image's init hook runs it, with role and database names prefixed so that runs never collide;
* the ``provision`` job's ``sh -c`` command (``$$`` unescaped as compose does), which must succeed;
* the four services with their ``command`` and ``environment`` (``${VARS}`` interpolated, secrets
  as files), each started only after the job completed.

Then every compose healthcheck ``test`` must pass, the NATS permissions must really bind (a service
user cannot publish on another context's subjects nor subscribe to them), the documented metrics
must be served, and the demo's consortium and cohort must cross all four services: catalogue →
enrolment admits → assessment records → credential awards → enrolment marks completed.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import nats
import pytest
import yaml
from nats.errors import NoServersError

from tessera_shared.demo import Endpoints, run_demo
from tessera_shared.demo import data as demo_data
from tessera_shared.kernel import auth
from tessera_shared.testing.servers import Servers, free_port, nats_server_binary, postgres_bindir
from tests.deploy.deploy_support import ROOT, VENV_BIN, Child, executable

pytestmark = pytest.mark.integration

DEPLOY = ROOT / "deploy"
APP_SERVICES = ("catalogue", "enrolment", "assessment", "credential")
METRICS = (
    "tessera_events_appended_total",
    "tessera_events_published_total",
    "tessera_events_consumed_total",
    "tessera_dead_letters_total",
    "tessera_relay_lag_events",
    "tessera_relay_lag_seconds",
    "tessera_consumer_lag_messages",
    "tessera_projection_position",
)

# --- compose semantics --------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def interpolate(text: str, variables: Mapping[str, str]) -> str:
    """Compose's interpolation: ``$$`` is a literal ``$``; ``${VAR}``, ``$VAR``, ``${VAR:-default}``,
    ``${VAR-default}``, ``${VAR:?error}`` and ``${VAR?error}``."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group(1) or m.group(4)
        op, arg = m.group(2), m.group(3) or ""
        value = variables.get(name)
        unset_or_empty = value is None or (op is not None and op.startswith(":") and value == "")
        if op in (":-", "-") and unset_or_empty:
            return arg
        if op in (":?", "?") and unset_or_empty:
            raise AssertionError(f"compose would refuse: {name} {arg}")
        return value or ""

    return _VARIABLE.sub(one, text)


def nats_accepts(passwords: Mapping[str, str], directory: Path) -> str | None:
    """None if nats-server reads every password from its environment as a config variable (as
    permissions.conf references them), else its complaint."""
    users = "\n".join(f"{{ user: u{i}, password: ${name} }}" for i, name in enumerate(passwords))
    conf = directory / "passwords.conf"
    conf.write_text(f"authorization {{\n  users = [\n{users}\n  ]\n}}\n")
    checked = subprocess.run(
        [nats_server_binary(), "-c", str(conf), "-t"], env=dict(passwords), capture_output=True, text=True
    )
    conf.unlink()
    return None if checked.returncode == 0 else checked.stderr


def make_secrets(deploy: Path) -> dict[str, str]:
    """Run deploy/make-secrets.sh in a copy of deploy/ (``uv run`` being this environment) and return
    the variables it wrote to .env (NATS must accept its passwords: see the test below)."""
    deploy.mkdir()
    shutil.copy(DEPLOY / "make-secrets.sh", deploy / "make-secrets.sh")
    shim = deploy.parent / "bin"
    shim.mkdir()
    (shim / "uv").write_text('#!/bin/sh\n[ "$1" = run ] && shift\nexec "$@"\n')
    (shim / "uv").chmod(0o755)
    env = {"PATH": f"{shim}:{VENV_BIN}:/usr/local/bin:/usr/bin:/bin", "HOME": str(deploy.parent), "LANG": "C.UTF-8"}
    done = subprocess.run(["sh", str(deploy / "make-secrets.sh")], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = (deploy / ".env").read_text().splitlines()
    variables = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    complaint = nats_accepts({k: v for k, v in variables.items() if k.endswith("_NATS_PASSWORD")}, deploy)
    assert complaint is None, complaint
    return variables


def seconds(duration: str) -> float:
    """A compose duration (``5s``, ``1m30s``, ``500ms``)."""
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600}
    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h)", str(duration))
    assert parts, duration
    return sum(float(n) * units[u] for n, u in parts)


@dataclass
class Deployment:
    """compose.yml's services on this machine: where each compose name and port went."""

    compose: dict[str, Any]
    directory: Path
    admin_url: str
    nats_port: int = field(default_factory=free_port)
    nats_monitor_port: int = field(default_factory=free_port)
    prefix: str = field(default_factory=lambda: "t" + uuid.uuid4().hex[:8] + "_")
    variables: dict[str, str] = field(default_factory=dict)
    ports: dict[int, int] = field(default_factory=dict)  # published container port -> local port
    children: dict[str, Child] = field(default_factory=dict)

    def __post_init__(self) -> None:
        deploy = self.directory / "deploy"
        self.variables = make_secrets(deploy)
        self.secrets = self.directory / "run-secrets"  # what compose mounts at /run/secrets
        self.secrets.mkdir()
        for name, secret in self.compose["secrets"].items():
            source = deploy / secret["file"]
            assert source.exists(), f"make-secrets.sh made no {secret['file']} for the compose secret {name}"
            (self.secrets / name).symlink_to(source)
        self.private_pem = (deploy / "secrets" / "operator-private.pem").read_bytes()
        admin = urlsplit(self.admin_url)
        self.pg_host, self.pg_port = admin.hostname or "127.0.0.1", admin.port or 5432
        for name in APP_SERVICES:
            for mapping in self.compose["services"][name]["ports"]:
                self.ports[int(str(mapping).split(":")[-1])] = free_port()

    # --- names and addresses ---------------------------------------------------------------------

    def map_value(self, value: str) -> str:
        """A compose value as seen from this machine: interpolated, host names on loopback, secrets
        as files, databases and roles prefixed, published ports mapped."""
        value = interpolate(value, self.variables)
        hosts = {
            ("nats", "4222"): f"127.0.0.1:{self.nats_port}",
            ("postgres", "5432"): f"{self.pg_host}:{self.pg_port}",
        }
        value = re.sub(r"(?<=[@/])(nats|postgres):(\d+)", lambda m: hosts[(m.group(1), m.group(2))], value)
        value = value.replace("/run/secrets/", f"{self.secrets}/")
        if value.startswith("postgresql://"):
            url = urlsplit(value)
            netloc = f"{self.prefix}{url.username}:{url.password}@{url.hostname}:{url.port}"
            value = urlunsplit((url.scheme, netloc, f"/{self.prefix}{url.path.lstrip('/')}", url.query, ""))
        for container, local in self.ports.items():
            value = re.sub(rf"(?<=:){container}\b", str(local), value)
        return value

    def environment(self, service: str) -> dict[str, str]:
        compose_env = self.compose["services"][service].get("environment") or {}
        env = {
            "PATH": f"{VENV_BIN}:/usr/local/bin:/usr/bin:/bin",
            "HOME": str(self.directory),
            "LANG": "C.UTF-8",
            "PYTHONUNBUFFERED": "1",  # the image's ENV
        }
        for key, value in compose_env.items():
            env[key] = self.map_value(str(value))
            if key == "HTTP_PORT":
                env[key] = str(self.ports[int(value)])
        return env

    def url(self, service: str) -> str:
        port = self.ports[int(self.compose["services"][service]["environment"]["HTTP_PORT"])]
        return f"http://127.0.0.1:{port}"

    # --- steps -----------------------------------------------------------------------------------

    def start_nats(self) -> None:
        spec = self.compose["services"]["nats"]
        etc = self.directory / "nats-etc"
        etc.mkdir()
        volumes: dict[str, Path] = {}
        for volume in spec["volumes"]:
            source, target = volume.split(":")[:2]
            if source == "./nats/nats.conf":
                conf = (DEPLOY / "nats" / "nats.conf").read_text()
                for pattern, replacement in (
                    (r"(?m)^port: 4222$", f"port: {self.nats_port}"),
                    (r"(?m)^http_port: 8222$", f"http_port: {self.nats_monitor_port}"),
                    (r"(?m)^(\s*)store_dir: /data$", rf"\g<1>store_dir: {self.directory / 'nats-data'}"),
                ):
                    conf, n = re.subn(pattern, replacement, conf)
                    assert n == 1, f"deploy/nats/nats.conf changed: no line matches {pattern}"
                volumes[target] = etc / "nats.conf"
                volumes[target].write_text(conf)
            elif source.startswith("./"):
                volumes[target] = etc / Path(target).name
                volumes[target].symlink_to(DEPLOY / source)
        assert {p.name for p in volumes.values()} == {"nats.conf", "permissions.conf"}
        args = [str(volumes.get(a, a)) for a in spec["command"]]
        env = {key: interpolate(str(value), self.variables) for key, value in spec["environment"].items()}
        self.children["nats"] = Child(
            [nats_server_binary(), *args, "-a", "127.0.0.1"], env=env, log=self.directory / "nats.log"
        )

    def init_databases(self) -> None:
        """deploy/postgres/init-databases.sh as the postgres image runs it, names prefixed."""
        script = (DEPLOY / "postgres" / "init-databases.sh").read_text()
        for old, new in (
            ("/run/secrets/", f"{self.secrets}/"),
            ("CREATE ROLE ${service} ", f"CREATE ROLE {self.prefix}${{service}} "),
            ("CREATE DATABASE tessera_${service} OWNER ${service};", f"CREATE DATABASE {self.prefix}tessera_${{service}} OWNER {self.prefix}${{service}};"),
            ("ON DATABASE tessera_${service} FROM", f"ON DATABASE {self.prefix}tessera_${{service}} FROM"),
        ):  # fmt: skip
            assert script.count(old) == 1, f"deploy/postgres/init-databases.sh changed: {old!r}"
            script = script.replace(old, new)
        admin = urlsplit(self.admin_url)
        env = {
            "PATH": f"{postgres_bindir()}:/usr/bin:/bin",
            "POSTGRES_USER": admin.username or "postgres",
            "PGHOST": self.pg_host,
            "PGPORT": str(self.pg_port),
            "PGPASSWORD": admin.password or "",
        }
        done = subprocess.run(["sh", "-c", script], env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stdout + done.stderr

    def provision(self) -> None:
        spec = self.compose["services"]["provision"]
        assert spec["depends_on"] == {
            "nats": {"condition": "service_healthy"},
            "postgres": {"condition": "service_healthy"},
        }
        command = [self.map_value(str(part)) for part in spec["command"]]
        command[0] = shutil.which(command[0]) or command[0]
        done = subprocess.run(
            command, env=self.environment("provision"), capture_output=True, text=True, timeout=240, cwd=self.directory
        )
        assert done.returncode == 0, f"the provision job failed:\n{done.stdout}\n{done.stderr}"

    def start_service(self, name: str) -> None:
        spec = self.compose["services"][name]
        assert spec["depends_on"] == {"provision": {"condition": "service_completed_successfully"}}
        command = [executable(spec["command"][0]), *spec["command"][1:]]
        self.children[name] = Child(
            command, env=self.environment(name), cwd=self.directory, log=self.directory / f"{name}.log"
        )

    def healthcheck(self, service: str) -> None:
        """Run the service's compose healthcheck ``test`` until it passes, within compose's budget
        (``retries`` x ``interval``), polling more often than compose would."""
        check = self.compose["services"][service]["healthcheck"]
        kind, *rest = check["test"]
        argv = rest if kind == "CMD" else ["sh", "-c", rest[0]]
        assert kind in ("CMD", "CMD-SHELL"), check
        argv = [re.sub(r"127\.0\.0\.1:8222\b", f"127.0.0.1:{self.nats_monitor_port}", self.map_value(a)) for a in argv]
        if argv[0] == "python":
            argv[0] = sys.executable
        env = {
            "PATH": f"{VENV_BIN}:{postgres_bindir()}:/usr/bin:/bin",
            "PGHOST": self.pg_host,
            "PGPORT": str(self.pg_port),
        }
        budget = seconds(check["interval"]) * int(check["retries"]) + seconds(check.get("start_period", "0s"))
        deadline = time.monotonic() + budget
        last = ""
        while time.monotonic() < deadline:
            child = self.children.get(service)
            if child is not None and child.process.poll() is not None:
                raise AssertionError(f"{service} exited ({child.process.returncode}):\n{child.output[-4000:]}")
            try:
                done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=seconds(check["timeout"]))
            except subprocess.TimeoutExpired:
                last = "timed out"
            else:
                if done.returncode == 0:
                    return
                last = (done.stdout + done.stderr)[-2000:]
            time.sleep(0.5)
        logs = self.children[service].output[-4000:] if service in self.children else ""
        raise AssertionError(f"healthcheck of {service} never passed: {argv}\n{last}\n{logs}")

    def stop(self) -> None:
        for name in (*APP_SERVICES, "nats"):
            if name in self.children:
                self.children[name].stop()

    async def drop_databases(self) -> None:
        conn = await asyncpg.connect(self.admin_url)
        try:
            for name in APP_SERVICES:
                await conn.execute(f'DROP DATABASE IF EXISTS "{self.prefix}tessera_{name}" WITH (FORCE)')
                await conn.execute(f'DROP ROLE IF EXISTS "{self.prefix}{name}"')
        finally:
            await conn.close()


@pytest.fixture
async def deployment(servers: Servers, tmp_path: Path) -> AsyncIterator[Deployment]:
    compose = yaml.safe_load((DEPLOY / "compose.yml").read_text())
    deployment = Deployment(compose, tmp_path, servers.database_url)
    try:
        yield deployment
    finally:
        await asyncio.to_thread(deployment.stop)
        await deployment.drop_databases()


# --- NATS permissions -----------------------------------------------------------------------------


async def refusals(url: str, user: str, password: str, action: str, subject: str) -> list[str]:
    """The errors the server reports when ``user`` publishes to / subscribes on ``subject``."""
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc).lower())

    nc = await nats.connect(url, user=user, password=password, error_cb=on_error, allow_reconnect=False)
    try:
        if action == "publish":
            await nc.publish(subject, b"{}")
        else:
            await nc.subscribe(subject)
        await nc.flush()
        for _ in range(40):
            if errors:
                break
            await asyncio.sleep(0.05)
    finally:
        await nc.close()
    return errors


async def check_permissions(deployment: Deployment) -> None:
    url = f"nats://127.0.0.1:{deployment.nats_port}"
    password = deployment.variables["ENROLMENT_NATS_PASSWORD"]
    published = await refusals(url, "enrolment", password, "publish", "tessera.catalogue.x")
    assert any('permissions violation for publish to "tessera.catalogue.x"' in e for e in published), published
    subscribed = await refusals(url, "enrolment", password, "subscribe", "tessera.>")
    assert any('permissions violation for subscription to "tessera.>"' in e for e in subscribed), subscribed
    assessment = deployment.variables["ASSESSMENT_NATS_PASSWORD"]
    # the assessment user may not read through the credential service's durable consumer
    stolen = await refusals(
        url, "assessment", assessment, "publish", "$JS.API.CONSUMER.MSG.NEXT.ASSESSMENT.credential--assessment"
    )
    assert any("permissions violation for publish" in e for e in stolen), stolen
    # allowed: the JetStream account info every service asks for; a wrong password is refused
    nc = await nats.connect(url, user="enrolment", password=password, allow_reconnect=False)
    try:
        await nc.jetstream().account_info()
    finally:
        await nc.close()
    with pytest.raises((NoServersError, nats.errors.Error)):
        await nats.connect(url, user="enrolment", password="wrong", allow_reconnect=False, max_reconnect_attempts=0)


# --- the test -------------------------------------------------------------------------------------


async def test_compose_services_run_as_processes_with_healthchecks_permissions_and_events(
    deployment: Deployment,
) -> None:
    d = deployment
    await asyncio.to_thread(d.start_nats)
    await asyncio.to_thread(d.healthcheck, "nats")
    await asyncio.to_thread(d.healthcheck, "postgres")
    await asyncio.to_thread(d.init_databases)
    await asyncio.to_thread(d.provision)
    for name in APP_SERVICES:
        d.start_service(name)
    for name in APP_SERVICES:
        await asyncio.to_thread(d.healthcheck, name)

    await check_permissions(d)

    endpoints = Endpoints(*(d.url(name) for name in APP_SERVICES))
    report = await run_demo(endpoints, d.private_pem, wait_seconds=240, say=lambda _: None)
    for learner in demo_data.COHORT:  # credential decided on what catalogue, enrolment and assessment said
        awards = report.awards[learner.learner_id]["awards"]
        for mc_id, statuses in learner.expected.items():
            assert sorted(a["status"] for a in awards if a["micro_credential_id"] == mc_id) == sorted(statuses)
    awarded = {(a["learner_id"], a["offering_id"]) for a in report.all_awards}
    assert awarded and report.completed_enrolments == len(awarded)  # … and enrolment heard of it

    async with httpx.AsyncClient(timeout=10) as client:
        for name in APP_SERVICES:
            r = await client.get(f"{d.url(name)}/metrics")
            assert r.status_code == 200
            missing = [m for m in METRICS if f"# TYPE {m.removesuffix('_total')}" not in r.text]
            assert not missing, (name, missing)
            r = await client.get(f"{d.url(name)}/admin/status", headers=_operator(d))
            assert r.status_code == 200
            assert r.json()["dead_letters"] == {}, (name, r.json())


def _operator(d: Deployment) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.mint_token(d.private_pem, subject='op', roles=['operator'])}"}


# --- deploy/make-secrets.sh ---------------------------------------------------------------------


def test_make_secrets_generates_passwords_nats_can_read_from_its_environment(tmp_path: Path) -> None:
    script = (DEPLOY / "make-secrets.sh").read_text()
    generator = re.search(r"(?m)^rand\(\) \{.*\}$", script)
    if generator is None:
        pytest.fail("deploy/make-secrets.sh has no rand() one-liner any more: adapt this test")
    drawn = subprocess.run(
        ["sh", "-c", generator.group(0) + "\nfor i in $(seq 400); do rand; done"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout.split()
    if len(drawn) != 400:
        pytest.fail(f"rand() printed {len(drawn)} passwords for 400 calls")
    complaint = nats_accepts({f"PASSWORD_{i}": value for i, value in enumerate(drawn)}, tmp_path)
    assert complaint is None, complaint
