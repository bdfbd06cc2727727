"""Translation between the contract's custom fields and the domain."""

from collections.abc import Mapping

from google.type import date_pb2

from crm.contacts.v1 import custom_field_pb2 as pb
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_contacts.domain.custom_fields import (
    ContactKind,
    CustomFieldDefinition,
    CustomValue,
    DefinitionSpec,
    FieldType,
)

RESOURCE_PREFIX = "customFieldDefinitions/"

_TYPE_TO_PROTO = {
    FieldType.TEXT: pb.CUSTOM_FIELD_TYPE_TEXT,
    FieldType.NUMBER: pb.CUSTOM_FIELD_TYPE_NUMBER,
    FieldType.DATE: pb.CUSTOM_FIELD_TYPE_DATE,
    FieldType.BOOLEAN: pb.CUSTOM_FIELD_TYPE_BOOLEAN,
    FieldType.SINGLE_SELECT: pb.CUSTOM_FIELD_TYPE_SINGLE_SELECT,
    FieldType.URL: pb.CUSTOM_FIELD_TYPE_URL,
}
_TYPE_FROM_PROTO = {number: field_type for field_type, number in _TYPE_TO_PROTO.items()}

_KIND_TO_PROTO = {
    ContactKind.PERSON: pb.CONTACT_KIND_PERSON,
    ContactKind.ORGANIZATION: pb.CONTACT_KIND_ORGANIZATION,
}
_KIND_FROM_PROTO = {number: kind for kind, number in _KIND_TO_PROTO.items()}

# The oneof case of CustomFieldValue that carries each type.
_CASE = {field_type: f"{field_type.value}_value" for field_type in FieldType}
_TYPE_OF_CASE = {case: field_type for field_type, case in _CASE.items()}


def kind_from_proto(number: int) -> ContactKind | None:
    """The kind a ContactKind number stands for; None when unspecified or unknown."""
    return _KIND_FROM_PROTO.get(number)


def definition_id_from_name(name: str, field: str = "name") -> str:
    return require_id(
        name, RESOURCE_PREFIX, field, "a definition name like customFieldDefinitions/region"
    )


def spec_field(message: pb.CustomFieldDefinition, field: str) -> object:
    """One writable field of the message in domain form."""
    match field:
        case "type":
            # Unknown or unspecified types become None, which the domain rejects.
            return _TYPE_FROM_PROTO.get(message.type)
        case "options":
            return tuple(message.options)
        case "applies_to":
            return tuple(_KIND_FROM_PROTO.get(kind) for kind in message.applies_to)
    return getattr(message, field)


def spec_from_proto(message: pb.CustomFieldDefinition) -> DefinitionSpec:
    return DefinitionSpec(
        **{name: spec_field(message, name) for name in DefinitionSpec.__dataclass_fields__}
    )


def definition_to_proto(definition: CustomFieldDefinition) -> pb.CustomFieldDefinition:
    spec = definition.spec
    message = pb.CustomFieldDefinition(
        name=RESOURCE_PREFIX + definition.id,
        display_name=spec.display_name,
        type=_TYPE_TO_PROTO[definition.type],
        options=spec.options,
        applies_to=[_KIND_TO_PROTO[kind] for kind in spec.applies_to if kind is not None],
        description=spec.description,
        etag=etag_for(definition.version),
    )
    message.create_time.FromDatetime(definition.create_time)
    message.update_time.FromDatetime(definition.update_time)
    return message


def custom_values_from_proto(values: Mapping[str, pb.CustomFieldValue]) -> dict[str, CustomValue]:
    return {key: _value_from_proto(value) for key, value in values.items()}


def _value_from_proto(value: pb.CustomFieldValue) -> CustomValue:
    case = value.WhichOneof("value")
    if case is None:
        return CustomValue(None, "")
    field_type = _TYPE_OF_CASE[case]
    if field_type is FieldType.DATE:
        day = value.date_value
        # As text, so the domain reports an impossible date like any bad value.
        return CustomValue(field_type, f"{day.year:04d}-{day.month:02d}-{day.day:02d}")
    return CustomValue(field_type, getattr(value, case))


def custom_values_to_proto(values: Mapping[str, CustomValue]) -> dict[str, pb.CustomFieldValue]:
    return {key: _value_to_proto(value) for key, value in values.items()}


def _value_to_proto(value: CustomValue) -> pb.CustomFieldValue:
    assert value.type is not None, "only normalised values are sent"
    raw = value.value
    if value.type is FieldType.DATE:
        assert not isinstance(raw, str | bool | float)
        return pb.CustomFieldValue(
            date_value=date_pb2.Date(year=raw.year, month=raw.month, day=raw.day)
        )
    return pb.CustomFieldValue(**{_CASE[value.type]: raw})
