"""The measurements themselves: each returns numbers, printing is elsewhere."""

import asyncio
import contextlib
import itertools
import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc
import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

import crm_contacts
from bench.cpu import CpuMeter
from bench.echo_server import FULL_METHOD
from bench.load import Latencies, Load, warm_then_drive
from bench.processes import admin_channel
from bench.samples import contact_created, create_request
from crm.contacts.v1 import contacts_service_pb2 as contacts_pb
from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm.events.v1.event_pb2 import Event
from crm.support.v1 import support_service_pb2 as support_pb
from crm.support.v1.support_service_pb2_grpc import SupportServiceStub
from crm_common.messaging.broker import ensure_stream, event_stream_config
from crm_common.messaging.envelope import seal, stream_for, subject_for
from crm_common.messaging.relay import OutboxRelay
from crm_common.messaging.uow import UnitOfWork
from crm_common.storage.db import create_engine, session_factory
from crm_common.storage.migrations import upgrade_to_head

CONCURRENCIES = (1, 32)
# Found without importing the service itself (as `crm_contacts.main` would).
CONTACTS_MIGRATIONS = Path(crm_contacts.__file__).parent / "storage" / "migrations"
CALL_TIMEOUT = 30.0
# What `EventConsumer` names support's durable consumer of the contacts stream.
SUPPORT_CONSUMER = "support-from-contacts"
SETTLE_TIMEOUT = 300.0
PROPAGATION_POLL = 0.0005
PROPAGATION_TIMEOUT = 10.0
# Between propagation samples, so each starts from an idle suite.
IDLE_GAP = 0.02
WINDOW = 256
ROUNDS = 3
FILL_CHUNK = 1000
# Scratch sources: their streams (CRM_<SOURCE>_EVENTS, same settings as the
# suite's event streams) have no consumers, so nothing else reacts to them.
RAW_SOURCE = "benchraw"
RELAY_SOURCE = "benchrelay"
LATENCY_SOURCE = "benchlatency"


@dataclass(frozen=True)
class Counts:
    echo_calls: int
    creates: int
    gets: int
    warmup: int
    propagation: int
    events: int
    latency: int


QUICK = Counts(
    echo_calls=500, creates=300, gets=600, warmup=50, propagation=30, events=3000, latency=50
)
FULL = Counts(
    echo_calls=10000,
    creates=5000,
    gets=10000,
    warmup=300,
    propagation=500,
    events=20000,
    latency=500,
)


# ------------------------------------------------------------------ gRPC: echo


async def echo_loads(address: str, counts: Counts, meter: CpuMeter) -> dict[int, Load]:
    """The bare grpc.aio round trip, with a payload the size of a CreatePersonRequest."""
    payload = create_request(0, "echo").SerializeToString()
    async with admin_channel(address) as channel:
        await channel.channel_ready()
        echo = channel.unary_unary(FULL_METHOD)

        async def call(_: int) -> None:
            await echo(payload, timeout=CALL_TIMEOUT)

        return {
            concurrency: await warm_then_drive(
                call, counts.echo_calls, concurrency, counts.warmup, meter
            )
            for concurrency in CONCURRENCIES
        }


# -------------------------------------------------------- gRPC: the services


@dataclass(frozen=True)
class ServiceFigures:
    creates: dict[int, Load]
    gets: dict[int, Load]
    propagation: "Propagation"


@dataclass(frozen=True)
class Propagation:
    """End to end, and split where the event reaches the broker."""

    total: Latencies
    # CreatePerson returned -> the event on the broker (the outbox relay's leg).
    to_broker: Latencies
    # The event on the broker -> GetCustomer finds the customer (support's leg).
    to_visible: Latencies


async def service_figures(
    contacts_address: str,
    support_address: str,
    nats_url: str,
    counts: Counts,
    meter: CpuMeter,
) -> ServiceFigures:
    run = uuid.uuid4().hex[:8]
    numbers = itertools.count()
    names: list[str] = []
    client = await nats.connect(nats_url, name="bench-observer")
    try:
        js = client.jetstream()
        async with (
            admin_channel(contacts_address) as contacts_channel,
            admin_channel(support_address) as support_channel,
        ):
            await contacts_channel.channel_ready()
            await support_channel.channel_ready()
            contacts = ContactsServiceStub(contacts_channel)
            support = SupportServiceStub(support_channel)

            async def create(_: int) -> None:
                request = create_request(next(numbers), run)
                created = await contacts.CreatePerson(request, timeout=CALL_TIMEOUT)
                names.append(created.name)

            async def get(index: int) -> None:
                request = contacts_pb.GetPersonRequest(name=names[index % len(names)])
                await contacts.GetPerson(request, timeout=CALL_TIMEOUT)

            creates = {}
            for concurrency in CONCURRENCIES:
                # Each figure starts with the events of the last one consumed,
                # so it does not pay for its predecessor's background work.
                await settle(js, len(names))
                creates[concurrency] = await warm_then_drive(
                    create, counts.creates, concurrency, counts.warmup, meter
                )
            gets = {}
            for concurrency in CONCURRENCIES:
                await settle(js, len(names))
                gets[concurrency] = await warm_then_drive(
                    get, counts.gets, concurrency, counts.warmup, meter
                )
            await settle(js, len(names))
            samples = await propagation(client, contacts, support, counts.propagation, run, numbers)
            return ServiceFigures(creates, gets, samples)
    finally:
        await client.close()


