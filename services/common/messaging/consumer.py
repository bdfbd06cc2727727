"""Durable JetStream consumers that apply each event at most once in effect.

Every event is handled inside a unit of work that also records its id in the
inbox table, so a redelivered event finds its id there and changes nothing.
A failing event is retried with growing delays; after `max_attempts` it moves
to the dead-letter stream and the consumer goes on with the next one.

Events that arrive together are applied in one unit of work (one commit, one
inbox statement); should any of them fail, that transaction is rolled back and
each is handled on its own, which is where retries and dead-letters happen.
Messages are acknowledged only after the commit that applied them.
"""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import SpanKind
from sqlalchemy.exc import InterfaceError, OperationalError

from crm.events.v1.event_pb2 import Event
from crm_common import metrics
from crm_common.messaging.envelope import DEAD_LETTER_ROOT, SUBJECT_ROOT, stream_for
from crm_common.messaging.tables import inbox
from crm_common.messaging.uow import UnitOfWork, UnitOfWorkFactory
from crm_common.storage.db import DIALECT_INSERTS
from crm_common.tracing import context_from_headers, tracer

log = logging.getLogger(__name__)

EventHandler = Callable[[Event, UnitOfWork], Awaitable[None]]

# What became of a delivery (crm_consumer_events_total's outcome label).
OUTCOMES = ("applied", "duplicate", "ignored", "retried", "dead_lettered")

# How long one pull request waits on the broker for a first message. It only
# bounds how soon the loop notices `stop`: a message that arrives meanwhile is
# handed over at once.
FETCH_WAIT_SECONDS = 1.0
# Fetching what the broker says is already waiting takes one round trip; this
# bounds the wait should another replica have taken those messages meanwhile.
TOP_UP_WAIT_SECONDS = 0.05


@dataclass(frozen=True)
class Subscription:
    """Which events of another service's stream a service handles, and how."""

    source: str
    handlers: Mapping[str, EventHandler]


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_seconds: float = 0.5
    cap_seconds: float = 60.0

    def delay(self, attempt: int) -> float:
        return min(self.base_seconds * 2 ** (attempt - 1), self.cap_seconds)


class PoisonEvent(Exception):
    """The message can never be handled: it is not an event at all."""


