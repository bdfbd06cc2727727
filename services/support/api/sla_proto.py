"""Translation between the contract's calendars and SLA policies and the domain.

Values the domain cannot even hold (a time of day of 25:00, a date of 31
February, an unknown enum number) are reported here, with their field paths.
"""

from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp
from google.type import date_pb2, dayofweek_pb2, timeofday_pb2

from crm.support.v1 import sla_service_pb2 as pb
from crm.support.v1 import ticket_pb2
from crm_common.errors import Violations
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_support.domain.business_hours import END_OF_DAY, WorkingPeriod
from crm_support.domain.sla_calendars import CALENDARS, Calendar, CalendarSpec, WorkingDay
from crm_support.domain.sla_policies import (
    PolicySpec,
    SlaConditions,
    SlaEscalation,
    SlaPolicy,
    SlaPolicyTargets,
)
from crm_support.domain.tickets import SLA_POLICIES, Channel, Priority

# Beyond this a Duration is out of any range the domain accepts; checked here
# so that converting it cannot overflow.
_DURATION_SECONDS_MAX = 10**10


def calendar_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, CALENDARS, field, "like calendars/office-hours")


def policy_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, SLA_POLICIES, field, "like slaPolicies/urgent")


# --- Calendars ---------------------------------------------------------------------


def calendar_changes(message: pb.Calendar, fields: Iterable[str]) -> dict[str, Any]:
    """The named writable fields of `message` in domain form."""
    violations = Violations()
    changes = {name: _calendar_field(message, name, violations) for name in fields}
    violations.raise_if_any()
    return changes


def calendar_spec_from_proto(message: pb.Calendar) -> CalendarSpec:
    return CalendarSpec(**calendar_changes(message, CalendarSpec.__dataclass_fields__))


def _calendar_field(message: pb.Calendar, field: str, violations: Violations) -> object:
    match field:
        case "weekly_hours":
            return tuple(
                _working_day(day, f"calendar.weekly_hours[{index}]", violations)
                for index, day in enumerate(message.weekly_hours)
            )
        case "holidays":
            found = (
                _date(day, f"calendar.holidays[{index}]", violations)
                for index, day in enumerate(message.holidays)
            )
            return tuple(day for day in found if day is not None)
    return getattr(message, field)


def _working_day(message: pb.WorkingDay, path: str, violations: Violations) -> WorkingDay:
    weekday = None
    if message.day_of_week != dayofweek_pb2.DAY_OF_WEEK_UNSPECIFIED:
        if dayofweek_pb2.MONDAY <= message.day_of_week <= dayofweek_pb2.SUNDAY:
            weekday = message.day_of_week - dayofweek_pb2.MONDAY
        else:
            violations.add(f"{path}.day_of_week", f"{message.day_of_week} is not a known value")
    periods = []
    for index, period in enumerate(message.periods):
        period_path = f"{path}.periods[{index}]"
        start = _bound(period, "start_time", period_path, violations)
        end = _bound(period, "end_time", period_path, violations)
        if start is not None and end is not None:
            periods.append(WorkingPeriod(start, end))
    return WorkingDay(weekday, tuple(periods))


