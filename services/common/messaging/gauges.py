"""Keeps the messaging gauges of crm_common.metrics current.

The outbox and the broker are asked on a timer rather than on each scrape:
the scrape runs in prometheus_client's thread, away from the event loop that
owns the database and NATS connections. Each replica of a service reports
the same backlog, lag and dead letters (they share the database and the
durable consumers): dashboards take the max per service, not the sum.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_common import metrics
from crm_common.messaging.consumer import EventConsumer
from crm_common.messaging.envelope import DEAD_LETTER_ROOT, DEAD_LETTER_STREAM
from crm_common.messaging.relay import outbox_backlog

log = logging.getLogger(__name__)

# A scrape every 15-30 s sees values at most this old.
REFRESH_SECONDS = 5.0


async def report_outbox(sessions: async_sessionmaker[AsyncSession], stop: asyncio.Event) -> None:
    """Outbox backlog and oldest age until `stop`; independent of the broker,
    since a broker outage is exactly when the backlog grows."""
    while not stop.is_set():
        try:
            backlog = await outbox_backlog(sessions, datetime.now(UTC))
            metrics.outbox_backlog.set(backlog.events)
            metrics.outbox_oldest_age.set(backlog.oldest_age_seconds)
        except (DBAPIError, OSError, TimeoutError) as error:
            log.debug("outbox gauges not refreshed", extra={"error": repr(error)})
        await _sleep_unless(stop, REFRESH_SECONDS)


async def report_consumers(
    js: JetStreamContext, consumers: Sequence[EventConsumer], stop: asyncio.Event
) -> None:
    """Lag and dead letters of this service's consumers until `stop`."""
    while consumers and not stop.is_set():
        try:
            await _report_lag(js, consumers)
            await _report_dead_letters(js, consumers)
        except (NatsError, TimeoutError) as error:
            log.debug("consumer gauges not refreshed", extra={"error": repr(error)})
        await _sleep_unless(stop, REFRESH_SECONDS)


async def _report_lag(js: JetStreamContext, consumers: Sequence[EventConsumer]) -> None:
    for consumer in consumers:
        try:
            info = await js.consumer_info(consumer.stream, consumer.name)
        except NotFoundError:
            continue  # not subscribed yet
        metrics.consumer_pending.labels(consumer.name).set(info.num_pending or 0)
        metrics.consumer_ack_pending.labels(consumer.name).set(info.num_ack_pending or 0)


async def _report_dead_letters(js: JetStreamContext, consumers: Sequence[EventConsumer]) -> None:
    # One call: the stream counts messages per subject, and each consumer
    # parks its events under its own subject.
    info = await js.stream_info(DEAD_LETTER_STREAM, subjects_filter=f"{DEAD_LETTER_ROOT}.>")
    parked = info.state.subjects or {}
    for consumer in consumers:
        count = parked.get(f"{DEAD_LETTER_ROOT}.{consumer.name}", 0)
        metrics.dead_letters.labels(consumer.name).set(count)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
