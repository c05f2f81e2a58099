"""Scale-out as deploy/compose.cluster.yml runs it: a three-node NATS cluster with R3 streams, and
two replicas of the credential service sharing their durable consumers and one database.

The catalogue, enrolment and assessment services (one replica each, in-process) produce the events
through their APIs, as in production; N learners enrol in the demo's joint micro-credential and
their results are recorded. Halfway through the results, the NATS node leading the assessment
stream is killed (SIGKILL). Afterwards every qualifying learner has exactly one award, nobody
else has one, no ``CredentialAwarded`` is published twice, every result event the assessment
service committed is in its stream exactly once, and the enrolment service heard of every award.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from tessera_assessment.bootstrap import create_app as assessment_app
from tessera_assessment.config import AssessmentSettings
from tessera_catalogue.bootstrap import create_app as catalogue_app
from tessera_catalogue.config import CatalogueSettings
from tessera_credential.bootstrap import create_app as credential_app
from tessera_credential.config import CredentialSettings
from tessera_enrolment.bootstrap import create_app as enrolment_app
from tessera_enrolment.config import EnrolmentSettings
from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.topology import stream_name
from tessera_shared.demo import data, seed
from tessera_shared.demo.api import Api, Endpoints, until
from tessera_shared.kernel.nats import connect
from tessera_shared.testing import apps
from tessera_shared.testing.apps import RunningService, Tokens, eventually, running_service
from tessera_shared.testing.servers import LocalNatsCluster, Servers

pytestmark = pytest.mark.integration

LEARNERS = 24
QUALIFYING = {f"cluster-{i:03d}" for i in range(LEARNERS) if i % 4 != 0}
WAIT = 240.0  # bound on every wait; a leader election and reconnects happen in between


def cohort() -> list[data.Learner]:
    """Learners of the joint offering; every fourth fails the law component (5.0 on 1-10)."""
    out = []
    for i in range(LEARNERS):
        learner_id = f"cluster-{i:03d}"
        law = "7.0" if learner_id in QUALIFYING else "5.0"
        results = (
            data.Result(data.JOINT_OFFERING, "RAI-ETH", "14"),
            data.Result(data.JOINT_OFFERING, "RAI-LAW", law),
            data.Result(data.JOINT_OFFERING, "RAI-ENG", "2.3"),
        )
        out.append(data.Learner(learner_id, "Learner", f"N{i:03d}", data.GENT, results))
    return out


async def jetstream_ready(url: str) -> None:
    """The cluster has elected its meta leader and accepts R3 streams."""

    async def ready() -> bool:
        try:
            nc = await connect(url)
        except Exception:
            return False
        try:
            await nc.jetstream().account_info()
            return True
        except Exception:
            return False
        finally:
            await nc.close()

    assert await eventually(ready, seconds=60, interval=0.5), "the NATS cluster's JetStream never became ready"


async def stream_messages(url: str, context: str, namespace: str) -> list[Envelope]:
    nc = await connect(url)
    try:
        js = nc.jetstream()
        name = stream_name(context, namespace)
        info = await js.stream_info(name)
        out = []
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            msg = await js.get_msg(name, seq)
            assert msg.data is not None
            out.append(Envelope.from_bytes(msg.data))
        return out
    finally:
        await nc.close()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[LocalNatsCluster]:
    nodes = LocalNatsCluster(tmp_path / "nats").start()
    try:
        await jetstream_ready(nodes.url)
        yield nodes
    finally:
        await asyncio.to_thread(nodes.stop)


async def test_two_credential_replicas_on_a_three_node_cluster_award_exactly_once_through_a_node_failure(
    servers: Servers, namespace: str, tokens: Tokens, cluster: LocalNatsCluster
) -> None:
    common: dict[str, Any] = {"nats_url": cluster.url, "stream_replicas": 3}
    async with AsyncExitStack() as stack:

        async def start(create: Any, settings_cls: Any, name: str, **kw: Any) -> RunningService:
            settings = apps.test_settings(settings_cls, servers, namespace, name, tokens, **common)
            return await stack.enter_async_context(running_service(create, settings, **kw))

        catalogue = await start(catalogue_app, CatalogueSettings, "cat")
        enrolment = await start(enrolment_app, EnrolmentSettings, "enr")
        assessment = await start(assessment_app, AssessmentSettings, "ass")
        credential_a = await start(credential_app, CredentialSettings, "cred")
        credential_b = await start(credential_app, CredentialSettings, "cred", drop_database=False)
        replicas = (credential_a, credential_b)

        handled: Counter[str] = Counter()  # messages each replica's consumers fetched
        for replica_name, replica in zip("ab", replicas, strict=True):
            for consumer in replica.runtime.consumers:
                process = consumer.process

                async def counting(msgs: Any, process: Any = process, replica_name: str = replica_name) -> None:
                    handled[replica_name] += len(msgs)
                    await process(msgs)

                consumer.process = counting  # type: ignore[method-assign]

        clients = {
            "catalogue": catalogue.client,
            "enrolment": enrolment.client,
            "assessment": assessment.client,
            "credential": credential_a.client,
        }
        endpoints = Endpoints(*(str(c.base_url) for c in clients.values()))
        tally: Counter[str] = Counter()
        deadline = time.monotonic() + WAIT
        api = await stack.enter_async_context(Api(endpoints, tokens.private_pem, clients))

        await seed.register_institutions(api, tally)
        await seed.publish_programmes(api, tally)
        await seed.schedule_offerings(api, tally, seed.consortium_today())
        await seed.wait_offerings_open(api, deadline)
        learners = cohort()
        for learner in learners:
            body = {
                "learner_id": learner.learner_id,
                "given_name": learner.given_name,
                "family_name": learner.family_name,
                "email": learner.email,
                "home_institution": learner.home_institution,
            }
            await api.request("enrolment", "POST", "/learners", json=body, expect=(201,))
            enrolled = await api.request(
                "enrolment",
                "POST",
                "/enrolments",
                json={
                    "offering_id": data.JOINT_OFFERING,
                    "learner_id": learner.learner_id,
                    "consent": {"accepted": True, "terms_version": seed.CONSENT_TERMS_VERSION},
                },
                expect=(201,),
            )
            assert enrolled.json()["status"] == "admitted"

        async def record(batch: list[data.Learner]) -> None:
            day = seed.consortium_today()
            for learner in batch:
                for result in learner.results:
                    assert await seed.record_result(api, learner, result, day, deadline)

        half = LEARNERS // 2
        await record(learners[:half])

        # Kill the node leading the assessment stream while its relay and the consumers are busy.
        nc = await connect(cluster.url)
        try:
            info = await nc.jetstream().stream_info(stream_name("assessment", namespace))
        finally:
            await nc.close()
        assert info.cluster is not None and info.config.num_replicas == 3
        victim = next(n for i, n in enumerate(cluster.nodes) if f"n{i}" == info.cluster.leader)
        assert victim.process is not None
        victim.process.kill()
        victim.process.wait()

        await record(learners[half:])

        pool = credential_a.runtime.pool
        assert pool is not None

        async def awarded() -> list[Any] | None:
            rows = await pool.fetch("SELECT learner_id, status FROM awards ORDER BY learner_id")
            return rows if {r["learner_id"] for r in rows} >= QUALIFYING else None

        await until(awarded, "an award for every qualifying learner after the node failure", deadline, 0.5)

        async def settled() -> bool:  # every replica caught up, every own event published
            for replica in replicas:
                for consumer in replica.runtime.consumers:
                    if not await consumer.lag_is_zero():
                        return False
            return bool(await pool.fetchval("SELECT count(*) = 0 FROM outbox WHERE published_at IS NULL"))

        await until(settled, "both credential replicas to catch up", deadline, 0.5)

        rows = await pool.fetch("SELECT learner_id, status, count(*) AS n FROM awards GROUP BY learner_id, status")
        assert {r["learner_id"]: (r["status"], r["n"]) for r in rows} == dict.fromkeys(QUALIFYING, ("active", 1))
        assert await pool.fetchval("SELECT count(*) FROM dead_letters") == 0

        published = [
            e for e in await stream_messages(cluster.url, "credential", namespace) if "award.awarded" in e.type
        ]
        per_award = Counter(str(e.data["award_id"]) for e in published)
        assert len(per_award) == len(QUALIFYING) and set(per_award.values()) == {1}, per_award

        assert assessment.runtime.pool is not None
        committed = {
            str(r["event_id"])
            for r in await assessment.runtime.pool.fetch(
                "SELECT event_id FROM events WHERE event_type LIKE 'tessera.assessment.result.%'"
            )
        }
        in_stream = Counter(e.id for e in await stream_messages(cluster.url, "assessment", namespace))
        assert len(committed) == 3 * LEARNERS
        assert set(in_stream) >= committed and all(in_stream[i] == 1 for i in committed)

        async def completed() -> bool:
            page = await api.get_json("enrolment", "/enrolments", offering_id=data.JOINT_OFFERING, limit=500)
            done = {e["learner_id"] for e in page["items"] if e["status"] == "completed"}
            return done == QUALIFYING

        await until(completed, "the enrolment service to complete every awarded enrolment", deadline)
        # both replicas pulled from the shared durables (JetStream spreads the fetches over them)
        assert handled["a"] > 0 and handled["b"] > 0, handled
