"""Use cases for custom field definitions."""

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import FailedPrecondition, NotFound
from crm_common.etags import check_etag
from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.custom_fields import (
    ContactKind,
    CustomFieldDefinition,
    DefinitionChange,
    DefinitionSpec,
)
from crm_contacts.storage.custom_fields import CustomFieldDefinitionRepository
from crm_contacts.storage.organizations import OrganizationRepository
from crm_contacts.storage.repository import PersonRepository


async def create_definition(
    uow: UnitOfWork, definition_id: str, spec: DefinitionSpec
) -> CustomFieldDefinition:
    definition = CustomFieldDefinition.create(definition_id, spec, datetime.now(UTC))
    async with uow:
        await CustomFieldDefinitionRepository(uow.session).add(definition)
        await uow.commit()
    return definition


async def get_definition(uow: UnitOfWork, definition_id: str) -> CustomFieldDefinition:
    async with uow:
        return await _existing(CustomFieldDefinitionRepository(uow.session), definition_id)


async def list_definitions(
    uow: UnitOfWork, after: Sequence[Any] | None, size: int
) -> tuple[list[CustomFieldDefinition], bool]:
    async with uow:
        found = await CustomFieldDefinitionRepository(uow.session).page(after, size)
    return found[:size], len(found) > size


async def update_definition(
    uow: UnitOfWork, definition_id: str, changes: Mapping[str, Any], etag: str
) -> CustomFieldDefinition:
    async with uow:
        definitions = CustomFieldDefinitionRepository(uow.session)
        # Locked first: a record written meanwhile cannot take up an option
        # between the usage check below and the commit.
        definition = await _existing(definitions, definition_id, lock=True)
        check_etag(etag, definition.version, f"customFieldDefinitions/{definition_id}")
        read_version = definition.version
        change = definition.update(changes, datetime.now(UTC))
        if change.changed_fields:
            await _refuse_removing_used(uow.session, definition, change)
            await definitions.save(definition, expected_version=read_version)
            await uow.commit()
    return definition


async def delete_definition(uow: UnitOfWork, definition_id: str, etag: str) -> None:
    async with uow:
        definitions = CustomFieldDefinitionRepository(uow.session)
        definition = await _existing(definitions, definition_id, lock=True)
        check_etag(etag, definition.version, f"customFieldDefinitions/{definition_id}")
        holding = await _kinds_holding(uow.session, definition_id)
        if holding:
            raise FailedPrecondition(
                f"customFieldDefinitions/{definition_id} is in use by {_plurals(holding)}; "
                "remove their values first"
            )
        await definitions.delete(definition_id)
        await uow.commit()


async def _refuse_removing_used(
    session: AsyncSession, definition: CustomFieldDefinition, change: DefinitionChange
) -> None:
    name = f"customFieldDefinitions/{definition.id}"
    if change.removed_options:
        holding = await _kinds_holding(session, definition.id, change.removed_options)
        if holding:
            removed = ", ".join(change.removed_options)
            raise FailedPrecondition(
                f"{name}: {_plurals(holding)} still hold the removed options ({removed})"
            )
    holding = await _kinds_holding(session, definition.id, kinds=change.removed_kinds)
    if holding:
        plurals = _plurals(holding)
        raise FailedPrecondition(f"{name}: {plurals} still hold values, so it must apply to them")


class _ValueHolders(Protocol):
    async def custom_field_in_use(self, field_id: str, options: Sequence[str] | None) -> bool: ...


async def _kinds_holding(
    session: AsyncSession,
    field_id: str,
    options: Sequence[str] | None = None,
    kinds: Iterable[ContactKind] = tuple(ContactKind),
) -> list[ContactKind]:
    """Those of `kinds` some records of which hold the field (or one of `options`)."""
    holders: dict[ContactKind, _ValueHolders] = {
        ContactKind.PERSON: PersonRepository(session),
        ContactKind.ORGANIZATION: OrganizationRepository(session),
    }
    return [kind for kind in kinds if await holders[kind].custom_field_in_use(field_id, options)]


def _plurals(kinds: Iterable[ContactKind]) -> str:
    return " and ".join(kind.plural for kind in kinds)


async def _existing(
    definitions: CustomFieldDefinitionRepository, definition_id: str, *, lock: bool = False
) -> CustomFieldDefinition:
    definition = await definitions.get(definition_id, lock=lock)
    if definition is None:
        raise NotFound(f"customFieldDefinitions/{definition_id} does not exist")
    return definition
