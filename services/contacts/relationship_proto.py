"""Translation between the contract's relationships and the domain."""

from datetime import date

from google.type import date_pb2

from crm.contacts.v1 import custom_field_pb2, relationship_pb2
from crm_common.errors import Violations
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.relationships import (
    RELATIONSHIP_PREFIX,
    DateParts,
    RecordRef,
    Relationship,
    RelationshipDraft,
    RelationshipType,
    RelationshipTypeDraft,
    parse_record,
)

_KIND_TO_PROTO = {
    ContactKind.PERSON: custom_field_pb2.CONTACT_KIND_PERSON,
    ContactKind.ORGANIZATION: custom_field_pb2.CONTACT_KIND_ORGANIZATION,
}
_KIND_FROM_PROTO = {number: kind for kind, number in _KIND_TO_PROTO.items()}


def relationship_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, RELATIONSHIP_PREFIX, field, f"like {RELATIONSHIP_PREFIX}123")


def record_from_name(name: str, field: str) -> RecordRef:
    violations = Violations()
    record = parse_record(violations, field, name)
    violations.raise_if_any()
    assert record is not None
    return record


def relationship_type_draft_from_proto(
    message: relationship_pb2.RelationshipType, type_id: str
) -> RelationshipTypeDraft:
    return RelationshipTypeDraft(
        id=type_id,
        display_name=message.display_name,
        inverse_display_name=message.inverse_display_name,
        # Unspecified, or a kind this server does not know: the domain says "required".
        from_kind=_KIND_FROM_PROTO.get(message.from_kind),
        to_kind=_KIND_FROM_PROTO.get(message.to_kind),
    )


def relationship_type_to_proto(
    relationship_type: RelationshipType,
) -> relationship_pb2.RelationshipType:
    message = relationship_pb2.RelationshipType(
        name=relationship_type.name,
        display_name=relationship_type.display_name,
        inverse_display_name=relationship_type.inverse_display_name,
        from_kind=_KIND_TO_PROTO[relationship_type.from_kind],
        to_kind=_KIND_TO_PROTO[relationship_type.to_kind],
        etag=etag_for(relationship_type.version),
    )
    message.create_time.FromDatetime(relationship_type.create_time)
    return message


def relationship_draft_from_proto(message: relationship_pb2.Relationship) -> RelationshipDraft:
    return RelationshipDraft(
        type=message.type,
        from_=getattr(message, "from"),  # `from` is a Python keyword
        to=message.to,
        role=message.role,
        start_date=relationship_field(message, "start_date"),
        end_date=relationship_field(message, "end_date"),
    )


def relationship_field(message: relationship_pb2.Relationship, field: str) -> object:
    """One updatable field in domain form: dates as (year, month, day) or None."""
    if field in ("start_date", "end_date"):
        return _date_parts(getattr(message, field)) if message.HasField(field) else None
    return getattr(message, field)


def _date_parts(value: date_pb2.Date) -> DateParts | None:
    parts = (value.year, value.month, value.day)
    # An all-zero Date is the message's default: no date, as when it is unset.
    return None if parts == (0, 0, 0) else parts


def relationship_to_proto(relationship: Relationship, today: date) -> relationship_pb2.Relationship:
    details = relationship.details
    message = relationship_pb2.Relationship(
        name=relationship.name,
        type=relationship.type_name,
        to=relationship.to.name,
        role=details.role,
        current=relationship.is_current(today),
        etag=etag_for(relationship.version),
        **{"from": relationship.from_.name},
    )
    for field, value in (("start_date", details.start_date), ("end_date", details.end_date)):
        if value is not None:
            getattr(message, field).CopyFrom(
                date_pb2.Date(year=value.year, month=value.month, day=value.day)
            )
    message.create_time.FromDatetime(relationship.create_time)
    message.update_time.FromDatetime(relationship.update_time)
    return message
