"""The measurements themselves: each returns numbers, printing is elsewhere."""

import asyncio
import contextlib
import itertools
import statistics
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nats
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.errors import TimeoutError as NatsTimeoutError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

import crm_contacts
from bench.cpu import CpuMeter, Pids
from bench.echo_server import FULL_METHOD
from bench.entities import ENTITIES, SERVICES, Calls, Entity
from bench.load import Latencies, Load, drive_until, warm_then_drive
from bench.memory import RssSampler, peak_rss_mb, rss_mb
from bench.processes import admin_channel
from bench.samples import contact_created, create_request
from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm.events.v1.event_pb2 import Event
from crm_common.messaging.broker import ensure_stream, event_stream_config
from crm_common.messaging.envelope import seal, stream_for, subject_for
from crm_common.messaging.relay import OutboxRelay, outbox_backlog
from crm_common.messaging.uow import UnitOfWork
from crm_common.storage.db import create_engine, session_factory
from crm_common.storage.migrations import upgrade_to_head
from crm_support.storage.tables import customers

CONCURRENCIES = (1, 32)
# Found without importing the service itself (as `crm_contacts.main` would).
CONTACTS_MIGRATIONS = Path(crm_contacts.__file__).parent / "storage" / "migrations"
CALL_TIMEOUT = 30.0
SETTLE_TIMEOUT = 300.0
SETTLE_POLL = 0.05
# The background write load of propagation under load, and how long it runs
# before the first sample.
LOADED_CONCURRENCY = 32
LOAD_RAMP = 0.5
PROPAGATION_POLL = 0.0005
POLL_FRACTION = 0.02
PROPAGATION_TIMEOUT = 10.0
# Under load a sample this long ends the sampling (see `propagation`).
LOADED_PROPAGATION_TIMEOUT = 5.0
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
    # Per entity and concurrency.
    creates: int
    gets: int
    warmup: int
    propagation: int
    loaded_propagation: int
    events: int
    latency: int


QUICK = Counts(
    echo_calls=500,
    creates=100,
    gets=200,
    warmup=20,
    propagation=30,
    loaded_propagation=15,
    events=3000,
    latency=50,
)
FULL = Counts(
    echo_calls=10000,
    creates=1500,
    gets=3000,
    warmup=200,
    propagation=500,
    loaded_propagation=200,
    events=20000,
    latency=500,
)


# ------------------------------------------------------------------ gRPC: echo


@dataclass(frozen=True)
class EchoMemory:
    """The echo server's RSS in MB: what a bare grpc.aio process needs."""

    idle: float
    loaded: float


@dataclass(frozen=True)
class EchoFigures:
    loads: dict[int, Load]
    memory: EchoMemory


async def echo_figures(address: str, counts: Counts, meter: CpuMeter, process: Pids) -> EchoFigures:
    """The bare grpc.aio round trip, with a payload the size of a CreatePersonRequest."""
    payload = create_request(0, "echo").SerializeToString()
    async with admin_channel(address) as channel:
        await channel.channel_ready()
        echo = channel.unary_unary(FULL_METHOD)

        async def call(_: int) -> None:
            await echo(payload, timeout=CALL_TIMEOUT)

        idle = rss_mb(process)
        sampler = RssSampler({"echo": process}).start()
        try:
            loads = {
                concurrency: await warm_then_drive(
                    call, counts.echo_calls, concurrency, counts.warmup, meter
                )
                for concurrency in CONCURRENCIES
            }
        finally:
            loaded = sampler.stop()["echo"]
        return EchoFigures(loads, EchoMemory(idle, loaded))


# -------------------------------------------------------- gRPC: the services


@dataclass(frozen=True)
class EntityLoads:
    """Create, then Get of what was created, at each concurrency."""

    entity: Entity
    creates: dict[int, Load]
    gets: dict[int, Load]


@dataclass(frozen=True)
class Propagation:
    """End to end, and split where the event reaches the broker."""

    total: Latencies
    # CreatePerson returned -> the event on the broker (the outbox relay's leg).
    to_broker: Latencies
    # The event on the broker -> support's read model holds the customer (support's leg).
    to_visible: Latencies
    # Samples recorded as the timeout (a lower bound), which ended the sampling.
    timed_out: int = 0