def _bound(period: pb.WorkingPeriod, field: str, path: str, violations: Violations) -> time | None:
    if not period.HasField(field):
        violations.add(f"{path}.{field}", "is required")
        return None
    value: timeofday_pb2.TimeOfDay = getattr(period, field)
    parts = (value.hours, value.minutes, value.seconds, value.nanos)
    if field == "end_time" and parts == (24, 0, 0, 0):
        return END_OF_DAY
    if not (
        0 <= value.hours <= 23
        and 0 <= value.minutes <= 59
        and 0 <= value.seconds <= 59
        and 0 <= value.nanos <= 999_999_999
    ):
        latest = "24:00" if field == "end_time" else "23:59:59"
        violations.add(f"{path}.{field}", f"must be a time of day from 00:00 to {latest}")
        return None
    return time(value.hours, value.minutes, value.seconds, value.nanos // 1000)


def _date(value: date_pb2.Date, path: str, violations: Violations) -> date | None:
    try:
        return date(value.year, value.month, value.day)
    except ValueError:
        violations.add(path, "must be a full calendar date (year, month and day)")
        return None


def calendar_to_proto(calendar: Calendar) -> pb.Calendar:
    spec = calendar.spec
    return pb.Calendar(
        name=calendar.name,
        display_name=spec.display_name,
        time_zone=spec.time_zone,
        weekly_hours=[
            pb.WorkingDay(
                day_of_week=dayofweek_pb2.MONDAY + (day.weekday or 0),
                periods=[
                    pb.WorkingPeriod(start_time=_time_of_day(p.start), end_time=_time_of_day(p.end))
                    for p in day.periods
                ],
            )
            for day in spec.weekly_hours
        ],
        holidays=[date_pb2.Date(year=d.year, month=d.month, day=d.day) for d in spec.holidays],
        holiday_country=spec.holiday_country,
        holiday_subdivision=spec.holiday_subdivision,
        create_time=_timestamp(calendar.create_time),
        update_time=_timestamp(calendar.update_time),
        etag=etag_for(calendar.version),
    )


def _time_of_day(value: time) -> timeofday_pb2.TimeOfDay:
    if value == END_OF_DAY:
        return timeofday_pb2.TimeOfDay(hours=24)
    return timeofday_pb2.TimeOfDay(
        hours=value.hour,
        minutes=value.minute,
        seconds=value.second,
        nanos=value.microsecond * 1000,
    )


# --- Policies ------------------------------------------------------------------------


def policy_changes(message: pb.SlaPolicy, fields: Iterable[str]) -> dict[str, Any]:
    """The named writable fields of `message` in domain form."""
    violations = Violations()
    changes = {name: _policy_field(message, name, violations) for name in fields}
    violations.raise_if_any()
    return changes


def policy_spec_from_proto(message: pb.SlaPolicy) -> PolicySpec:
    return PolicySpec(**policy_changes(message, PolicySpec.__dataclass_fields__))


def _policy_field(message: pb.SlaPolicy, field: str, violations: Violations) -> object:
    match field:
        case "conditions":
            return _conditions(message.conditions, violations)
        case "targets":
            targets = message.targets
            return SlaPolicyTargets(
                **{
                    name: _duration(
                        getattr(targets, name), f"sla_policy.targets.{name}", violations
                    )
                    for name in ("first_response", "next_response", "resolution")
                    if targets.HasField(name)
                }
            )
        case "warning_lead":
            if not message.HasField("warning_lead"):
                return timedelta(0)
            lead = _duration(message.warning_lead, "sla_policy.warning_lead", violations)
            return lead if lead is not None else timedelta(0)
        case "escalation":
            escalation = message.escalation
            priority = None
            if escalation.priority != ticket_pb2.TICKET_PRIORITY_UNSPECIFIED:
                priority = _priority(
                    escalation.priority, "sla_policy.escalation.priority", violations
                )
            return SlaEscalation(priority=priority, group=escalation.group)
    return getattr(message, field)


def _conditions(message: pb.SlaConditions, violations: Violations) -> SlaConditions:
    path = "sla_policy.conditions"
    priorities = _known(message.priorities, f"{path}.priorities", _priority, violations)
    channels = _known(message.channels, f"{path}.channels", _channel, violations)
    return SlaConditions(
        priorities=priorities,
        organizations=tuple(message.organizations),
        tags=tuple(message.tags),
        channels=channels,
    )


def _known(
    numbers: Iterable[int],
    path: str,
    convert: Callable[[int, str, Violations], Any],
    violations: Violations,
) -> tuple[Any, ...]:
    found = (convert(number, f"{path}[{i}]", violations) for i, number in enumerate(numbers))
    return tuple(value for value in found if value is not None)


def _priority(number: int, path: str, violations: Violations) -> Priority | None:
    member: Priority | None = _member(
        Priority, ticket_pb2.TicketPriority, "TICKET_PRIORITY_", number, path, violations
    )
    return member


def _channel(number: int, path: str, violations: Violations) -> Channel | None:
    member: Channel | None = _member(
        Channel, ticket_pb2.TicketChannel, "TICKET_CHANNEL_", number, path, violations
    )
    return member


def _member(
    domain: Any, proto_enum: Any, prefix: str, number: int, path: str, violations: Violations
) -> Any:
    """The domain member of the same name as the proto enum value `number`."""
    if number == 0:
        violations.add(path, "must be specified")
        return None
    try:
        return domain[proto_enum.Name(number).removeprefix(prefix)]
    except (KeyError, ValueError):
        violations.add(path, f"{number} is not a known value")
        return None


def _duration(value: Duration, path: str, violations: Violations) -> timedelta | None:
    if value.nanos:
        violations.add(path, "must be whole seconds")
        return None
    if abs(value.seconds) > _DURATION_SECONDS_MAX:
        violations.add(path, "is out of range")
        return None
    return timedelta(seconds=value.seconds)


def policy_to_proto(policy: SlaPolicy) -> pb.SlaPolicy:
    spec = policy.spec
    conditions = spec.conditions
    targets = spec.targets
    return pb.SlaPolicy(
        name=policy.name,
        display_name=spec.display_name,
        description=spec.description,
        position=spec.position,
        conditions=pb.SlaConditions(
            priorities=[_priority_to_proto(p) for p in conditions.priorities],
            organizations=conditions.organizations,
            tags=conditions.tags,
            channels=[_channel_to_proto(c) for c in conditions.channels],
        ),
        calendar=spec.calendar,
        targets=pb.SlaPolicyTargets(
            **{
                name: _duration_to_proto(value)
                for name in ("first_response", "next_response", "resolution")
                if (value := getattr(targets, name)) is not None
            }
        ),
        warning_lead=_duration_to_proto(spec.warning_lead) if spec.warning_lead else None,
        escalation=pb.SlaEscalation(
            priority=_priority_to_proto(spec.escalation.priority)
            if spec.escalation.priority
            else 0,
            group=spec.escalation.group,
        ),
        create_time=_timestamp(policy.create_time),
        update_time=_timestamp(policy.update_time),
        etag=etag_for(policy.version),
    )


def _priority_to_proto(priority: Priority) -> int:
    return ticket_pb2.TicketPriority.Value(f"TICKET_PRIORITY_{priority.name}")


def _channel_to_proto(channel: Channel) -> int:
    return ticket_pb2.TicketChannel.Value(f"TICKET_CHANNEL_{channel.name}")


def _duration_to_proto(value: timedelta) -> Duration:
    return Duration(seconds=int(value.total_seconds()))


def _timestamp(value: datetime) -> Timestamp:
    timestamp = Timestamp()
    timestamp.FromDatetime(value)
    return timestamp
