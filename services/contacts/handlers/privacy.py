"""GDPR use cases: erasing a person, and everything held about one."""

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from crm_common.errors import NotFound
from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.model import Person
from crm_contacts.domain.notes import ParentKind, ParentRef
from crm_contacts.domain.privacy import PersonData, erase
from crm_contacts.events import published
from crm_contacts.handlers.relationships import today
from crm_contacts.storage import notes, timeline
from crm_contacts.storage.privacy import erase_dependents_of
from crm_contacts.storage.relationships import RelationshipRepository
from crm_contacts.storage.repository import PersonRepository

T = TypeVar("T")
# Rows per read while collecting everything; the export itself is not paged.
_READ_SIZE = 1000


async def erase_person(uow: UnitOfWork, person_id: str) -> Person:
    """Leaves a tombstone and announces `contact.erased`; erasing a tombstone changes nothing."""
    async with uow:
        people = PersonRepository(uow.session)
        person = await _existing(people, person_id)
        read_version = person.version
        if erase(person, datetime.now(UTC)):
            await people.save(person, expected_version=read_version)
            await erase_dependents_of(uow.session, ParentRef(ParentKind.PERSON, person_id))
            uow.publish(published.contact_erased(person))
            await uow.commit()
    return person


async def export_person_data(uow: UnitOfWork, person_id: str) -> PersonData:
    async with uow:
        session = uow.session
        person = await _existing(PersonRepository(session), person_id)
        parent = ParentRef(ParentKind.PERSON, person_id)
        links = RelationshipRepository(session)
        on = today()
        return PersonData(
            person=person,
            notes=await _all(
                lambda after, size: notes.NoteRepository(session).page(parent, after, size),
                notes.sort_key,
            ),
            relationships=await _all(
                lambda after, size: links.page_of(parent.name, None, on, after, size),
                lambda link: [link.create_time, link.id],
            ),
            timeline=await _all(
                lambda after, size: timeline.TimelineRepository(session).page(parent, after, size),
                timeline.sort_key,
            ),
        )


async def _all(
    read: Callable[[Sequence[Any] | None, int], Awaitable[list[T]]],
    key: Callable[[T], list[Any]],
) -> list[T]:
    """Every item a keyset-paged `read` returns, page after page."""
    found: list[T] = []
    after: list[Any] | None = None
    while True:
        page = await read(after, _READ_SIZE)
        found += page[:_READ_SIZE]
        if len(page) <= _READ_SIZE:
            return found
        after = key(page[_READ_SIZE - 1])


async def _existing(people: PersonRepository, person_id: str) -> Person:
    person = await people.get(person_id)
    if person is None:
        raise NotFound(f"people/{person_id} does not exist")
    return person