async def settle(js: JetStreamContext, published: int) -> None:
    """Waits until `published` events reached the contacts stream and support consumed them."""
    stream = stream_for("contacts")
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while True:
        with contextlib.suppress(NotFoundError, NatsTimeoutError):
            info = await js.stream_info(stream)
            consumer = await js.consumer_info(stream, SUPPORT_CONSUMER)
            if (
                (info.state.messages or 0) >= published
                and consumer.num_pending == 0
                and consumer.num_ack_pending == 0
            ):
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"support did not catch up with {published} events")
        await asyncio.sleep(0.05)


async def propagation(
    client: Client,
    contacts: ContactsServiceStub,
    support: SupportServiceStub,
    samples: int,
    run: str,
    numbers: "itertools.count[int]",
) -> Propagation:
    """From CreatePerson returning to GetCustomer finding the customer, one at a time.

    A plain NATS subscription on the contacts subjects notes when each event
    reaches the broker, which splits the time into the relay's leg and
    support's leg (consume, apply, commit, then our next poll).
    """
    on_broker: dict[str, float] = {}

    async def note(message: Msg) -> None:
        on_broker[Event.FromString(message.data).aggregate_id] = time.perf_counter()

    observer = await client.subscribe(subject_for("contacts", ">"), cb=note)
    total, to_broker, to_visible = [], [], []
    try:
        for _ in range(samples):
            created = await contacts.CreatePerson(
                create_request(next(numbers), run), timeout=CALL_TIMEOUT
            )
            start = time.perf_counter()
            request = support_pb.GetCustomerRequest(
                name=created.name.replace("people/", "customers/", 1)
            )
            while True:
                try:
                    await support.GetCustomer(request, timeout=CALL_TIMEOUT)
                    break
                except grpc.aio.AioRpcError as error:
                    if error.code() != grpc.StatusCode.NOT_FOUND:
                        raise
                if time.perf_counter() - start > PROPAGATION_TIMEOUT:
                    raise TimeoutError(f"{created.name} did not reach support within 10 s")
                await asyncio.sleep(PROPAGATION_POLL)
            end = time.perf_counter()
            total.append(end - start)
            broker = on_broker.get(created.name.removeprefix("people/"))
            if broker is not None:
                to_broker.append(broker - start)
                to_visible.append(end - broker)
            await asyncio.sleep(IDLE_GAP)
    finally:
        await observer.unsubscribe()
    return Propagation(
        Latencies.of_seconds(total),
        Latencies.of_seconds(to_broker),
        Latencies.of_seconds(to_visible),
    )


# ------------------------------------------------------ JetStream and the relay


@dataclass(frozen=True)
class BrokerFigures:
    events: int
    body_bytes: int
    # Events per second of each round; raw and relay rounds alternate.
    raw_rates: tuple[float, ...]
    relay_rates: tuple[float, ...]
    delivery: Latencies

    @property
    def raw_rate(self) -> float:
        return statistics.median(self.raw_rates)

    @property
    def relay_rate(self) -> float:
        return statistics.median(self.relay_rates)


async def broker_figures(nats_url: str, relay_database_url: str, counts: Counts) -> BrokerFigures:
    """Raw windowed publishing and the relay, alternating for ROUNDS rounds; medians count."""
    client = await nats.connect(nats_url, name="bench-publisher")
    try:
        js = client.jetstream()
        body = seal(contact_created(0), RAW_SOURCE, datetime.now(UTC)).SerializeToString()
        await ensure_stream(js, event_stream_config(RAW_SOURCE, 1))
        await ensure_stream(js, event_stream_config(RELAY_SOURCE, 1))
        await upgrade_to_head(relay_database_url, CONTACTS_MIGRATIONS)
        engine = create_engine(relay_database_url)
        raw_rates, relay_rates = [], []
        try:
            sessions = session_factory(engine)
            for _ in range(ROUNDS):
                raw_rates.append(counts.events / await raw_windowed(js, counts.events, body))
                relay_rates.append(counts.events / await relay_drain(js, sessions, counts.events))
        finally:
            await engine.dispose()
        delivery = await delivery_latency(nats_url, js, counts.latency, body)
        return BrokerFigures(
            counts.events, len(body), tuple(raw_rates), tuple(relay_rates), delivery
        )
    finally:
        await client.close()


