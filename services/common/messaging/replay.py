"""Rebuilding a read model from the whole history of the stream that feeds it.

The streams keep every event (broker.py), so a read model a subscription
keeps can be made again from nothing: its tables are emptied, the source
stream is read from its first message up to the last one there when the
rebuild began, and the read model's projection applies the events in
batches, one transaction each, recording every applied event in the inbox
under the live consumer's name. When the service consumes again, its
durable consumer resumes where it stopped and finds the events the rebuild
applied in the inbox, so it applies only the newer ones.

The service must not be consuming meanwhile: its consumer would write into
tables being rebuilt and claim inbox rows the rebuild writes. `rebuild`
refuses to start, and stops before committing a batch, while anyone pulls
from the service's durable consumer (ConsumerRunning).
"""

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError
from sqlalchemy import Table, delete, insert, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from crm.events.v1.event_pb2 import Event
from crm_common.messaging.consumer import EventConsumer, Subscription
from crm_common.messaging.envelope import SUBJECT_ROOT, stream_for
from crm_common.messaging.tables import inbox
from crm_common.messaging.uow import UnitOfWork, UnitOfWorkFactory

# Events per transaction: large enough that per-statement costs vanish, small
# enough that a batch's IN lists stay far below the databases' parameter limits.
BATCH_SIZE = 2000
# An abandoned reader (the process died) is removed by the broker after this.
_READER_INACTIVE_SECONDS = 60.0
_FETCH_TIMEOUT_SECONDS = 5.0

Projection = Callable[[Sequence[Event], UnitOfWork], Awaitable[None]]


@dataclass(frozen=True)
class ReadModel:
    """A read model kept from another service's events, and how to make it again."""

    name: str
    # What keeps it current: the live consumer's handlers and source stream.
    subscription: Subscription
    # What a rebuild empties, in this order (rows that refer to others first).
    tables: Sequence[Table]
    # The read model's writes for a batch of events, in stream order, as the
    # subscription's handlers make them one event at a time; only events of
    # the types the subscription handles, each once.
    project: Projection


@dataclass
class RebuildReport:
    read_model: str
    stream: str
    last_sequence: int = 0  # the stream's last message when the rebuild began
    messages: int = 0  # read from the stream
    applied: int = 0  # of a type the read model handles, projected
    # Of other types, or no events at all (the live consumer dead-letters those).
    ignored: int = 0
    duplicates: int = 0  # an event id seen earlier in the stream
    failed: dict[str, str] = field(default_factory=dict)  # event id: why it was left out
    batches: int = 0
    seconds: float = 0.0
    rates: list[float] = field(default_factory=list)  # messages/s of each batch

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0


class ConsumerRunning(Exception):
    """The service is consuming the stream the read model is rebuilt from."""


async def rebuild(
    js: JetStreamContext,
    service: str,
    read_model: ReadModel,
    units: UnitOfWorkFactory,
    batch_size: int = BATCH_SIZE,
) -> RebuildReport:
    """Empties the read model and applies the source stream's history to it."""
    consumer = EventConsumer(service, read_model.subscription, units).name
    stream = stream_for(read_model.subscription.source)
    await ensure_not_consuming(js, stream, consumer)
    report = RebuildReport(read_model.name, stream)
    report.last_sequence = (await js.stream_info(stream)).state.last_seq
    started = time.perf_counter()
    async with units() as uow:
        for table in read_model.tables:
            await uow.session.execute(delete(table))
        await uow.session.execute(delete(inbox).where(inbox.c.consumer == consumer))
        await uow.commit()
    async for messages in read_history(
        js, read_model.subscription.source, report.last_sequence, batch_size
    ):
        batch_started = time.perf_counter()
        await ensure_not_consuming(js, stream, consumer)
        await _apply_batch(read_model, consumer, units, messages, report)
        report.rates.append(len(messages) / (time.perf_counter() - batch_started))
    report.seconds = time.perf_counter() - started
    return report


