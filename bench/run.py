"""``make bench`` / ``python -m bench.run [--learners N]``: end-to-end figures against the machine's limits.

One run, on one machine, in this order:

1. the raw limits (``bench/raw_limits.py``): JetStream publish+ack, pull consume+ack, and the
   consume → PostgreSQL transaction → ack hop per batch;
2. the four services as processes (``bench/cluster.py``) on real NATS JetStream and PostgreSQL; the
   demo consortium seeded through the catalogue API; N learners registered and admitted with bulk
   enrolments; then each teaching partner bulk-uploads its component's results (the three uploads
   at once) through the assessment API, and the clock runs until every qualifying learner's signed
   credential is stored and its ``CredentialIssued`` event published (every 10th learner fails a
   component and must get nothing). Reported: credentials/s (first upload sent → last credential
   published), result → credential latency (upload committed → credential event published);
3. a steady offered load: more learners, two components uploaded beforehand, the third sent as
   single results at ``--steady-rate`` per second (open loop), each completing a credential:
   latency result answered → credential published;
4. ``POST /verify`` requests/s with the issued credentials;
5. catalogue search requests/s, and a bare FastAPI endpoint serving the same JSON (``bench/bare.py``).

Writes ``bench/results/<timestamp>.json`` and ``.png``; prints the JSON. The services run under the
sampling profiler (``bench/sampler.py``) unless ``--no-profile``; its summary goes into the JSON.
The goals of issue 9 are reported with the measured values; nothing here asserts them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from bench import http_load, raw_limits, scenario, sqlstats
from bench.cluster import REPO, Cluster, cpu_seconds
from bench.sampler import phase, summarise
from tessera_shared.demo.api import Api, DemoError, until
from tessera_shared.testing.servers import Servers, free_port, nats_server_binary

RESULTS = REPO / "bench" / "results"
GOALS = {
    "credentials_per_s": (">=", 1000),
    "ratio_to_hop_limit": (">=", 0.20),
    "steady_p99_ms": ("<=", 250),
    "steady_mixed_p99_ms": ("<=", 250),
    "verify_per_s": (">=", 2000),
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def latency_summary(ms: list[float]) -> dict[str, Any]:
    return {
        "n": len(ms),
        "p50_ms": _r(percentile(ms, 50)),
        "p95_ms": _r(percentile(ms, 95)),
        "p99_ms": _r(percentile(ms, 99)),
        "max_ms": _r(max(ms) if ms else None),
        "mean_ms": _r(statistics.fmean(ms) if ms else None),
    }


def _r(x: float | None, nd: int = 1) -> float | None:
    return None if x is None else round(x, nd)


# ------------------------------------------------------------------------------ machine and versions


def versions(servers: Servers, pg_version: str) -> dict[str, Any]:
    packages = {}
    for p in ("fastapi", "starlette", "uvicorn", "asyncpg", "nats-py", "faststream", "pydantic", "orjson", "httpx"):
        with contextlib.suppress(metadata.PackageNotFoundError):
            packages[p] = metadata.version(p)
    try:
        nats_version = subprocess.run(
            [nats_server_binary(), "--version"], capture_output=True, text=True, timeout=10
        ).stdout.strip()
    except Exception as exc:
        nats_version = f"unknown ({type(exc).__name__})"
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True)
    return {
        "tessera": metadata.version("tessera-shared") if _installed("tessera-shared") else "0.1.0",
        "git_commit": commit.stdout.strip(),
        "git_dirty": bool(dirty.stdout.strip()),
        "python": platform.python_version(),
        "nats_server": nats_version,
        "postgresql": pg_version,
        "servers": servers.how,
        "packages": packages,
    }


def _installed(name: str) -> bool:
    try:
        metadata.version(name)
        return True
    except metadata.PackageNotFoundError:
        return False


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python_loop_10M_s": calibrate(),
    }


def calibrate() -> float:
    """Seconds this machine takes for a 10-million-step Python loop at the start of the run (on an
    idle modern core: about 0.5 s); a shared or throttled machine shows here."""
    t = time.perf_counter()
    s = 0
    for i in range(10_000_000):
        s += i
    return round(time.perf_counter() - t, 2)


class ServerCpu:
    """CPU seconds of the NATS and PostgreSQL processes this run started (none for external ones)."""

    def __init__(self, servers: Servers) -> None:
        self.servers = servers

    def postmaster(self) -> int | None:
        lp = self.servers.local_postgres
        if lp is None:
            return None
        try:
            return int((lp.directory / "pgdata" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def snapshot(self) -> dict[str, float]:
        # The postmaster's CPU with its descendants' (backends, autovacuum workers, the ones that
        # ended too). Until 2026-11-23 each backend was added again on its own: PostgreSQL's CPU
        # in earlier runs counts its living backends twice (docs/benchmarks.md).
        postmaster = self.postmaster()
        out = {"postgres": cpu_seconds(postmaster) if postmaster is not None else 0.0}
        if self.servers.local_nats and self.servers.local_nats.process:
            out["nats"] = cpu_seconds(self.servers.local_nats.process.pid)
        return out


def machine_ticks() -> tuple[int, int]:
    """(busy, total) clock ticks of all CPUs since boot (/proc/stat), for a phase's saturation."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return sum(fields) - idle, sum(fields)


