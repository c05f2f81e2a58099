"""Every enrolment event type reaches JetStream through the outbox, as a CloudEvent on its subject,
and personal data travels only in the learner events."""

import json

import pytest
from nats.js.errors import NotFoundError

from tessera_shared.contract import catalogue as cat
from tessera_shared.contract.base import parse_data
from tessera_shared.contract.envelope import Envelope
from tessera_shared.contract.topology import stream_name, subject_for
from tessera_shared.kernel.nats import connect
from tessera_shared.testing.apps import eventually
from tests.enrolment.enrolment_builders import COORDINATOR, awarded, lifecycle

pytestmark = pytest.mark.integration

ALL_TYPES = {
    f"tessera.enrolment.{name}.v1"
    for name in (
        "learner.registered",
        "learner.updated",
        "enrolment.requested",
        "enrolment.admitted",
        "enrolment.waitlisted",
        "enrolment.pending-review",
        "enrolment.rejected",
        "enrolment.promoted",
        "enrolment.cancelled",
        "enrolment.withdrawn",
        "enrolment.completed",
        "enrolment.not-completed",
    )
}


async def _stream_messages(svc) -> list:
    nc = await connect(svc.servers.nats_url)
    try:
        js = nc.jetstream()
        stream = stream_name("enrolment", svc.namespace)
        info = await js.stream_info(stream)
        messages = []
        for seq in range(1, info.state.last_seq + 1):
            try:
                messages.append(await js.get_msg(stream, seq))
            except NotFoundError:
                continue
        return messages
    finally:
        await nc.close()


async def test_every_event_type_is_published_on_jetstream(svc):
    await svc.open("off-ev", capacity=1)
    await svc.open("off-fin", capacity=5)
    await svc.open("off-dip", prerequisites={"kind": "diploma_level", "diploma_eqf_level": 6})
    for i in range(1, 6):
        await svc.register(f"ev-{i}", given_name=f"Given{i}", family_name=f"Family{i}")
    r = await svc.client.patch("/learners/ev-1", json={"given_name": "Renamed"}, headers=svc.learner("ev-1"))
    assert r.status_code == 200, r.text

    e1 = (await svc.enrol("ev-1", "off-ev")).json()  # admitted
    e2 = (await svc.enrol("ev-2", "off-ev")).json()  # waitlisted
    await svc.client.post(f"/enrolments/{e1['enrolment_id']}/cancel", headers=svc.learner("ev-1"))  # ev-2 promoted
    e3 = (await svc.enrol("ev-3", "off-ev")).json()  # waitlisted
    await svc.client.post(f"/enrolments/{e2['enrolment_id']}/withdraw", headers=svc.registrar(COORDINATOR))
    await svc.publish([awarded("ev-3", "mc-off-ev", "off-ev", award_id="aw-ev-3")])  # ev-3 completed
    await svc.enrol("ev-4", "off-fin")  # admitted, then not completed
    await svc.publish(
        [lifecycle(k, "off-fin", "mc-off-fin") for k in (cat.OfferingClosed, cat.OfferingStarted, cat.OfferingFinished)]
    )
    diploma = {"title": "BSc Physics", "eqf_level": 6}
    e5 = (await svc.enrol("ev-5", "off-dip", diploma=diploma)).json()
    await svc.client.post(
        f"/enrolments/{e5['enrolment_id']}/review",
        json={"decision": "reject", "reason": "unrelated field"},
        headers=svc.registrar(COORDINATOR),
    )

    async def completed():
        r = await svc.client.get(f"/enrolments/{e3['enrolment_id']}", headers=svc.operator())
        return r.json()["status"] == "completed"

    assert await eventually(completed)
    await svc.wait_status("off-fin", "finished")

    stored = {e["event_id"]: e for e in await _all_events(svc)}
    assert {e["event_type"] for e in stored.values()} >= ALL_TYPES

    async def all_published():
        messages = await _stream_messages(svc)
        return messages if len(messages) >= len(stored) else None

    messages = await eventually(all_published)
    assert messages and len(messages) == len(stored)
    for msg in messages:
        envelope = Envelope.from_bytes(msg.data)
        event = stored[envelope.id]
        assert msg.header["Nats-Msg-Id"] == envelope.id
        assert msg.subject == subject_for(envelope.type, svc.namespace) and envelope.type == event["event_type"]
        assert envelope.source == "/tessera/enrolment" and envelope.subject == event["stream_id"]
        parse_data(envelope.type, envelope.data)  # valid against the contract
        personal = any(
            f"Given{i}" in msg.data.decode() or f"ev-{i}@example.org" in msg.data.decode() for i in range(1, 6)
        )
        assert personal == envelope.type.startswith("tessera.enrolment.learner."), envelope.type
    assert "BSc Physics" not in b"".join(m.data for m in messages).decode()

    by_type = {}
    for msg in messages:
        envelope = Envelope.from_bytes(msg.data)
        by_type.setdefault(envelope.type, []).append(envelope.data)
    assert [c["refund_eur"] for c in by_type["tessera.enrolment.enrolment.cancelled.v1"]] == ["288.75"]
    assert by_type["tessera.enrolment.enrolment.completed.v1"][0]["award_id"] == "aw-ev-3"
    assert by_type["tessera.enrolment.enrolment.not-completed.v1"][0]["learner_id"] == "ev-4"
    assert json.dumps(by_type["tessera.enrolment.learner.updated.v1"][0]).count("Renamed") == 1


async def _all_events(svc) -> list[dict]:
    async with svc.pool.acquire() as conn:
        rows = await conn.fetch("SELECT event_id::text, stream_id, event_type FROM events ORDER BY global_position")
    return [dict(r) for r in rows]
