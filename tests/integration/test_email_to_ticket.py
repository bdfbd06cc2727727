"""Email-to-ticket through ReceiveEmail, on SQLite and PostgreSQL: new tickets, replies
threaded by In-Reply-To and by the subject's ticket token, duplicates, attachments,
follow-ups to closed tickets, and bad input."""

import uuid
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import make_msgid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.support.v1 import comment_pb2, email_pb2
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from tests.integration.harness import Suite, eventually, field_violations, rpc_error

SUPPORT_ADDRESS = "support@helpdesk.test"


def address(name: str = "ann") -> str:
    """An address no other test uses, so no contact holds it yet."""
    return f"{name}-{uuid.uuid4().hex[:10]}@customer.test"


def mail(
    sender: str,
    subject: str = "Printer on fire",
    body: str = "The printer on floor 3 is on fire.\n\nAnn",
    *,
    name: str = "Ann Example",
    message_id: str | None = None,
    in_reply_to: str | None = None,
    files: tuple[tuple[str, str, bytes], ...] = (),
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = f"{name} <{sender}>" if name else sender
    message["To"] = SUPPORT_ADDRESS
    message["Subject"] = subject
    message["Message-ID"] = message_id or make_msgid(domain="customer.test")
    if in_reply_to:
        message["In-Reply-To"] = in_reply_to
        message["References"] = in_reply_to
    message.set_content(body)
    for file_name, content_type, data in files:
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=file_name)
    return message


def receive(
    suite: Suite, message: EmailMessage | bytes, mailbox: str = SUPPORT_ADDRESS
) -> email_pb2.ReceiveEmailResponse:
    raw = message if isinstance(message, bytes) else message.as_bytes()
    return suite.support.ReceiveEmail(
        email_pb2.ReceiveEmailRequest(raw_message=raw, mailbox=mailbox)
    )


def get(suite: Suite, name: str) -> tp.Ticket:
    return suite.support.GetTicket(support.GetTicketRequest(name=name))


def comments(suite: Suite, ticket: str) -> list[comment_pb2.Comment]:
    return list(suite.support.ListComments(support.ListCommentsRequest(parent=ticket)).comments)


def set_status(suite: Suite, name: str, *statuses: int) -> None:
    """Once the sender's new contact is the requester: that re-pointing changes the
    ticket, and an update racing it would be refused as concurrent."""
    eventually(lambda: _assert_true(get(suite, name).requester != ""))
    for status in statuses:
        suite.support.UpdateTicket(
            support.UpdateTicketRequest(
                ticket=tp.Ticket(name=name, status=status), update_mask=FieldMask(paths=["status"])
            )
        )


def test_a_new_message_opens_a_ticket(suite: Suite) -> None:
    sender = address()
    message = mail(sender, files=(("invoice.pdf", "application/pdf", b"%PDF-1.4" * 100),))
    received = receive(suite, message)

    assert received.outcome == email_pb2.EMAIL_OUTCOME_CREATED_TICKET
    assert received.message_id == message["Message-ID"].strip("<>")
    assert not received.HasField("comment")
    ticket = received.ticket
    assert ticket.channel == tp.TICKET_CHANNEL_EMAIL
    assert ticket.status == tp.TICKET_STATUS_NEW
    assert ticket.subject == "Printer on fire"
    assert ticket.description == "The printer on floor 3 is on fire.\n\nAnn"
    assert ticket.requester_email == sender
    assert ticket.requester_display_name == "Ann Example"
    assert dict(ticket.custom_fields) == {"mailbox": SUPPORT_ADDRESS}
    assert [(a.file_name, a.content_type, a.size_bytes) for a in ticket.attachments] == [
        ("invoice.pdf", "application/pdf", 800)
    ]
    assert get(suite, ticket.name).attachments == ticket.attachments
    assert comments(suite, ticket.name) == []


