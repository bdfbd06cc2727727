"""Email-to-ticket decisions: what a parsed mail becomes (ticket details, a reply's
author and visibility, status changes, attachment metadata)."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crm_common.errors import InvalidArgument
from crm_support.domain.attachments import ATTACHMENTS_MAX, FILE_NAME_MAX, Attachment
from crm_support.domain.email_intake import (
    NO_SUBJECT,
    NO_TEXT,
    SHORTENED,
    Authorship,
    attachments_of,
    checked_mailbox,
    follow_up_details,
    new_ticket_details,
    reply_authorship,
    reply_body,
    requester_name,
    sender_of,
    shorten,
    status_after_reply,
)
from crm_support.domain.inbound_email import Attachment as MailAttachment
from crm_support.domain.inbound_email import InboundEmail
from crm_support.domain.tickets import (
    DESCRIPTION_MAX,
    SUBJECT_MAX,
    Channel,
    Priority,
    Ticket,
    TicketDetails,
    TicketStatus,
    TicketType,
)

NOW = datetime(2024, 1, 2, 9, 0, tzinfo=UTC)

MAIL = InboundEmail(
    message_id="m1@customer.test",
    message_id_synthetic=False,
    in_reply_to=(),
    references=(),
    from_address="ann@customer.test",
    from_name="Ann Example",
    to_addresses=("support@helpdesk.test",),
    cc_addresses=(),
    subject="Printer on fire",
    date=NOW,
    body_text="It burns.\n\nOn Mon, 1 Jan 2024, Bob wrote:\n> Does it?",
    attachments=(),
    auto_submitted=False,
)


def mail(**changes: object) -> InboundEmail:
    return replace(MAIL, **changes)  # type: ignore[arg-type]


def file(name: str, content_type: str = "application/pdf", inline: bool = False) -> MailAttachment:
    return MailAttachment(name, content_type, 10, None, inline)


def invalid(call: object) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as error:
        call()  # type: ignore[operator]
    return {v.field: v.description for v in error.value.violations}


# --- Sender and mailbox ----------------------------------------------------------------


def test_the_sender_is_the_from_address_normalised() -> None:
    assert sender_of(mail(from_address=" Ann@Customer.TEST")) == "ann@customer.test"


@pytest.mark.parametrize(
    ("from_address", "words"),
    [(None, "has no sender"), ("root@localhost", "no deliverable sender")],
)
def test_mail_without_a_usable_sender_is_refused(from_address: str | None, words: str) -> None:
    violations = invalid(lambda: sender_of(mail(from_address=from_address)))
    assert words in violations["raw_message"]


def test_the_mailbox_is_optional_but_an_address() -> None:
    assert checked_mailbox("") == ""
    assert checked_mailbox(" Support@Helpdesk.test ") == "support@helpdesk.test"
    assert invalid(lambda: checked_mailbox("support")) == {"mailbox": "is not an email address"}


@pytest.mark.parametrize(
    ("from_name", "expected"),
    [("Ann Example", "Ann Example"), ("ann@customer.test", ""), ("", ""), ("A" * 300, None)],
)
def test_the_requester_name_is_the_display_name(from_name: str, expected: str | None) -> None:
    name = requester_name(mail(from_name=from_name))
    if expected is None:
        assert len(name) == 200 and name.endswith(SHORTENED)
    else:
        assert name == expected


# --- New tickets -------------------------------------------------------------------------


def test_a_new_ticket_keeps_the_whole_text_and_the_mailbox() -> None:
    details = new_ticket_details(
        mail(attachments=(file("a.pdf"),)), "ann@customer.test", "support@helpdesk.test"
    )
    assert details == TicketDetails(
        subject="Printer on fire",
        description=MAIL.body_text,
        requester_email="ann@customer.test",
        custom_fields={"mailbox": "support@helpdesk.test"},
        attachments=(Attachment("a.pdf", "application/pdf", 10),),
    )


def test_a_new_ticket_always_fits() -> None:
    details = new_ticket_details(mail(subject="", body_text="x" * 200_000), "a@b.test", "")
    assert details.subject == NO_SUBJECT
    assert details.custom_fields == {}
    assert len(details.description) == DESCRIPTION_MAX
    long_subject = new_ticket_details(mail(subject="s" * 1000), "a@b.test", "").subject
    assert len(long_subject) == SUBJECT_MAX


# --- Replies -------------------------------------------------------------------------------

TICKET = TicketDetails(
    subject="Printer", requester="people/ann", requester_email="ann@customer.test"
)


@pytest.mark.parametrize(
    ("ticket", "sender", "sender_person", "expected"),
    [
        # The requester's address, whoever holds it in the read model.
        (TICKET, "ann@customer.test", "", Authorship("people/ann", "ann@customer.test", True)),
        # Another address of the requester's person.
        (TICKET, "ann@home.test", "people/ann", Authorship("people/ann", "ann@home.test", True)),
        # A known stranger, and an unknown one.
        (TICKET, "bob@x.test", "people/bob", Authorship("people/bob", "bob@x.test", False)),
        (TICKET, "eve@x.test", "", Authorship("", "eve@x.test", False)),
        # A requester known only by address, not yet a person.
        (
            replace(TICKET, requester=""),
            "ann@customer.test",
            "",
            Authorship("", "ann@customer.test", True),
        ),
    ],
)
def test_only_the_requester_replies_publicly(
    ticket: TicketDetails, sender: str, sender_person: str, expected: Authorship
) -> None:
    assert reply_authorship(ticket, sender, sender_person) == expected


def test_a_reply_loses_its_quoted_history() -> None:
    assert reply_body(MAIL) == "It burns."
    assert reply_body(mail(body_text="> only quotes\n")) == "> only quotes"
    assert reply_body(mail(body_text="  \n")) == NO_TEXT


@pytest.mark.parametrize(
    ("status", "by_requester", "auto_submitted", "expected"),
    [
        (TicketStatus.PENDING, True, False, TicketStatus.OPEN),
        (TicketStatus.SOLVED, True, False, TicketStatus.OPEN),
        (TicketStatus.NEW, True, False, TicketStatus.NEW),
        (TicketStatus.ON_HOLD, True, False, TicketStatus.ON_HOLD),
        (TicketStatus.PENDING, False, False, TicketStatus.PENDING),
        (TicketStatus.SOLVED, True, True, TicketStatus.SOLVED),
    ],
)
def test_the_requester_answering_reopens(
    status: TicketStatus, by_requester: bool, auto_submitted: bool, expected: TicketStatus
) -> None:
    assert status_after_reply(status, by_requester, auto_submitted) is expected


# --- Follow-ups ----------------------------------------------------------------------------


def closed_ticket() -> Ticket:
    details = replace(
        TICKET,
        organization="organizations/acme",
        priority=Priority.HIGH,
        type=TicketType.INCIDENT,
        tags=("printer",),
        assignee="agents/bo",
        group="groups/it",
    )
    ticket = Ticket.create("t1", 1042, details, Channel.EMAIL, NOW)
    ticket.status = TicketStatus.CLOSED
    return ticket


def test_a_follow_up_continues_the_case_for_its_requester() -> None:
    author = Authorship("people/ann", "ann@customer.test", True)
    details = follow_up_details(
        mail(subject="Re: Printer on fire [#1042]"), closed_ticket(), author, "s@helpdesk.test"
    )
    assert details == TicketDetails(
        subject="Re: Printer on fire",
        description="It burns.",
        requester="people/ann",
        requester_email="ann@customer.test",
        organization="organizations/acme",
        priority=Priority.HIGH,
        type=TicketType.INCIDENT,
        tags=("printer",),
        custom_fields={"follow_up_of": "tickets/t1", "mailbox": "s@helpdesk.test"},
    )


def test_a_follow_up_from_someone_else_is_theirs() -> None:
    author = Authorship("", "eve@x.test", False)
    details = follow_up_details(mail(subject="[#1042]"), closed_ticket(), author, "")
    assert details.subject == "Printer"  # the token alone says nothing
    assert (details.requester, details.requester_email, details.organization) == (
        "",
        "eve@x.test",
        "",
    )
    assert details.custom_fields == {"follow_up_of": "tickets/t1"}


# --- Attachments ---------------------------------------------------------------------------


def test_attachments_files_first_named_and_capped() -> None:
    found = attachments_of(
        mail(
            attachments=(
                file("logo.png", "image/png", inline=True),
                file("", "image/png", inline=True),
                file("report.pdf"),
                file("   ", "application/x-unknown"),
                file("x" * 300 + ".docx"),
                *(file(f"f{i}.txt", "text/plain") for i in range(30)),
            )
        )
    )
    assert len(found) == ATTACHMENTS_MAX
    assert [a.file_name for a in found[:3]] == ["report.pdf", "unnamed", "x" * 250 + ".docx"]
    assert len(found[2].file_name) == FILE_NAME_MAX
    assert all(not a.file_name.startswith("logo") for a in found)  # inline ones came last


def test_inline_images_are_kept_when_there_is_room() -> None:
    found = attachments_of(mail(attachments=(file("", "image/png", inline=True), file("a.pdf"))))
    assert [a.file_name for a in found] == ["a.pdf", "unnamed.png"]


def test_shorten_marks_what_it_cut() -> None:
    assert shorten("short", 10) == "short"
    assert shorten("a" * 20, 10) == "aaaa" + SHORTENED
    assert len(shorten("a" * 20, 10)) == 10
