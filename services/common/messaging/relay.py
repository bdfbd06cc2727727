"""The outbox relay: moves committed events from the outbox to JetStream.

Woken by every commit that wrote events, and on a timer for rows left by a
crashed process or another replica. Rows leave the outbox only after the
broker acknowledged them, so a crash anywhere re-publishes at worst; the
broker's duplicate window (`Nats-Msg-Id` = event id) and the consumers'
inboxes absorb those copies.
"""

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from nats.errors import Error as NatsError
from nats.js import JetStreamContext
from sqlalchemy import Row, delete, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_common import metrics
from crm_common.messaging.tables import outbox
from crm_common.tracing import TRACEPARENT

log = logging.getLogger(__name__)


class OutboxRelay:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        *,
        batch_size: int = 500,
        poll_interval: float = 1.0,
        publish_timeout: float = 5.0,
    ) -> None:
        self._sessions = sessions
        self._batch_size = batch_size
        self._poll_interval = poll_interval
        self._publish_timeout = publish_timeout
        self._wakeup = asyncio.Event()
        self.published = 0

    def wake(self) -> None:
        self._wakeup.set()

    async def run(self, js: JetStreamContext, stop: asyncio.Event) -> None:
        backoff = 0.1
        while not stop.is_set():
            self._wakeup.clear()
            try:
                moved = await self.publish_pending(js)
                backoff = 0.1
            except (NatsError, TimeoutError, DBAPIError, OSError) as error:
                log.warning("outbox relay retrying", extra={"error": repr(error)})
                await _sleep_unless(stop, backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if moved < self._batch_size:
                await _wait_for_any(self._wakeup, stop, self._poll_interval)

    async def publish_pending(self, js: JetStreamContext) -> int:
        """Publishes one batch; returns how many events left the outbox."""
        async with self._sessions() as session:
            if session.bind.dialect.name == "postgresql":
                return await self._publish_locked(session, js)
            return await self._publish_then_delete(session, js)

    async def _publish_locked(self, session: AsyncSession, js: JetStreamContext) -> int:
        # Several replicas share one PostgreSQL database: each locks the rows
        # it publishes and skips rows another replica holds, so none stalls
        # and none publishes the same batch twice.
        async with session.begin():
            rows = await self._pending(session, lock=True)
            await self._publish(js, rows)
            await self._delete(session, rows)
        return len(rows)

    async def _publish_then_delete(self, session: AsyncSession, js: JetStreamContext) -> int:
        # An SQLite file has one process; holding its only connection while
        # waiting for the broker would stall every request, so read, publish,
        # then delete in short separate transactions.
        async with session.begin():
            rows = await self._pending(session, lock=False)
        await self._publish(js, rows)
        async with session.begin():
            await self._delete(session, rows)
        return len(rows)

    async def _pending(self, session: AsyncSession, *, lock: bool) -> Sequence[Row]:
        query = select(outbox).order_by(outbox.c.position).limit(self._batch_size)
        if lock:
            query = query.with_for_update(skip_locked=True)
        return (await session.execute(query)).all()

    async def _publish(self, js: JetStreamContext, rows: Sequence[Row]) -> None:
        # All in flight at once (one TCP connection keeps their order);
        # waiting for each ack in turn would cap throughput at one round trip.
        await asyncio.gather(
            *(
                js.publish(
                    row.subject,
                    row.body,
                    timeout=self._publish_timeout,
                    headers=_headers(row),
                )
                for row in rows
            )
        )
        self.published += len(rows)
        metrics.outbox_published.inc(len(rows))

    async def _delete(self, session: AsyncSession, rows: Sequence[Row]) -> None:
        if rows:
            await session.execute(
                delete(outbox).where(outbox.c.position.in_([row.position for row in rows]))
            )


def _headers(row: Row) -> dict[str, str]:
    headers = {"Nats-Msg-Id": row.event_id}
    if row.traceparent:
        headers[TRACEPARENT] = row.traceparent
    return headers


@dataclass(frozen=True)
class Backlog:
    events: int
    oldest_age_seconds: float


async def outbox_backlog(sessions: async_sessionmaker[AsyncSession], now: datetime) -> Backlog:
    """What waits in the outbox: one aggregate over the table, which the relay
    keeps short (rows leave it once the broker has them)."""
    async with sessions() as session:
        events, oldest = (
            await session.execute(select(func.count(), func.min(outbox.c.created_at)))
        ).one()
    age = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
    return Backlog(events, age)


async def _wait_for_any(event: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(event.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
