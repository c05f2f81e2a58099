"""Stacking end to end: a pathway of micro-credentials from three partners, awarded once, revoked
when a required award is revoked."""

import pytest

from tests.credential.integration.credential_award_support import (
    AMSTERDAM,
    GENT,
    HEIDELBERG,
    Assessment,
    credential_events,
    credential_service,
    enrolment_event,
    offering_scheduled,
    pathway_published,
    publish,
    publish_envelopes,
    rows,
    wait_settled,
)

pytestmark = pytest.mark.integration

# three micro-credentials, each coordinated and taught by a different partner
PROGRAMMES = {
    "mc-ethics": ("off-ethics", GENT),
    "mc-law": ("off-law", AMSTERDAM),
    "mc-lab": ("off-lab", HEIDELBERG),
}
ONE_COMPONENT = {"rule": {"kind": "component_passed", "component": "K1"}}


def offerings():
    return [
        (offering_scheduled(off, mc, components=[("K1", "5", inst)], criteria=ONE_COMPONENT, coordinator=inst), off)
        for mc, (off, inst) in PROGRAMMES.items()
    ]


def passes(assessments, learner):
    return [assessments[mc].record(learner, off, "K1", 0.75, inst) for mc, (off, inst) in PROGRAMMES.items()]


async def pathway_awards(svc, learner):
    return await rows(
        svc,
        """SELECT award_id::text, status, pathway_id, constituent_award_ids::text[] AS constituents, revocation_reason
           FROM pathway_awards WHERE learner_id = $1 ORDER BY awarded_at""",
        learner,
    )


async def test_pathway_of_three_partners_awarded_once_and_revoked_with_a_required_award(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens) as svc:
        assessments = {mc: Assessment(mc) for mc in PROGRAMMES}
        await publish(servers, namespace, offerings())
        await publish(
            servers,
            namespace,
            [enrolment_event("admitted", lr, off, mc) for lr in ("lena", "max") for mc, (off, _) in PROGRAMMES.items()],
        )
        # lena holds all three before the pathway is published
        await publish_envelopes(servers.nats_url, namespace, passes(assessments, "lena"))
        await wait_settled(svc)
        assert await pathway_awards(svc, "lena") == []

        pathway = pathway_published("pw-rds", [(mc, "5") for mc in PROGRAMMES], [GENT, AMSTERDAM, HEIDELBERG])
        await publish(servers, namespace, [(pathway, "pw-rds")])
        # max earns them after it, one by one, one result delivered twice
        max_results = passes(assessments, "max")
        await publish_envelopes(servers.nats_url, namespace, max_results)
        await publish_envelopes(servers.nats_url, namespace, max_results[-1:], redelivery=True)
        await wait_settled(svc)

        for learner in ("lena", "max"):
            [award] = await pathway_awards(svc, learner)
            assert award["status"] == "active"
            held = await rows(
                svc, "SELECT award_id::text FROM awards WHERE learner_id = $1 AND status = 'active'", learner
            )
            assert sorted(award["constituents"]) == sorted(r["award_id"] for r in held)
            assert len(held) == 3

        events = await credential_events(servers.nats_url, namespace)
        granted = [e for e in events if e.type == "tessera.credential.pathway.awarded.v1"]
        assert sorted(e.data["learner_id"] for e in granted) == ["lena", "max"]

        # a correction revokes max's law award: the pathway goes with it
        await publish_envelopes(
            servers.nats_url, namespace, [assessments["mc-law"].correct("max", "off-law", "K1", 0.2)]
        )
        await wait_settled(svc)
        [revoked] = await pathway_awards(svc, "max")
        assert revoked["status"] == "revoked" and "mc-law" in revoked["revocation_reason"]
        [lena_award] = await pathway_awards(svc, "lena")
        assert lena_award["status"] == "active"
        events = await credential_events(servers.nats_url, namespace)
        [pathway_revoked] = [e for e in events if e.type == "tessera.credential.pathway.revoked.v1"]
        assert pathway_revoked.data["award_id"] == revoked["award_id"]
        queue = await rows(svc, "SELECT action FROM issuance_queue WHERE award_kind = 'pathway' ORDER BY id")
        assert [q["action"] for q in queue] == ["issue", "issue", "revoke"]

        # and a resit brings both back: a new pathway award, never two active at once
        await publish_envelopes(
            servers.nats_url, namespace, [assessments["mc-law"].record("max", "off-law", "K1", 0.6)]
        )
        await wait_settled(svc)
        statuses = [a["status"] for a in await pathway_awards(svc, "max")]
        assert statuses == ["revoked", "active"]


async def test_a_batch_re_evaluates_its_learners_pathways_on_one_read(servers, namespace, tokens, monkeypatch):
    from tessera_credential.adapters import awards
    from tests.credential.integration.test_credential_batch_evaluation import run_batch

    reads: list[list[str]] = []
    original = awards.pathways_and_standings

    async def counting(conn, mc_ids, learner_ids):  # type: ignore[no-untyped-def]
        reads.append(list(learner_ids))
        return await original(conn, mc_ids, learner_ids)

    async def refused(conn, learner_ids, pathway_ids):  # type: ignore[no-untyped-def]
        raise AssertionError("the standings were read with the pathways")

    async with credential_service(servers, namespace, tokens) as svc:
        assessments = {mc: Assessment(mc) for mc in PROGRAMMES}
        pathway = pathway_published("pw-rds", [(mc, "5") for mc in PROGRAMMES], [GENT, AMSTERDAM, HEIDELBERG])
        await publish(servers, namespace, [*offerings(), (pathway, "pw-rds")])
        learners = ("ana", "ben")
        await publish(
            servers,
            namespace,
            [enrolment_event("admitted", lr, off, mc) for lr in learners for mc, (off, _) in PROGRAMMES.items()],
        )
        firsts = [passes(assessments, lr) for lr in learners]
        await publish_envelopes(servers.nats_url, namespace, [r for results in firsts for r in results[:2]])
        await wait_settled(svc)
        assert [await pathway_awards(svc, lr) for lr in learners] == [[], []]

        monkeypatch.setattr(awards, "pathways_and_standings", counting)
        monkeypatch.setattr(awards, "pathway_standings", refused)
        await run_batch(svc, [results[2] for results in firsts])  # both learners' third, in one batch
        assert reads == [["ana", "ben"]]  # the pathways and both learners' standings: one statement
        for learner in learners:
            [award] = await pathway_awards(svc, learner)
            assert award["status"] == "active" and len(award["constituents"]) == 3
