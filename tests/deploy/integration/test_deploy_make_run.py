"""``make run`` in a fresh data directory: NATS and PostgreSQL started locally, the four services,
the demo consortium and cohort until "credentials issued: N"; Ctrl-C stops everything; a second
start finds the data again and does not duplicate the demo.

The launcher runs as ``make run`` runs it (``tessera run``, the workspace's console script) with
its own data directory and ports (``TESSERA_PORT_BASE``), so it never meets a ``make run`` of a
developer on the same machine. Waits are bounded; nothing asserts how long a step takes.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tessera_shared.demo import data
from tessera_shared.kernel import auth
from tessera_shared.testing.servers import LocalPostgres, free_port
from tests.deploy.deploy_support import Child, executable, free_port_block, port_answers

pytestmark = pytest.mark.integration

ISSUED = re.compile(r"^credentials issued: (\d+)")
FIRST_RUN_SECONDS = 480  # fresh initdb, four services, the cohort's events across all four
RESTART_SECONDS = 300


class Launch:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.port_base = free_port_block(4)
        self.nats_port, self.postgres_port = free_port(), free_port()
        env = {k: v for k, v in os.environ.items() if k not in ("TESSERA_NATS_URL", "TESSERA_DATABASE_URL")}
        env.update(
            {
                "TESSERA_DATA_DIR": str(data_dir),
                "TESSERA_PORT_BASE": str(self.port_base),
                "TESSERA_NATS_PORT": str(self.nats_port),
                "TESSERA_POSTGRES_PORT": str(self.postgres_port),
                "TESSERA_DEMO_TIMEOUT": "240",
            }
        )
        self.env = env
        self.children: list[Child] = []

    @property
    def ports(self) -> list[int]:
        return [self.port_base + i for i in range(1, 5)] + [self.nats_port, self.postgres_port]

    def start(self) -> Child:
        child = Child([executable("tessera"), "run"], env=self.env, log=self.data_dir.parent / "launcher.out")
        self.children.append(child)
        return child

    def awards(self) -> dict[str, list[tuple[str, str, str]]]:
        """Every cohort learner's awards and pathway awards (id, what, status), from the API."""
        key = (self.data_dir / "keys" / "operator-private.pem").read_bytes()
        token = auth.mint_token(key, subject="test", roles=["operator"])
        out: dict[str, list[tuple[str, str, str]]] = {}
        with httpx.Client(base_url=f"http://127.0.0.1:{self.port_base + 4}", timeout=10) as client:
            for learner in data.COHORT:
                r = client.get(f"/learners/{learner.learner_id}/awards", headers={"Authorization": f"Bearer {token}"})
                assert r.status_code == 200, r.text
                body: dict[str, Any] = r.json()
                out[learner.learner_id] = sorted(
                    [(a["award_id"], a["micro_credential_id"], a["status"]) for a in body["awards"]]
                    + [(p["award_id"], p["pathway_id"], p["status"]) for p in body["pathway_awards"]]
                )
        return out


def kill_leftover_services(ports: list[int]) -> None:
    """Services run in their own sessions: if the launcher itself had to be killed, they remain."""
    wanted = {f"--port\0{p}\0" for p in ports}
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_text()
        except OSError:
            continue
        if "uvicorn" in cmdline and any(w in cmdline for w in wanted):
            with contextlib.suppress(OSError):
                os.kill(int(proc.name), signal.SIGKILL)


@pytest.fixture
def launch(tmp_path: Path) -> Iterator[Launch]:
    launch = Launch(tmp_path / "data")
    yield launch
    for child in launch.children:
        child.stop()
    kill_leftover_services(launch.ports[:4])
    postgres = tmp_path / "data" / "postgres"
    if (postgres / "pgdata" / "postmaster.pid").exists():  # the launcher did not get to stop it
        LocalPostgres(postgres, port=launch.postgres_port).stop()


def test_make_run_issues_credentials_stops_on_ctrl_c_and_restarts_without_duplicating(launch: Launch) -> None:
    first = launch.start()
    line = first.wait_for(lambda s: bool(ISSUED.match(s)), FIRST_RUN_SECONDS, fail_on=("demo failed", "demo skipped"))
    issued = int(ISSUED.match(line).group(1))  # type: ignore[union-attr]
    assert issued > 0
    first.wait_for(lambda s: s.startswith("Ctrl-C stops everything"), 60)
    base = f"http://127.0.0.1:{launch.port_base + 4}"
    if "signed credentials not shown" not in line:  # the credential service shows what it signed
        pages = [s for s in first.lines if f"{base}/c/" in s or f"{base}/credentials/" in s]
        assert len(pages) == issued, first.output
    else:
        assert len([s for s in first.lines if f"{base}/awards/" in s or f"{base}/pathway-awards/" in s]) == issued
    for name, port in zip(("catalogue", "enrolment", "assessment", "credential"), launch.ports, strict=False):
        assert f"{name:<11} http://127.0.0.1:{port}/docs" in first.output
    assert "demo: consortium — 3 institution created, 2 micro-credential published, 1 pathway published" in first.output

    awards = launch.awards()
    for learner in data.COHORT:  # what the cohort's results must give, read back independently
        statuses = {mc: sorted(s for _, what, s in awards[learner.learner_id] if what == mc) for mc in learner.expected}
        assert statuses == {mc: sorted(s) for mc, s in learner.expected.items()}, learner.learner_id
        pathways = [s for _, what, s in awards[learner.learner_id] if what == data.PATHWAY]
        assert pathways == (["active"] if learner.expected_pathway else []), learner.learner_id

    assert first.interrupt() == 0, first.output
    assert first.lines[-1] == "stopped", first.output
    assert not [p for p in launch.ports if port_answers(p)], "something still listens after Ctrl-C"

    second = launch.start()
    line = second.wait_for(lambda s: bool(ISSUED.match(s)), RESTART_SECONDS, fail_on=("demo failed", "demo skipped"))
    assert int(ISSUED.match(line).group(1)) == issued  # type: ignore[union-attr]
    consortium = next(s for s in second.lines if s.startswith("demo: consortium"))
    cohort = next(s for s in second.lines if s.startswith("demo: cohort"))
    assert consortium == (
        "demo: consortium — 3 institution existed, 2 micro-credential existed, 1 pathway existed, 2 offering existed"
    )
    enrolments = sum(len(learner.offerings) for learner in data.COHORT)
    results = sum(len(learner.results) for learner in data.COHORT)
    corrections = sum(len(learner.corrections) for learner in data.COHORT)
    assert cohort == (
        f"demo: cohort — {len(data.COHORT)} learner existed, {enrolments} enrolment existed, "
        f"{results} result existed, {corrections} correction existed"
    )
    assert launch.awards() == awards  # the same awards, none added

    assert second.interrupt() == 0, second.output
    assert not [p for p in launch.ports if port_answers(p)]
