"""Checks every request gets before its handler, whatever the service.

PostgreSQL cannot store NUL in text, and no field of ours has a use for it:
refusing it here, with the field's path, keeps it from surfacing later as
a database error.
"""

from collections.abc import Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from crm_common.errors import FieldViolation, InvalidArgument


def check_request(request: object) -> None:
    if isinstance(request, Message):
        violations = list(_nul_characters(request, ""))
        if violations:
            raise InvalidArgument(violations)


def _nul_characters(message: Message, prefix: str) -> Iterator[FieldViolation]:
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.message_type is not None and field.message_type.GetOptions().map_entry:
            yield from _in_map(field, value, path)
        elif field.is_repeated:
            for index, item in enumerate(value):
                yield from _in_value(field, item, f"{path}[{index}]")
        else:
            yield from _in_value(field, value, path)


def _in_map(field: FieldDescriptor, entries: object, path: str) -> Iterator[FieldViolation]:
    value_field = field.message_type.fields_by_name["value"]
    for key, item in entries.items():  # type: ignore[attr-defined]
        entry_path = f"{path}[{key!r}]"
        if isinstance(key, str) and "\x00" in key:
            yield FieldViolation(path, "contains a NUL character in a key")
        yield from _in_value(value_field, item, entry_path)


def _in_value(field: FieldDescriptor, value: object, path: str) -> Iterator[FieldViolation]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        yield from _nul_characters(value, f"{path}.")  # type: ignore[arg-type]
    elif field.type == FieldDescriptor.TYPE_STRING and "\x00" in value:  # type: ignore[operator]
        yield FieldViolation(path, "contains a NUL character")
