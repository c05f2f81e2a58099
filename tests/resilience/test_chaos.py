"""The full resilience suite (``make chaos``; marker ``chaos``, not in ``make test``).

The four services run as processes (``bench/cluster.py``: what ``tessera run`` starts) on a NATS
server and a PostgreSQL cluster of the test's own. 3,334 learners are admitted with bulk enrolments
and their 10,002 results bulk-uploaded (per component, through the assessment API); every 10th
learner fails a component. Meanwhile a chaos monkey, at random moments, kills each service with
SIGKILL (twice; the credential service three times) and starts it again, restarts NATS and restarts PostgreSQL. Afterwards:

* exactly one award and one signed credential per qualifying learner, none for the others, and each
  announced once (one ``CredentialAwarded``, one ``CredentialIssued``, one ``EnrolmentCompleted``);
* every result recorded once; every event of every source stream in its consumer's inbox;
* no dead letters (any left are printed with their error: none is expected, so none is explained);
* every outbox drained, every durable consumer without pending or unacknowledged messages, the
  issuance queue empty.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from pathlib import Path
from typing import Any

import pytest

from bench import scenario
from bench.cluster import SERVICES, Cluster
from tessera_shared.contract.topology import SUBSCRIPTIONS, stream_name
from tessera_shared.demo.api import Api
from tessera_shared.kernel.nats import connect
from tessera_shared.testing.servers import LocalNats, LocalPostgres

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(3600)]
LEARNERS = 3334  # x 3 components = 10,002 results
SEED = 20260


def log(msg: str) -> None:
    print(f"[chaos {time.strftime('%H:%M:%S')}] {msg}", flush=True)


class Monkey:
    """Kills each service twice (the credential service three times; SIGKILL, restart after a pause),
    restarts NATS and PostgreSQL once, in a random order at random moments."""

    def __init__(self, cluster: Cluster, nats: LocalNats, postgres: LocalPostgres, seed: int = SEED) -> None:
        self.cluster, self.nats, self.postgres = cluster, nats, postgres
        self.rng = random.Random(seed)
        plan = [("kill", s) for s in SERVICES for _ in range(2)] + [("restart", "nats"), ("restart", "postgres")]
        plan.append(("kill", "credential"))  # a third time: it works longest (awarding and signing)
        self.rng.shuffle(plan)
        self.plan = plan
        self.done: list[tuple[float, str, str]] = []

    async def run(self) -> None:
        for action, target in self.plan:
            await asyncio.sleep(self.rng.uniform(3, 25))  # spread over the whole run, signing included
            t = time.time()
            if action == "kill":
                service = self.cluster.services[target]
                await asyncio.to_thread(service.kill9)
                log(f"kill -9 {target}")
                await asyncio.sleep(self.rng.uniform(0.5, 3))
                await asyncio.to_thread(service.start)
                await asyncio.to_thread(service.wait_ready, 180)
            elif target == "nats":
                await asyncio.to_thread(self.nats.stop)
                log("NATS stopped")
                await asyncio.sleep(self.rng.uniform(1, 4))
                await asyncio.to_thread(self.nats.start)
            else:
                await asyncio.to_thread(self.postgres.stop)
                log("PostgreSQL stopped")
                await asyncio.sleep(self.rng.uniform(1, 4))
                await asyncio.to_thread(self.postgres.start)
            log(f"{action} {target}: back after {time.time() - t:.1f}s")
            self.done.append((t, action, target))


async def _counts(pool: Any, sql: str, *args: Any) -> dict[str, int]:
    return {r[0]: r[1] for r in await pool.fetch(sql, *args)}


async def test_kills_and_restarts_lose_nothing_and_double_nothing(tmp_path: Path):
    nats = LocalNats(tmp_path / "nats").start()
    postgres = LocalPostgres(tmp_path / "postgres").start()
    cluster = Cluster(
        nats.url,
        postgres.url,
        tmp_path / "cluster",
        extra_env={"CONSUMER_BACKOFF_SECONDS": "0.2", "CONSUMER_BACKOFF_MAX_SECONDS": "5", "LOG_LEVEL": "WARNING"},
    )
    monkey = Monkey(cluster, nats, postgres)
    try:
        await asyncio.to_thread(cluster.start)
        urls = {name: cluster.url(name) for name in SERVICES}
        async with Api(scenario.endpoints_of(urls), cluster.tokens.private_pem, request_timeout=300) as api:
            await scenario.seed_consortium(api, capacity=LEARNERS + 10, deadline=time.monotonic() + 300)
            chaos = asyncio.create_task(monkey.run())
            cohort = await scenario.enrol(api, LEARNERS, prefix="chaos", fail_every=10, chunk=1000)
            log(f"{len(cohort.learner_ids)} learners admitted")
            pools: dict[str, Any] = {}
            try:
                pools = {name: await cluster.pool(name) for name in SERVICES}
                await _retrying(
                    lambda: scenario.wait_assessment_knows(
                        pools["assessment"], cohort.learner_ids, time.monotonic() + 900
                    )
                )
                uploads = await asyncio.gather(
                    *(scenario.upload_component(api, cohort, c, key=f"chaos-{c}") for c in scenario.COMPONENTS)
                )
                log(f"uploaded: {[(u.component, u.accepted, u.rejected) for u in uploads]}")
                await chaos
                log(f"chaos done: {[(a, t) for _, a, t in monkey.done]}")
                qualifying = set(cohort.qualifying)
                await _retrying(lambda: _settled(api, pools, len(qualifying)), budget=1800)
                await _check(cluster, pools, cohort, uploads, qualifying)
            finally:
                for p in pools.values():
                    await p.close()
    finally:
        await asyncio.to_thread(cluster.stop)
        nats.stop()
        postgres.stop()


async def _retrying(work: Any, budget: float = 900) -> Any:
    """Run ``work`` again when a restart broke it (a connection lost to PostgreSQL or a service)."""
    deadline = time.monotonic() + budget
    while True:
        try:
            return await work()
        except Exception as exc:
            if time.monotonic() > deadline:
                raise
            log(f"retrying after {type(exc).__name__}: {str(exc)[:120]}")
            await asyncio.sleep(2)


async def _settled(api: Api, pools: dict[str, Any], qualifying: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        issued = await pools["credential"].fetchval(
            "SELECT count(*) FROM issued_credentials WHERE award_kind = 'micro_credential'"
        )
        pending = await pools["credential"].fetchval("SELECT count(*) FROM issuance_queue WHERE done_at IS NULL")
        if issued >= qualifying and pending == 0:
            await scenario.wait_quiet(api, time.monotonic() + 600)
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{issued}/{qualifying} credentials, {pending} queued")
        await asyncio.sleep(2)


async def _check(
    cluster: Cluster, pools: dict[str, Any], cohort: scenario.Cohort, uploads: list[Any], qualifying: set[str]
) -> None:
    cred, enr, ass = pools["credential"], pools["enrolment"], pools["assessment"]
    problems: list[str] = []
    awards = await cred.fetch("SELECT learner_id, status FROM awards")
    by_learner: dict[str, list[str]] = {}
    for r in awards:
        by_learner.setdefault(r["learner_id"], []).append(r["status"])
    if set(by_learner) != qualifying:
        problems.append(
            f"awards for {len(set(by_learner) - qualifying)} learners who failed, "
            f"none for {len(qualifying - set(by_learner))} who qualify"
        )
    bad = {k: v for k, v in by_learner.items() if v != ["active"]}
    if bad:
        problems.append(f"not exactly one active award: {list(bad.items())[:5]}")
    issued = await _counts(cred, "SELECT learner_id, count(*) FROM issued_credentials GROUP BY 1")
    if issued != dict.fromkeys(qualifying, 1):
        problems.append(f"credentials: {len(issued)} learners, extra {[k for k, v in issued.items() if v > 1][:5]}")
    for event_type, pool, name in (
        (scenario.AWARDED, cred, "CredentialAwarded"),
        (scenario.CREDENTIAL_ISSUED, cred, "CredentialIssued"),
        ("tessera.enrolment.enrolment.completed.v1", enr, "EnrolmentCompleted"),
    ):
        seen = await _counts(
            pool, "SELECT data->>'learner_id', count(*) FROM events WHERE event_type = $1 GROUP BY 1", event_type
        )
        if seen != dict.fromkeys(qualifying, 1):
            problems.append(f"{name}: {len(seen)} learners, duplicated {[k for k, v in seen.items() if v > 1][:5]}")
    accepted = sum(u.accepted for u in uploads)
    if accepted != 3 * len(cohort.learner_ids) or await ass.fetchval("SELECT count(*) FROM results") != accepted:
        problems.append(f"results: {accepted} accepted, {await ass.fetchval('SELECT count(*) FROM results')} stored")
    for name in SERVICES:
        pool = pools[name]
        left = await pool.fetchval("SELECT count(*) FROM outbox WHERE published_at IS NULL")
        if left:
            problems.append(f"{name}: {left} outbox rows not published")
        dead = await pool.fetch("SELECT consumer, event_type, error, delivery_count FROM dead_letters")
        for d in dead:
            problems.append(
                f"{name}: dead letter {d['consumer']} {d['event_type']} ({d['delivery_count']}): {d['error'][:200]}"
            )
    nc = await connect(cluster.nats_url)
    try:
        js = nc.jetstream()
        for sub in SUBSCRIPTIONS:
            info = await js.consumer_info(stream_name(sub.source, cluster.namespace), sub.durable(cluster.namespace))
            if info.num_pending or info.num_ack_pending:
                problems.append(f"{sub}: {info.num_pending} pending, {info.num_ack_pending} unacknowledged")
            on_stream = (await js.stream_info(stream_name(sub.source, cluster.namespace))).state.messages
            inbox = await pools[sub.consumer].fetchval(
                "SELECT count(*) FROM inbox WHERE consumer = $1", f"{sub.consumer}--{sub.source}"
            )
            if inbox != on_stream:
                problems.append(f"{sub.consumer}--{sub.source}: {inbox} events handled of {on_stream} on the stream")
    finally:
        with contextlib.suppress(Exception):
            await nc.close()
    assert problems == [], "\n".join(problems)
