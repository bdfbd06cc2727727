"""Use cases for project templates."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from crm_common.errors import NotFound
from crm_common.etags import check_etag
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_common.resources import check_retried_create
from crm_projects.domain.templates import TEMPLATES, ProjectTemplate, TemplateSpec
from crm_projects.storage.templates import TemplateRepository


async def create_template(uow: UnitOfWork, template_id: str, spec: TemplateSpec) -> ProjectTemplate:
    """Adds a template; with a client-chosen id, a retry returns the template it created."""
    template = ProjectTemplate.create(template_id or uuid.uuid4().hex, spec, datetime.now(UTC))
    async with uow:
        templates = TemplateRepository(uow.session)
        if template_id and (existing := await templates.get(template_id)) is not None:
            check_retried_create(existing.name, existing.spec, template.spec)
            return existing
        await templates.add(template)
        await uow.commit()
    return template


async def get_template(uow: UnitOfWork, template_id: str) -> ProjectTemplate:
    async with uow:
        return await _existing(TemplateRepository(uow.session), template_id)


async def list_templates(
    uow: UnitOfWork, after: Sequence[Any] | None, size: int
) -> Page[ProjectTemplate]:
    async with uow:
        found = await TemplateRepository(uow.session).page(after, size)
    return Page.of(found, size)


async def update_template(
    uow: UnitOfWork, template_id: str, changes: Mapping[str, Any], etag: str
) -> ProjectTemplate:
    async with uow:
        templates = TemplateRepository(uow.session)
        template = await _existing(templates, template_id)
        check_etag(etag, template.version, template.name)
        read_version = template.version
        if template.update(changes, datetime.now(UTC)):
            await templates.save(template, expected_version=read_version)
            await uow.commit()
    return template


async def delete_template(uow: UnitOfWork, template_id: str, etag: str) -> None:
    async with uow:
        templates = TemplateRepository(uow.session)
        template = await _existing(templates, template_id)
        check_etag(etag, template.version, template.name)
        await templates.delete(template_id)
        await uow.commit()


async def _existing(templates: TemplateRepository, template_id: str) -> ProjectTemplate:
    template = await templates.get(template_id)
    if template is None:
        raise NotFound(f"{TEMPLATES}{template_id} does not exist")
    return template