class EventConsumer:
    def __init__(
        self,
        consumer: str,
        subscription: Subscription,
        units: UnitOfWorkFactory,
        retry: RetryPolicy = RetryPolicy(),
    ) -> None:
        self.name = f"{consumer}-from-{subscription.source}"
        self._subscription = subscription
        self._units = units
        self._retry = retry
        self.applied = 0
        self.dead_lettered = 0
        self.stream = stream_for(subscription.source)
        self._outcomes = {
            outcome: metrics.consumer_events.labels(self.name, outcome) for outcome in OUTCOMES
        }
        self._redeliveries = metrics.consumer_redeliveries.labels(self.name)

    async def run(self, js: JetStreamContext, stop: asyncio.Event, batch: int = 20) -> None:
        """Consumes until `stop`; `batch` bounds how many events share one transaction
        (on SQLite that transaction holds the service's only connection)."""
        source = self._subscription.source
        subscription = await js.pull_subscribe(
            f"{SUBJECT_ROOT}.{source}.>",
            durable=self.name,
            stream=self.stream,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT,
                deliver_policy=DeliverPolicy.ALL,
                ack_wait=30,
                # We bound attempts ourselves (then dead-letter); the broker
                # must not give up first and silently park the message.
                max_deliver=-1,
                max_ack_pending=1000,
            ),
        )
        while not stop.is_set():
            try:
                messages = await _pull(subscription, batch)
            except TimeoutError:
                continue
            except NatsError as error:
                log.warning(
                    "fetch failed, retrying", extra={"consumer": self.name, "error": repr(error)}
                )
                await asyncio.sleep(0.5)
                continue
            if len(messages) > 1 and await self._apply_together(messages):
                continue
            for message in messages:
                await self._handle(js, message)

    async def _apply_together(self, messages: Sequence[Msg]) -> bool:
        """Applies first deliveries of well-formed events in one transaction, then
        acknowledges them; False (having changed nothing) when they must be
        handled one by one instead."""
        if any((message.metadata.num_delivered or 1) > 1 for message in messages):
            return False
        try:
            events = [_decode(message) for message in messages]
        except PoisonEvent:
            return False
        try:
            outcomes = await self._apply_all(messages, events)
        except Exception as error:
            log.info(
                "applying events together failed, applying them one by one",
                extra={"consumer": self.name, "error": repr(error)},
            )
            return False
        for message, outcome in zip(messages, outcomes, strict=True):
            await self._acknowledge(message)
            self._outcomes[outcome].inc()
        return True

    async def _apply_all(self, messages: Sequence[Msg], events: Sequence[Event]) -> list[str]:
        """What became of each event, all applied in one unit of work."""
        handlers = self._subscription.handlers
        outcomes = []
        async with self._units() as uow:
            fresh = await self._record(uow, [e.id for e in events if e.type in handlers])
            for message, event in zip(messages, events, strict=True):
                handler = handlers.get(event.type)
                if handler is None:
                    outcomes.append("ignored")
                elif event.id not in fresh:
                    outcomes.append("duplicate")
                else:
                    fresh.discard(event.id)  # the same event twice in one batch
                    with self._span(message):
                        await handler(event, uow)
                    outcomes.append("applied")
                log.debug(
                    "event handled",
                    extra={"consumer": self.name, "event_id": event.id, "outcome": outcomes[-1]},
                )
            await uow.commit()
        self.applied += outcomes.count("applied")
        return outcomes

    async def _acknowledge(self, message: Msg) -> None:
        try:
            await message.ack()
        except (NatsError, TimeoutError) as error:
            # The broker redelivers; the inbox turns that delivery into a no-op.
            log.warning("ack failed", extra={"consumer": self.name, "error": repr(error)})

    async def _handle(self, js: JetStreamContext, message: Msg) -> None:
        if (message.metadata.num_delivered or 1) > 1:
            self._redeliveries.inc()
        with self._span(message):
            await self._handle_in_span(js, message)

    @contextlib.contextmanager
    def _span(self, message: Msg) -> Iterator[None]:
        # The span continues the trace of the request whose commit published the event.
        with tracer.start_as_current_span(
            f"process {message.subject}",
            context=context_from_headers(message.headers),
            kind=SpanKind.CONSUMER,
            attributes={
                "messaging.system": "nats",
                "messaging.destination.name": message.subject,
                "messaging.consumer.group.name": self.name,
            },
        ):
            yield

    async def _handle_in_span(self, js: JetStreamContext, message: Msg) -> None:
        try:
            event = _decode(message)
            handler = self._subscription.handlers.get(event.type)
            if handler is None:
                outcome = "ignored"
            else:
                outcome = "applied" if await self._apply(event, handler) else "duplicate"
                log.debug(
                    "event handled",
                    extra={"consumer": self.name, "event_id": event.id, "outcome": outcome},
                )
            await message.ack()
            self._outcomes[outcome].inc()
        except PoisonEvent as error:
            await self._dead_letter(js, message, str(error))
        except (OperationalError, InterfaceError) as error:
            # The database is unreachable: not the event's fault, so this
            # does not count towards dead-lettering it.
            log.warning("database unavailable", extra={"consumer": self.name, "error": repr(error)})
            await message.nak(delay=1.0)
            self._outcomes["retried"].inc()
        except (NatsError, TimeoutError) as error:
            # The ack itself failed; the broker redelivers and the inbox
            # turns the second delivery into a no-op.
            log.warning("ack failed", extra={"consumer": self.name, "error": repr(error)})
        except Exception as error:
            await self._retry_or_dead_letter(js, message, error)

    async def _apply(self, event: Event, handler: EventHandler) -> bool:
        """Whether this delivery changed anything: False if the inbox had the event."""
        async with self._units() as uow:
            if not await self._record(uow, [event.id]):
                return False
            await handler(event, uow)
            await uow.commit()
        self.applied += 1
        return True

    async def _record(self, uow: UnitOfWork, event_ids: Sequence[str]) -> set[str]:
        """Writes the events' ids to the inbox; returns those it did not hold yet.

        One statement: another replica applying the same event at the same
        time holds its row until it commits or rolls back, and then this
        insert skips or takes the id.
        """
        if not event_ids:
            return set()
        now = datetime.now(UTC)
        statement = (
            DIALECT_INSERTS[uow.session.bind.dialect.name](inbox)
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        rows = [{"consumer": self.name, "event_id": id_, "processed_at": now} for id_ in event_ids]
        result = await uow.session.execute(statement, rows)
        return set(result.scalars())

    async def _retry_or_dead_letter(
        self, js: JetStreamContext, message: Msg, error: Exception
    ) -> None:
        attempt = message.metadata.num_delivered or 1
        if attempt >= self._retry.max_attempts:
            await self._dead_letter(js, message, f"failed {attempt} times: {error!r}")
            return
        delay = self._retry.delay(attempt)
        log.error(
            "event handler failed, will retry",
            extra={"consumer": self.name, "attempt": attempt, "error": repr(error)},
        )
        await message.nak(delay=delay)
        self._outcomes["retried"].inc()

    async def _dead_letter(self, js: JetStreamContext, message: Msg, reason: str) -> None:
        sequence = message.metadata.sequence.stream
        headers = dict(message.headers or {})
        headers.update(
            {
                "Crm-Dead-Letter-Reason": reason[:1000],
                "Crm-Original-Subject": message.subject,
                "Crm-Original-Sequence": str(sequence),
                "Crm-Consumer": self.name,
                "Nats-Msg-Id": f"{self.name}:{sequence}",
            }
        )
        await js.publish(f"{DEAD_LETTER_ROOT}.{self.name}", message.data, headers=headers)
        await message.ack()
        self.dead_lettered += 1
        self._outcomes["dead_lettered"].inc()
        log.error(
            "event dead-lettered",
            extra={"consumer": self.name, "subject": message.subject, "reason": reason},
        )


async def _pull(subscription: JetStreamContext.PullSubscription, batch: int) -> list[Msg]:
    """Waits for the next message, then takes up to `batch` in all of those already waiting.

    A pull request for one message returns as soon as it arrives; one for
    many would linger until it expired if fewer came, so ask for more only
    as many as the broker reported waiting behind the first.
    """
    messages = await subscription.fetch(1, timeout=FETCH_WAIT_SECONDS)
    waiting = min(messages[-1].metadata.num_pending or 0, batch - 1)
    if waiting > 0:
        # The first message is ours either way: a failure here shows again
        # on the next fetch, and handling it now beats its redelivery.
        with contextlib.suppress(TimeoutError, NatsError):
            messages += await subscription.fetch(waiting, timeout=TOP_UP_WAIT_SECONDS)
    return messages


def _decode(message: Msg) -> Event:
    try:
        event = Event.FromString(message.data)
    except DecodeError as error:
        raise PoisonEvent(f"not an event envelope: {error}") from error
    if not event.id or not event.type:
        raise PoisonEvent("event envelope without id or type")
    return event
