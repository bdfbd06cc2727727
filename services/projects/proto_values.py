"""Conversions of the contract's scalar types that every resource here uses."""

from datetime import UTC, date, datetime
from enum import IntEnum
from typing import TypeVar

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from google.protobuf.timestamp_pb2 import Timestamp
from google.type.date_pb2 import Date

from crm_common.errors import InvalidArgument

E = TypeVar("E", bound=IntEnum)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(value: datetime) -> Timestamp:
    # By arithmetic rather than FromDatetime, which goes through a time tuple:
    # a board turns hundreds of due times into timestamps per call.
    if value.tzinfo is None:
        result = Timestamp()
        result.FromDatetime(value)
        return result
    since = value - _EPOCH
    return Timestamp(seconds=since.days * 86_400 + since.seconds, nanos=since.microseconds * 1_000)


def optional_timestamp(value: datetime | None) -> Timestamp | None:
    return timestamp(value) if value is not None else None


def time_from_proto(value: Timestamp, path: str) -> datetime:
    try:
        return value.ToDatetime(tzinfo=UTC)
    except (ValueError, OverflowError) as error:
        raise InvalidArgument.single(path, "is not a valid timestamp") from error


def date_to_proto(value: date | None) -> Date | None:
    return Date(year=value.year, month=value.month, day=value.day) if value else None


def date_from_proto(value: Date, path: str) -> date | None:
    """A full calendar date; all zeros (unset) is none. Partial dates are refused."""
    if (value.year, value.month, value.day) == (0, 0, 0):
        return None
    try:
        return date(value.year, value.month, value.day)
    except ValueError as error:
        raise InvalidArgument.single(path, "is not a full, valid calendar date") from error


def enum_from_proto(
    value: int, proto_enum: EnumTypeWrapper, prefix: str, domain: type[E], path: str, default: E
) -> E:
    """The domain value of a contract enum; unspecified is `default` (on create;
    updates pass their own rule)."""
    if value == 0:
        return default
    try:
        name = proto_enum.Name(value).removeprefix(prefix)
    except ValueError as error:
        raise InvalidArgument.single(path, f"{value} is not a known value") from error
    return domain[name]


def enum_to_proto(value: IntEnum, proto_enum: EnumTypeWrapper, prefix: str) -> int:
    return int(proto_enum.Value(prefix + value.name))


def enum_numbers(domain: type[E], proto_enum: EnumTypeWrapper, prefix: str) -> dict[E, int]:
    """Each domain value's contract number, for converting many at once."""
    return {value: enum_to_proto(value, proto_enum, prefix) for value in domain}