def test_a_reply_threads_by_in_reply_to(suite: Suite) -> None:
    sender = address()
    first = mail(sender)
    ticket = receive(suite, first).ticket
    reply = mail(
        sender,
        "Re: Printer on fire",
        "It is out now.\n\nOn Tue, 2 Jan 2024 at 10:15, Support wrote:\n> Is it still burning?",
        in_reply_to=first["Message-ID"],
        files=(("photo.jpg", "image/jpeg", b"\xff\xd8" * 50),),
    )
    received = receive(suite, reply)

    assert received.outcome == email_pb2.EMAIL_OUTCOME_ADDED_COMMENT
    assert received.ticket.name == ticket.name
    comment = received.comment
    assert comment.body == "It is out now."
    assert comment.public
    assert comment.author_email == sender
    assert [(a.file_name, a.content_type, a.size_bytes) for a in comment.attachments] == [
        ("photo.jpg", "image/jpeg", 100)
    ]
    assert [(c.name, c.body) for c in comments(suite, ticket.name)] == [
        (comment.name, comment.body)
    ]
    # A reply to the reply still finds the ticket: every received message is known.
    again = receive(
        suite, mail(sender, "Re: Re: Printer", "Thanks!", in_reply_to=reply["Message-ID"])
    )
    assert again.ticket.name == ticket.name


def test_a_reply_threads_by_the_ticket_token(suite: Suite) -> None:
    sender = address()
    ticket = receive(suite, mail(sender)).ticket
    received = receive(suite, mail(sender, f"Re: Printer on fire [#{ticket.number}]", "Any news?"))
    assert received.outcome == email_pb2.EMAIL_OUTCOME_ADDED_COMMENT
    assert received.ticket.name == ticket.name
    assert received.comment.body == "Any news?"


def test_an_unknown_token_opens_a_ticket(suite: Suite) -> None:
    received = receive(suite, mail(address(), "Re: something [#999999999]"))
    assert received.outcome == email_pb2.EMAIL_OUTCOME_CREATED_TICKET


def test_someone_else_replying_makes_an_internal_note(suite: Suite) -> None:
    ticket = receive(suite, mail(address())).ticket
    stranger = address("eve")
    received = receive(suite, mail(stranger, f"Re: [#{ticket.number}]", "I know more.", name="Eve"))
    assert received.outcome == email_pb2.EMAIL_OUTCOME_ADDED_COMMENT
    assert not received.comment.public
    assert received.comment.author_email == stranger


def test_the_requester_replying_reopens_a_pending_ticket(suite: Suite) -> None:
    sender = address()
    ticket = receive(suite, mail(sender)).ticket
    set_status(suite, ticket.name, tp.TICKET_STATUS_PENDING)
    received = receive(suite, mail(sender, f"Re: [#{ticket.number}]", "Here is the log."))
    assert received.ticket.status == tp.TICKET_STATUS_OPEN
    assert received.ticket.etag != ticket.etag


def test_a_redelivered_message_changes_nothing(suite: Suite) -> None:
    sender = address()
    first = mail(sender)
    created = receive(suite, first)
    reply = mail(sender, "Re: Printer", "Still burning.", in_reply_to=first["Message-ID"])
    commented = receive(suite, reply)

    for original, message in ((created, first), (commented, reply)):
        again = receive(suite, message)
        assert again.outcome == email_pb2.EMAIL_OUTCOME_DUPLICATE
        assert again.message_id == original.message_id
        assert again.ticket.name == original.ticket.name
        assert again.comment.name == original.comment.name
    assert len(comments(suite, created.ticket.name)) == 1
    listed = suite.support.ListTickets(
        support.ListTicketsRequest(filter=f"number >= {created.ticket.number}", page_size=1000)
    )
    assert [t.name for t in listed.tickets if t.requester_email == sender] == [created.ticket.name]


def test_concurrent_deliveries_of_one_message_make_one_ticket(suite: Suite) -> None:
    raw = mail(address()).as_bytes()
    with ThreadPoolExecutor(max_workers=6) as pool:
        results = list(pool.map(lambda _: receive(suite, raw), range(6)))
    outcomes = sorted(r.outcome for r in results)
    assert (
        outcomes
        == [email_pb2.EMAIL_OUTCOME_CREATED_TICKET] + [email_pb2.EMAIL_OUTCOME_DUPLICATE] * 5
    )
    assert len({r.ticket.name for r in results}) == 1


def test_a_message_without_message_id_is_still_recognised(suite: Suite) -> None:
    message = mail(address())
    del message["Message-ID"]
    first, again = receive(suite, message), receive(suite, message)
    assert first.outcome == email_pb2.EMAIL_OUTCOME_CREATED_TICKET
    assert first.message_id.endswith("@synthetic.invalid")
    assert again.outcome == email_pb2.EMAIL_OUTCOME_DUPLICATE
    assert again.ticket.name == first.ticket.name


