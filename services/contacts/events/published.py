"""The events the contacts service announces."""

from crm.contacts.v1 import events_pb2
from crm_common.messaging.envelope import OutgoingEvent
from crm_contacts.domain.model import Person
from crm_contacts.proto import RESOURCE_PREFIX, person_to_proto

CONTACT_CREATED = "contact.created"
CONTACT_UPDATED = "contact.updated"
CONTACT_DELETED = "contact.deleted"


def contact_created(person: Person) -> OutgoingEvent:
    return _about(person, CONTACT_CREATED, events_pb2.PersonCreated(person=person_to_proto(person)))


def contact_updated(person: Person, changed_fields: list[str]) -> OutgoingEvent:
    payload = events_pb2.PersonUpdated(
        person=person_to_proto(person), changed_fields=changed_fields
    )
    return _about(person, CONTACT_UPDATED, payload)


def contact_deleted(person: Person) -> OutgoingEvent:
    # The deletion is one more version of the person, so that a late
    # `contact.updated` cannot resurrect it in a read model.
    return OutgoingEvent(
        type=CONTACT_DELETED,
        aggregate_type="person",
        aggregate_id=person.id,
        aggregate_version=person.version + 1,
        payload=events_pb2.PersonDeleted(name=RESOURCE_PREFIX + person.id),
    )


def _about(person: Person, event_type: str, payload: object) -> OutgoingEvent:
    return OutgoingEvent(
        type=event_type,
        aggregate_type="person",
        aggregate_id=person.id,
        aggregate_version=person.version,
        payload=payload,  # type: ignore[arg-type]
    )
