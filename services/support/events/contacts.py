"""Keeps the customer read model current from the contacts service's events."""

from datetime import UTC, datetime

from crm.contacts.v1 import events_pb2, person_pb2
from crm.events.v1.event_pb2 import Event
from crm_common.messaging.consumer import Subscription
from crm_common.messaging.envelope import unpack
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.customers import Customer, supersedes
from crm_support.handlers.customers import adopt_tickets
from crm_support.storage.repository import CustomerRepository
from crm_support.storage.requesters import repoint_requester, scrub_requester


async def on_person_created(event: Event, uow: UnitOfWork) -> None:
    await _mirror(event, unpack(event, events_pb2.PersonCreated).person, uow)


async def on_person_updated(event: Event, uow: UnitOfWork) -> None:
    await _mirror(event, unpack(event, events_pb2.PersonUpdated).person, uow)


# The version a merged customer's tombstone carries. The event names merged
# people without their versions, yet one of their older events may still arrive
# (retried, replayed); a merged person never changes again, so its tombstone
# outranks any version it had (the column is a 32-bit integer).
MERGED_VERSION = 2**31 - 1


async def on_person_deleted(event: Event, uow: UnitOfWork) -> None:
    unpack(event, events_pb2.PersonDeleted)
    await _tombstone(event, event.aggregate_id, event.aggregate_version, uow)


async def on_person_merged(event: Event, uow: UnitOfWork) -> None:
    """The survivor as it is now; the people merged into it are gone, and
    their tickets and comments are the survivor's."""
    payload = unpack(event, events_pb2.PersonMerged)
    await _mirror(event, payload.person, uow)
    merged_ids = [name.removeprefix("people/") for name in payload.merged_people]
    for merged_id in merged_ids:
        await _tombstone(event, merged_id, MERGED_VERSION, uow)
    await repoint_requester(uow.session, merged_ids, event.aggregate_id, datetime.now(UTC))


async def on_person_erased(event: Event, uow: UnitOfWork) -> None:
    """GDPR erasure: the customer stays, as tickets refer to it, but nothing personal does."""
    unpack(event, events_pb2.PersonErased)
    await _tombstone(event, event.aggregate_id, event.aggregate_version, uow, deleted=False)
    await scrub_requester(uow.session, event.aggregate_id, datetime.now(UTC))


async def _tombstone(
    event: Event, customer_id: str, version: int, uow: UnitOfWork, *, deleted: bool = True
) -> None:
    repository = CustomerRepository(uow.session)
    stored = await repository.get(customer_id, include_deleted=True)
    if supersedes(version, stored):
        tombstone = Customer(
            id=customer_id,
            display_name="",
            email_addresses=(),
            source_version=version,
            update_time=event.occurred_at.ToDatetime(tzinfo=UTC),
            deleted=deleted,
        )
        await repository.put(tombstone, exists=stored is not None)


async def _mirror(event: Event, person: person_pb2.Person, uow: UnitOfWork) -> None:
    repository = CustomerRepository(uow.session)
    stored = await repository.get(event.aggregate_id, include_deleted=True)
    if not supersedes(event.aggregate_version, stored):
        return
    customer = Customer(
        id=event.aggregate_id,
        display_name=person.display_name,
        email_addresses=tuple(e.address for e in person.email_addresses),
        source_version=event.aggregate_version,
        update_time=person.update_time.ToDatetime(tzinfo=UTC),
    )
    await repository.put(customer, exists=stored is not None)
    await adopt_tickets(uow, customer, datetime.now(UTC))


CONTACTS = Subscription(
    source="contacts",
    handlers={
        "contact.created": on_person_created,
        "contact.updated": on_person_updated,
        "contact.deleted": on_person_deleted,
        "contact.merged": on_person_merged,
        "contact.erased": on_person_erased,
    },
)
