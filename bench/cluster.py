"""The four services as separate processes against real NATS JetStream and PostgreSQL.

Used by the benchmark (``bench/run.py``) and the full resilience suite (``tests/resilience``):
each service runs ``python -m bench.serve <name>`` (uvicorn on the service's own ``create_app``,
exactly what ``tessera run`` starts), on a free loopback port, with its own database and a NATS
namespace of the run, so several runs can share one server. A service can be killed with SIGKILL
and started again on the same port, database and namespace (what a crash and a supervisor do).

Optionally a service runs under the sampling profiler (``bench/sampler.py``): its samples are written
when the service stops gracefully (SIGINT), not after SIGKILL.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx

from tessera_shared.kernel import db
from tessera_shared.testing.apps import Tokens
from tessera_shared.testing.servers import free_port

REPO = Path(__file__).resolve().parents[1]
SERVICES = ("catalogue", "enrolment", "assessment", "credential")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its descendants (worker processes that sign or
    verify; those already ended and waited for count through cutime/cstime), 0 when it is gone."""
    fields = _stat(pid)
    if fields is None:
        return 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    total = sum(int(f) for f in fields[11:15])
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            parents[int(entry.name)] = int(st[1])
    family, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier and child not in family}
        family |= frontier
    for child in family:
        if (st := _stat(child)) is not None:
            total += int(st[11]) + int(st[12])
    return total / ticks


def pids_named(fragment: str) -> list[int]:
    """Processes whose command line contains ``fragment`` (to account CPU of servers we started)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if fragment.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found


@dataclass
class ServiceProcess:
    name: str
    port: int
    env: dict[str, str]
    log_path: Path
    profile_path: Path | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0
    cpu_before_restarts: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        env = dict(self.env)
        if self.profile_path is not None:
            env["BENCH_PROFILE"] = str(self.profile_path)
            env["BENCH_SQL_STATS"] = str(self.profile_path.with_name(f"sql-{self.name}.json"))
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child process
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.serve", self.name],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C of the bench does not reach it; we stop it in order
        )
        self.starts += 1

    def cpu(self) -> float:
        return self.cpu_before_restarts + (cpu_seconds(self.process.pid) if self.alive() and self.process else 0.0)

    def kill9(self) -> None:
        """SIGKILL: no shutdown code runs (a crash)."""
        if self.alive() and self.process is not None:
            self.cpu_before_restarts += cpu_seconds(self.process.pid)
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 20.0) -> None:
        """SIGINT (uvicorn's graceful shutdown: the runtime stops, the profiler writes its samples)."""
        if not self.alive() or self.process is None:
            return
        self.cpu_before_restarts += cpu_seconds(self.process.pid)
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            if not self.alive():
                code = self.process.returncode if self.process else None
                raise RuntimeError(f"{self.name} exited ({code}); see {self.log_path}")
            try:
                r = httpx.get(f"{self.url}/health/ready", timeout=2)
                if r.status_code == 200:
                    return
                last = r.text[:300]
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
        raise TimeoutError(f"{self.name} not ready after {timeout}s: {last}; see {self.log_path}")


@dataclass
class Cluster:
    """The four services of one run: ports, databases, namespace, operator keys."""

    nats_url: str
    database_url: str
    workdir: Path
    namespace: str = field(default_factory=lambda: "b" + uuid.uuid4().hex[:10])
    profile: Iterable[str] = ()
    extra_env: dict[str, str] = field(default_factory=dict)
    tokens: Tokens = field(default_factory=Tokens.generate)
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    marks: int = 0

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        key_file = self.workdir / "operator-public.pem"
        key_file.write_bytes(self.tokens.public_pem)
        kek = base64.b64encode(os.urandom(32)).decode()
        profiled = set(self.profile)
        for name in SERVICES:
            port = free_port()
            env = dict(os.environ)
            env.update(
                {
                    "SERVICE_NAME": name,
                    "DATABASE_URL": self.database_url_of(name),
                    "NATS_URL": self.nats_url,
                    "NATS_NAMESPACE": self.namespace,
                    "HTTP_HOST": "127.0.0.1",
                    "HTTP_PORT": str(port),
                    "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
                    "TOKEN_PUBLIC_KEY": str(key_file),
                    "LOG_FORMAT": "console",
                    "LOG_LEVEL": "WARNING",
                    "RELAY_POLL_SECONDS": "0.5",
                    "BULK_MAX_ROWS": "50000",
                    "CREDENTIAL_KEY_ENCRYPTION_KEY": kek,
                    "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
                }
            )
            env.update(self.extra_env)
            profile = self.workdir / f"profile-{name}.json" if name in profiled else None
            self.services[name] = ServiceProcess(name, port, env, self.workdir / f"{name}.log", profile)

    def database_url_of(self, name: str) -> str:
        return db.with_database(self.database_url, f"{self.namespace}_{name}")

    def url(self, name: str) -> str:
        return self.services[name].url

    def start(self, names: Iterable[str] = SERVICES, timeout: float = 180.0) -> None:
        names = list(names)
        for name in names:
            self.services[name].start()
        for name in names:
            self.services[name].wait_ready(timeout)

    def stop(self) -> None:
        for name in reversed(SERVICES):
            self.services[name].stop()

    def kill_all(self) -> None:
        for s in self.services.values():
            s.kill9()

    async def pool(self, name: str, size: int = 2) -> asyncpg.Pool:
        return await db.create_pool(self.database_url_of(name), size=size)

    async def drop_databases(self) -> None:
        for name in SERVICES:
            with contextlib.suppress(Exception):
                await db.drop_database(self.database_url_of(name))

    def cpu(self) -> dict[str, float]:
        return {name: round(s.cpu(), 2) for name, s in self.services.items()}

    async def mark(self) -> int:
        """Ask every profiled service for its counts so far (SIGUSR1, ``bench/serve.py``) and wait
        for them; returns the mark's number k: ``profile-<name>.mark<k>.json`` and
        ``sql-<name>.mark<k>.json`` in the work directory. Two marks give one phase of the run."""
        self.marks += 1
        wanted = []
        for s in self.services.values():
            if s.profile_path is not None and s.alive() and s.process is not None:
                s.process.send_signal(signal.SIGUSR1)
                wanted.append(s.profile_path.with_suffix(f".mark{self.marks}.json"))
        for _ in range(200):  # 10 s at most; a file that never comes leaves the phase unprofiled
            if all(p.exists() for p in wanted):
                break
            await asyncio.sleep(0.05)  # another process writes the files
        return self.marks
