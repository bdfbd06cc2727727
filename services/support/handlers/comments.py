"""Use cases for a ticket's conversation."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.auth.principal import Principal
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.comments import Attachment, Comment
from crm_support.handlers.access import accessible_ticket, ticket_access
from crm_support.handlers.change import TicketChange
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.storage.tickets import CommentRepository, TicketRepository


async def create_comment(
    uow: UnitOfWork,
    caller: Principal,
    ticket_id: str,
    body: str,
    public: bool,
    author: str,
    attachments: tuple[Attachment, ...],
) -> Comment:
    async with uow:
        tickets = TicketRepository(uow.session)
        ticket = await accessible_ticket(
            tickets, ticket_id, await ticket_access(uow.session, caller)
        )
        now = datetime.now(UTC)
        comment = Comment.create(
            uuid.uuid4().hex, ticket_id, body, public, author, attachments, now
        )
        before = snapshot(ticket)
        ticket.record_comment(comment.public, comment.by_agent, now)
        change = TicketChange(uow.session, now, before, comment=comment)
        await settle(uow, ticket, change)
        await uow.commit()
    return comment


async def list_comments(
    uow: UnitOfWork, caller: Principal, ticket_id: str, after: Sequence[Any] | None, size: int
) -> Page[Comment]:
    async with uow:
        access = await ticket_access(uow.session, caller)
        await accessible_ticket(TicketRepository(uow.session), ticket_id, access)
        found = await CommentRepository(uow.session).page(ticket_id, after, size)
    return Page.of(found, size)