@dataclass(frozen=True)
class Memory:
    """Resident memory per service in MB (see bench/memory.py)."""

    # After start, every service SERVING and the suite settled.
    idle: dict[str, float]
    # The largest sampled while the loads ran.
    loaded: dict[str, float]
    # After the loads, and the kernel's high-water mark over the process's life.
    after: dict[str, float]
    high_water: dict[str, float]


@dataclass(frozen=True)
class ServiceFigures:
    entities: list[EntityLoads]
    propagation: Propagation
    loaded_propagation: Propagation
    # The mixed write load that ran while `loaded_propagation` was sampled.
    background: Load
    memory: Memory
    settle_seconds: float


async def service_figures(
    addresses: Mapping[str, str],
    nats_url: str,
    database_urls: Mapping[str, str],
    counts: Counts,
    meter: CpuMeter,
    processes: Mapping[str, Pids],
) -> ServiceFigures:
    """Every entity's Create and Get, then propagation idle and under a write load.

    Before each figure the suite settles (`Settler`), so a figure does not pay
    for the previous one's background work; a write load pays for its own.
    """
    run = uuid.uuid4().hex[:8]
    numbers = itertools.count(1)
    client = await nats.connect(nats_url, name="bench-observer")
    settler = Settler(client.jetstream(), database_urls)
    try:
        async with contextlib.AsyncExitStack() as stack:
            channels = {
                service: await stack.enter_async_context(admin_channel(address))
                for service, address in addresses.items()
            }
            for channel in channels.values():
                await channel.channel_ready()
            await settler.settle()
            idle = {service: rss_mb(pids) for service, pids in processes.items()}
            sampler = RssSampler(processes).start()
            try:
                calls = {entity.name: await entity.prepare(channels, run) for entity in ENTITIES}
                entities = [
                    await entity_loads(entity, calls[entity.name], numbers, counts, meter, settler)
                    for entity in ENTITIES
                ]
                await settler.settle()
                contacts = ContactsServiceStub(channels["contacts"])
                probe = ReadModelProbe(database_urls["support"])
                stack.push_async_callback(probe.close)
                samples = await propagation(
                    client, contacts, probe, counts.propagation, run, numbers
                )
                await settler.settle()
                loaded, background = await propagation_under_load(
                    client, contacts, probe, counts, run, numbers, list(calls.values()), meter
                )
            finally:
                largest = sampler.stop()
            memory = Memory(
                idle,
                largest,
                {service: rss_mb(pids) for service, pids in processes.items()},
                {service: peak_rss_mb(pids) for service, pids in processes.items()},
            )
            return ServiceFigures(entities, samples, loaded, background, memory, settler.waited)
    finally:
        await settler.close()
        await client.close()


async def entity_loads(
    entity: Entity,
    calls: Calls,
    numbers: "itertools.count[int]",
    counts: Counts,
    meter: CpuMeter,
    settler: "Settler",
) -> EntityLoads:
    names: list[str] = []

    async def create(_: int) -> None:
        names.append(await calls.create(next(numbers)))

    async def get(index: int) -> None:
        await calls.get(names[index % len(names)])

    creates, gets = {}, {}
    for concurrency in CONCURRENCIES:
        await settler.settle()
        creates[concurrency] = await warm_then_drive(
            create, counts.creates, concurrency, counts.warmup, meter
        )
    for concurrency in CONCURRENCIES:
        await settler.settle()
        gets[concurrency] = await warm_then_drive(
            get, counts.gets, concurrency, counts.warmup, meter
        )
    return EntityLoads(entity, creates, gets)


