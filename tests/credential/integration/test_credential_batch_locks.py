"""The credential consumers' batch hook: every learner locked at once, sorted; handlers skip it."""

import asyncio

import asyncpg
import pytest

from tessera_credential.adapters import state
from tessera_credential.application.handlers import lock_batch
from tessera_shared.contract.base import parse_data
from tests.credential.integration.credential_award_support import Assessment, credential_service

pytestmark = pytest.mark.integration


def events_of(learners):
    a = Assessment()
    envs = [a.record(lr, "off-1", "C1", 0.8) for lr in learners]
    return [(parse_data(e.type, e.data), e) for e in envs]


async def _concurrently(runtime, first, second, locker):
    a, b = await runtime.pool.acquire(), await runtime.pool.acquire()
    try:
        ta, tb = a.transaction(), b.transaction()
        await ta.start()
        await tb.start()

        async def run(conn, tx, learners):
            try:
                await locker(conn, learners)
                await asyncio.sleep(0.05)
                await tx.commit()
                return None
            except Exception as exc:
                await tx.rollback()
                return exc

        return await asyncio.gather(run(a, ta, first), run(b, tb, second))
    finally:
        await runtime.pool.release(a)
        await runtime.pool.release(b)


async def test_two_batches_of_the_same_learners_in_opposite_order(servers, namespace, tokens):
    async with credential_service(servers, namespace, tokens, run_background=False) as svc:
        learners = [f"learner-{i:03d}" for i in range(60)]

        async def one_by_one(conn, lrs):  # what each handler did before: arrival order
            for lr in lrs:
                await state.lock_learner(conn, lr)
                await asyncio.sleep(0)

        async def hook(conn, lrs):
            await lock_batch(conn, events_of(lrs))

        before = await _concurrently(svc.runtime, learners, learners[::-1], one_by_one)
        assert any(isinstance(r, asyncpg.DeadlockDetectedError) for r in before), before
        for _ in range(5):
            fresh = [f"x{_}-{lr}" for lr in learners]  # new rows (insert path) and existing ones
            for lrs in (fresh, learners):
                after = await _concurrently(svc.runtime, lrs, lrs[::-1], hook)
                assert after == [None, None]


async def test_a_learner_locked_by_the_hook_is_not_locked_again_and_stays_locked(
    servers, namespace, tokens, monkeypatch
):
    async with credential_service(servers, namespace, tokens, run_background=False) as svc:
        calls = []
        original = state.lock_learners

        async def spy(conn, learner_ids, recording=()):
            calls.append(sorted(learner_ids))
            return await original(conn, learner_ids, recording)

        monkeypatch.setattr(state, "lock_learners", spy)
        await svc.runtime.pool.execute("INSERT INTO award_learners (learner_id) VALUES ('bob')")
        async with svc.runtime.pool.acquire() as a, svc.runtime.pool.acquire() as b:
            async with a.transaction():
                held = await lock_batch(a, events_of(["ann", "bob"]))
                assert held.learner_ids == {"ann", "bob"} and calls == [["ann", "bob"]]
                await state.lock_learner(a, "ann", held)
                assert calls == [["ann", "bob"]]  # nothing done
                await state.lock_learner(a, "cid", held)  # not in the batch: locked here
                await state.lock_learner(a, "ann", None)  # no hook result (redrive): locks itself
                assert calls == [["ann", "bob"], ["cid"], ["ann"]]
                # the careful mode: a handler's savepoint rolled back keeps the hook's locks
                with pytest.raises(asyncpg.DivisionByZeroError):
                    async with a.transaction():
                        await a.execute("SELECT 1/0")
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await b.execute("SELECT 1 FROM award_learners WHERE learner_id = 'bob' FOR UPDATE NOWAIT")
            await b.execute("SELECT 1 FROM award_learners WHERE learner_id = 'bob' FOR UPDATE NOWAIT")


async def test_the_lock_holds_a_learner_another_transaction_inserted_while_it_waited(servers, namespace, tokens):
    """One statement locks and inserts: a row another transaction inserts and commits after the
    statement's snapshot is locked too (a SELECT ... FOR UPDATE in that statement would miss it),
    the definitions lock is held, and the learner-offerings are recorded."""
    async with credential_service(servers, namespace, tokens, run_background=False) as svc:
        pool = svc.runtime.pool
        async with pool.acquire() as a, pool.acquire() as b, pool.acquire() as c:
            tb = b.transaction()
            await tb.start()
            await b.execute("INSERT INTO award_learners (learner_id) VALUES ('dan')")
            async with a.transaction():
                locking = asyncio.create_task(state.lock_learners(a, ["dan", "eve"], recording=[("dan", "off-9")]))
                await asyncio.sleep(0.2)
                assert not locking.done()  # waits for b's insert of the same key
                await tb.commit()
                held = await asyncio.wait_for(locking, 10)
                assert held.learner_ids == {"dan", "eve"}
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await c.execute("SELECT 1 FROM award_learners WHERE learner_id = 'dan' FOR UPDATE NOWAIT")
                async with c.transaction():  # 'eve' is new and uncommitted: another locker waits for it
                    await c.execute("SET LOCAL lock_timeout = '200ms'")
                    with pytest.raises(asyncpg.LockNotAvailableError):
                        await state.lock_learners(c, ["eve"])
                assert await c.fetchval("SELECT pg_try_advisory_xact_lock($1)", state._DEFINITIONS_LOCK) is False
                # a learner's row is locked, not rewritten (WHERE false updates nothing)
                assert (
                    await a.fetchval(
                        "SELECT count(*) FROM award_learners WHERE learner_id = 'dan' AND xmin = pg_current_xact_id()::xid"
                    )
                    == 0
                )
            assert await c.fetchval("SELECT pg_try_advisory_xact_lock($1)", state._DEFINITIONS_LOCK) is True
            assert (
                await c.fetchval(
                    "SELECT count(*) FROM award_learner_offerings WHERE learner_id = 'dan' AND offering_id = 'off-9'"
                )
                == 1
            )
            await c.execute("SELECT 1 FROM award_learners WHERE learner_id = 'dan' FOR UPDATE NOWAIT")
