"""Email-to-ticket, the decisions: what a parsed mail becomes in the helpdesk.

Parsing is in inbound_email; here a parsed mail turns into a ticket's details, a
comment's author and text, or a status change. Mail is never refused for being
long: texts are shortened to what tickets and comments hold, with a marker.
"""

import mimetypes
from dataclasses import dataclass
from enum import IntEnum

from crm_common.errors import InvalidArgument
from crm_common.validation import is_email_address, normalise_email
from crm_support.domain.attachments import (
    ATTACHMENTS_MAX,
    CONTENT_TYPE_MAX,
    FILE_NAME_MAX,
    Attachment,
)
from crm_support.domain.comments import BODY_MAX
from crm_support.domain.inbound_email import (
    TICKET_TOKEN,
    InboundEmail,
    strip_quoted_reply,
)
from crm_support.domain.inbound_email import Attachment as MailAttachment
from crm_support.domain.tickets import (
    DESCRIPTION_MAX,
    REQUESTER_NAME_MAX,
    SUBJECT_MAX,
    Ticket,
    TicketDetails,
    TicketStatus,
)

# What the transport lets through (4 MiB per gRPC message) with room to spare,
# so that an oversized mail gets a precise error rather than the transport's.
MAX_RAW_MESSAGE_BYTES = 4_000_000

NO_SUBJECT = "(no subject)"
NO_TEXT = "(no text)"
SHORTENED = " [...]"
# Custom fields the helpdesk itself sets on tickets opened by email.
MAILBOX_FIELD = "mailbox"
FOLLOW_UP_FIELD = "follow_up_of"
# How many merges a reply follows to the ticket its conversation lives on now.
MAX_MERGE_HOPS = 10
# A requester's answer puts a ticket waiting for them (or solved) back to work.
_REOPENED_BY_REPLY = frozenset({TicketStatus.PENDING, TicketStatus.SOLVED})


class Outcome(IntEnum):
    CREATED_TICKET = 1
    ADDED_COMMENT = 2
    CREATED_FOLLOW_UP = 3
    DUPLICATE = 4


@dataclass(frozen=True)
class Authorship:
    """Who a reply is from, as a comment records it."""

    # `people/{id}`, or "" while no contact holds the sender's address.
    author: str
    author_email: str
    # Only the requester's replies are public; anyone else's become internal
    # notes, so that a stranger who learns a ticket token cannot talk to the
    # requester in the helpdesk's name.
    public: bool


def sender_of(mail: InboundEmail) -> str:
    """The From address a ticket or comment can be attributed to."""
    if mail.from_address is None:
        raise InvalidArgument.single("raw_message", "has no sender: From holds no email address")
    address = normalise_email(mail.from_address)
    if not is_email_address(address):
        raise InvalidArgument.single(
            "raw_message", f"has no deliverable sender: From is {address[:100]!r}"
        )
    return address


def checked_mailbox(mailbox: str) -> str:
    address = normalise_email(mailbox)
    if address and not is_email_address(address):
        raise InvalidArgument.single("mailbox", "is not an email address")
    return address


def requester_name(mail: InboundEmail) -> str:
    """The sender's display name, unless it is only an address again."""
    name = mail.from_name
    if "@" in name:
        return ""
    return shorten(name, REQUESTER_NAME_MAX)


def new_ticket_details(mail: InboundEmail, sender: str, mailbox: str) -> TicketDetails:
    """A first message: the whole text is the description, quotes included, since
    whatever history it quotes (a forward, a thread we never saw) is news to us."""
    return TicketDetails(
        subject=shorten(mail.subject or NO_SUBJECT, SUBJECT_MAX),
        description=shorten(mail.body_text, DESCRIPTION_MAX),
        requester_email=sender,
        custom_fields={MAILBOX_FIELD: mailbox} if mailbox else {},
        attachments=attachments_of(mail),
    )


def follow_up_details(
    mail: InboundEmail, closed: Ticket, author: Authorship, mailbox: str
) -> TicketDetails:
    """A new ticket for a reply to a closed one. It continues the case, so it keeps
    the closed ticket's priority, type and tags; the requester and organization
    stay only when the requester is the one who wrote. Group and assignee are left
    to assignment and triggers: those of the closed ticket may be gone by now."""
    previous = closed.details
    subject = " ".join(TICKET_TOKEN.sub(" ", mail.subject).split()) or previous.subject
    custom_fields = {FOLLOW_UP_FIELD: closed.name}
    if mailbox:
        custom_fields[MAILBOX_FIELD] = mailbox
    return TicketDetails(
        subject=shorten(subject, SUBJECT_MAX),
        description=shorten(strip_quoted_reply(mail.body_text), DESCRIPTION_MAX),
        requester=previous.requester if author.public else author.author,
        requester_email=author.author_email,
        organization=previous.organization if author.public else "",
        priority=previous.priority,
        type=previous.type,
        tags=previous.tags,
        custom_fields=custom_fields,
        attachments=attachments_of(mail),
    )


def reply_authorship(ticket: TicketDetails, sender: str, sender_person: str) -> Authorship:
    """Whether the sender is the ticket's requester (by address, or by the person
    holding it), and who the comment is by."""
    by_requester = sender == ticket.requester_email or (
        sender_person != "" and sender_person == ticket.requester
    )
    author = ticket.requester if by_requester and ticket.requester else sender_person
    return Authorship(author=author, author_email=sender, public=by_requester)


def reply_body(mail: InboundEmail) -> str:
    """The new part of a reply: the quoted history is on the ticket already."""
    text = strip_quoted_reply(mail.body_text)
    return shorten(text, BODY_MAX) if text.strip() else NO_TEXT


def status_after_reply(
    status: TicketStatus, by_requester: bool, auto_submitted: bool
) -> TicketStatus:
    """Zendesk's rule: the requester answering reopens a pending or solved ticket.
    An auto-reply ("out of office") is no answer and changes nothing."""
    if by_requester and not auto_submitted and status in _REOPENED_BY_REPLY:
        return TicketStatus.OPEN
    return status


def attachments_of(mail: InboundEmail) -> tuple[Attachment, ...]:
    """Metadata of the mail's files, files first and inline images after (a logo in
    a signature matters least), as many as a ticket or comment holds."""
    files = sorted(mail.attachments, key=lambda attachment: attachment.inline)
    return tuple(_attachment(attachment) for attachment in files[:ATTACHMENTS_MAX])


def _attachment(attachment: MailAttachment) -> Attachment:
    name = attachment.filename.strip()
    if not name:
        name = "unnamed" + (mimetypes.guess_extension(attachment.content_type) or "")
    return Attachment(
        file_name=_shorten_file_name(name),
        content_type=attachment.content_type[:CONTENT_TYPE_MAX],
        size_bytes=attachment.size,
    )


def _shorten_file_name(name: str) -> str:
    """At most FILE_NAME_MAX characters, keeping a usual extension."""
    if len(name) <= FILE_NAME_MAX:
        return name
    stem, dot, extension = name.rpartition(".")
    if dot and stem and len(extension) <= 16:
        return stem[: FILE_NAME_MAX - len(extension) - 1] + "." + extension
    return name[:FILE_NAME_MAX]


def shorten(text: str, limit: int) -> str:
    """`text` if it fits, else its start with a marker, `limit` characters in all."""
    if len(text) <= limit:
        return text
    return text[: limit - len(SHORTENED)].rstrip() + SHORTENED
