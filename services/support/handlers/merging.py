"""Use case: merging a ticket into another."""

import uuid
from datetime import UTC, datetime

from crm_common.auth.principal import Principal
from crm_common.etags import check_etag
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.merging import check_merge_request, merge
from crm_support.domain.tickets import Ticket
from crm_support.events import published
from crm_support.handlers.access import accessible_ticket, ticket_access
from crm_support.handlers.change import TicketChange
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.storage.tickets import CommentRepository, TicketRepository


async def merge_ticket(
    uow: UnitOfWork,
    caller: Principal,
    source_id: str,
    target_id: str,
    etag: str,
    author: str,
    note: str,
) -> tuple[Ticket, Ticket]:
    """Both tickets, their comments and the events change in one transaction.

    Both rows are locked before they are read: a comment added to the source
    meanwhile is either moved with the others or waits and then finds the
    source closed, and two merges of the same tickets run one after the other.
    """
    check_merge_request(source_id, target_id, author, note)
    async with uow:
        repository = TicketRepository(uow.session)
        await repository.lock(source_id, target_id)
        access = await ticket_access(uow.session, caller)
        source = await accessible_ticket(repository, source_id, access)
        target = await accessible_ticket(repository, target_id, access)
        check_etag(etag, source.version, source.name)
        now = datetime.now(UTC)
        source_before, target_before = snapshot(source), snapshot(target)
        note_ids = (uuid.uuid4().hex, uuid.uuid4().hex)
        changes = merge(source, target, author, note, note_ids, now)
        # Before the notes are stored, so the source keeps its own note.
        await CommentRepository(uow.session).move(source.id, target.id)
        source = await settle(
            uow,
            source,
            TicketChange(
                uow.session, now, source_before, changes.source_fields, comment=changes.source_note
            ),
        )
        target = await settle(
            uow,
            target,
            TicketChange(
                uow.session, now, target_before, changes.target_fields, comment=changes.target_note
            ),
        )
        uow.publish(published.ticket_merged(source, target))
        await uow.commit()
    return source, target
