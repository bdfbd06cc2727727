"""The helpdesk follows merges and erasures announced by the contacts service:
tickets and comments move to the surviving person, and an erased person's
words and address leave tickets and comments."""

import uuid

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.support.v1 import comment_pb2, ticket_pb2
from crm.support.v1 import support_service_pb2 as support
from tests.integration.harness import Suite, eventually


def person(suite: Suite, name: str) -> str:
    email = f"{name.lower()}-{uuid.uuid4().hex[:8]}@example.com"
    created = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(
                given_name=name, email_addresses=[person_pb2.EmailAddress(address=email)]
            )
        )
    )
    return created.name


def ticket_with_reply(suite: Suite, requester: str) -> ticket_pb2.Ticket:
    ticket = suite.support.CreateTicket(
        support.CreateTicketRequest(
            ticket=ticket_pb2.Ticket(
                subject="Engine stalls",
                description="It stalls at step 3, call me on my mobile.",
                requester=requester,
                requester_email="ada@home.example",
            )
        )
    )
    suite.support.CreateComment(
        support.CreateCommentRequest(
            parent=ticket.name,
            comment=comment_pb2.Comment(body="Still stalling.", public=True, author=requester),
        )
    )
    return ticket


def comments(suite: Suite, ticket: str) -> list[comment_pb2.Comment]:
    return list(suite.support.ListComments(support.ListCommentsRequest(parent=ticket)).comments)


def test_tickets_follow_a_merge(suite: Suite) -> None:
    survivor, merged = person(suite, "Ada"), person(suite, "Augusta")
    ticket = ticket_with_reply(suite, merged)
    suite.contacts.MergePeople(contacts.MergePeopleRequest(person=survivor, merged_people=[merged]))

    def moved() -> None:
        current = suite.support.GetTicket(support.GetTicketRequest(name=ticket.name))
        assert current.requester == survivor
        assert current.etag != ticket.etag
        assert [c.author for c in comments(suite, ticket.name)] == [survivor]

    eventually(moved)


def test_erasure_scrubs_tickets_and_comments(suite: Suite) -> None:
    erased = person(suite, "Grace")
    ticket = ticket_with_reply(suite, erased)
    suite.contacts.ErasePerson(contacts.ErasePersonRequest(name=erased))

    def scrubbed() -> None:
        current = suite.support.GetTicket(support.GetTicketRequest(name=ticket.name))
        assert current.requester_email == ""
        assert current.description == "(erased)"
        assert current.subject == "Engine stalls"
        assert [c.body for c in comments(suite, ticket.name)] == ["(erased)"]

    eventually(scrubbed)
