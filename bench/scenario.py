"""The benchmark's (and the resilience suites') cohort, driven through the services' public APIs.

The consortium is the demo's (``tessera_shared.demo``): Ghent, Amsterdam and Heidelberg co-offer
"Responsible AI in Practice", three 2-ECTS components each taught by one partner and graded on its
own scale (Flemish 0-20, Dutch 1-10, German 1-5); criteria: every component passed and a weighted
average of at least 0.55. The demo's seeding steps publish it (and the demo's stand-alone
micro-credential and pathway); the offering is scheduled here with room for the whole cohort.

Learners are registered and admitted with bulk enrolments (registrar of the coordinator), results
are bulk-uploaded per component by each teaching partner's assessor. Every ``fail_every``-th
learner fails the law component (4.5 on the Dutch scale), so they must get no credential.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx

from bench import http_load
from tessera_shared.demo import data, seed
from tessera_shared.demo.api import Api, DemoError, Endpoints, Who, assessor, editor, until

OFFERING = data.JOINT_OFFERING
MICRO_CREDENTIAL = data.JOINT
COMPONENTS = ("RAI-ETH", "RAI-LAW", "RAI-ENG")
TEACHER = {c: data.TEACHER[c] for c in COMPONENTS}
PASS = {"RAI-ETH": "15", "RAI-LAW": "7.5", "RAI-ENG": "1.7"}
FAIL = {"RAI-LAW": "4.5"}
REGISTRAR = Who("registrar@ugent.be", ("registrar",), data.GENT)
TERMS_VERSION = "2025-1"
CREDENTIAL_ISSUED = "tessera.credential.credential.issued.v1"
AWARDED = "tessera.credential.award.awarded.v1"


def endpoints_of(urls: dict[str, str]) -> Endpoints:
    return Endpoints(**urls)


@dataclass
class Cohort:
    """Learners of one scenario, in enrolment order, and who qualifies."""

    learner_ids: list[str] = field(default_factory=list)
    failing: set[str] = field(default_factory=set)

    @property
    def qualifying(self) -> list[str]:
        return [x for x in self.learner_ids if x not in self.failing]


def _letters(i: int) -> str:
    out = ""
    i += 1
    while i:
        i, r = divmod(i - 1, 26)
        out = chr(65 + r) + out
    return out


async def seed_consortium(api: Api, *, capacity: int, deadline: float) -> None:
    """Institutions, the two micro-credentials and the pathway (the demo's steps), then the joint
    offering with room for ``capacity`` learners, opened; waits until the enrolment service knows."""
    tally: Counter[str] = Counter()
    await seed.register_institutions(api, tally)
    await seed.publish_programmes(api, tally)
    body = {
        "offering_id": OFFERING,
        "micro_credential_id": MICRO_CREDENTIAL,
        "version": 1,
        "terms": data.offering_terms(seed.consortium_today(), capacity=capacity),
    }
    me = editor(data.GENT)
    await api.request("catalogue", "POST", "/offerings", who=me, json=body, expect=(201,), allow=(409,))
    await api.request("catalogue", "POST", f"/offerings/{OFFERING}/open", who=me, allow=(409,))

    async def is_open() -> bool:
        r = await api.request("enrolment", "GET", f"/offerings/{OFFERING}", allow=(404,))
        return r.status_code == 200 and r.json().get("status") == "open"

    await until(is_open, "the enrolment service to see the offering open", deadline)


async def _post(
    api: Api, service: str, path: str, who: Who, body: Any, key: str, wait_s: float = 600.0
) -> httpx.Response:
    """POST with an Idempotency-Key, sent again while the service cannot answer (restarting, in the
    resilience suite) until ``wait_s``: the key makes a repeat return the first answer."""
    headers = {**api.headers(who), "Idempotency-Key": key}
    deadline = time.monotonic() + wait_s
    delay = 0.5
    while True:
        try:
            r = await api.clients[service].post(path, json=body, headers=headers, timeout=wait_s)
        except httpx.TransportError as exc:
            last = repr(exc)
        else:
            if r.status_code in (200, 201):
                return r
            if r.status_code not in (502, 503, 504):
                raise DemoError(f"POST {service} {path} answered {r.status_code}: {r.text[:500]}")
            last = r.text[:300]
        if time.monotonic() > deadline:
            raise DemoError(f"POST {service} {path} failed: {last}")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 5)


async def enrol(
    api: Api, n: int, *, prefix: str, fail_every: int = 10, chunk: int = 2500, cohort: Cohort | None = None
) -> Cohort:
    """Register and admit ``n`` learners with bulk enrolments; learner ``i`` fails when
    ``fail_every`` divides ``i + 1`` (0: nobody fails)."""
    cohort = cohort or Cohort()
    for start in range(0, n, chunk):
        rows = [
            {
                "offering_id": OFFERING,
                "email": f"{prefix}-{i}@bench.tessera.example",
                "given_name": "Bench",
                "family_name": f"{prefix.capitalize()} {_letters(i)}",
                "consent_accepted": True,
                "consent_terms_version": TERMS_VERSION,
            }
            for i in range(start, min(n, start + chunk))
        ]
        r = await _post(api, "enrolment", "/bulk-enrolments", REGISTRAR, {"rows": rows}, f"{prefix}-{start}")
        results = r.json()["results"]
        for i, row in zip(range(start, start + len(rows)), results, strict=True):
            if row.get("outcome") != "admitted":
                raise DemoError(f"learner {i} not admitted: {row}")
            cohort.learner_ids.append(row["learner_id"])
            if fail_every and (i + 1) % fail_every == 0:
                cohort.failing.add(row["learner_id"])
    return cohort


async def wait_assessment_knows(
    pool: asyncpg.Pool, learner_ids: Sequence[str], deadline: float, *, offering: str = OFFERING
) -> None:
    """Results are accepted only for admissions the assessment service has heard of."""
    wanted = set(learner_ids)

    async def known() -> bool:
        rows = await pool.fetch(
            "SELECT learner_id FROM enrolments WHERE offering_id = $1 AND learner_id = ANY($2::text[]) "
            "AND status = 'admitted'",
            offering,
            list(wanted),
        )
        return len(rows) == len(wanted)

    await until(known, f"the assessment service to know {len(wanted)} admissions", deadline, 0.25)


def grade_of(cohort: Cohort, learner_id: str, component: str) -> str:
    if learner_id in cohort.failing and component in FAIL:
        return FAIL[component]
    return PASS[component]


def result_rows(cohort: Cohort, component: str, learner_ids: Sequence[str] | None = None) -> list[dict[str, Any]]:
    on = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    return [
        {
            "learner_id": x,
            "component_code": component,
            "attempt": 1,
            "grade": grade_of(cohort, x, component),
            "assessed_on": on,
        }
        for x in (learner_ids if learner_ids is not None else cohort.learner_ids)
    ]


@dataclass
class Upload:
    component: str
    rows: int
    started: float
    finished: float
    accepted: int
    rejected: int
    errors: list[dict[str, Any]]


async def upload_component(
    api: Api, cohort: Cohort, component: str, *, key: str, learner_ids: Sequence[str] | None = None
) -> Upload:
    rows = result_rows(cohort, component, learner_ids)
    started = time.time()
    r = await _post(
        api,
        "assessment",
        f"/offerings/{OFFERING}/results/uploads",
        assessor(TEACHER[component]),
        {"results": rows},
        key,
    )
    report = r.json()
    return Upload(component, len(rows), started, time.time(), report["accepted"], report["rejected"], report["errors"])


async def record_one(
    connections: http_load.Connections, headers: dict[str, str], learner_id: str, component: str, grade: str
) -> tuple[float, float, int]:
    """One result through ``POST /offerings/{id}/results``: (sent, answered, status). On the bench's
    light HTTP client (``http_load``): httpx costs milliseconds of CPU per request, which on a
    saturated machine made the load generator fall seconds behind the service it measures."""
    body = {
        "learner_id": learner_id,
        "component_code": component,
        "attempt": 1,
        "grade": grade,
        "assessed_on": (datetime.now(UTC).date() - timedelta(days=1)).isoformat(),
    }
    request = http_load.build_request(
        "POST",
        f"/offerings/{OFFERING}/results",
        host=f"{connections.host}:{connections.port}",
        body=json.dumps(body).encode(),
        headers={**headers, "Content-Type": "application/json"},
    )
    sent = time.time()
    status, _ = await connections.request(request)
    return sent, time.time(), status


async def credential_times(
    pool: asyncpg.Pool, event_type: str = CREDENTIAL_ISSUED, after: int = 0
) -> dict[str, tuple[float, float]]:
    """learner id → (stored: the event's recorded_at, published: the outbox's published_at), for
    every published ``event_type`` event (CredentialIssued, or CredentialAwarded before signing)
    after the event store's position ``after`` (:func:`event_position`: a phase's own events)."""
    rows = await pool.fetch(
        """SELECT e.data->>'learner_id' AS learner_id, e.recorded_at, o.published_at
           FROM events e JOIN outbox o ON o.event_id = e.event_id
           WHERE e.event_type = $1 AND e.global_position > $2 AND o.published_at IS NOT NULL""",
        event_type,
        after,
    )
    return {r["learner_id"]: (r["recorded_at"].timestamp(), r["published_at"].timestamp()) for r in rows}


async def event_position(pool: asyncpg.Pool) -> int:
    """The event store's last position so far: a phase counts only the events after it."""
    position: int = await pool.fetchval("SELECT coalesce(max(global_position), 0) FROM events")
    return position