async def ensure_not_consuming(js: JetStreamContext, stream: str, consumer: str) -> None:
    """ConsumerRunning while a client waits on the durable consumer's messages."""
    try:
        info = await js.consumer_info(stream, consumer)
    except NotFoundError:
        return  # the service never consumed this stream
    if info.num_waiting:
        raise ConsumerRunning(
            f"{consumer} is pulling from {stream}: stop the service, then rebuild "
            "(a stopped service's last pull expires within seconds)"
        )


async def read_history(
    js: JetStreamContext, source: str, last_sequence: int, batch_size: int = BATCH_SIZE
) -> AsyncIterator[list[Msg]]:
    """The raw messages of a source's stream from the first to `last_sequence`, in batches."""
    if last_sequence == 0:
        return
    reader = await js.pull_subscribe(
        f"{SUBJECT_ROOT}.{source}.>",
        stream=stream_for(source),
        config=ConsumerConfig(
            ack_policy=AckPolicy.NONE,
            deliver_policy=DeliverPolicy.ALL,
            inactive_threshold=_READER_INACTIVE_SECONDS,
            max_waiting=1,
        ),
    )
    try:
        batch: list[Msg] = []
        sequence = 0
        while sequence < last_sequence:
            fetched = await reader.fetch(batch_size - len(batch), timeout=_FETCH_TIMEOUT_SECONDS)
            sequence = fetched[-1].metadata.sequence.stream
            if sequence > last_sequence:  # the last fetch: only what was there when we began
                fetched = [m for m in fetched if m.metadata.sequence.stream <= last_sequence]
            batch += fetched
            if len(batch) >= batch_size or sequence >= last_sequence:
                yield batch
                batch = []
    finally:
        await reader.unsubscribe()


async def _apply_batch(
    read_model: ReadModel,
    consumer: str,
    units: UnitOfWorkFactory,
    messages: Sequence[Msg],
    report: RebuildReport,
) -> None:
    handled = read_model.subscription.handlers
    events: dict[str, Event] = {}
    for message in messages:
        event = _event_of(message.data)
        if event is None or event.type not in handled:
            report.ignored += 1
        elif event.id in events:
            report.duplicates += 1
        else:
            events[event.id] = event
    report.messages += len(messages)
    report.batches += 1
    if not events:
        return
    try:
        await _project(read_model, consumer, units, events, report, skip_seen=False)
    except IntegrityError:
        # An event applied in an earlier batch came again (republished by a
        # relay after the broker's duplicate window): again, leaving it out.
        await _project(read_model, consumer, units, events, report, skip_seen=True)
    except (OperationalError, InterfaceError):
        raise  # the database, not an event: the operator runs the rebuild again
    except Exception:
        # An event the projection cannot apply, which the live consumer
        # dead-lettered: each event alone, so that only that one is left out.
        for event_id, event in events.items():
            try:
                await _project(
                    read_model, consumer, units, {event_id: event}, report, skip_seen=True
                )
            except (OperationalError, InterfaceError):
                raise
            except Exception as error:
                report.failed[event_id] = repr(error)


async def _project(
    read_model: ReadModel,
    consumer: str,
    units: UnitOfWorkFactory,
    events: dict[str, Event],
    report: RebuildReport,
    *,
    skip_seen: bool,
) -> None:
    """One transaction: the events projected and recorded in the inbox."""
    async with units() as uow:
        if skip_seen:
            seen = await uow.session.scalars(
                select(inbox.c.event_id).where(
                    inbox.c.consumer == consumer, inbox.c.event_id.in_(events)
                )
            )
            for event_id in list(seen):
                del events[event_id]
                report.duplicates += 1
            if not events:
                return
        await read_model.project(list(events.values()), uow)
        now = datetime.now(UTC)
        await uow.session.execute(
            insert(inbox),
            [
                {"consumer": consumer, "event_id": event_id, "processed_at": now}
                for event_id in events
            ],
        )
        await uow.commit()
    report.applied += len(events)


def _event_of(data: bytes) -> Event | None:
    """The envelope, None for what the live consumer would dead-letter as no event."""
    try:
        event = Event.FromString(data)
    except DecodeError:
        return None
    return event if event.id and event.type else None
