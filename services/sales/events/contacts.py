"""Keeps the read model of known people and organizations current from the
contacts service's events, and the deals' links to them.

Links name contacts (`people/1`); a merge points the merged people's deals
at the survivor, an erasure removes the person from every deal.
"""

from datetime import UTC

from crm.contacts.v1 import events_pb2
from crm.events.v1.event_pb2 import Event
from crm_common.messaging.consumer import Subscription
from crm_common.messaging.envelope import unpack
from crm_common.messaging.uow import UnitOfWork
from crm_sales.handlers.opportunities import relink_contacts
from crm_sales.storage.contacts import KnownContact, KnownContacts

PEOPLE = "people/"
ORGANIZATIONS = "organizations/"
# A merged person never changes again, so its tombstone outranks any version
# one of its late events may carry (the column is a 32-bit integer).
MERGED_VERSION = 2**31 - 1


async def on_person_created(event: Event, uow: UnitOfWork) -> None:
    person = unpack(event, events_pb2.PersonCreated).person
    await _mirror(uow, event, PEOPLE, person.display_name)


async def on_person_updated(event: Event, uow: UnitOfWork) -> None:
    person = unpack(event, events_pb2.PersonUpdated).person
    await _mirror(uow, event, PEOPLE, person.display_name)


async def on_person_deleted(event: Event, uow: UnitOfWork) -> None:
    """The person can no longer be linked; deals keep the link they had."""
    unpack(event, events_pb2.PersonDeleted)
    await _tombstone(uow, event, f"{PEOPLE}{event.aggregate_id}", event.aggregate_version)


async def on_person_merged(event: Event, uow: UnitOfWork) -> None:
    payload = unpack(event, events_pb2.PersonMerged)
    await _mirror(uow, event, PEOPLE, payload.person.display_name)
    merged = set(payload.merged_people)
    for name in merged:
        await _tombstone(uow, event, name, MERGED_VERSION)
    survivor = f"{PEOPLE}{event.aggregate_id}"
    await relink_contacts(
        uow, merged, lambda deal, now: deal.repoint_contacts(merged, survivor, now)
    )


async def on_person_erased(event: Event, uow: UnitOfWork) -> None:
    """GDPR erasure: nothing of the person stays, not even the link."""
    unpack(event, events_pb2.PersonErased)
    name = f"{PEOPLE}{event.aggregate_id}"
    await _tombstone(uow, event, name, event.aggregate_version)
    await relink_contacts(uow, {name}, lambda deal, now: deal.forget_contact(name, now))


async def on_organization_created(event: Event, uow: UnitOfWork) -> None:
    organization = unpack(event, events_pb2.OrganizationCreated).organization
    await _mirror(uow, event, ORGANIZATIONS, organization.display_name)


async def on_organization_updated(event: Event, uow: UnitOfWork) -> None:
    organization = unpack(event, events_pb2.OrganizationUpdated).organization
    await _mirror(uow, event, ORGANIZATIONS, organization.display_name)


async def on_organization_deleted(event: Event, uow: UnitOfWork) -> None:
    unpack(event, events_pb2.OrganizationDeleted)
    name = f"{ORGANIZATIONS}{event.aggregate_id}"
    await _tombstone(uow, event, name, event.aggregate_version)


async def _mirror(uow: UnitOfWork, event: Event, prefix: str, display_name: str) -> None:
    await _put(uow, event, f"{prefix}{event.aggregate_id}", display_name, event.aggregate_version)


async def _tombstone(uow: UnitOfWork, event: Event, name: str, version: int) -> None:
    await _put(uow, event, name, "", version, gone=True)


async def _put(
    uow: UnitOfWork, event: Event, name: str, display_name: str, version: int, *, gone: bool = False
) -> None:
    """Events may arrive out of order: only a newer version overwrites."""
    contacts = KnownContacts(uow.session)
    stored = await contacts.get(name)
    if stored is not None and version <= stored.source_version:
        return
    contact = KnownContact(
        name, display_name, version, event.occurred_at.ToDatetime(tzinfo=UTC), gone
    )
    await contacts.put(contact, exists=stored is not None)


CONTACTS = Subscription(
    source="contacts",
    handlers={
        "contact.created": on_person_created,
        "contact.updated": on_person_updated,
        "contact.deleted": on_person_deleted,
        "contact.merged": on_person_merged,
        "contact.erased": on_person_erased,
        "organization.created": on_organization_created,
        "organization.updated": on_organization_updated,
        "organization.deleted": on_organization_deleted,
    },
)