def own_cpu() -> float:
    """CPU seconds of this process (the load generator), for a phase's CPU table."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def busy_fraction(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    total = after[1] - before[1]
    return round((after[0] - before[0]) / total, 3) if total > 0 else None


def cpu_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after.get(k, 0.0) - before.get(k, 0.0), 1) for k in after}


# ------------------------------------------------------------------------------ phases


async def end_to_end(
    api: Api, cluster: Cluster, server_cpu: ServerCpu, n: int, fail_every: int, target: str, budget_s: float
) -> dict[str, Any]:
    deadline = time.monotonic() + budget_s
    pools = {name: await cluster.pool(name) for name in ("assessment", "credential")}
    try:
        t = time.time()
        cohort = await scenario.enrol(api, n, prefix="e2e", fail_every=fail_every)
        enrol_s = time.time() - t
        log(f"enrolled {n} learners in {enrol_s:.1f}s; waiting for the assessment service to hear of them")
        await scenario.wait_assessment_knows(pools["assessment"], cohort.learner_ids, deadline)
        await scenario.wait_quiet(api, deadline)
        qualifying = cohort.qualifying
        after = await scenario.event_position(pools["credential"])
        cpu0, scpu0, own0 = cluster.cpu(), server_cpu.snapshot(), own_cpu()
        log(f"uploading {3 * n} results (three components at once); {len(qualifying)} learners qualify")
        t0 = time.time()
        uploads = await asyncio.gather(
            *(scenario.upload_component(api, cohort, c, key=f"e2e-{c}") for c in scenario.COMPONENTS)
        )
        t_uploaded = max(u.finished for u in uploads)
        log(f"uploads done in {t_uploaded - t0:.1f}s; waiting for {len(qualifying)} {target} events")
        got = await scenario.wait_published(pools["credential"], target, len(qualifying), deadline, after)
        t_done = time.time()
        cpu1, scpu1, own1 = cluster.cpu(), server_cpu.snapshot(), own_cpu()
        times = await scenario.credential_times(pools["credential"], target, after)
        duplicates = await pools["credential"].fetchval(
            "SELECT count(*) - count(DISTINCT data->>'learner_id') FROM events WHERE event_type = $1", target
        )
        published = [times[x][1] for x in qualifying if x in times]
        stored = [times[x][0] for x in qualifying if x in times]
        wrongly = [x for x in cohort.failing if x in times]
        last = max(published) if published else t_done
        credentials_per_s = len(published) / (last - t0) if published else 0.0
        latencies = [(p - t_uploaded) * 1000 for p in published]
        timeline = sorted(p - t0 for p in published)
        return {
            "learners": n,
            "qualifying": len(qualifying),
            "results_uploaded": sum(u.accepted for u in uploads),
            "results_rejected": sum(u.rejected for u in uploads),
            "measured": target,
            "complete": got >= len(qualifying) and len(published) == len(qualifying),
            "credentials": len(published),
            "credentials_for_failing_learners": len(wrongly),
            "duplicate_credentials": duplicates,
            "credentials_per_s": round(credentials_per_s, 1),
            "drain_credentials_per_s": round(len(published) / max(1e-9, last - t_uploaded), 1),
            "enrolment_s": round(enrol_s, 1),
            "uploads": [
                {"component": u.component, "rows": u.rows, "seconds": round(u.finished - u.started, 2)} for u in uploads
            ],
            "upload_wall_s": round(t_uploaded - t0, 2),
            "first_credential_after_s": round(min(timeline), 2) if timeline else None,
            "last_credential_after_s": round(last - t0, 2),
            "store_to_publish_ms": latency_summary([(p - s) * 1000 for p, s in zip(published, stored, strict=True)]),
            "latency_from_last_upload": latency_summary(latencies),
            "cpu_seconds": {
                **cpu_delta(cpu0, cpu1),
                **cpu_delta(scpu0, scpu1),
                "load_generator": round(own1 - own0, 1),
            },
            "wall_seconds": round(last - t0, 2),
            "_timeline": timeline,
            "_latencies": latencies,
        }
    finally:
        for p in pools.values():
            await p.close()


async def steady_load(
    api: Api,
    cluster: Cluster,
    server_cpu: ServerCpu,
    rate: float,
    seconds: float,
    target: str,
    budget_s: float,
    *,
    mixed: bool = False,
) -> dict[str, Any]:
    """Single results through the API at ``rate``/s for ``seconds``; latency result → credential.

    Default (worst case): every result completes a learner (their first two components are uploaded
    before), so ``rate`` credentials/s are asked for. ``mixed``: each learner's three results
    arrive one after the other, interleaved with other learners' (round t sends learner t's first,
    learner t-1's second and learner t-2's third component), so one result in three completes a
    learner; the latency counts from the last of the learner's three answers."""
    deadline = time.monotonic() + budget_s
    n = int(rate * seconds)
    pools = {name: await cluster.pool(name) for name in ("assessment", "credential")}
    try:
        prefix = "mixed" if mixed else "steady"
        cohort = await scenario.enrol(api, n // 3 if mixed else n, prefix=prefix, fail_every=0)
        learners = cohort.learner_ids
        await scenario.wait_assessment_knows(pools["assessment"], learners, deadline)
        components = scenario.COMPONENTS
        if mixed:
            plan = [
                (learners[t - j], components[j])
                for t in range(len(learners) + 2)
                for j in range(3)
                if 0 <= t - j < len(learners)
            ]
        else:
            for c in components[:2]:
                await scenario.upload_component(api, cohort, c, key=f"{prefix}-{c}")
            plan = [(x, components[2]) for x in learners]
        await scenario.wait_quiet(api, deadline)
        log(f"steady load ({prefix}): {len(plan)} single results at {rate}/s, completing {len(learners)} learners")
        headers = {c: api.headers(scenario.assessor(scenario.TEACHER[c])) for c in components}
        sent: dict[tuple[str, str], tuple[float, float, int]] = {}
        errors: dict[str, int] = {}
        connections = http_load.Connections("127.0.0.1", cluster.services["assessment"].port)
        try:

            async def one(learner_id: str, component: str) -> None:
                try:
                    sent[(learner_id, component)] = await scenario.record_one(
                        connections,
                        headers[component],
                        learner_id,
                        component,
                        scenario.grade_of(cohort, learner_id, component),
                    )
                except (OSError, asyncio.IncompleteReadError) as exc:  # status -1, its kind in "errors"
                    sent[(learner_id, component)] = (time.time(), time.time(), -1)
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1

            tasks = []
            after = await scenario.event_position(pools["credential"])
            mark0 = await cluster.mark()
            cpu0, scpu0, ticks0, own0 = cluster.cpu(), server_cpu.snapshot(), machine_ticks(), own_cpu()
            start = time.perf_counter()
            for i, (learner_id, component) in enumerate(plan):
                delay = start + i / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(learner_id, component)))
            offered_s = time.perf_counter() - start
            await asyncio.gather(*tasks)
        finally:
            connections.close()
        times: dict[str, tuple[float, float]] = {}

        mine = {x: [v for (lr, _), v in sent.items() if lr == x] for x in learners}
        accepted = [x for x in learners if all(v[2] == 201 for v in mine[x])]  # a refused result completes no one

        async def all_in() -> bool:
            # The cheap count first: the times are read when they can all be there (the phase's
            # last seconds are the worst case's p99, and the polls run on the measured machine).
            nonlocal times
            if await scenario.count_published(pools["credential"], target, after) < len(accepted):
                return False
            times = await scenario.credential_times(pools["credential"], target, after)
            return all(x in times for x in accepted)

        with contextlib.suppress(DemoError):
            await until(all_in, "every steady-load credential", deadline, 0.25)
        cpu1, scpu1, ticks1, own1 = cluster.cpu(), server_cpu.snapshot(), machine_ticks(), own_cpu()
        mark1 = await cluster.mark()
        recorded = await scenario.result_recorded_times(pools["assessment"])
        sent_of = {x: [k for k in sent if k[0] == x] for x in learners}  # this phase's results of each learner
        ok = [x for x in accepted if x in times and all(k in recorded for k in sent_of[x])]
        # The latency counts from the moment the service recorded the learner's completing result
        # (its last), read from the database, not from when the load generator read the answer:
        # on a saturated machine the generator itself falls behind (its answers came seconds after
        # the result was recorded), which made the latency look shorter than it was.
        completed = {x: max(recorded[k] for k in sent_of[x]) for x in ok}
        latencies = [(times[x][1] - completed[x]) * 1000 for x in ok]
        answered_at = {x: max(v[1] for v in mine[x]) for x in ok}  # the learner's last answer
        queued = await scenario.award_queued_times(pools["credential"])
        staged = [x for x in ok if x in queued]
        answered = [(v, recorded[k]) for k, v in sent.items() if v[2] == 201 and k in recorded]
        stages = {  # where a credential's latency goes (database clock = this machine's clock)
            "result_sent_to_recorded": latency_summary([(at - v[0]) * 1000 for v, at in answered]),
            "result_recorded_to_answered": latency_summary([(v[1] - at) * 1000 for v, at in answered]),
            "result_recorded_to_award_queued": latency_summary([(queued[x] - completed[x]) * 1000 for x in staged]),
            "award_queued_to_credential_stored": latency_summary([(times[x][0] - queued[x]) * 1000 for x in staged]),
            "credential_stored_to_published": latency_summary([(times[x][1] - times[x][0]) * 1000 for x in ok]),
        }
        http_ms = [(v[1] - v[0]) * 1000 for v in sent.values() if v[2] == 201]
        statuses: dict[str, int] = {}
        for v in sent.values():
            statuses[str(v[2])] = statuses.get(str(v[2]), 0) + 1
        first = min(v[0] for v in sent.values())
        series = sorted((completed[x] - first, lat) for x, lat in zip(ok, latencies, strict=True))
        return {
            "mode": "mixed: one result in three completes a learner" if mixed else "every result completes a learner",
            "offered_rate_per_s": rate,
            "achieved_offer_rate_per_s": round(len(plan) / offered_s, 1),
            "results": len(plan),
            "learners_completed": len(learners),
            "statuses": statuses,
            "errors": errors,
            "credentials": len(ok),
            "result_http_latency": latency_summary(http_ms),
            "result_to_credential": latency_summary(latencies),
            "answer_to_credential": latency_summary([(times[x][1] - answered_at[x]) * 1000 for x in ok]),
            "stages": stages,
            "cpu_seconds": {
                **cpu_delta(cpu0, cpu1),
                **cpu_delta(scpu0, scpu1),
                "load_generator": round(own1 - own0, 1),
            },
            "machine_busy_fraction": busy_fraction(ticks0, ticks1),  # all cores, sending to last credential
            "profile": phase_profiles(cluster, mark0, mark1, len(plan)),
            "_series": series,
        }
    finally:
        for p in pools.values():
            await p.close()


