"""Email-to-ticket: a received message opens a ticket or continues one, once."""

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.comments import Comment
from crm_support.domain.email_intake import (
    MAX_MERGE_HOPS,
    MAX_RAW_MESSAGE_BYTES,
    Outcome,
    attachments_of,
    checked_mailbox,
    follow_up_details,
    new_ticket_details,
    reply_authorship,
    reply_body,
    requester_name,
    sender_of,
    status_after_reply,
)
from crm_support.domain.inbound_email import InboundEmail, parse_message, thread_key
from crm_support.domain.tickets import TICKETS, Channel, Ticket, TicketDetails, TicketStatus
from crm_support.handlers.change import TicketChange
from crm_support.handlers.ticket_changes import settle, snapshot
from crm_support.handlers.tickets import existing_ticket
from crm_support.storage.email_messages import (
    EmailMessageRepository,
    KnownMessage,
    MessageAlreadyKnown,
)
from crm_support.storage.requester_emails import lock_addresses, person_with_address
from crm_support.storage.tickets import CommentRepository, TicketRepository


@dataclass(frozen=True)
class Receipt:
    """What a received message became."""

    outcome: Outcome
    message_id: str
    ticket: Ticket
    comment: Comment | None = None


async def receive_email(uow: UnitOfWork, raw_message: bytes, mailbox: str) -> Receipt:
    mailbox = checked_mailbox(mailbox)
    mail = parse_message(raw_message, max_bytes=MAX_RAW_MESSAGE_BYTES)
    sender = sender_of(mail)
    try:
        async with uow:
            receipt = await _receive(uow, mail, sender, mailbox)
            await uow.commit()
        return receipt
    except MessageAlreadyKnown:
        pass
    # A concurrent delivery of the same message won; report what it did.
    async with uow:
        known = await EmailMessageRepository(uow.session).get(mail.message_id)
        assert known is not None  # the winner committed before our claim failed
        return await _duplicate(uow.session, known)


async def _receive(uow: UnitOfWork, mail: InboundEmail, sender: str, mailbox: str) -> Receipt:
    session = uow.session
    # First, as everywhere (see lock_addresses); it also makes concurrent
    # deliveries of one message, from one sender, take turns.
    await lock_addresses(session, [sender])
    messages = EmailMessageRepository(session)
    known = await messages.get(mail.message_id)
    if known is not None:
        return await _duplicate(session, known)
    now = datetime.now(UTC)
    thread = await _thread_of(session, mail)
    if thread is None:
        ticket_id = uuid.uuid4().hex
        await messages.add(KnownMessage(mail.message_id, ticket_id, None), mailbox, now)
        details = new_ticket_details(mail, sender, mailbox)
        ticket = await _open(uow, ticket_id, details, requester_name(mail), now)
        return Receipt(Outcome.CREATED_TICKET, mail.message_id, ticket)

    authorship = reply_authorship(
        thread.details, sender, await person_with_address(session, sender)
    )
    if thread.status is TicketStatus.CLOSED:
        ticket_id = uuid.uuid4().hex
        await messages.add(KnownMessage(mail.message_id, ticket_id, None), mailbox, now)
        details = follow_up_details(mail, thread, authorship, mailbox)
        ticket = await _open(uow, ticket_id, details, requester_name(mail), now)
        return Receipt(Outcome.CREATED_FOLLOW_UP, mail.message_id, ticket)

    comment = Comment.create(
        uuid.uuid4().hex,
        thread.id,
        reply_body(mail),
        authorship.public,
        authorship.author,
        attachments_of(mail),
        now,
        author_email=authorship.author_email,
    )
    await messages.add(KnownMessage(mail.message_id, thread.id, comment.id), mailbox, now)
    before = snapshot(thread)
    status = status_after_reply(thread.status, authorship.public, mail.auto_submitted)
    changed = thread.update({"status": status}, now)
    thread.record_comment(comment.public, comment.by_agent, now)
    ticket = await settle(uow, thread, TicketChange(session, now, before, changed, comment=comment))
    return Receipt(Outcome.ADDED_COMMENT, mail.message_id, ticket, comment)


async def _thread_of(session: AsyncSession, mail: InboundEmail) -> Ticket | None:
    """The ticket a reply belongs to: by the messages it answers, else by the ticket
    token in its subject; merged tickets lead on to where they were merged.

    Locked, then read: an agent's change or the contacts' re-pointing waits for
    the reply instead of making one of them fail on the ticket's version.
    """
    hint = thread_key(mail)
    tickets = TicketRepository(session)
    answered = await EmailMessageRepository(session).find(hint.message_ids)
    ticket_id = answered[0].ticket_id if answered else None
    if ticket_id is None and hint.ticket_number is not None:
        numbered = await tickets.get_by_number(hint.ticket_number)
        ticket_id = numbered.id if numbered else None
    if ticket_id is None:
        return None
    ticket = None
    for _ in range(MAX_MERGE_HOPS):
        await tickets.lock(ticket_id)
        found = await tickets.get(ticket_id)
        if found is None:
            break
        ticket = found
        if not ticket.merged_into:
            break
        ticket_id = ticket.merged_into.removeprefix(TICKETS)
    return ticket


async def _open(
    uow: UnitOfWork, ticket_id: str, details: TicketDetails, name: str, now: datetime
) -> Ticket:
    number = await TicketRepository(uow.session).next_number()
    ticket = Ticket.create(ticket_id, number, details, Channel.EMAIL, now, requester_name=name)
    return await settle(uow, ticket, TicketChange(uow.session, now, before=None))


async def _duplicate(session: AsyncSession, known: KnownMessage) -> Receipt:
    ticket = await existing_ticket(TicketRepository(session), known.ticket_id)
    comment = await CommentRepository(session).get(known.comment_id) if known.comment_id else None
    return Receipt(Outcome.DUPLICATE, known.message_id, ticket, comment)
