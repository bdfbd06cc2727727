"""The unit of work: one transaction for the state change and its events.

Handlers change state through `uow.session` and announce what happened with
`uow.publish(...)`; `commit()` writes those events to the outbox in the same
transaction, then wakes the relay so it need not wait for its next poll.
Inside an RPC it also writes the audit entries of what changed (crm_common.audit),
in that same transaction, and every event carries who caused it.
"""

from collections.abc import Callable
from datetime import UTC, datetime
from types import TracebackType
from typing import Self

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from crm_common.audit.context import Call, current_actor, current_call
from crm_common.audit.recording import audit_rows, take_writes, track_writes
from crm_common.messaging.envelope import OutgoingEvent, seal, subject_for
from crm_common.messaging.tables import audit_entries, outbox
from crm_common.tracing import current_traceparent

# Built once rather than per commit: SQLAlchemy keys its compiled cache by them.
_INSERT_AUDIT_ENTRIES = insert(audit_entries)
_INSERT_OUTBOX = insert(outbox)


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
        self._audited: Call | None = None

    async def __aenter__(self) -> Self:
        self.session = self._sessions()
        self._events = []
        self._audited = current_call()
        if self._audited is not None:
            track_writes(self.session)
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
        now = datetime.now(UTC)
        actor = current_actor(self._source)
        if self._audited is not None:
            executed = take_writes(self.session)  # before the outbox row, which is no change
            entries = audit_rows(self._events, executed, self._audited, actor, now)
            if entries:
                await self.session.execute(_INSERT_AUDIT_ENTRIES, entries)
        if self._events:
            traceparent = current_traceparent()
            rows = []
            for event in self._events:
                envelope = seal(event, self._source, now, actor)
                rows.append(
                    {
                        "event_id": envelope.id,
                        "subject": subject_for(self._source, event.type),
                        "body": envelope.SerializeToString(),
                        "created_at": now,
                        "traceparent": traceparent,
                    }
                )
            await self.session.execute(_INSERT_OUTBOX, rows)
        await self.session.commit()
        if self._audited is not None:
            track_writes(self.session)  # a handler may go on and commit again
        had_events, self._events = bool(self._events), []
        if had_events:
            self._on_commit()


UnitOfWorkFactory = Callable[[], UnitOfWork]