class Settler:
    """Waits until the suite has no background work left from earlier figures.

    Settled means: every service's outbox is empty (read from its database),
    every durable consumer of every service's stream has nothing pending or
    unacknowledged, and no stream grew since the previous look; twice in a
    row, SETTLE_POLL apart, because applying an event may write new ones.
    """

    def __init__(self, js: JetStreamContext, database_urls: Mapping[str, str]) -> None:
        self._js = js
        self._engines = [create_engine(url) for url in database_urls.values()]
        self._outboxes = [session_factory(engine) for engine in self._engines]
        # Seconds spent settling in all: time the run spends on no figure.
        self.waited = 0.0

    async def settle(self) -> None:
        start = time.monotonic()
        deadline = start + SETTLE_TIMEOUT
        previous = None
        while True:
            state = await self._quiet_state()
            if state is not None and state == previous:
                self.waited += time.monotonic() - start
                return
            previous = state
            if time.monotonic() > deadline:
                raise TimeoutError(f"the suite did not settle within {SETTLE_TIMEOUT:g} s")
            await asyncio.sleep(SETTLE_POLL)

    async def _quiet_state(self) -> tuple[int, ...] | None:
        """Each stream's last sequence if nothing is pending anywhere, else None."""
        last: list[int] = []
        for service in SERVICES:
            stream = stream_for(service)
            try:
                info = await self._js.stream_info(stream)
                consumers = await self._js.consumers_info(stream)
            except NotFoundError:
                last.append(0)
                continue
            last.append(info.state.last_seq)
            if any(c.num_pending or c.num_ack_pending for c in consumers):
                return None
        for outbox in self._outboxes:
            if (await outbox_backlog(outbox, datetime.now(UTC))).events:
                return None
        return tuple(last)

    async def close(self) -> None:
        for engine in self._engines:
            await engine.dispose()


async def propagation(
    client: Client,
    contacts: ContactsServiceStub,
    probe: "ReadModelProbe",
    samples: int,
    run: str,
    numbers: "itertools.count[int]",
    cut_off: float | None = None,
) -> Propagation:
    """From CreatePerson returning to support's read model holding the customer, one at a time.

    A plain NATS subscription on the contacts subjects notes when each event
    reaches the broker, which splits the time into the relay's leg and
    support's leg (consume, apply, commit, then our next poll). Without a
    `cut_off` a sample that takes PROPAGATION_TIMEOUT is an error; with one,
    it is recorded as `cut_off` (a lower bound) and ends the sampling: behind
    a backlog that grew that long, later samples would only wait longer.
    """
    on_broker: dict[str, float] = {}

    async def note(message: Msg) -> None:
        on_broker[Event.FromString(message.data).aggregate_id] = time.perf_counter()

    observer = await client.subscribe(subject_for("contacts", ">"), cb=note)
    total, to_broker, to_visible = [], [], []
    timed_out = 0
    try:
        for _ in range(samples):
            created = await contacts.CreatePerson(
                create_request(next(numbers), run), timeout=CALL_TIMEOUT
            )
            start = time.perf_counter()
            person_id = created.name.removeprefix("people/")
            end = await _visible(probe, person_id, start, cut_off or PROPAGATION_TIMEOUT)
            if end is None:
                if cut_off is None:
                    raise TimeoutError(
                        f"{created.name} did not reach support within {PROPAGATION_TIMEOUT:g} s"
                    )
                total.append(cut_off)
                timed_out += 1
                break
            total.append(end - start)
            broker = on_broker.get(person_id)
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
        timed_out,
    )


class ReadModelProbe:
    """Asks support's database whether its customer read model holds a customer.

    The effect itself, seen the moment support's consumer commits it, and at
    no cost to support's process: polling GetCustomer every half millisecond
    would take a core of support's CPU from the consumer being measured.
    """

    def __init__(self, support_database_url: str) -> None:
        self._engine = create_engine(support_database_url)
        self._connection: AsyncConnection | None = None

    async def holds(self, customer_id: str) -> bool:
        if self._connection is None:
            self._connection = await self._engine.connect()
        found = await self._connection.scalar(
            select(customers.c.id).where(customers.c.id == customer_id)
        )
        # A new read transaction per look: SQLite's would keep its first snapshot.
        await self._connection.rollback()
        return found is not None

    async def close(self) -> None:
        if self._connection is not None:
            await self._connection.close()
        await self._engine.dispose()


