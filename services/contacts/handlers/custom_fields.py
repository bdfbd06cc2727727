"""Use cases for custom field definitions."""

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

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
        # Locked first: a person written meanwhile cannot take up an option
        # between the usage check below and the commit.
        definition = await _existing(definitions, definition_id, lock=True)
        check_etag(etag, definition.version, f"customFieldDefinitions/{definition_id}")
        read_version = definition.version
        change = definition.update(changes, datetime.now(UTC))
        if change.changed_fields:
            await _refuse_removing_used(PersonRepository(uow.session), definition, change)
            await definitions.save(definition, expected_version=read_version)
            await uow.commit()
    return definition


async def delete_definition(uow: UnitOfWork, definition_id: str, etag: str) -> None:
    async with uow:
        definitions = CustomFieldDefinitionRepository(uow.session)
        definition = await _existing(definitions, definition_id, lock=True)
        check_etag(etag, definition.version, f"customFieldDefinitions/{definition_id}")
        if await PersonRepository(uow.session).custom_field_in_use(definition_id, None):
            raise FailedPrecondition(
                f"customFieldDefinitions/{definition_id} is in use by people; "
                "remove their values first"
            )
        await definitions.delete(definition_id)
        await uow.commit()


async def _refuse_removing_used(
    people: PersonRepository, definition: CustomFieldDefinition, change: DefinitionChange
) -> None:
    name = f"customFieldDefinitions/{definition.id}"
    if change.removed_options and await people.custom_field_in_use(
        definition.id, change.removed_options
    ):
        removed = ", ".join(change.removed_options)
        raise FailedPrecondition(f"{name}: people still hold the removed options ({removed})")
    if ContactKind.PERSON in change.removed_kinds and await people.custom_field_in_use(
        definition.id, None
    ):
        raise FailedPrecondition(f"{name}: people still hold values, so it must apply to people")


async def _existing(
    definitions: CustomFieldDefinitionRepository, definition_id: str, *, lock: bool = False
) -> CustomFieldDefinition:
    definition = await definitions.get(definition_id, lock=lock)
    if definition is None:
        raise NotFound(f"customFieldDefinitions/{definition_id} does not exist")
    return definition
