"""A requester known only by email address becomes a contact through events: the
contacts service finds or creates the person, and the helpdesk's tickets and emailed
comments then point to it. On SQLite and PostgreSQL."""

import uuid
from email.message import EmailMessage

from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.support.v1 import email_pb2
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from tests.integration.harness import Suite, eventually


def address(name: str) -> str:
    return f"{name}-{uuid.uuid4().hex[:10]}@customer.test"


def create(suite: Suite, email: str, name: str = "", subject: str = "Cannot log in") -> tp.Ticket:
    return suite.support.CreateTicket(
        support.CreateTicketRequest(
            ticket=tp.Ticket(subject=subject, requester_email=email), requester_name=name
        )
    )


def people_with(suite: Suite, email: str) -> list[person_pb2.Person]:
    response = suite.contacts.ListPeople(
        contacts.ListPeopleRequest(filter=f'email_addresses:"{email}"')
    )
    return list(response.people)


def requester_of(suite: Suite, ticket: tp.Ticket) -> str:
    return suite.support.GetTicket(support.GetTicketRequest(name=ticket.name)).requester


def test_an_unknown_address_becomes_one_person_for_all_its_tickets(suite: Suite) -> None:
    email = address("grace")
    first = create(suite, email, name="Grace Brewster Hopper")
    assert first.requester == ""
    assert first.requester_display_name == "Grace Brewster Hopper"
    second = create(suite, email.upper(), subject="Still cannot log in")

    def one_person_for_both() -> str:
        people = people_with(suite, email)
        assert len(people) == 1
        person = people[0]
        assert (person.given_name, person.family_name) == ("Grace Brewster", "Hopper")
        assert requester_of(suite, first) == requester_of(suite, second) == person.name
        return person.name

    person = eventually(one_person_for_both)
    repointed = suite.support.GetTicket(support.GetTicketRequest(name=first.name))
    assert repointed.etag != first.etag
    assert repointed.requester_email == email
    assert repointed.requester_display_name == "Grace Brewster Hopper"
    # The person's timeline shows the ticket the address opened.
    timeline = suite.contacts.ListTimelineEntries(
        contacts.ListTimelineEntriesRequest(parent=person)
    )
    assert first.name in [entry.resource for entry in timeline.timeline_entries]


def test_an_existing_person_with_the_address_is_reused(suite: Suite) -> None:
    email = address("ada")
    person = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(
                given_name="Ada", email_addresses=[person_pb2.EmailAddress(address=email)]
            )
        )
    )
    # Created at once: the helpdesk may not have heard of Ada yet.
    ticket = create(suite, email, name="Someone Else")

    eventually(lambda: _assert_equal(requester_of(suite, ticket), person.name))
    assert [p.name for p in people_with(suite, email)] == [person.name]


def test_a_name_is_made_from_the_address_when_none_is_given(suite: Suite) -> None:
    email = address("linus")
    ticket = create(suite, email)

    def named() -> None:
        people = people_with(suite, email)
        assert [(p.given_name, p.family_name) for p in people] == [(email.split("@")[0], "")]
        assert requester_of(suite, ticket) == people[0].name

    eventually(named)


def test_emailed_comments_follow_their_sender(suite: Suite) -> None:
    email = address("joan")
    first = EmailMessage()
    first["From"] = f"Joan Clarke <{email}>"
    first["To"] = "support@helpdesk.test"
    first["Subject"] = "Cipher broken"
    first["Message-ID"] = f"<{uuid.uuid4().hex}@customer.test>"
    first.set_content("The cipher broke.")
    opened = suite.support.ReceiveEmail(email_pb2.ReceiveEmailRequest(raw_message=first.as_bytes()))
    reply = EmailMessage()
    reply["From"] = email
    reply["Subject"] = f"Re: Cipher broken [#{opened.ticket.number}]"
    reply.set_content("It broke again.")
    replied = suite.support.ReceiveEmail(
        email_pb2.ReceiveEmailRequest(raw_message=reply.as_bytes())
    )
    assert replied.comment.author_email == email

    def attributed() -> None:
        people = people_with(suite, email)
        assert [(p.given_name, p.family_name) for p in people] == [("Joan", "Clarke")]
        assert requester_of(suite, opened.ticket) == people[0].name
        listed = suite.support.ListComments(
            support.ListCommentsRequest(parent=opened.ticket.name)
        ).comments
        assert [(c.author, c.author_email) for c in listed] == [(people[0].name, email)]

    eventually(attributed)


def test_a_requester_changed_to_an_address_gets_a_person_too(suite: Suite) -> None:
    ticket = suite.support.CreateTicket(
        support.CreateTicketRequest(
            ticket=tp.Ticket(subject="Wrong requester", requester=f"people/{uuid.uuid4().hex}")
        )
    )
    email = address("alan")
    suite.support.UpdateTicket(
        support.UpdateTicketRequest(
            ticket=tp.Ticket(name=ticket.name, requester="", requester_email=email),
            update_mask=FieldMask(paths=["requester", "requester_email"]),
        )
    )

    def pointed() -> None:
        people = people_with(suite, email)
        assert len(people) == 1
        assert requester_of(suite, ticket) == people[0].name

    eventually(pointed)


def test_retrying_a_create_after_the_requester_was_found_is_idempotent(suite: Suite) -> None:
    request = support.CreateTicketRequest(
        ticket=tp.Ticket(subject="Refund", requester_email=address("kay")),
        ticket_id=f"refund-{uuid.uuid4().hex[:8]}",
    )
    created = suite.support.CreateTicket(request)
    eventually(lambda: _assert_equal(requester_of(suite, created) != "", True))
    assert suite.support.CreateTicket(request).name == created.name


def _assert_equal(actual: object, expected: object) -> None:
    assert actual == expected
