"""Finding likely duplicate people in the database.

Email and phone matches are an index lookup: `person_match_keys` holds each
person's canonical emails and phones (domain/duplicates.py), written by the
person repository with the person, so groups are the keys held by more than
one person. Name matches need a similarity no index answers; the database
narrows them to organizations with two or more current employees, and the
rule compares names within each.
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import (
    Column,
    ForeignKey,
    Index,
    Select,
    String,
    Table,
    delete,
    func,
    insert,
    or_,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crm_contacts.domain.duplicates import (
    EMPLOYMENT_TYPE_ID,
    REASON_ORDER,
    DuplicateGroup,
    DuplicateReason,
    GroupPosition,
    NamedPerson,
    match_keys,
    similar_name_groups,
)
from crm_contacts.domain.model import Person
from crm_contacts.storage.relationships import relationships
from crm_contacts.storage.tables import metadata, people

PERSON_PREFIX = "people/"
# Organizations whose employees are compared per round trip.
ORGANIZATION_BATCH = 50

person_match_keys = Table(
    "person_match_keys",
    metadata,
    # The key (reason, key, person) is also the index the groups are read from.
    Column("kind", String(10), primary_key=True),
    Column("key", String(254), primary_key=True),
    Column("person_id", String(63), ForeignKey("people.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_person_match_keys_person", "person_id"),
)


# --- Keeping the keys -----------------------------------------------------------


def match_key_rows(
    person_id: str, emails: Sequence[str], phones: Sequence[str]
) -> list[dict[str, str]]:
    return [
        {"kind": key.reason.value, "key": key.key, "person_id": person_id}
        for key in match_keys(emails, phones)
    ]


async def write_match_keys(session: AsyncSession, person: Person) -> None:
    """Replaces the person's keys with those of its current emails and phones."""
    await delete_match_keys(session, person.id)
    await insert_match_keys(session, person)


async def insert_match_keys(session: AsyncSession, person: Person) -> None:
    """The keys of a person who has none yet (a new one, or after delete_match_keys)."""
    details = person.details
    rows = match_key_rows(
        person.id,
        [email.address for email in details.email_addresses],
        [phone.number for phone in details.phone_numbers],
    )
    if rows:
        await session.execute(insert(person_match_keys), rows)


async def delete_match_keys(session: AsyncSession, person_id: str) -> None:
    await session.execute(
        delete(person_match_keys).where(person_match_keys.c.person_id == person_id)
    )


# --- Finding groups -------------------------------------------------------------


async def duplicate_groups(
    session: AsyncSession, after: GroupPosition | None, size: int, today: date
) -> list[DuplicateGroup]:
    """Up to `size` groups sorting after `after` (see GroupPosition), in that order."""
    found: list[DuplicateGroup] = []
    start = after.reason_rank if after is not None else 0
    for rank in range(start, len(REASON_ORDER)):
        reason = REASON_ORDER[rank]
        within = after if after is not None and after.reason_rank == rank else None
        wanted = size - len(found)
        if reason is DuplicateReason.SIMILAR_NAME_SAME_ORGANIZATION:
            found += await _name_groups(session, within, wanted, today)
        else:
            found += await _key_groups(session, reason, within, wanted)
        if len(found) >= size:
            break
    return found[:size]


async def _key_groups(
    session: AsyncSession, reason: DuplicateReason, after: GroupPosition | None, size: int
) -> list[DuplicateGroup]:
    keys = person_match_keys.c
    shared = (
        select(keys.key)
        .where(keys.kind == reason.value, keys.key > (after.evidence if after else ""))
        .group_by(keys.key)
        .having(func.count() > 1)
        .order_by(keys.key)
        .limit(size)
    )
    # One statement, so each group's members are those that made it a group.
    members = (
        select(keys.key, people.c.id)
        .join(people, people.c.id == keys.person_id)
        .where(keys.kind == reason.value, keys.key.in_(shared))
        .order_by(keys.key, people.c.create_time, people.c.id)
    )
    by_key: dict[str, list[str]] = defaultdict(list)
    for key, person_id in (await session.execute(members)).all():
        by_key[key].append(person_id)
    return [DuplicateGroup(reason, key, tuple(ids)) for key, ids in by_key.items()]


async def _name_groups(
    session: AsyncSession, after: GroupPosition | None, size: int, today: date
) -> list[DuplicateGroup]:
    found: list[DuplicateGroup] = []
    # A page may end inside an organization's groups: that one is read again.
    start, inclusive = (after.evidence, True) if after is not None else ("", False)
    while len(found) < size:
        organizations = await _crowded_organizations(session, start, inclusive, today)
        if not organizations:
            break
        employees = await _employees(session, organizations, today)
        for organization in organizations:
            for members in similar_name_groups(employees[organization]):
                group = DuplicateGroup(
                    DuplicateReason.SIMILAR_NAME_SAME_ORGANIZATION,
                    organization,
                    tuple(person.id for person in members),
                )
                if _after(group, after):
                    found.append(group)
        start, inclusive = organizations[-1], False
    return found[:size]


def _after(group: DuplicateGroup, position: GroupPosition | None) -> bool:
    """Whether a name group comes after where the last page ended.

    Only groups of that page's last organization can come before it: the
    query starts there, in the database's collation, which Python's string
    order need not match; within an organization, groups go by first id.
    """
    if position is None or group.evidence != position.evidence:
        return True
    return group.people[0] > position.first_person_id


def _current_employment(today: date) -> list[Any]:
    # Relationship.is_current: no end date, or one still ahead.
    return [
        relationships.c.type_id == EMPLOYMENT_TYPE_ID,
        or_(relationships.c.end_date.is_(None), relationships.c.end_date > today),
    ]


async def _crowded_organizations(
    session: AsyncSession, start: str, inclusive: bool, today: date
) -> list[str]:
    """The next organizations (by resource name) with two or more current employees."""
    to = relationships.c.to_resource
    query: Select[Any] = (
        select(to)
        .where(*_current_employment(today), to >= start if inclusive else to > start)
        .group_by(to)
        .having(func.count(relationships.c.from_resource.distinct()) > 1)
        .order_by(to)
        .limit(ORGANIZATION_BATCH)
    )
    return list((await session.scalars(query)).all())


async def _employees(
    session: AsyncSession, organizations: Sequence[str], today: date
) -> dict[str, list[NamedPerson]]:
    person_id = func.substr(relationships.c.from_resource, len(PERSON_PREFIX) + 1)
    query = (
        select(
            relationships.c.to_resource,
            people.c.id,
            people.c.given_name,
            people.c.family_name,
            people.c.create_time,
        )
        .join(people, people.c.id == person_id)
        .where(*_current_employment(today), relationships.c.to_resource.in_(organizations))
        .distinct()
    )
    employees: dict[str, list[NamedPerson]] = defaultdict(list)
    for row in (await session.execute(query)).all():
        full_name = f"{row.given_name} {row.family_name}"
        employees[row.to_resource].append(NamedPerson(row.id, full_name, row.create_time))
    return employees