async def _visible(
    probe: ReadModelProbe, customer_id: str, start: float, give_up: float
) -> float | None:
    """When support's read model first holds the customer, polling; None after `give_up` s.

    Polls every PROPAGATION_POLL, or POLL_FRACTION of the wait so far once
    that is longer: the resolution stays within 2% of the figure while a
    long wait (under load) does not flood the database with queries.
    """
    while True:
        if await probe.holds(customer_id):
            return time.perf_counter()
        waited = time.perf_counter() - start
        if waited > give_up:
            return None
        await asyncio.sleep(max(PROPAGATION_POLL, waited * POLL_FRACTION))


async def propagation_under_load(
    client: Client,
    contacts: ContactsServiceStub,
    probe: "ReadModelProbe",
    counts: Counts,
    run: str,
    numbers: "itertools.count[int]",
    calls: list[Calls],
    meter: CpuMeter,
) -> tuple[Propagation, Load]:
    """Propagation samples while the entities' creates run at concurrency 32, mixed.

    Call i of the background load creates entity i mod 4 (person, ticket,
    opportunity, task in turn); it starts first and stops after the last
    sample, so every sample waits behind the events of the load.
    """

    async def create(index: int) -> None:
        await calls[index % len(calls)].create(next(numbers))

    stop = asyncio.Event()
    background = asyncio.create_task(drive_until(create, stop, LOADED_CONCURRENCY, meter))
    try:
        await asyncio.sleep(LOAD_RAMP)
        samples = await propagation(
            client,
            contacts,
            probe,
            counts.loaded_propagation,
            run,
            numbers,
            LOADED_PROPAGATION_TIMEOUT,
        )
    except BaseException:
        stop.set()
        await asyncio.gather(background, return_exceptions=True)
        raise
    stop.set()
    return samples, await background


# ------------------------------------------------------ JetStream and the relay


@dataclass(frozen=True)
class BrokerFigures:
    events: int
    body_bytes: int
    # Events per second of each round; raw and relay rounds alternate.
    raw_rates: tuple[float, ...]
    relay_rates: tuple[float, ...]

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
        return BrokerFigures(counts.events, len(body), tuple(raw_rates), tuple(relay_rates))
    finally:
        await client.close()


async def delivery_figure(nats_url: str, counts: Counts) -> Latencies:
    """Propagation's baseline: a bare JetStream publish reaching a waiting consumer."""
    client = await nats.connect(nats_url, name="bench-publisher")
    try:
        body = seal(contact_created(0), LATENCY_SOURCE, datetime.now(UTC)).SerializeToString()
        return await delivery_latency(nats_url, client.jetstream(), counts.latency, body)
    finally:
        await client.close()


async def raw_windowed(js: JetStreamContext, count: int, body: bytes) -> float:
    """Seconds for `count` acked publishes, at most WINDOW unacknowledged at a time.

    Same subject shape, body size and `Nats-Msg-Id` header as the relay's
    publishes, to a stream with the suite's event-stream settings.
    """
    await js.purge_stream(stream_for(RAW_SOURCE))
    subject = subject_for(RAW_SOURCE, "contact.created")
    messages = [(subject, body, str(uuid.uuid4())) for _ in range(count)]
    elapsed = await publish_windowed(js, messages, ack_wait=5.0)
    await _expect_messages(js, RAW_SOURCE, count)
    return elapsed


async def publish_windowed(
    js: JetStreamContext, messages: Iterable[tuple[str, bytes, str]], ack_wait: float
) -> float:
    """Seconds for acked publishes of (subject, body, message id), taken from
    `messages` as they go, at most WINDOW unacknowledged at a time; each
    publish waits `ack_wait` seconds at most for its ack."""
    window = asyncio.Semaphore(WINDOW)

    async def publish(subject: str, body: bytes, message_id: str) -> None:
        try:
            await js.publish(subject, body, timeout=ack_wait, headers={"Nats-Msg-Id": message_id})
        finally:
            window.release()

    pending: set[asyncio.Task[None]] = set()
    start = time.perf_counter()
    for subject, body, message_id in messages:
        await window.acquire()
        task = asyncio.create_task(publish(subject, body, message_id))
        pending.add(task)
        task.add_done_callback(pending.discard)
    await asyncio.gather(*pending)
    return time.perf_counter() - start


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
