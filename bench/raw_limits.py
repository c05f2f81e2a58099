"""The machine's raw limits, measured in the same run as the end-to-end benchmark.

* JetStream publish with ack (pipelined publish_async, the relay's path);
* durable pull consume + ack (batches of 200);
* the consume → PostgreSQL transaction (inbox + one row per message) → ack hop, one transaction
  per fetched batch — the ceiling for any consumer that must be exactly-once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from tessera_shared.kernel import db
from tessera_shared.kernel.nats import connect, ensure_stream, stream_config


async def measure(nats_url: str, database_url: str, n: int = 20_000, batch: int = 200) -> dict[str, Any]:
    ns = "bench" + uuid.uuid4().hex[:8]
    nc = await connect(nats_url)
    js = nc.jetstream(publish_async_max_pending=4000)
    cfg = stream_config("rawlimit", ns)
    await ensure_stream(js, cfg)
    subject = f"{ns}.tessera.rawlimit.thing.happened.v1"
    payload = b'{"specversion":"1.0","id":"x","data":{"n":1}}' + b" " * 400

    t0 = time.perf_counter()
    futures = []
    for i in range(n):
        futures.append(await js.publish_async(subject, payload, headers={"Nats-Msg-Id": f"{ns}-{i}"}))
    await asyncio.gather(*futures)
    publish_per_s = n / (time.perf_counter() - t0)

    async def consume(durable: str, work: Any = None) -> float:
        await js.add_consumer(
            cfg.name,
            ConsumerConfig(
                durable_name=durable,
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                max_ack_pending=20_000,
            ),
        )
        psub = await js.pull_subscribe_bind(durable=durable, stream=cfg.name)
        got = 0
        start = time.perf_counter()
        while got < n:
            msgs = await psub.fetch(batch, timeout=5)
            if work is not None:
                await work(msgs)
            for m in msgs:
                await m.ack()
            got += len(msgs)
        elapsed = time.perf_counter() - start
        await psub.unsubscribe()
        return n / elapsed

    consume_per_s = await consume("plain")

    dbname = f"{ns}_hop"
    url = db.with_database(database_url, dbname)
    await db.ensure_database(url)
    pool = await db.create_pool(url, size=2)
    async with pool.acquire() as conn:
        await conn.execute(
            "CREATE TABLE inbox (consumer text, event_id text, PRIMARY KEY (consumer, event_id));"
            "CREATE TABLE effects (id text PRIMARY KEY, body bytea)"
        )

    async def hop(msgs: list[Any]) -> None:
        async with pool.acquire() as conn, conn.transaction():
            ids = [f"{m.metadata.sequence.stream}" for m in msgs]
            await conn.execute("INSERT INTO inbox SELECT 'hop', unnest($1::text[]) ON CONFLICT DO NOTHING", ids)
            await conn.executemany(
                "INSERT INTO effects VALUES ($1, $2)", [(i, m.data) for i, m in zip(ids, msgs, strict=True)]
            )

    hop_per_s = await consume("hop", hop)
    await pool.close()
    await db.drop_database(url)
    await js.delete_stream(cfg.name)
    await nc.close()
    return {
        "jetstream_publish_ack_per_s": round(publish_per_s),
        "pull_consume_ack_per_s": round(consume_per_s),
        "consume_pg_tx_ack_hop_per_s": round(hop_per_s),
        "raw_messages": n,
        "hop_batch": batch,
    }


if __name__ == "__main__":
    import json
    import sys

    from tessera_shared.testing.servers import Servers

    servers = Servers().start()
    try:
        print(
            json.dumps(
                asyncio.run(
                    measure(servers.nats_url, servers.database_url, int(sys.argv[1]) if len(sys.argv) > 1 else 20_000)
                ),
                indent=2,
            )
        )
    finally:
        servers.stop()
