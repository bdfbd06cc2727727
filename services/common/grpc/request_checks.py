"""Checks every request gets before its handler, whatever the service.

PostgreSQL cannot store NUL in text, and no field of ours has a use for it:
refusing it here, with the field's path, keeps it from surfacing later as
a database error.

The size limits are a backstop under each service's own, tighter, per-field
limits: no text field of the suite allows more than MAX_STRING_CHARS, no list
more than MAX_REPEATED_ITEMS, no page more than MAX_PAGE_SIZE. Checked here
first, an oversize value is refused by its path even when the handler would
have stopped earlier at another mistake, and never reaches a handler's loops
or the database. Bytes fields (raw email, CSV data) are bounded by the
message size alone.
"""

from collections.abc import Iterator

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from crm_common.errors import FieldViolation, InvalidArgument
from crm_common.pagination import MAX_PAGE_SIZE

# The longest text any field takes (a note's or a comment's body).
MAX_STRING_CHARS = 100_000
MAX_REPEATED_ITEMS = 10_000


def check_request(request: object) -> None:
    if isinstance(request, Message):
        violations = list(_violations(request, ""))
        if violations:
            raise InvalidArgument(violations)


def _violations(message: Message, prefix: str) -> Iterator[FieldViolation]:
    for field, value in message.ListFields():
        path = f"{prefix}{field.name}"
        if field.is_repeated and len(value) > MAX_REPEATED_ITEMS:
            yield FieldViolation(
                path, f"has {len(value)} items; at most {MAX_REPEATED_ITEMS} are allowed"
            )
        elif field.message_type is not None and field.message_type.GetOptions().map_entry:
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
        if isinstance(key, str):
            if "\x00" in key:
                yield FieldViolation(path, "contains a NUL character in a key")
            if len(key) > MAX_STRING_CHARS:
                yield FieldViolation(path, f"has a key over {MAX_STRING_CHARS} characters")
        yield from _in_value(value_field, item, entry_path)


def _in_value(field: FieldDescriptor, value: object, path: str) -> Iterator[FieldViolation]:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        yield from _violations(value, f"{path}.")  # type: ignore[arg-type]
    elif field.type == FieldDescriptor.TYPE_STRING:
        text: str = value  # type: ignore[assignment]
        if len(text) > MAX_STRING_CHARS:
            yield FieldViolation(
                path, f"is {len(text)} characters long; at most {MAX_STRING_CHARS} are allowed"
            )
        elif "\x00" in text:
            yield FieldViolation(path, "contains a NUL character")
    elif field.name == "page_size" and not 0 <= value <= MAX_PAGE_SIZE:  # type: ignore[operator]
        yield FieldViolation(path, f"must be between 0 and {MAX_PAGE_SIZE}")
