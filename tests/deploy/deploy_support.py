"""Helpers of the deployment tests: free ports, child processes whose output is read line by line,
and stopping them as an operator would (SIGINT to the process group, then harder)."""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin"


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def port_answers(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
        return True
    return False


def free_port_block(size: int, low: int = 20000, high: int = 60000) -> int:
    """A base port such that base + 1 … base + size are free (the launcher's TESSERA_PORT_BASE)."""
    for _ in range(200):
        base = random.randrange(low, high - size)
        if all(port_is_free(base + i) for i in range(1, size + 1)):
            return base
    raise RuntimeError("no block of free ports")


def executable(name: str) -> str:
    """A console script of this workspace's environment (``tessera``, ``tessera-catalogue`` …)."""
    path = VENV_BIN / name
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `uv sync`")
    return str(path)


class Child:
    """A child process in its own process group; stdout+stderr are collected line by line."""

    def __init__(self, args: Sequence[str], *, env: dict[str, str], cwd: Path = ROOT, log: Path | None = None) -> None:
        self.args = list(args)
        self.log = log
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        sink = open(log, "ab") if log else None  # noqa: SIM115 - closed by the reader thread
        self.process = subprocess.Popen(
            self.args,
            env=env,
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert self.process.stdout is not None
        stdout = self.process.stdout

        def read() -> None:
            for raw in stdout:
                if sink:
                    sink.write(raw)
                    sink.flush()
                line = raw.decode(errors="replace").rstrip("\n")
                self.lines.append(line)
                self._queue.put(line)
            if sink:
                sink.close()
            self._queue.put(None)

        self._reader = threading.Thread(target=read, daemon=True)
        self._reader.start()

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, predicate: Callable[[str], bool], seconds: float, *, fail_on: Sequence[str] = ()) -> str:
        """The first line (from now on) matching ``predicate``; AssertionError if the process ends,
        prints a line starting with one of ``fail_on``, or ``seconds`` pass first (a bound, not a
        timing assertion)."""
        deadline = time.monotonic() + seconds
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"gave up after {seconds}s waiting in the output of {self.args}:\n{self.output}")
            try:
                line = self._queue.get(timeout=min(remaining, 1.0))
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"{self.args} ended ({self.process.wait()}) first:\n{self.output}")
            if any(line.startswith(f) for f in fail_on):
                raise AssertionError(f"{line}\n--- output of {self.args}:\n{self.output}")
            if predicate(line):
                return line

    def interrupt(self, seconds: float = 60.0) -> int:
        """Ctrl-C: SIGINT to the whole process group, as a terminal sends it; the exit code."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
        code = self.process.wait(seconds)
        self._reader.join(10)  # the last lines
        return code

    def stop(self, seconds: float = 30.0) -> None:
        """Stop for good (cleanup): SIGINT, then SIGKILL to the group."""
        if self.process.poll() is None:
            try:
                self.interrupt(seconds)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
