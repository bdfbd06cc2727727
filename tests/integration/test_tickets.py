"""Tickets and their conversation through the support service, on SQLite and PostgreSQL."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.events.v1.event_pb2 import Event
from crm.support.v1 import comment_pb2, events_pb2
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from tests.integration.harness import (
    Suite,
    eventually,
    field_violations,
    published_events,
    rpc_error,
)


def ticket(**overrides: object) -> tp.Ticket:
    fields: dict[str, object] = {
        "subject": "Printer on fire",
        "description": "It smokes.",
        "requester": f"people/{uuid.uuid4().hex}",
        "tags": ["Hardware"],
    }
    return tp.Ticket(**{**fields, **overrides})


def create(suite: Suite, message: tp.Ticket | None = None, ticket_id: str = "") -> tp.Ticket:
    request = support.CreateTicketRequest(ticket=message or ticket(), ticket_id=ticket_id)
    return suite.support.CreateTicket(request)


def update(suite: Suite, message: tp.Ticket, *paths: str) -> tp.Ticket:
    request = support.UpdateTicketRequest(ticket=message, update_mask=FieldMask(paths=paths))
    return suite.support.UpdateTicket(request)


def set_status(suite: Suite, name: str, status: int) -> tp.Ticket:
    return update(suite, tp.Ticket(name=name, status=status), "status")


def comment(suite: Suite, parent: str, **fields: object) -> comment_pb2.Comment:
    body: dict[str, object] = {"body": "On it.", "public": True, "author": "agents/a1", **fields}
    request = support.CreateCommentRequest(parent=parent, comment=comment_pb2.Comment(**body))
    return suite.support.CreateComment(request)


def test_create_and_get(suite: Suite) -> None:
    created = create(suite)
    assert created.name.startswith("tickets/") and created.number >= 1000
    assert created.status == tp.TICKET_STATUS_NEW
    assert created.priority == tp.TICKET_PRIORITY_NORMAL
    assert created.channel == tp.TICKET_CHANNEL_API
    assert list(created.tags) == ["hardware"] and created.etag
    got = suite.support.GetTicket(support.GetTicketRequest(name=created.name))
    assert got == created


def test_numbers_are_sequential_and_unique_under_concurrency(suite: Suite) -> None:
    first, second = create(suite), create(suite)
    assert second.number == first.number + 1
    with ThreadPoolExecutor(max_workers=20) as pool:
        numbers = list(pool.map(lambda _: create(suite).number, range(20)))
    assert len(set(numbers)) == 20 and min(numbers) > second.number


def test_client_chosen_id_makes_create_idempotent(suite: Suite) -> None:
    ticket_id = f"t-{uuid.uuid4().hex[:12]}"
    message = ticket()
    first = create(suite, message, ticket_id)
    assert first.name == f"tickets/{ticket_id}"
    assert create(suite, message, ticket_id) == first
    clash = rpc_error(lambda: create(suite, ticket(subject="Other"), ticket_id))
    assert clash.code() == grpc.StatusCode.ALREADY_EXISTS


def test_list_filters_orders_and_pages(suite: Suite) -> None:
    tag = f"batch{uuid.uuid4().hex[:8]}"
    org = f"organizations/{uuid.uuid4().hex}"
    made = [
        create(
            suite,
            ticket(tags=[tag], organization=org, priority=priority, type=tp.TICKET_TYPE_INCIDENT),
        )
        for priority in [1, 2, 3, 4, 4, 3, 2, 1, 4]
    ]
    urgent = {t.name for t in made if t.priority == tp.TICKET_PRIORITY_URGENT}

    def listed(filter_: str, order_by: str = "", size: int = 2) -> list[tp.Ticket]:
        found: list[tp.Ticket] = []
        token = ""
        while True:
            request = support.ListTicketsRequest(
                filter=filter_, order_by=order_by, page_size=size, page_token=token
            )
            response = suite.support.ListTickets(request)
            found.extend(response.tickets)
            token = response.next_page_token
            if not token:
                return found

    everything = listed(f'tags:"{tag.upper()}"')
    assert [t.name for t in everything] == [t.name for t in reversed(made)]  # newest first
    by_priority = listed(f'tags:"{tag}"', "priority desc, number")
    assert [t.priority for t in by_priority] == sorted((t.priority for t in made), reverse=True)
    assert len({t.name for t in by_priority}) == len(made)
    assert {t.name for t in listed(f'tags:"{tag}" AND priority = urgent')} == urgent
    assert len(listed(f'organization = "{org}" AND status = NEW AND type = incident')) == 9
    one = made[0]
    assert [t.name for t in listed(f'requester = "{one.requester}"')] == [one.name]
    assert [t.name for t in listed(f"number = {one.number}")] == [one.name]
    assert listed(f'tags:"{tag}" AND channel = API AND create_time > "2000-01-01T00:00:00Z"')


def test_update_with_mask_and_etag(suite: Suite) -> None:
    created = create(suite)
    changed = update(
        suite,
        tp.Ticket(name=created.name, subject="Printer fixed?", etag=created.etag, tags=["a", "A"]),
        "subject",
        "tags",
    )
    assert changed.subject == "Printer fixed?" and list(changed.tags) == ["a"]
    assert changed.description == created.description and changed.etag != created.etag
    stale = rpc_error(
        lambda: update(
            suite, tp.Ticket(name=created.name, subject="x", etag=created.etag), "subject"
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED
    immutable = rpc_error(
        lambda: update(
            suite, tp.Ticket(name=created.name, channel=tp.TICKET_CHANNEL_WEB), "channel"
        )
    )
    assert immutable.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "update_mask" in field_violations(immutable)


def test_status_transitions_and_closed_is_final(suite: Suite) -> None:
    name = create(suite).name
    assert set_status(suite, name, tp.TICKET_STATUS_OPEN).status == tp.TICKET_STATUS_OPEN
    solved = set_status(suite, name, tp.TICKET_STATUS_SOLVED)
    assert solved.HasField("solve_time")
    assert set_status(suite, name, tp.TICKET_STATUS_OPEN).status == tp.TICKET_STATUS_OPEN
    set_status(suite, name, tp.TICKET_STATUS_SOLVED)
    closed = set_status(suite, name, tp.TICKET_STATUS_CLOSED)
    assert closed.status == tp.TICKET_STATUS_CLOSED
    for status in (tp.TICKET_STATUS_OPEN, tp.TICKET_STATUS_SOLVED):
        error = rpc_error(lambda status=status: set_status(suite, name, status))
        assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    new_to_closed = rpc_error(
        lambda: set_status(suite, create(suite).name, tp.TICKET_STATUS_CLOSED)
    )
    assert new_to_closed.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert "NEW to CLOSED" in new_to_closed.details()


def test_requester_display_name_from_the_read_model(suite: Suite) -> None:
    person = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(given_name="Ada", family_name="Lovelace")
        )
    )
    eventually(
        lambda: suite.support.GetCustomer(
            support.GetCustomerRequest(name=person.name.replace("people/", "customers/"))
        )
    )
    created = create(suite, ticket(requester=person.name))
    assert created.requester_display_name == person.display_name
    listed = suite.support.ListTickets(
        support.ListTicketsRequest(filter=f'requester = "{person.name}"')
    )
    assert [t.requester_display_name for t in listed.tickets] == [person.display_name]
    assert create(suite).requester_display_name == ""


def test_conversation(suite: Suite) -> None:
    created = create(suite)
    note = comment(suite, created.name, public=False, body="Internal: check toner")
    assert not suite.support.GetTicket(support.GetTicketRequest(name=created.name)).HasField(
        "first_response_time"
    )
    comment(suite, created.name, author=created.requester, body="Still smoking")
    attachment = comment_pb2.Attachment(
        file_name="photo.jpg", content_type="image/jpeg", size_bytes=2048, uri="s3://b/photo.jpg"
    )
    reply = comment(suite, created.name, attachments=[attachment])
    assert list(reply.attachments) == [attachment]
    stamped = suite.support.GetTicket(support.GetTicketRequest(name=created.name))
    assert stamped.first_response_time == reply.create_time
    comment(suite, created.name, body="Another reply")
    again = suite.support.GetTicket(support.GetTicketRequest(name=created.name))
    assert again.first_response_time == reply.create_time

    pages: list[comment_pb2.Comment] = []
    token = ""
    while True:
        response = suite.support.ListComments(
            support.ListCommentsRequest(parent=created.name, page_size=1, page_token=token)
        )
        pages.extend(response.comments)
        token = response.next_page_token
        if not token:
            break
    assert [c.body for c in pages] == [note.body, "Still smoking", reply.body, "Another reply"]
    assert pages[2] == reply


def test_no_comments_on_closed_tickets(suite: Suite) -> None:
    name = create(suite).name
    for status in (tp.TICKET_STATUS_SOLVED, tp.TICKET_STATUS_CLOSED):
        set_status(suite, name, status)
    error = rpc_error(lambda: comment(suite, name))
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION


BAD_INPUT = [
    ("CreateTicket", support.CreateTicketRequest(), "ticket"),
    ("CreateTicket", support.CreateTicketRequest(ticket=ticket(subject="")), "ticket.subject"),
    ("CreateTicket", support.CreateTicketRequest(ticket=ticket(requester="x")), "ticket.requester"),
    (
        "CreateTicket",
        support.CreateTicketRequest(ticket=ticket(requester="", requester_email="no")),
        "ticket.requester_email",
    ),
    ("CreateTicket", support.CreateTicketRequest(ticket=ticket(priority=9)), "ticket.priority"),
    ("CreateTicket", support.CreateTicketRequest(ticket=ticket(), ticket_id="A B"), "ticket_id"),
    ("GetTicket", support.GetTicketRequest(name="tickets/"), "name"),
    ("ListTickets", support.ListTicketsRequest(page_size=-1), "page_size"),
    ("ListTickets", support.ListTicketsRequest(filter="status = MAYBE"), "filter"),
    ("ListTickets", support.ListTicketsRequest(filter="subject = x"), "filter"),
    ("ListTickets", support.ListTicketsRequest(order_by="subject"), "order_by"),
    ("ListTickets", support.ListTicketsRequest(page_token="garbage"), "page_token"),
    ("UpdateTicket", support.UpdateTicketRequest(), "ticket"),
    ("UpdateTicket", support.UpdateTicketRequest(ticket=tp.Ticket(name="x")), "ticket.name"),
    ("CreateComment", support.CreateCommentRequest(parent="x"), "parent"),
    ("CreateComment", support.CreateCommentRequest(parent="tickets/t"), "comment"),
    ("ListComments", support.ListCommentsRequest(parent=""), "parent"),
    ("ListComments", support.ListCommentsRequest(parent="tickets/t", page_size=1001), "page_size"),
]


@pytest.mark.parametrize(("method", "request_", "field"), BAD_INPUT)
def test_bad_input_names_the_field(suite: Suite, method: str, request_: object, field: str) -> None:
    error = rpc_error(lambda: getattr(suite.support, method)(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)


def test_bad_values_on_existing_tickets(suite: Suite) -> None:
    name = create(suite).name
    cases = [
        (lambda: set_status(suite, name, tp.TICKET_STATUS_UNSPECIFIED), "ticket.status"),
        (lambda: update(suite, tp.Ticket(name=name, subject=""), "subject"), "ticket.subject"),
        (lambda: update(suite, tp.Ticket(name=name), "nope"), "update_mask"),
        (lambda: comment(suite, name, body=""), "comment.body"),
        (lambda: comment(suite, name, author="bots/1"), "comment.author"),
        (
            lambda: comment(suite, name, attachments=[comment_pb2.Attachment(size_bytes=-1)]),
            "comment.attachments[0].file_name",
        ),
    ]
    for call, field in cases:
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in field_violations(error)


def test_unknown_tickets_are_not_found(suite: Suite) -> None:
    missing = "tickets/does-not-exist"
    for call in (
        lambda: suite.support.GetTicket(support.GetTicketRequest(name=missing)),
        lambda: set_status(suite, missing, tp.TICKET_STATUS_OPEN),
        lambda: comment(suite, missing),
        lambda: suite.support.ListComments(support.ListCommentsRequest(parent=missing)),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND


def test_events_reach_the_stream(suite: Suite) -> None:
    name = create(suite).name
    set_status(suite, name, tp.TICKET_STATUS_SOLVED)
    comment(suite, name)
    expected = {
        "ticket.created": events_pb2.TicketCreated,
        "ticket.updated": events_pb2.TicketUpdated,
        "ticket.status_changed": events_pb2.TicketStatusChanged,
        "ticket.solved": events_pb2.TicketSolved,
        "ticket.comment_added": events_pb2.TicketCommentAdded,
    }

    def check() -> None:
        events = ticket_events(suite, name.removeprefix("tickets/"))
        assert [e.type for e in events] == list(expected)
        for event in events:
            assert event.aggregate_type == "ticket"
            assert event.payload.Is(expected[event.type].DESCRIPTOR)
        changed = events_pb2.TicketStatusChanged()
        events[2].payload.Unpack(changed)
        assert changed.previous_status == tp.TICKET_STATUS_NEW
        assert changed.ticket.status == tp.TICKET_STATUS_SOLVED

    eventually(check)


def ticket_events(suite: Suite, ticket_id: str) -> list[Event]:
    """Every event about the ticket on the support stream, in stream order."""
    return published_events(suite.nats.url, "support", ticket_id)
