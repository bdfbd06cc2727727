"""Durable JetStream consumers that apply each event at most once in effect.

Every event is handled inside a unit of work that also records its id in the
inbox table, so a redelivered event finds its id there and changes nothing.
A failing event is retried with growing delays; after `max_attempts` it moves
to the dead-letter stream and the consumer goes on with the next one.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from google.protobuf.message import DecodeError
from nats.aio.msg import Msg
from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from opentelemetry.trace import SpanKind
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError, InterfaceError, OperationalError

from crm.events.v1.event_pb2 import Event
from crm_common import metrics
from crm_common.messaging.envelope import DEAD_LETTER_ROOT, SUBJECT_ROOT, stream_for
from crm_common.messaging.tables import inbox
from crm_common.messaging.uow import UnitOfWork, UnitOfWorkFactory
from crm_common.tracing import context_from_headers, tracer

log = logging.getLogger(__name__)

EventHandler = Callable[[Event, UnitOfWork], Awaitable[None]]

# What became of a delivery (crm_consumer_events_total's outcome label).
OUTCOMES = ("applied", "duplicate", "ignored", "retried", "dead_lettered")


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

    async def run(self, js: JetStreamContext, stop: asyncio.Event, batch: int = 100) -> None:
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
                messages = await subscription.fetch(batch, timeout=1.0)
            except TimeoutError:
                continue
            except NatsError as error:
                log.warning(
                    "fetch failed, retrying", extra={"consumer": self.name, "error": repr(error)}
                )
                await asyncio.sleep(0.5)
                continue
            for message in messages:
                await self._handle(js, message)

    async def _handle(self, js: JetStreamContext, message: Msg) -> None:
        if (message.metadata.num_delivered or 1) > 1:
            self._redeliveries.inc()
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
            await self._handle_in_span(js, message)

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
            seen = await uow.session.scalar(
                select(inbox.c.event_id).where(
                    inbox.c.consumer == self.name, inbox.c.event_id == event.id
                )
            )
            if seen:
                return False
            await handler(event, uow)
            await uow.session.execute(
                insert(inbox).values(
                    consumer=self.name, event_id=event.id, processed_at=datetime.now(UTC)
                )
            )
            try:
                await uow.commit()
            except IntegrityError:
                # Another replica applied the same delivery first.
                return False
        self.applied += 1
        return True

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


def _decode(message: Msg) -> Event:
    try:
        event = Event.FromString(message.data)
    except DecodeError as error:
        raise PoisonEvent(f"not an event envelope: {error}") from error
    if not event.id or not event.type:
        raise PoisonEvent("event envelope without id or type")
    return event