async def result_recorded_times(pool: asyncpg.Pool) -> dict[tuple[str, str], float]:
    """(learner id, component) → when the assessment service recorded the result (its event's
    ``recorded_at``, inside the request's transaction), to split a result's HTTP round trip."""
    rows = await pool.fetch(
        """SELECT data->>'learner_id' AS learner_id, data->>'component_code' AS component, min(recorded_at) AS at
           FROM events WHERE event_type = 'tessera.assessment.result.recorded.v1' GROUP BY 1, 2"""
    )
    return {(r["learner_id"], r["component"]): r["at"].timestamp() for r in rows}


async def award_queued_times(pool: asyncpg.Pool) -> dict[str, float]:
    """learner id → when the awarding engine queued the learner's first micro-credential award for
    issuance (``issuance_queue.created_at``: inside the awarding transaction), for the stage split."""
    rows = await pool.fetch(
        """SELECT a.learner_id, min(q.created_at) AS queued_at
           FROM issuance_queue q JOIN awards a ON a.award_id = q.award_id
           WHERE q.award_kind = 'micro_credential' AND q.action = 'issue' GROUP BY a.learner_id"""
    )
    return {r["learner_id"]: r["queued_at"].timestamp() for r in rows}


async def count_published(pool: asyncpg.Pool, event_type: str, after: int = 0) -> int:
    """Published ``event_type`` events after position ``after``: those stored less those still in
    the outbox's pending index. Both counts read indexes only, so a poll costs PostgreSQL well under
    a millisecond however many credentials a run stored; joining every stored credential with its
    outbox row, as polls did until 2026-11-23, cost 20-100 ms per poll, in the phase it measured."""
    n: int = await pool.fetchval(
        """SELECT (SELECT count(*) FROM events WHERE event_type = $1 AND global_position > $2)
                - (SELECT count(*) FROM outbox o JOIN events e ON e.event_id = o.event_id
                   WHERE o.published_at IS NULL AND o.event_type = $1 AND e.global_position > $2)""",
        event_type,
        after,
    )
    return n


async def wait_published(pool: asyncpg.Pool, event_type: str, expected: int, deadline: float, after: int = 0) -> int:
    while True:
        n = await count_published(pool, event_type, after)
        if n >= expected or time.monotonic() > deadline:
            return n
        await asyncio.sleep(0.25)


async def wait_quiet(api: Api, deadline: float) -> dict[str, Any]:
    """Until every service's relay has published everything and every consumer's lag is zero."""

    async def quiet() -> dict[str, Any] | None:
        statuses = {}
        for name in ("catalogue", "enrolment", "assessment", "credential"):
            r = await api.request(name, "GET", "/admin/status")
            s = r.json()
            if s["relay"]["unpublished"] or any(c.get("lag", 1) for c in s["consumers"].values()):
                return None
            statuses[name] = s
        return statuses

    return await until(quiet, "every relay and consumer to be idle", deadline, 0.5)


def new_key() -> str:
    return uuid.uuid4().hex