async def verification(api: Api, cluster: Cluster, seconds: float, concurrency: int) -> dict[str, Any]:
    """``POST /verify`` twice: *cold*, every request a different issued credential (each sent once, so
    no memo in the service can help), then *warm*, the same 64 credentials round robin (an employer
    re-checking a credential it saw; the service may memoise the cryptographic check of identical
    bytes, and this figure says what that memo gives). ``verify_per_s`` is the cold figure."""
    r = await api.request("credential", "GET", "/openapi.json", who=None)
    if "/verify" not in r.json().get("paths", {}):
        return {"available": False, "note": "the credential service has no POST /verify route in this build"}
    pool = await cluster.pool("credential")
    try:
        docs = [
            json.dumps(row["document"]).encode()
            for row in await pool.fetch(
                "SELECT document FROM issued_credentials WHERE status = 'active' ORDER BY credential_id"
            )
        ]
    finally:
        await pool.close()
    if not docs:
        return {"available": True, "note": "no issued credential to verify"}
    service = cluster.services["credential"]
    async with httpx.AsyncClient(base_url=service.url, timeout=60) as client:
        first = await client.post("/verify", content=docs[-1], headers={"Content-Type": "application/json"})
    sample = first.json() if first.status_code == 200 else {"status": first.status_code, "body": first.text[:300]}
    requests = [
        http_load.build_request(
            "POST", "/verify", host=f"127.0.0.1:{service.port}", body=d, headers={"Content-Type": "application/json"}
        )
        for d in docs
    ]

    def verified(status: int, body: bytes) -> bool:
        return status == 200 and b'"verdict"' in body and b'"verdict":"valid"' in body.replace(b" ", b"")

    async def measure(reqs: list[bytes], once: bool) -> dict[str, Any]:
        cpu0 = service.cpu()
        out = await http_load.closed_loop(
            "127.0.0.1", service.port, reqs, seconds=seconds, concurrency=concurrency, check=verified, once=once
        )
        out["credential_service_cpu_s"] = round(service.cpu() - cpu0, 1)
        return out

    cold = await measure(requests[:-1], once=True)  # the last one was verified above
    warm = await measure(requests[:64], once=False)
    return {
        **cold,
        "available": True,
        "distinct_credentials": len(docs) - 1,
        "warm": warm,
        "sample_verdict": sample.get("verdict") if isinstance(sample, dict) else None,
    }


