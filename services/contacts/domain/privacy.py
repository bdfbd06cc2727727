"""GDPR: erasing a person (art. 17) and what this service holds about one (art. 15/20).

Erasure keeps a tombstone: the person's id, which other services' records
and events refer to, with its create and update times and nothing else. The
owner goes too, although it names a user rather than the subject: the
contract promises that only the name and the times remain, and "whose
contact this was" has no use once there is no contact left to work with.
"""

from dataclasses import dataclass
from datetime import datetime

from crm_common.errors import FailedPrecondition
from crm_contacts.domain.model import Person, PersonDetails
from crm_contacts.domain.notes import Note
from crm_contacts.domain.relationships import Relationship
from crm_contacts.domain.timeline import TimelineEntry

# What a timeline entry of an erased person says instead of its summary. The
# entry stays (kind, time, source and resource: the deal or ticket it points
# to still exists in its own service), but a summary is free text another
# service wrote, which may quote the person.
ERASED_SUMMARY = "(erased)"


def erase(person: Person, now: datetime) -> bool:
    """Turns `person` into a tombstone; False when it already was one."""
    if person.erased:
        return False
    person.details = PersonDetails()
    person.erased = True
    person.update_time = now
    person.version += 1
    return True


def ensure_not_erased(person: Person) -> None:
    """FAILED_PRECONDITION for a change to a tombstone, which must stay empty."""
    if person.erased:
        raise FailedPrecondition(f"people/{person.id} was erased; it cannot change any more")


@dataclass(frozen=True)
class PersonData:
    """Everything the contacts service holds about one person."""

    person: Person
    notes: list[Note]
    relationships: list[Relationship]
    timeline: list[TimelineEntry]
