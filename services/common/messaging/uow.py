"""The unit of work: one transaction for the state change and its events.

Handlers change state through `uow.session` and announce what happened with
`uow.publish(...)`; `commit()` writes those events to the outbox in the same
transaction, then wakes the relay so it need not wait for its next poll.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_common.messaging.envelope import OutgoingEvent, seal, subject_for
from crm_common.messaging.tables import outbox


class UnitOfWork:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        source: str,
        on_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self._sessions = sessions
        self._source = source
        self._on_commit = on_commit
        self._events: list[OutgoingEvent] = []

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self._events = []
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Anything not committed explicitly is rolled back: no half-written
        # record survives an error.
        await self.session.rollback()
        await self.session.close()

    def publish(self, event: OutgoingEvent) -> None:
        self._events.append(event)

    async def commit(self) -> None:
        if self._events:
            now = datetime.now(UTC)
            rows = []
            for event in self._events:
                envelope = seal(event, self._source, now)
                rows.append(
                    {
                        "event_id": envelope.id,
                        "subject": subject_for(self._source, event.type),
                        "body": envelope.SerializeToString(),
                        "created_at": now,
                    }
                )
            await self.session.execute(insert(outbox), rows)
        await self.session.commit()
        had_events, self._events = bool(self._events), []
        if had_events:
            self._on_commit()


UnitOfWorkFactory = Callable[[], UnitOfWork]
