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


async def test_a_learner_locked_by_the_hook_is_not_locked_again_and_stays_locked(servers, namespace, tokens, monkeypatch):
    async with credential_service(servers, namespace, tokens, run_background=False) as svc:
        calls = []
        original = state.lock_definitions

        async def spy(conn, *, exclusive):
            calls.append(exclusive)
            await original(conn, exclusive=exclusive)

        monkeypatch.setattr(state, "lock_definitions", spy)
        await svc.runtime.pool.execute("INSERT INTO award_learners (learner_id) VALUES ('bob')")
        async with svc.runtime.pool.acquire() as a, svc.runtime.pool.acquire() as b:
            async with a.transaction():
                held = await lock_batch(a, events_of(["ann", "bob"]))
                assert held.learner_ids == {"ann", "bob"} and calls == [False]
                await state.lock_learner(a, "ann", held)
                assert calls == [False]  # nothing done
                await state.lock_learner(a, "cid", held)  # not in the batch: locked here
                await state.lock_learner(a, "ann", None)  # no hook result (redrive): locks itself
                assert calls == [False, False, False]
                # the careful mode: a handler's savepoint rolled back keeps the hook's locks
                with pytest.raises(asyncpg.DivisionByZeroError):
                    async with a.transaction():
                        await a.execute("SELECT 1/0")
                with pytest.raises(asyncpg.LockNotAvailableError):
                    await b.execute("SELECT 1 FROM award_learners WHERE learner_id = 'bob' FOR UPDATE NOWAIT")
            await b.execute("SELECT 1 FROM award_learners WHERE learner_id = 'bob' FOR UPDATE NOWAIT")
