"""Events waiting together are applied together, yet each exactly once in effect
and in stream order; one failing handler costs its batch nothing but a retry."""

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import nats
import pytest
from nats.js import JetStreamContext
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from crm.events.v1.event_pb2 import Event
from crm_cli.servers import NatsServer
from crm_common.messaging.broker import ensure_stream, event_stream_config
from crm_common.messaging.consumer import EventConsumer, RetryPolicy, Subscription
from crm_common.messaging.envelope import subject_for
from crm_common.messaging.tables import inbox, messaging_metadata
from crm_common.messaging.uow import UnitOfWork
from crm_common.storage.db import create_engine, session_factory
from tests.integration.harness import Databases

SOURCE = "batchsource"
EVENTS = 12

journal_metadata = MetaData()
# What the handler below writes: one row per application, in order.
journal = Table(
    "journal",
    journal_metadata,
    Column("number", Integer, primary_key=True, autoincrement=True),
    Column("event_id", String(36), nullable=False),
)


@dataclass
class Handler:
    """Writes each event to the journal; fails an event as often as `failing` says."""

    failing: Counter[str] = field(default_factory=Counter)
    calls: list[str] = field(default_factory=list)

    async def __call__(self, event: Event, uow: UnitOfWork) -> None:
        self.calls.append(event.id)
        await uow.session.execute(insert(journal).values(event_id=event.id))
        if self.failing[event.id] > 0:
            self.failing[event.id] -= 1
            raise RuntimeError("failing on purpose")


@pytest.fixture(scope="module")
def batch_nats(tmp_path_factory: pytest.TempPathFactory) -> Iterator[NatsServer]:
    with NatsServer(tmp_path_factory.mktemp("batch-nats") / "store") as server:
        yield server


@pytest.fixture
async def js(batch_nats: NatsServer) -> AsyncIterator[JetStreamContext]:
    client = await nats.connect(batch_nats.url)
    js = client.jetstream()
    config = event_stream_config(SOURCE, 1)
    await ensure_stream(js, config)
    await js.purge_stream(config.name)
    try:
        yield js
    finally:
        await client.close()


async def publish(js: JetStreamContext, ids: list[str]) -> None:
    for event_id in ids:
        event = Event(id=event_id, type="thing.happened", source=SOURCE)
        await js.publish(
            subject_for(SOURCE, "thing.happened"),
            event.SerializeToString(),
            headers={"Nats-Msg-Id": str(uuid.uuid4())},  # copies are the consumer's to spot
        )


async def consume(js: JetStreamContext, url: str, handler: Handler, until: int) -> list[str]:
    """Runs a fresh consumer until the journal has `until` rows; returns the journal."""
    engine = create_engine(url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(messaging_metadata.create_all)
            await connection.run_sync(journal_metadata.create_all)
        sessions = session_factory(engine)
        consumer = EventConsumer(
            f"batches-{uuid.uuid4().hex[:8]}",
            Subscription(SOURCE, {"thing.happened": handler}),
            lambda: UnitOfWork(sessions, "batches"),
            RetryPolicy(base_seconds=0.01),
        )
        stop = asyncio.Event()
        running = asyncio.create_task(consumer.run(js, stop))
        try:
            await _journal_reaches(engine, until)
            await asyncio.sleep(0.2)  # anything applied twice would show by now
            rows = await _journal(engine)
            async with engine.connect() as connection:
                recorded = (await connection.execute(select(inbox.c.event_id))).scalars().all()
            assert sorted(recorded) == sorted(set(rows))
        finally:
            stop.set()
            await asyncio.wait_for(running, 5)
        return rows
    finally:
        await engine.dispose()


async def _journal_reaches(engine: AsyncEngine, rows: int, seconds: float = 30.0) -> None:
    for _ in range(int(seconds / 0.02)):
        if len(await _journal(engine)) >= rows:
            return
        await asyncio.sleep(0.02)
    raise TimeoutError(f"the journal did not reach {rows} rows")


async def _journal(engine: AsyncEngine) -> list[str]:
    async with engine.connect() as connection:
        return list(
            (await connection.execute(select(journal.c.event_id).order_by(journal.c.number)))
            .scalars()
            .all()
        )


async def test_waiting_events_are_applied_once_each_in_order(
    js: JetStreamContext, databases: Databases
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(EVENTS)]
    await publish(js, ids + ids[:3])  # the first three twice, as a relay might after a crash

    handler = Handler()
    assert await consume(js, databases.new("batches"), handler, until=EVENTS) == ids
    assert handler.calls == ids


async def test_a_failing_event_is_retried_and_its_batch_applied_once(
    js: JetStreamContext, databases: Databases
) -> None:
    ids = [str(uuid.uuid4()) for _ in range(EVENTS)]
    await publish(js, ids)

    # Once in the batch, once on its own, then after a redelivery it succeeds.
    handler = Handler(failing=Counter({ids[4]: 2}))
    journal_rows = await consume(js, databases.new("batches"), handler, until=EVENTS)

    assert journal_rows == ids[:4] + ids[5:] + ids[4:5]
    assert handler.calls.count(ids[4]) == 3
