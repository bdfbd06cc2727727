"""People for the addresses other services name as requesters."""

import uuid
from datetime import UTC, datetime

from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.contact_points import normalise_email
from crm_contacts.domain.model import Person
from crm_contacts.domain.requesters import requester_details
from crm_contacts.events import published
from crm_contacts.storage.repository import PersonRepository


async def person_for_address(uow: UnitOfWork, address: str, name: str) -> str:
    """The id of the person holding the address, created (and announced) when nobody
    does. Runs in the caller's unit of work; the caller commits.

    Addresses belong to one person at most: two requests for the same new address
    create one person, and if they race, the loser's insert fails on the address's
    key and its retry finds the winner's person.
    """
    address = normalise_email(address)
    people = PersonRepository(uow.session)
    owner = (await people.owners_of([address])).get(address)
    if owner is not None:
        return owner
    person = Person.create(uuid.uuid4().hex, requester_details(address, name), datetime.now(UTC))
    await people.add(person)
    uow.publish(published.contact_created(person))
    return person.id
