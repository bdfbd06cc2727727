"""Business calendars and SLA policies, their tables and repositories; and the
query the SLA scheduler starts from."""

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    ForeignKey,
    Index,
    Integer,
    Row,
    String,
    Table,
    Text,
    delete,
    exists,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from crm_common.errors import Aborted, AlreadyExists, FailedPrecondition
from crm_common.pagination import SortKey
from crm_common.storage.db import UtcDateTime
from crm_common.storage.keyset import paged
from crm_support.domain.business_hours import END_OF_DAY, WorkingPeriod
from crm_support.domain.sla_calendars import CALENDARS, Calendar, CalendarSpec, WorkingDay
from crm_support.domain.sla_policies import (
    PolicySpec,
    SlaConditions,
    SlaEscalation,
    SlaPolicy,
    SlaPolicyTargets,
)
from crm_support.domain.tickets import Channel, Priority
from crm_support.storage.tables import metadata
from crm_support.storage.tickets import tickets

sla_calendars = Table(
    "sla_calendars",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("time_zone", String(64), nullable=False),
    # [{"weekday": 0, "periods": [["09:00:00", "17:00:00"]]}], 24:00 as "24:00:00".
    Column("weekly_hours", JSON, nullable=False),
    # ISO dates.
    Column("holidays", JSON, nullable=False),
    Column("holiday_country", String(8), nullable=False),
    Column("holiday_subdivision", String(64), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
)

sla_policies = Table(
    "sla_policies",
    metadata,
    Column("id", String(63), primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("position", Integer, nullable=False),
    # {"priorities": [3, 4], "organizations": [...], "tags": [...], "channels": [1]}
    Column("conditions", JSON, nullable=False),
    # No ON DELETE: a calendar in use cannot be deleted.
    Column("calendar_id", String(63), ForeignKey(sla_calendars.c.id), nullable=False),
    # Whole seconds; NULL where the metric is not measured.
    Column("first_response_seconds", Integer, nullable=True),
    Column("next_response_seconds", Integer, nullable=True),
    Column("resolution_seconds", Integer, nullable=True),
    Column("warning_lead_seconds", Integer, nullable=False),
    Column("escalation_priority", Integer, nullable=True),
    Column("escalation_group", String(200), nullable=False),
    Column("create_time", UtcDateTime, nullable=False),
    Column("update_time", UtcDateTime, nullable=False),
    Column("version", Integer, nullable=False),
    # The order policies are tried in, which is also how they are listed.
    Index("ix_sla_policies_position", "position", "id"),
    Index("ix_sla_policies_calendar", "calendar_id"),
)

CALENDAR_ORDER = (SortKey("id"),)
POLICY_ORDER = (SortKey("position"), SortKey("id"))
_POLICY_COLUMNS = {"position": sla_policies.c.position, "id": sla_policies.c.id}
_METRIC_COLUMNS = ("first_response", "next_response", "resolution")
_MIDNIGHT_END = "24:00:00"


class CalendarRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, calendar_id: str) -> Calendar | None:
        query = select(sla_calendars).where(sla_calendars.c.id == calendar_id)
        row = (await self._session.execute(query)).first()
        return _to_calendar(row) if row else None

    async def add(self, calendar: Calendar) -> None:
        if await self.get(calendar.id) is not None:
            raise AlreadyExists(f"{calendar.name} already exists")
        try:
            await self._session.execute(insert(sla_calendars).values(_calendar_row(calendar)))
        except IntegrityError as error:  # created concurrently
            raise AlreadyExists(f"{calendar.name} already exists") from error

    async def save(self, calendar: Calendar, expected_version: int) -> None:
        result = await self._session.execute(
            update(sla_calendars)
            .where(sla_calendars.c.id == calendar.id, sla_calendars.c.version == expected_version)
            .values(_calendar_row(calendar))
        )
        if result.rowcount != 1:
            raise Aborted(f"{calendar.name} was changed concurrently; retry")

    async def delete(self, calendar_id: str) -> None:
        name = CALENDARS + calendar_id
        in_use = exists().where(sla_policies.c.calendar_id == calendar_id)
        if await self._session.scalar(select(in_use)):
            raise FailedPrecondition(f"{name} is used by SLA policies; change them first")
        try:
            await self._session.execute(
                delete(sla_calendars).where(sla_calendars.c.id == calendar_id)
            )
        except IntegrityError as error:  # a policy took it up meanwhile
            raise FailedPrecondition(f"{name} is used by SLA policies") from error

    async def page(
        self, after: Sequence[Any] | None, size: int
    ) -> list[tuple[Calendar, list[Any]]]:
        query = paged(
            select(sla_calendars), CALENDAR_ORDER, {"id": sla_calendars.c.id}, after, size
        )
        rows = (await self._session.execute(query)).all()
        return [(_to_calendar(row), [row.id]) for row in rows]


class SlaPolicyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def get(self, policy_id: str) -> SlaPolicy | None:
        row = (
            await self._session.execute(select(sla_policies).where(sla_policies.c.id == policy_id))
        ).first()
        return _to_policy(row) if row else None

    async def all_in_order(self) -> list[SlaPolicy]:
        """Every policy, in the order they are tried."""
        query = select(sla_policies).order_by(sla_policies.c.position, sla_policies.c.id)
        return [_to_policy(row) for row in (await self._session.execute(query)).all()]

    async def add(self, policy: SlaPolicy) -> None:
        if await self.get(policy.id) is not None:
            raise AlreadyExists(f"{policy.name} already exists")
        try:
            await self._session.execute(insert(sla_policies).values(_policy_row(policy)))
        except IntegrityError as error:
            raise _insert_failure(policy, error) from error

    async def save(self, policy: SlaPolicy, expected_version: int) -> None:
        try:
            result = await self._session.execute(
                update(sla_policies)
                .where(sla_policies.c.id == policy.id, sla_policies.c.version == expected_version)
                .values(_policy_row(policy))
            )
        except IntegrityError as error:
            raise _calendar_gone(policy) from error
        if result.rowcount != 1:
            raise Aborted(f"{policy.name} was changed concurrently; retry")

    async def delete(self, policy_id: str) -> None:
        await self._session.execute(delete(sla_policies).where(sla_policies.c.id == policy_id))

    async def page(
        self, after: Sequence[Any] | None, size: int
    ) -> list[tuple[SlaPolicy, list[Any]]]:
        query = paged(select(sla_policies), POLICY_ORDER, _POLICY_COLUMNS, after, size)
        rows = (await self._session.execute(query)).all()
        return [(_to_policy(row), [row.position, row.id]) for row in rows]


async def tickets_due_for_sla_check(session: AsyncSession, now: datetime, limit: int) -> list[str]:
    """Ids of tickets whose SLA check time has come, the longest waiting first."""
    query = (
        select(tickets.c.id)
        .where(tickets.c.sla_check_time <= now)
        .order_by(tickets.c.sla_check_time, tickets.c.id)
        .limit(limit)
    )
    return list((await session.scalars(query)).all())


async def claim_for_sla_check(session: AsyncSession, ticket_id: str, now: datetime) -> bool:
    """Row-locks the ticket if it is still due and no other replica holds it (PostgreSQL;
    SQLite has a single writer). False means another replica has it or did it."""
    query = (
        select(tickets.c.id)
        .where(tickets.c.id == ticket_id, tickets.c.sla_check_time <= now)
        .with_for_update(skip_locked=True)
    )
    return (await session.scalar(query)) is not None


async def set_sla_check_time(
    session: AsyncSession, ticket_id: str, version: int, check_time: datetime | None
) -> None:
    """Moves only the scheduler's next look; the ticket itself does not change."""
    await session.execute(
        update(tickets)
        .where(tickets.c.id == ticket_id, tickets.c.version == version)
        .values(sla_check_time=check_time)
    )


def _insert_failure(policy: SlaPolicy, error: IntegrityError) -> Exception:
    """Two causes: a policy of that id was created concurrently, or the calendar is gone."""
    if "foreign key" in str(error.orig).lower():
        return _calendar_gone(policy)
    return AlreadyExists(f"{policy.name} already exists")


def _calendar_gone(policy: SlaPolicy) -> FailedPrecondition:
    return FailedPrecondition(f"{policy.spec.calendar} was deleted meanwhile; choose a calendar")


# --- Rows ------------------------------------------------------------------------


def _calendar_row(calendar: Calendar) -> dict[str, Any]:
    spec = calendar.spec
    return {
        "id": calendar.id,
        "display_name": spec.display_name,
        "time_zone": spec.time_zone,
        "weekly_hours": [
            {
                "weekday": day.weekday,
                "periods": [[_clock(p.start), _clock(p.end)] for p in day.periods],
            }
            for day in spec.weekly_hours
        ],
        "holidays": [day.isoformat() for day in spec.holidays],
        "holiday_country": spec.holiday_country,
        "holiday_subdivision": spec.holiday_subdivision,
        "create_time": calendar.create_time,
        "update_time": calendar.update_time,
        "version": calendar.version,
    }


def _to_calendar(row: Row[Any]) -> Calendar:
    return Calendar(
        id=row.id,
        spec=CalendarSpec(
            display_name=row.display_name,
            time_zone=row.time_zone,
            weekly_hours=tuple(
                WorkingDay(
                    day["weekday"],
                    tuple(WorkingPeriod(_time(start), _time(end)) for start, end in day["periods"]),
                )
                for day in row.weekly_hours
            ),
            holidays=tuple(date.fromisoformat(day) for day in row.holidays),
            holiday_country=row.holiday_country,
            holiday_subdivision=row.holiday_subdivision,
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )


def _clock(value: time) -> str:
    return _MIDNIGHT_END if value == END_OF_DAY else value.isoformat()


def _time(value: str) -> time:
    return END_OF_DAY if value == _MIDNIGHT_END else time.fromisoformat(value)


def _policy_row(policy: SlaPolicy) -> dict[str, Any]:
    spec = policy.spec
    conditions = spec.conditions
    escalation = spec.escalation
    return {
        "id": policy.id,
        "display_name": spec.display_name,
        "description": spec.description,
        "position": spec.position,
        "conditions": {
            "priorities": [int(p) for p in conditions.priorities],
            "organizations": list(conditions.organizations),
            "tags": list(conditions.tags),
            "channels": [int(c) for c in conditions.channels],
        },
        "calendar_id": policy.calendar_id,
        **{f"{name}_seconds": _seconds(getattr(spec.targets, name)) for name in _METRIC_COLUMNS},
        "warning_lead_seconds": _seconds(spec.warning_lead),
        "escalation_priority": int(escalation.priority) if escalation.priority else None,
        "escalation_group": escalation.group,
        "create_time": policy.create_time,
        "update_time": policy.update_time,
        "version": policy.version,
    }


def _to_policy(row: Row[Any]) -> SlaPolicy:
    conditions = row.conditions
    return SlaPolicy(
        id=row.id,
        spec=PolicySpec(
            display_name=row.display_name,
            description=row.description,
            position=row.position,
            conditions=SlaConditions(
                priorities=tuple(Priority(p) for p in conditions["priorities"]),
                organizations=tuple(conditions["organizations"]),
                tags=tuple(conditions["tags"]),
                channels=tuple(Channel(c) for c in conditions["channels"]),
            ),
            calendar=CALENDARS + row.calendar_id,
            targets=SlaPolicyTargets(
                **{name: _duration(row._mapping[f"{name}_seconds"]) for name in _METRIC_COLUMNS}
            ),
            warning_lead=timedelta(seconds=row.warning_lead_seconds),
            escalation=SlaEscalation(
                priority=Priority(row.escalation_priority) if row.escalation_priority else None,
                group=row.escalation_group,
            ),
        ),
        create_time=row.create_time,
        update_time=row.update_time,
        version=row.version,
    )


def _seconds(value: timedelta | None) -> int | None:
    return None if value is None else int(value.total_seconds())


def _duration(seconds: int | None) -> timedelta | None:
    return None if seconds is None else timedelta(seconds=seconds)
