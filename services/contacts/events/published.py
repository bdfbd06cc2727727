"""The events the contacts service announces."""

from collections.abc import Sequence

from google.protobuf.message import Message

from crm.contacts.v1 import events_pb2
from crm_common.messaging.envelope import OutgoingEvent
from crm_contacts.domain.model import Person
from crm_contacts.domain.organizations import Organization
from crm_contacts.organization_proto import RESOURCE_PREFIX as ORGANIZATION_PREFIX
from crm_contacts.organization_proto import organization_to_proto
from crm_contacts.proto import RESOURCE_PREFIX, person_to_proto

CONTACT_CREATED = "contact.created"
CONTACT_UPDATED = "contact.updated"
CONTACT_DELETED = "contact.deleted"
CONTACT_MERGED = "contact.merged"
CONTACT_ERASED = "contact.erased"
ORGANIZATION_CREATED = "organization.created"
ORGANIZATION_UPDATED = "organization.updated"
ORGANIZATION_DELETED = "organization.deleted"


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


def contact_merged(survivor: Person, merged_ids: Sequence[str]) -> OutgoingEvent:
    """About the survivor, at its version after the merge; names the people now gone."""
    payload = events_pb2.PersonMerged(
        person=person_to_proto(survivor),
        merged_people=[RESOURCE_PREFIX + person_id for person_id in merged_ids],
    )
    return _about(survivor, CONTACT_MERGED, payload)


def contact_erased(person: Person) -> OutgoingEvent:
    """At the tombstone's version, so a late `contact.updated` cannot undo the scrub."""
    return _about(person, CONTACT_ERASED, events_pb2.PersonErased(name=RESOURCE_PREFIX + person.id))


def organization_created(organization: Organization) -> OutgoingEvent:
    payload = events_pb2.OrganizationCreated(organization=organization_to_proto(organization))
    return _about_organization(organization, ORGANIZATION_CREATED, payload)


def organization_updated(organization: Organization, changed_fields: list[str]) -> OutgoingEvent:
    payload = events_pb2.OrganizationUpdated(
        organization=organization_to_proto(organization), changed_fields=changed_fields
    )
    return _about_organization(organization, ORGANIZATION_UPDATED, payload)


def organization_deleted(organization: Organization) -> OutgoingEvent:
    return OutgoingEvent(
        type=ORGANIZATION_DELETED,
        aggregate_type="organization",
        aggregate_id=organization.id,
        aggregate_version=organization.version + 1,
        payload=events_pb2.OrganizationDeleted(name=ORGANIZATION_PREFIX + organization.id),
    )


def _about(person: Person, event_type: str, payload: Message) -> OutgoingEvent:
    return OutgoingEvent(
        type=event_type,
        aggregate_type="person",
        aggregate_id=person.id,
        aggregate_version=person.version,
        payload=payload,
    )


def _about_organization(
    organization: Organization, event_type: str, payload: Message
) -> OutgoingEvent:
    return OutgoingEvent(
        type=event_type,
        aggregate_type="organization",
        aggregate_id=organization.id,
        aggregate_version=organization.version,
        payload=payload,
    )
