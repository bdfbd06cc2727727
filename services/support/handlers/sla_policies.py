"""Use cases for business calendars and SLA policies."""

import uuid
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import InvalidArgument, NotFound
from crm_common.etags import check_etag
from crm_common.listing import Page
from crm_common.messaging.uow import UnitOfWork
from crm_support.domain.sla_calendars import CALENDARS, Calendar, CalendarSpec
from crm_support.domain.sla_policies import PolicySpec, SlaPolicy
from crm_support.domain.tickets import SLA_POLICIES
from crm_support.storage.sla import CalendarRepository, SlaPolicyRepository

# --- Calendars ---------------------------------------------------------------------


async def create_calendar(uow: UnitOfWork, calendar_id: str, spec: CalendarSpec) -> Calendar:
    calendar = Calendar.create(calendar_id or uuid.uuid4().hex, spec, datetime.now(UTC))
    async with uow:
        await CalendarRepository(uow.session).add(calendar)
        await uow.commit()
    return calendar


async def get_calendar(uow: UnitOfWork, calendar_id: str) -> Calendar:
    async with uow:
        return await _existing_calendar(CalendarRepository(uow.session), calendar_id)


async def list_calendars(uow: UnitOfWork, after: Sequence[Any] | None, size: int) -> Page[Calendar]:
    async with uow:
        found = await CalendarRepository(uow.session).page(after, size)
    return Page.of(found, size)


async def update_calendar(
    uow: UnitOfWork, calendar_id: str, changes: Mapping[str, Any], etag: str
) -> Calendar:
    async with uow:
        calendars = CalendarRepository(uow.session)
        calendar = await _existing_calendar(calendars, calendar_id)
        check_etag(etag, calendar.version, calendar.name)
        read_version = calendar.version
        if calendar.update(changes, datetime.now(UTC)):
            await calendars.save(calendar, expected_version=read_version)
            await uow.commit()
    return calendar


async def delete_calendar(uow: UnitOfWork, calendar_id: str, etag: str) -> None:
    async with uow:
        calendars = CalendarRepository(uow.session)
        calendar = await _existing_calendar(calendars, calendar_id)
        check_etag(etag, calendar.version, calendar.name)
        await calendars.delete(calendar_id)
        await uow.commit()


async def _existing_calendar(calendars: CalendarRepository, calendar_id: str) -> Calendar:
    calendar = await calendars.get(calendar_id)
    if calendar is None:
        raise NotFound(f"{CALENDARS}{calendar_id} does not exist")
    return calendar


# --- Policies ----------------------------------------------------------------------


async def create_policy(uow: UnitOfWork, policy_id: str, spec: PolicySpec) -> SlaPolicy:
    policy = SlaPolicy.create(policy_id or uuid.uuid4().hex, spec, datetime.now(UTC))
    async with uow:
        await _require_calendar(uow.session, policy)
        await SlaPolicyRepository(uow.session).add(policy)
        await uow.commit()
    return policy


async def get_policy(uow: UnitOfWork, policy_id: str) -> SlaPolicy:
    async with uow:
        return await _existing_policy(SlaPolicyRepository(uow.session), policy_id)


async def list_policies(uow: UnitOfWork, after: Sequence[Any] | None, size: int) -> Page[SlaPolicy]:
    async with uow:
        found = await SlaPolicyRepository(uow.session).page(after, size)
    return Page.of(found, size)


async def update_policy(
    uow: UnitOfWork, policy_id: str, changes: Mapping[str, Any], etag: str
) -> SlaPolicy:
    async with uow:
        policies = SlaPolicyRepository(uow.session)
        policy = await _existing_policy(policies, policy_id)
        check_etag(etag, policy.version, policy.name)
        read_version = policy.version
        changed = policy.update(changes, datetime.now(UTC))
        if changed:
            if "calendar" in changed:
                await _require_calendar(uow.session, policy)
            await policies.save(policy, expected_version=read_version)
            await uow.commit()
    return policy


async def delete_policy(uow: UnitOfWork, policy_id: str, etag: str) -> None:
    async with uow:
        policies = SlaPolicyRepository(uow.session)
        policy = await _existing_policy(policies, policy_id)
        check_etag(etag, policy.version, policy.name)
        await policies.delete(policy_id)
        await uow.commit()


async def _existing_policy(policies: SlaPolicyRepository, policy_id: str) -> SlaPolicy:
    policy = await policies.get(policy_id)
    if policy is None:
        raise NotFound(f"{SLA_POLICIES}{policy_id} does not exist")
    return policy


async def _require_calendar(session: AsyncSession, policy: SlaPolicy) -> None:
    """The calendar must exist; the foreign key catches one deleted after this check."""
    if await CalendarRepository(session).get(policy.calendar_id) is None:
        raise InvalidArgument.single(
            "sla_policy.calendar", f"{policy.spec.calendar} does not exist"
        )
