"""Follows the contacts service: projects and tasks keep pointing at the right
person after a merge, and at nobody erased."""

from crm.contacts.v1 import events_pb2
from crm.events.v1.event_pb2 import Event
from crm_common.messaging.consumer import Subscription
from crm_common.messaging.envelope import unpack
from crm_common.messaging.uow import UnitOfWork
from crm_projects.domain.names import PEOPLE
from crm_projects.handlers.contacts import repoint_people, scrub_person


async def on_person_merged(event: Event, uow: UnitOfWork) -> None:
    payload = unpack(event, events_pb2.PersonMerged)
    survivor = payload.person.name or PEOPLE + event.aggregate_id
    merged = [name for name in payload.merged_people if name != survivor]
    if merged:
        await repoint_people(uow, merged, survivor)


async def on_person_erased(event: Event, uow: UnitOfWork) -> None:
    payload = unpack(event, events_pb2.PersonErased)
    await scrub_person(uow, payload.name or PEOPLE + event.aggregate_id)


CONTACTS = Subscription(
    source="contacts",
    handlers={"contact.merged": on_person_merged, "contact.erased": on_person_erased},
)
