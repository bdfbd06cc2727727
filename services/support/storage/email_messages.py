"""Every email the helpdesk knows by Message-ID, and what it became."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table, Text, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.storage.db import UtcDateTime
from crm_support.storage.tables import metadata
from crm_support.storage.tickets import tickets

email_messages = Table(
    "email_messages",
    metadata,
    # SHA-256 of the normalised Message-ID: a sender chooses the id, and a
    # fixed-size key keeps any length of it indexable.
    Column("message_key", String(64), primary_key=True),
    Column("message_id", Text, nullable=False),
    # Deferred: a delivery claims its Message-ID before it creates the ticket,
    # so that a concurrent duplicate waits on the claim and then gives way.
    Column(
        "ticket_id",
        String(63),
        ForeignKey(tickets.c.id, ondelete="CASCADE", deferrable=True, initially="DEFERRED"),
        nullable=False,
    ),
    # The comment the message became; NULL when it opened the ticket.
    Column("comment_id", String(63), nullable=True),
    Column("mailbox", String(254), nullable=False),
    Column("receive_time", UtcDateTime, nullable=False),
)


@dataclass(frozen=True)
class KnownMessage:
    message_id: str
    ticket_id: str
    comment_id: str | None


class MessageAlreadyKnown(Exception):
    """Another delivery of the same message was recorded first."""


def message_key(message_id: str) -> str:
    return hashlib.sha256(message_id.encode()).hexdigest()


class EmailMessageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, message_id: str) -> KnownMessage | None:
        found = await self.find([message_id])
        return found[0] if found else None

    async def find(self, message_ids: Sequence[str]) -> list[KnownMessage]:
        """Those of the messages that are known, in the order asked."""
        keys = {message_key(message_id): message_id for message_id in message_ids}
        if not keys:
            return []
        query = select(email_messages).where(email_messages.c.message_key.in_(keys))
        rows = {row.message_key: row for row in await self._session.execute(query)}
        return [
            KnownMessage(rows[key].message_id, rows[key].ticket_id, rows[key].comment_id)
            for key in keys
            if key in rows
        ]

    async def add(self, message: KnownMessage, mailbox: str, now: datetime) -> None:
        """Records the message; MessageAlreadyKnown when a concurrent delivery won."""
        try:
            await self._session.execute(
                insert(email_messages).values(
                    message_key=message_key(message.message_id),
                    message_id=message.message_id,
                    ticket_id=message.ticket_id,
                    comment_id=message.comment_id,
                    mailbox=mailbox,
                    receive_time=now,
                )
            )
        except IntegrityError as error:
            raise MessageAlreadyKnown(message.message_id) from error