def test_a_reply_to_a_closed_ticket_opens_a_follow_up(suite: Suite) -> None:
    sender = address()
    first = mail(sender)
    closed = receive(suite, first).ticket
    set_status(suite, closed.name, tp.TICKET_STATUS_SOLVED, tp.TICKET_STATUS_CLOSED)
    reply = mail(
        sender,
        f"Re: Printer on fire [#{closed.number}]",
        "It is burning again.\n\n> The printer on floor 3 is on fire.",
        in_reply_to=first["Message-ID"],
    )
    received = receive(suite, reply)

    assert received.outcome == email_pb2.EMAIL_OUTCOME_CREATED_FOLLOW_UP
    follow_up = received.ticket
    assert follow_up.name != closed.name
    assert follow_up.number > closed.number
    assert follow_up.subject == "Re: Printer on fire"
    assert follow_up.description == "It is burning again."
    assert follow_up.custom_fields["follow_up_of"] == closed.name
    assert follow_up.requester_email == sender
    assert get(suite, closed.name).status == tp.TICKET_STATUS_CLOSED
    # The next reply in that thread continues the follow-up.
    later = receive(suite, mail(sender, "Re: again", "Hello?", in_reply_to=reply["Message-ID"]))
    assert later.outcome == email_pb2.EMAIL_OUTCOME_ADDED_COMMENT
    assert later.ticket.name == follow_up.name


def test_a_known_customer_is_the_requester_at_once(suite: Suite) -> None:
    sender = address("ada")
    person = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(
                given_name="Ada",
                family_name="Lovelace",
                email_addresses=[person_pb2.EmailAddress(address=sender)],
            )
        )
    )
    eventually(
        lambda: suite.support.GetCustomer(
            support.GetCustomerRequest(name=person.name.replace("people/", "customers/"))
        )
    )
    received = receive(suite, mail(sender.upper(), name="A. L."))
    assert received.ticket.requester == person.name
    assert received.ticket.requester_display_name == "Ada Lovelace"
    reply = receive(suite, mail(sender, f"Re: [#{received.ticket.number}]", "More."))
    assert reply.comment.public
    assert reply.comment.author == person.name


def test_long_subjects_and_bodies_are_shortened(suite: Suite) -> None:
    received = receive(suite, mail(address(), "S" * 400, "word " * 30_000))
    ticket = received.ticket
    assert len(ticket.subject) == 250 and ticket.subject.endswith("[...]")
    assert len(ticket.description) == 100_000 and ticket.description.endswith("[...]")


def test_an_empty_reply_with_a_file_still_counts(suite: Suite) -> None:
    sender = address()
    ticket = receive(suite, mail(sender)).ticket
    received = receive(
        suite,
        mail(sender, f"[#{ticket.number}]", "", files=(("log.txt", "text/plain", b"x" * 10),)),
    )
    assert received.comment.body == "(no text)"
    assert [a.file_name for a in received.comment.attachments] == ["log.txt"]


BAD_INPUT = [
    (email_pb2.ReceiveEmailRequest(), "raw_message", "is required"),
    (
        email_pb2.ReceiveEmailRequest(raw_message=b"\x00\x01 not mail"),
        "raw_message",
        "not an email",
    ),
    (
        email_pb2.ReceiveEmailRequest(raw_message=b"Subject: hi\r\nTo: a@b.test\r\n\r\nbody"),
        "raw_message",
        "no sender",
    ),
    (
        email_pb2.ReceiveEmailRequest(raw_message=b"From: root@localhost\r\nSubject: x\r\n\r\nhi"),
        "raw_message",
        "deliverable",
    ),
    (
        email_pb2.ReceiveEmailRequest(raw_message=b"From: a@b.test\r\n\r\n" + b"x" * 4_000_000),
        "raw_message",
        "larger than",
    ),
    (
        email_pb2.ReceiveEmailRequest(raw_message=b"From: a@b.test\r\n\r\nhi", mailbox="nope"),
        "mailbox",
        "not an email address",
    ),
]


@pytest.mark.parametrize(("request_", "field", "words"), BAD_INPUT)
def test_bad_input_names_the_field(
    suite: Suite, request_: email_pb2.ReceiveEmailRequest, field: str, words: str
) -> None:
    error = rpc_error(lambda: suite.support.ReceiveEmail(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert words in field_violations(error)[field]


def _assert_true(condition: bool) -> None:
    assert condition
