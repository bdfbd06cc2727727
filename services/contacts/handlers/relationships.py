"""Use cases for relationship types and relationships.

No events: the contract announces contacts and organizations, not the links
between them.
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.filtering import Expr
from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.relationships import (
    TYPE_PREFIX,
    RecordRef,
    Relationship,
    RelationshipDraft,
    RelationshipType,
    RelationshipTypeDraft,
    parse_draft,
)
from crm_contacts.storage.organizations import OrganizationRepository
from crm_contacts.storage.relationships import (
    RelationshipRepository,
    RelationshipTypeRepository,
)
from crm_contacts.storage.repository import PersonRepository


def today() -> date:
    """The day `current` is judged on: in UTC, so every replica agrees."""
    return datetime.now(UTC).date()


async def create_relationship_type(
    uow: UnitOfWork, draft: RelationshipTypeDraft
) -> RelationshipType:
    relationship_type = RelationshipType.create(draft, datetime.now(UTC))
    async with uow:
        await RelationshipTypeRepository(uow.session).add(relationship_type)
        await uow.commit()
    return relationship_type


async def list_relationship_types(
    uow: UnitOfWork, after: Sequence[Any] | None, size: int
) -> tuple[list[RelationshipType], bool]:
    async with uow:
        found = await RelationshipTypeRepository(uow.session).page(after, size)
    return found[:size], len(found) > size


async def create_relationship(uow: UnitOfWork, draft: RelationshipDraft) -> Relationship:
    new = parse_draft(draft)
    async with uow:
        relationship_type = await RelationshipTypeRepository(uow.session).get(new.type_id)
        if relationship_type is None:
            raise NotFound(f"{TYPE_PREFIX}{new.type_id} (relationship.type) does not exist")
        relationship = Relationship.create(
            uuid.uuid4().hex, new, relationship_type, datetime.now(UTC)
        )
        await _require_records(
            uow.session, {"relationship.from": new.from_, "relationship.to": new.to}
        )
        await RelationshipRepository(uow.session).add(relationship)
        await uow.commit()
    return relationship


async def get_relationship(uow: UnitOfWork, relationship_id: str) -> Relationship:
    async with uow:
        return await _existing(RelationshipRepository(uow.session), relationship_id)


async def list_relationships(
    uow: UnitOfWork,
    record: RecordRef,
    expr: Expr | None,
    on: date,
    after: Sequence[Any] | None,
    size: int,
) -> tuple[list[Relationship], bool]:
    async with uow:
        await _require_records(uow.session, {"resource": record})
        found = await RelationshipRepository(uow.session).page_of(
            record.name, expr, on, after, size
        )
    return found[:size], len(found) > size


async def update_relationship(
    uow: UnitOfWork, relationship_id: str, changes: dict[str, Any], etag: str
) -> Relationship:
    async with uow:
        repository = RelationshipRepository(uow.session)
        relationship = await _existing(repository, relationship_id)
        check_etag(etag, relationship.version, relationship.name)
        read_version = relationship.version
        if relationship.update(changes, datetime.now(UTC)):
            await repository.save(relationship, expected_version=read_version)
            await uow.commit()
    return relationship


async def delete_relationship(uow: UnitOfWork, relationship_id: str, etag: str) -> None:
    async with uow:
        repository = RelationshipRepository(uow.session)
        relationship = await _existing(repository, relationship_id)
        check_etag(etag, relationship.version, relationship.name)
        await repository.delete(relationship_id)
        await uow.commit()


async def _existing(repository: RelationshipRepository, relationship_id: str) -> Relationship:
    relationship = await repository.get(relationship_id)
    if relationship is None:
        raise NotFound(f"relationships/{relationship_id} does not exist")
    return relationship


async def _require_records(session: AsyncSession, records: dict[str, RecordRef]) -> None:
    """NOT_FOUND naming each record, and the field it came from, that does not exist."""
    missing = [
        f"{record.name} ({field})"
        for field, record in records.items()
        if not await _record_exists(session, record)
    ]
    if missing:
        raise NotFound(f"{' and '.join(missing)} {'does' if len(missing) == 1 else 'do'} not exist")


async def _record_exists(session: AsyncSession, record: RecordRef) -> bool:
    repository = (
        PersonRepository(session)
        if record.kind is ContactKind.PERSON
        else OrganizationRepository(session)
    )
    return await repository.get(record.id) is not None