async def raw_windowed(js: JetStreamContext, count: int, body: bytes) -> float:
    """Seconds for `count` acked publishes, at most WINDOW unacknowledged at a time.

    Same subject shape, body size and `Nats-Msg-Id` header as the relay's
    publishes, to a stream with the suite's event-stream settings.
    """
    await js.purge_stream(stream_for(RAW_SOURCE))
    subject = subject_for(RAW_SOURCE, "contact.created")
    ids = [str(uuid.uuid4()) for _ in range(count)]
    window = asyncio.Semaphore(WINDOW)

    async def publish(index: int) -> None:
        try:
            await js.publish(subject, body, timeout=5.0, headers={"Nats-Msg-Id": ids[index]})
        finally:
            window.release()

    tasks = []
    start = time.perf_counter()
    for index in range(count):
        await window.acquire()
        tasks.append(asyncio.create_task(publish(index)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - start
    await _expect_messages(js, RAW_SOURCE, count)
    return elapsed


async def relay_drain(
    js: JetStreamContext, sessions: async_sessionmaker[AsyncSession], count: int
) -> float:
    """Seconds for `OutboxRelay.publish_pending` to empty an outbox of `count` rows.

    In-process: the relay runs in this process against a contacts database
    of its own, as it would inside the contacts service minus the gRPC
    traffic. Filling the outbox (through `UnitOfWork`) is not timed.
    """
    await js.purge_stream(stream_for(RELAY_SOURCE))
    for first in range(0, count, FILL_CHUNK):
        async with UnitOfWork(sessions, RELAY_SOURCE) as uow:
            for number in range(first, min(first + FILL_CHUNK, count)):
                uow.publish(contact_created(number))
            await uow.commit()
    relay = OutboxRelay(sessions)
    moved = 0
    start = time.perf_counter()
    while batch := await relay.publish_pending(js):
        moved += batch
    elapsed = time.perf_counter() - start
    if moved != count:
        raise RuntimeError(f"the relay moved {moved} of {count} outbox rows")
    await _expect_messages(js, RELAY_SOURCE, count)
    return elapsed


async def delivery_latency(
    nats_url: str, js: JetStreamContext, samples: int, body: bytes
) -> Latencies:
    """From publish to a waiting pull consumer (fetch batch 1) holding the message.

    Publisher and consumer have connections of their own, the consumer the
    same settings as the suite's; one message at a time, as for propagation.
    """
    await ensure_stream(js, event_stream_config(LATENCY_SOURCE, 1))
    subject = subject_for(LATENCY_SOURCE, "contact.created")
    received: asyncio.Queue[float] = asyncio.Queue()
    consumer_client = await nats.connect(nats_url, name="bench-consumer")
    stop = asyncio.Event()
    try:
        subscription = await consumer_client.jetstream().pull_subscribe(
            f"{subject_for(LATENCY_SOURCE, '>')}",
            durable="bench-latency",
            stream=stream_for(LATENCY_SOURCE),
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.NEW,
                ack_wait=30,
                max_deliver=-1,
                max_ack_pending=1000,
            ),
        )

        async def consume() -> None:
            while not stop.is_set():
                try:
                    messages = await subscription.fetch(1, timeout=1.0)
                except (TimeoutError, NatsTimeoutError):
                    continue
                for message in messages:
                    received.put_nowait(time.perf_counter())
                    await message.ack()

        consumer = asyncio.create_task(consume())
        await asyncio.sleep(0.1)  # the first pull request is waiting
        seconds = []
        try:
            for _ in range(samples):
                start = time.perf_counter()
                await js.publish(subject, body, timeout=5.0)
                seconds.append(await asyncio.wait_for(received.get(), 10.0) - start)
                await asyncio.sleep(IDLE_GAP)
        finally:
            stop.set()
            consumer.cancel()
            await asyncio.gather(consumer, return_exceptions=True)
        return Latencies.of_seconds(seconds)
    finally:
        await consumer_client.close()


async def _expect_messages(js: JetStreamContext, source: str, count: int) -> None:
    info = await js.stream_info(stream_for(source))
    if info.state.messages != count:
        raise RuntimeError(
            f"{stream_for(source)} holds {info.state.messages} messages, expected {count}"
        )
