"""Hypothesis strategies for any generated protobuf message.

Built from the message descriptor, so every request type of every service
can be fuzzed without hand-written strategies. Values lean towards what
breaks parsers and validators: empty and huge strings, unicode, names that
look almost right, enum numbers no client should send, deep nesting.
"""

from typing import Any

from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

_NASTY_STRINGS = st.sampled_from(
    [
        "",
        " ",
        "people/",
        "people/x/y",
        "organizations/ok",
        "customers/1",
        "*",
        "a" * 5000,
        "'; DROP TABLE people; --",
        '"',
        "tags:",
        "create_time > ",
        "\x00",
        "😀",
        "ADA@EXAMPLE.COM",
        "desc",
    ]
)
_STRINGS = st.one_of(_NASTY_STRINGS, st.text(max_size=40))
_MAX_DEPTH = 3


def messages(
    descriptor: Descriptor, message_class: type[Message], depth: int = 0
) -> st.SearchStrategy[Message]:
    """A strategy for instances of `message_class` with random fields set."""
    if depth > _MAX_DEPTH:
        return st.builds(message_class)
    field_strategies = {
        field.name: st.one_of(st.none(), _field_values(field, depth)) for field in descriptor.fields
    }
    return st.fixed_dictionaries(field_strategies).map(lambda values: _build(message_class, values))


def _build(message_class: type[Message], values: dict[str, Any]) -> Message:
    message = message_class()
    for name, value in values.items():
        if value is None:
            continue
        field = message.DESCRIPTOR.fields_by_name[name]
        if _is_map(field):
            target = getattr(message, name)
            for key, item in value.items():
                if isinstance(item, Message):
                    target[key].CopyFrom(item)
                else:
                    target[key] = item
        elif field.is_repeated:
            target = getattr(message, name)
            if field.type == FieldDescriptor.TYPE_MESSAGE:
                for item in value:
                    target.add().CopyFrom(item)
            else:
                target.extend(value)
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            getattr(message, name).CopyFrom(value)
        else:
            setattr(message, name, value)
    return message


def _field_values(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    if _is_map(field):
        value_field = field.message_type.fields_by_name["value"]
        return st.dictionaries(_STRINGS, _scalar_or_message(value_field, depth), max_size=3)
    single = _scalar_or_message(field, depth)
    if field.is_repeated:
        return st.lists(single, max_size=4)
    return single


def _scalar_or_message(field: FieldDescriptor, depth: int) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_MESSAGE:
        return messages(field.message_type, field.message_type._concrete_class, depth + 1)
    if kind == FieldDescriptor.TYPE_STRING:
        return _STRINGS
    if kind == FieldDescriptor.TYPE_BYTES:
        return st.binary(max_size=200)
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_ENUM:
        # Unknown numbers too: a newer client may send them.
        return st.integers(min_value=-1, max_value=len(field.enum_type.values) + 2)
    if kind in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        return st.floats(allow_nan=True, allow_infinity=True, width=32)
    if kind in (FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_FIXED32):
        return st.integers(min_value=0, max_value=2**32 - 1)
    if kind in (FieldDescriptor.TYPE_UINT64, FieldDescriptor.TYPE_FIXED64):
        return st.integers(min_value=0, max_value=2**64 - 1)
    if kind in (
        FieldDescriptor.TYPE_INT32,
        FieldDescriptor.TYPE_SINT32,
        FieldDescriptor.TYPE_SFIXED32,
    ):
        return st.integers(min_value=-(2**31), max_value=2**31 - 1)
    return st.integers(min_value=-(2**63), max_value=2**63 - 1)


def _is_map(field: FieldDescriptor) -> bool:
    return field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type.GetOptions().map_entry


def requests_for(message_class: type[Message]) -> st.SearchStrategy[Message]:
    return messages(message_class.DESCRIPTOR, message_class)