async def search(cluster: Cluster, workdir: Path, seconds: float, concurrency: int) -> dict[str, Any]:
    path, params = "/catalogue/micro-credentials", {"q": "responsible ai"}
    catalogue_svc = cluster.services["catalogue"]
    async with httpx.AsyncClient(base_url=catalogue_svc.url, timeout=60) as client:
        sample = await client.get(path, params=params)
    sample.raise_for_status()
    payload = workdir / "search-payload.json"
    payload.write_bytes(sample.content)
    request = http_load.build_request("GET", path, host=f"127.0.0.1:{catalogue_svc.port}", params=params)
    catalogue = await http_load.closed_loop(
        "127.0.0.1", catalogue_svc.port, [request], seconds=seconds, concurrency=concurrency
    )
    port = free_port()
    env = {**os.environ, "BENCH_BARE_PAYLOAD": str(payload), "HTTP_PORT": str(port), "PYTHONPATH": str(REPO)}
    bare_proc = subprocess.Popen(  # noqa: ASYNC220 - starting a child is instant; we do not wait on it here
        [sys.executable, "-m", "bench.bare"], cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=10) as client:

            async def up() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return (await client.get(path, params=params)).status_code == 200
                return False

            await until(up, "the bare FastAPI endpoint", time.monotonic() + 60, 0.2)
        request = http_load.build_request("GET", path, host=f"127.0.0.1:{port}", params=params)
        bare = await http_load.closed_loop("127.0.0.1", port, [request], seconds=seconds, concurrency=concurrency)
    finally:
        bare_proc.terminate()
        bare_proc.wait(10)
    return {
        "query": params,
        "response_bytes": len(sample.content),
        "catalogue": catalogue,
        "bare_fastapi": bare,
        "ratio": round(catalogue["per_s"] / bare["per_s"], 3) if bare["per_s"] else None,
    }


