"""Representative requests and events, the same shape for a figure and its baseline."""

import uuid

from crm.contacts.v1 import contacts_service_pb2 as contacts_pb
from crm.contacts.v1 import events_pb2, person_pb2
from crm_common.messaging.envelope import OutgoingEvent


def person(number: int, run: str) -> person_pb2.Person:
    """A new person; the e-mail address is unique per (run, number), as contacts requires."""
    return person_pb2.Person(
        given_name="Ada",
        family_name=f"Bench {number}",
        email_addresses=[person_pb2.EmailAddress(address=f"ada-{run}-{number}@example.com")],
        phone_numbers=[person_pb2.PhoneNumber(number="+44 20 7946 0000")],
        tags=["bench"],
    )


def create_request(number: int, run: str) -> contacts_pb.CreatePersonRequest:
    return contacts_pb.CreatePersonRequest(person=person(number, run))


def contact_created(number: int) -> OutgoingEvent:
    """A `contact.created` event of about the size the contacts service writes."""
    person_id = uuid.uuid4().hex
    payload = person(number, "relay")
    payload.name = f"people/{person_id}"
    payload.display_name = f"{payload.given_name} {payload.family_name}"
    payload.etag = "W/1"
    payload.create_time.GetCurrentTime()
    payload.update_time.CopyFrom(payload.create_time)
    return OutgoingEvent(
        type="contact.created",
        aggregate_type="person",
        aggregate_id=person_id,
        aggregate_version=1,
        payload=events_pb2.PersonCreated(person=payload),
    )
