"""Keeps the customer read model current from the contacts service's events."""

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from crm.contacts.v1 import events_pb2, person_pb2
from crm.events.v1.event_pb2 import Event
from crm_common.messaging.consumer import Subscription
from crm_common.messaging.envelope import unpack
from crm_common.messaging.replay import ReadModel
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.customers import Customer, supersedes
from crm_support.handlers.customers import adopt_tickets
from crm_support.storage.repository import CustomerRepository
from crm_support.storage.requester_emails import customer_emails
from crm_support.storage.requesters import repoint_requester, scrub_requester
from crm_support.storage.tables import customers

# The version a merged customer's tombstone carries. The event names merged
# people without their versions, yet one of their older events may still arrive
# (retried, replayed); a merged person never changes again, so its tombstone
# outranks any version it had (the column is a 32-bit integer).
MERGED_VERSION = 2**31 - 1


async def on_person_changed(event: Event, uow: UnitOfWork) -> None:
    """Created, updated or deleted: the customer's copy, and the tickets and
    comments known only by one of its addresses are the person's now."""
    await _store_copies(event, uow)


async def on_person_merged(event: Event, uow: UnitOfWork) -> None:
    """The survivor as it is now; the people merged into it are gone, and
    their tickets and comments are the survivor's."""
    await _store_copies(event, uow)
    merged_ids = _merged_ids(unpack(event, events_pb2.PersonMerged))
    await repoint_requester(uow.session, merged_ids, event.aggregate_id, datetime.now(UTC))


async def on_person_erased(event: Event, uow: UnitOfWork) -> None:
    """GDPR erasure: the customer stays, as tickets refer to it, but nothing personal does."""
    await _store_copies(event, uow)
    await scrub_requester(uow.session, event.aggregate_id, datetime.now(UTC))


async def _store_copies(event: Event, uow: UnitOfWork) -> None:
    """Each copy the event makes, unless the read model holds a newer one; a
    stored copy adopts what awaits its addresses (a tombstone has none)."""
    repository = CustomerRepository(uow.session)
    for customer in _COPIES[event.type](event):
        stored = await repository.get(customer.id, include_deleted=True)
        if supersedes(customer.source_version, stored):
            await repository.put(customer, exists=stored is not None)
            await adopt_tickets(uow, customer, datetime.now(UTC))


def _merged_ids(payload: events_pb2.PersonMerged) -> list[str]:
    return [name.removeprefix("people/") for name in payload.merged_people]


def _copy_of(event: Event, person: person_pb2.Person) -> Customer:
    return Customer(
        id=event.aggregate_id,
        display_name=person.display_name,
        email_addresses=tuple(e.address for e in person.email_addresses),
        source_version=event.aggregate_version,
        update_time=person.update_time.ToDatetime(tzinfo=UTC),
    )


def _tombstone_of(event: Event, customer_id: str, version: int, *, deleted: bool) -> Customer:
    return Customer(
        id=customer_id,
        display_name="",
        email_addresses=(),
        source_version=version,
        update_time=event.occurred_at.ToDatetime(tzinfo=UTC),
        deleted=deleted,
    )


# What each event makes of the customers it names. The live handlers above
# store these copies and then change tickets and comments; a rebuild stores
# only the copies (support's own data was changed once already, live).


def _created_copies(event: Event) -> list[Customer]:
    return [_copy_of(event, unpack(event, events_pb2.PersonCreated).person)]


def _updated_copies(event: Event) -> list[Customer]:
    return [_copy_of(event, unpack(event, events_pb2.PersonUpdated).person)]


def _deleted_copies(event: Event) -> list[Customer]:
    unpack(event, events_pb2.PersonDeleted)
    return [_tombstone_of(event, event.aggregate_id, event.aggregate_version, deleted=True)]


def _merged_copies(event: Event) -> list[Customer]:
    payload = unpack(event, events_pb2.PersonMerged)
    return [
        _copy_of(event, payload.person),
        *(
            _tombstone_of(event, merged_id, MERGED_VERSION, deleted=True)
            for merged_id in _merged_ids(payload)
        ),
    ]


def _erased_copies(event: Event) -> list[Customer]:
    unpack(event, events_pb2.PersonErased)
    return [_tombstone_of(event, event.aggregate_id, event.aggregate_version, deleted=False)]


_COPIES: dict[str, Callable[[Event], list[Customer]]] = {
    "contact.created": _created_copies,
    "contact.updated": _updated_copies,
    "contact.deleted": _deleted_copies,
    "contact.merged": _merged_copies,
    "contact.erased": _erased_copies,
}


async def project_customers(events: Sequence[Event], uow: UnitOfWork) -> None:
    """The customers the events leave, stored in a few statements for the whole batch:
    per customer the newest copy, as storing them one event at a time keeps it."""
    newest: dict[str, Customer] = {}
    for event in events:
        for customer in _COPIES[event.type](event):
            if supersedes(customer.source_version, newest.get(customer.id)):
                newest[customer.id] = customer
    await CustomerRepository(uow.session).put_newer(list(newest.values()))


CONTACTS = Subscription(
    source="contacts",
    handlers={
        "contact.created": on_person_changed,
        "contact.updated": on_person_changed,
        "contact.deleted": on_person_changed,
        "contact.merged": on_person_merged,
        "contact.erased": on_person_erased,
    },
)

CUSTOMERS = ReadModel(
    name="customers",
    subscription=CONTACTS,
    tables=(customer_emails, customers),
    project=project_customers,
)