# ------------------------------------------------------------------------------ the plot


def plot(
    result: dict[str, Any],
    e2e: dict[str, Any],
    steady: dict[str, Any] | None,
    mixed: dict[str, Any] | None,
    path: Path,
) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(13, 8.5))
    timeline = e2e["_timeline"]
    ax = axes[0][0]
    if timeline:
        width = 10
        end = int(max(timeline)) // width + 1
        counts = [0] * end
        for t in timeline:
            counts[int(t) // width] += 1
        ax.bar([i * width for i in range(end)], [c / width for c in counts], width=width, align="edge", color="#3b6ea8")
        ax.axvline(e2e["upload_wall_s"], color="#c0392b", linestyle="--", label="all uploads committed")
        ax.legend()
    ax.set_title(f"end-to-end: credentials per second ({e2e['credentials']} for {e2e['learners']} learners)")
    ax.set_xlabel("seconds since the first upload was sent")
    ax.set_ylabel("credentials published / s (10 s bins)")
    ax = axes[0][1]
    lat = e2e["_latencies"]
    if lat:
        ax.hist([x / 1000 for x in lat], bins=60, color="#3b6ea8")
    s = e2e["latency_from_last_upload"]
    ax.set_title(
        f"end-to-end latency (upload committed → credential published)\np50 {s['p50_ms']} ms, p99 {s['p99_ms']} ms"
    )
    ax.set_xlabel("seconds")
    ax.set_ylabel("credentials")
    phases = [
        (name, ph, color)
        for name, ph, color in (
            ("every result completes a learner", steady, "#27ae60"),
            ("mixed: one in three completes", mixed, "#8e44ad"),
        )
        if ph
    ]
    if phases:
        rate = phases[0][1]["offered_rate_per_s"]
        for name, ph, color in phases:
            series = ph["_series"]
            if series:
                axes[1][0].plot(
                    [t for t, _ in series], [x for _, x in series], ".", markersize=3, color=color, label=name
                )
            lat = sorted(x for _, x in series)
            st = ph["result_to_credential"]
            if lat:
                axes[1][1].plot(
                    lat,
                    [100 * (i + 1) / len(lat) for i in range(len(lat))],
                    color=color,
                    label=f"{name}: p50 {st['p50_ms']}, p99 {st['p99_ms']} ms",
                )
        ax = axes[1][0]
        ax.set_yscale("log")
        ax.legend(fontsize=8)
        ax.set_title(f"steady load {rate:g} results/s: latency over time")
        ax.set_xlabel("seconds since the first result")
        ax.set_ylabel("result → credential (ms, log)")
        ax = axes[1][1]
        ax.set_xscale("log")
        ax.axvline(250, color="#c0392b", linestyle="--", label="goal p99 250 ms")
        ax.legend(fontsize=8)
        ax.set_title(f"steady load {rate:g} results/s: latency CDF")
        ax.set_xlabel("ms (log)")
        ax.set_ylabel("% of credentials")
    else:
        axes[1][0].set_axis_off()
        axes[1][1].set_axis_off()
    fig.suptitle(
        f"Tessera bench {result['timestamp']}: {result['credentials_per_s']} credentials/s, "
        f"ratio to hop limit {result['ratio_to_hop_limit']}, verify {result['verify_per_s']}/s"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ------------------------------------------------------------------------------ main


def sql_per_event(stats: dict[str, Any]) -> dict[str, Any]:
    """Round trips and database wait per consumed event, per consumer task."""
    out: dict[str, Any] = {}
    for task, s in stats["statements"].items():
        entry: dict[str, Any] = {"calls": s["calls"], "db_wait_s": s["seconds"]}
        consumer = task.split(":", 1)[-1]
        handled = sum(stats["consumed"].get(consumer, {}).values())
        if handled:
            entry["events"] = int(handled)
            entry["calls_per_event"] = round(s["calls"] / handled, 1)
            entry["db_wait_ms_per_event"] = round(1000 * s["seconds"] / handled, 2)
        out[task] = entry
    return out


def phase_profiles(cluster: Cluster, before: int, after: int, results: int) -> dict[str, Any]:
    """Each profiled service's CPU profile and SQL round trips between two marks (one phase):
    :func:`bench.sampler.phase`, round trips per consumed event and per result sent, and each task's
most frequent statements."""
    out: dict[str, Any] = {}
    for name, service in cluster.services.items():
        if service.profile_path is None:
            continue
        marks = [service.profile_path.with_suffix(f".mark{k}.json") for k in (before, after)]
        sql = [service.profile_path.with_name(f"sql-{name}.mark{k}.json") for k in (before, after)]
        if not all(p.exists() for p in marks + sql):
            continue
        stats = sqlstats.difference(*(json.loads(p.read_text()) for p in sql))
        calls = sum(s["calls"] for s in stats["statements"].values())
        out[name] = {
            **phase(marks[0], marks[1]),
            "sql_calls_per_result": round(calls / results, 2) if results else None,
            "sql": sql_per_event(stats),
            "sql_statements": {task: dict(list(q.items())[:12]) for task, q in stats["queries"].items()},
        }
    return out


def cpu_costs(result: dict[str, Any]) -> dict[str, float | None]:
    """CPU milliseconds per unit of work, which, unlike the rates, do not fall when a shared machine
    gets busier elsewhere; the cold verification's cost also measures the machine's speed itself
    (its code path is the same from run to run), so runs on different moments compare by it."""
    e2e = result["end_to_end"]
    credentials = e2e.get("credentials") or 0
    cpu = e2e.get("cpu_seconds") or {}
    verify = result.get("verify") or {}

    def per(seconds: float | None, count: int) -> float | None:
        return round(1000 * seconds / count, 2) if seconds is not None and count else None

    return {
        "credential_service_cpu_ms_per_credential": per(cpu.get("credential"), credentials),
        "postgres_cpu_ms_per_credential": per(cpu.get("postgres"), credentials),
        "all_processes_cpu_ms_per_credential": per(sum(cpu.values()) if cpu else None, credentials),
        "credential_service_cpu_ms_per_cold_verification": per(
            verify.get("credential_service_cpu_s"), verify.get("ok") or 0
        ),
    }


def goals(result: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, (op, target) in GOALS.items():
        value = result.get(key)
        met = None if value is None else (value >= target if op == ">=" else value <= target)
        out[key] = {"goal": f"{op} {target}", "measured": value, "met": met}
    return out


async def run(args: argparse.Namespace, servers: Servers, workdir: Path) -> dict[str, Any]:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    conn = await asyncpg.connect(servers.database_url)
    pg_version = await conn.fetchval("SHOW server_version")
    await conn.close()
    result: dict[str, Any] = {
        "timestamp": stamp,
        "N": args.learners,
        "machine": machine(),
        "versions": versions(servers, pg_version),
    }
    log(f"raw limits ({args.raw_messages} messages)")
    result["raw_limits"] = await raw_limits.measure(servers.nats_url, servers.database_url, n=args.raw_messages)
    log(f"raw limits: {result['raw_limits']}")
    profile = () if args.no_profile else ("catalogue", "enrolment", "assessment", "credential")
    cluster = Cluster(servers.nats_url, servers.database_url, workdir, profile=profile)
    server_cpu = ServerCpu(servers)
    log(f"starting the four services (namespace {cluster.namespace}); logs in {workdir}")
    cluster.start()
    urls = {name: cluster.url(name) for name in cluster.services}
    steady = None
    try:
        async with Api(scenario.endpoints_of(urls), cluster.tokens.private_pem, request_timeout=120) as api:
            openapi = (await api.request("credential", "GET", "/openapi.json", who=None)).json()
            signing = "/verify" in openapi.get("paths", {})
            target = scenario.CREDENTIAL_ISSUED if signing else scenario.AWARDED
            result["measured_event"] = target
            if not signing:
                result["note"] = (
                    "the credential service of this build does not sign yet (no /verify): the end-to-end "
                    "figures stop at the award decision and its CredentialAwarded event"
                )
            steady_n = int(args.steady_rate * args.steady_seconds) * (2 if args.steady_mixed else 1)
            await scenario.seed_consortium(api, capacity=args.learners + steady_n + 10, deadline=time.monotonic() + 300)
            log("consortium seeded")
            timeout = max(900.0, args.learners * 0.6)
            e2e = await end_to_end(api, cluster, server_cpu, args.learners, args.fail_every, target, timeout)
            log(
                f"end-to-end: {e2e['credentials']}/{e2e['qualifying']} in {e2e['wall_seconds']}s = "
                f"{e2e['credentials_per_s']}/s; latency {e2e['latency_from_last_upload']}"
            )
            result["end_to_end"] = e2e
            if args.steady_seconds > 0:
                await scenario.wait_quiet(api, time.monotonic() + 600)
                steady = await steady_load(api, cluster, server_cpu, args.steady_rate, args.steady_seconds, target, 600)
                log(f"steady: {steady['result_to_credential']}")
                log(f"steady, stages: {steady['stages']}")
                log(f"steady: machine busy {steady['machine_busy_fraction']}, cpu {steady['cpu_seconds']}")
                result["steady"] = steady
                if args.steady_mixed:
                    await scenario.wait_quiet(api, time.monotonic() + 600)
                    mixed = await steady_load(
                        api, cluster, server_cpu, args.steady_rate, args.steady_seconds, target, 600, mixed=True
                    )
                    log(f"steady, mixed: {mixed['result_to_credential']}")
                    log(f"steady, mixed, stages: {mixed['stages']}")
                    log(f"steady, mixed: machine busy {mixed['machine_busy_fraction']}, cpu {mixed['cpu_seconds']}")
                    result["steady_mixed"] = mixed
            log("verification throughput")
            result["verify"] = await verification(api, cluster, args.verify_seconds, args.concurrency)
            log(f"verify: {result['verify'].get('per_s')}/s")
            log("catalogue search vs bare FastAPI")
            result["search"] = await search(cluster, workdir, args.search_seconds, args.concurrency)
            found = result["search"]
            log(f"search: {found['catalogue']['per_s']}/s vs bare {found['bare_fastapi']['per_s']}/s")
            result["dead_letters"] = {
                name: (await api.request(name, "GET", "/admin/status")).json()["dead_letters"] for name in urls
            }
    finally:
        cluster.stop()
        await cluster.drop_databases()
    hop = result["raw_limits"]["consume_pg_tx_ack_hop_per_s"]
    result["credentials_per_s"] = e2e["credentials_per_s"]
    result["ratio_to_hop_limit"] = round(e2e["credentials_per_s"] / hop, 4) if hop else None
    lat = e2e["latency_from_last_upload"]
    result["p50_ms"], result["p95_ms"], result["p99_ms"] = lat["p50_ms"], lat["p95_ms"], lat["p99_ms"]
    for name, section in (("steady", steady), ("steady_mixed", result.get("steady_mixed"))):
        if section:
            st = section["result_to_credential"]
            for p in ("p50_ms", "p95_ms", "p99_ms"):
                result[f"{name}_{p}"] = st[p]
    result["verify_per_s"] = result["verify"].get("per_s")
    result["verify_warm_per_s"] = (result["verify"].get("warm") or {}).get("per_s")
    result["search_ratio_to_bare_fastapi"] = result["search"]["ratio"]
    result["cost"] = cpu_costs(result)
    result["goals"] = goals(result)
    result["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    if profile:
        result["profile"] = {}
        for name in profile:
            path = workdir / f"profile-{name}.json"
            if path.exists():
                result["profile"][name] = summarise(path)
                kept = json.loads(path.read_text())
                kept["collapsed"] = kept["collapsed"][:600]  # the heaviest stacks: enough for a flame graph
                (RESULTS / f"{stamp}-profile-{name}.json").write_text(json.dumps(kept))
            sql = workdir / f"sql-{name}.json"
            if sql.exists():
                result["profile"].setdefault(name, {})["sql"] = sql_per_event(json.loads(sql.read_text()))
    RESULTS.mkdir(parents=True, exist_ok=True)
    plot(result, e2e, steady, result.get("steady_mixed"), RESULTS / f"{stamp}.png")
    series = {}
    for name, section in (
        ("end_to_end", e2e),
        ("steady", steady or {}),
        ("steady_mixed", result.get("steady_mixed") or {}),
    ):
        for k in [k for k in section if k.startswith("_")]:
            series[f"{name}{k}"] = section.pop(k)
    (RESULTS / f"{stamp}-series.json").write_text(json.dumps(series))
    result["plot"] = str((RESULTS / f"{stamp}.png").relative_to(REPO))
    (RESULTS / f"{stamp}.json").write_text(json.dumps(result, indent=2, default=str))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=10_000, help="N learners in the end-to-end run")
    parser.add_argument("--fail-every", type=int, default=10, help="every k-th learner fails a component")
    parser.add_argument("--steady-rate", type=float, default=100.0, help="offered results per second")
    parser.add_argument("--steady-seconds", type=float, default=30.0, help="0 skips the steady-load phases")
    parser.add_argument(
        "--no-steady-mixed",
        dest="steady_mixed",
        action="store_false",
        help="skip the second steady phase (one result in three completes a learner)",
    )
    parser.add_argument("--verify-seconds", type=float, default=15.0)
    parser.add_argument("--search-seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=16, help="clients for verify and search")
    parser.add_argument("--raw-messages", type=int, default=20_000)
    parser.add_argument("--no-profile", action="store_true", help="do not run the services under the sampler")
    args = parser.parse_args()
    servers = Servers().start()
    workdir = Path(tempfile.mkdtemp(prefix="tessera-bench-"))
    try:
        result = asyncio.run(run(args, servers, workdir))
    finally:
        servers.stop()
    summary = {k: result.get(k) for k in ("credentials_per_s", "ratio_to_hop_limit", "p50_ms", "p95_ms", "p99_ms")}
    more = ("steady_p99_ms", "steady_mixed_p99_ms", "verify_per_s", "verify_warm_per_s", "search_ratio_to_bare_fastapi")
    summary.update({k: result.get(k) for k in more})
    out = {"summary": summary, "goals": result["goals"], "file": f"bench/results/{result['timestamp']}.json"}
    print(json.dumps(out, indent=2))
    log(f"service logs and profiles: {workdir}")


if __name__ == "__main__":
    main()
