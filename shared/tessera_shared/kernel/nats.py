"""JetStream topology, provisioned explicitly (never as a side effect of subscribing).

Each service provisions the stream of the context it owns and the durable consumers it keeps on
other contexts' streams; ``tessera provision`` does all of them at once (the deploy job). Both are
idempotent: an existing stream or consumer is updated to the declared configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    DiscardPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from tessera_shared.contract.topology import Subscription, stream_name, stream_subjects

log = structlog.get_logger(__name__)

DUPLICATE_WINDOW_SECONDS = 120.0  # JetStream de-duplication on Nats-Msg-Id: first line of defence only


@dataclass(frozen=True)
class ConsumerPolicy:
    max_deliver: int = 5
    ack_wait_seconds: float = 30.0
    max_ack_pending: int = 5000


def stream_config(context: str, namespace: str = "", replicas: int = 1) -> StreamConfig:
    # Limits retention with no age limit: a context's stream is the replayable log its consumers
    # (and partners) rebuild from; operators cap it by bytes if they must.
    return StreamConfig(
        name=stream_name(context, namespace),
        subjects=[stream_subjects(context, namespace)],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        discard=DiscardPolicy.OLD,
        duplicate_window=DUPLICATE_WINDOW_SECONDS,
        num_replicas=replicas,
        max_msgs=-1,
        max_bytes=-1,
        max_age=0,
        description=f"Tessera {context} integration events",
    )


def consumer_config(sub: Subscription, namespace: str, policy: ConsumerPolicy) -> ConsumerConfig:
    # JetStream's own max_deliver is set above ours: the consumer dead-letters at policy.max_deliver,
    # and the slack means a crash at that very delivery still gets the message redelivered.
    return ConsumerConfig(
        durable_name=sub.durable(namespace),
        filter_subject=stream_subjects(sub.source, namespace),
        ack_policy=AckPolicy.EXPLICIT,
        deliver_policy=DeliverPolicy.ALL,
        ack_wait=policy.ack_wait_seconds,
        max_deliver=policy.max_deliver + 3,
        max_ack_pending=policy.max_ack_pending,
        description=f"{sub.consumer} consumes {sub.source}",
    )


async def connect(url: str, *, user: str | None = None, password: str | None = None, name: str = "tessera") -> Client:
    return await nats.connect(
        servers=url.split(","),
        user=user,
        password=password,
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
    )


async def ensure_stream(js: JetStreamContext, config: StreamConfig) -> None:
    assert config.name is not None
    try:
        await js.stream_info(config.name)
    except NotFoundError:
        await js.add_stream(config)
        log.info("stream created", stream=config.name)
        return
    await js.update_stream(config)


async def ensure_consumer(js: JetStreamContext, stream: str, config: ConsumerConfig) -> None:
    assert config.durable_name is not None
    try:
        info = await js.consumer_info(stream, config.durable_name)
    except NotFoundError:
        await js.add_consumer(stream, config)
        log.info("consumer created", stream=stream, consumer=config.durable_name)
        return
    current = info.config
    if (current.filter_subject, current.max_deliver, current.ack_wait, current.max_ack_pending) != (
        config.filter_subject,
        config.max_deliver,
        config.ack_wait,
        config.max_ack_pending,
    ):
        # add_consumer with an existing durable name updates it (pull_subscribe never does).
        await js.add_consumer(stream, config)
        log.info("consumer updated", stream=stream, consumer=config.durable_name)


async def provision_subscription(
    js: JetStreamContext,
    sub: Subscription,
    namespace: str,
    policy: ConsumerPolicy,
    *,
    wait_seconds: float | None = 60.0,
    stopping: asyncio.Event | None = None,
) -> bool:
    """Create ``sub``'s durable consumer, waiting for the source's owner to create its stream.

    Waits ``wait_seconds`` (``None``: until ``stopping`` is set); returns False if stopped first.
    """
    stream = stream_name(sub.source, namespace)
    loop = asyncio.get_running_loop()
    deadline = None if wait_seconds is None else loop.time() + wait_seconds
    logged = False
    while stopping is None or not stopping.is_set():
        try:
            await ensure_consumer(js, stream, consumer_config(sub, namespace, policy))
            return True
        except NotFoundError:
            if deadline is not None and loop.time() > deadline:
                raise
            if not logged:
                log.info("waiting for stream", stream=stream)
                logged = True
            if stopping is None:
                await asyncio.sleep(0.5)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), timeout=0.5)
    return False
