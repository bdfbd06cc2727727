"""Translation between the contract (`crm.contacts.v1`) and the domain."""

from typing import Any

from crm.contacts.v1 import person_pb2
from crm_common.etags import etag_for
from crm_common.resources import require_id
from crm_contacts.custom_field_proto import custom_values_from_proto, custom_values_to_proto
from crm_contacts.domain.model import (
    ContactPointType,
    EmailAddress,
    Person,
    PersonDetails,
    PhoneNumber,
    PostalAddress,
    SocialHandle,
)

RESOURCE_PREFIX = "people/"
CONTACT_POINT_FIELDS = frozenset(
    ("email_addresses", "phone_numbers", "addresses", "social_handles", "tags")
)

_TYPE_TO_PROTO = {
    ContactPointType.WORK: person_pb2.CONTACT_POINT_TYPE_WORK,
    ContactPointType.HOME: person_pb2.CONTACT_POINT_TYPE_HOME,
    ContactPointType.MOBILE: person_pb2.CONTACT_POINT_TYPE_MOBILE,
    ContactPointType.OTHER: person_pb2.CONTACT_POINT_TYPE_OTHER,
}
_TYPE_FROM_PROTO = {number: kind for kind, number in _TYPE_TO_PROTO.items()} | {
    person_pb2.CONTACT_POINT_TYPE_UNSPECIFIED: ContactPointType.OTHER
}


def person_id_from_name(name: str, field: str = "name") -> str:
    return require_id(name, RESOURCE_PREFIX, field, "a person name like people/123")


def _point_type(value: int) -> ContactPointType:
    # An enum number from a newer client falls back to OTHER rather than failing.
    return _TYPE_FROM_PROTO.get(value, ContactPointType.OTHER)


def details_field(message: Any, field: str) -> object:
    """One writable field of a Person or Organization message in domain form."""
    if field in CONTACT_POINT_FIELDS:
        return contact_points_field(message, field)
    if field == "custom_fields":
        return custom_values_from_proto(message.custom_fields)
    return getattr(message, field)


def contact_points_field(message: Any, field: str) -> tuple[object, ...]:
    match field:
        case "email_addresses":
            return tuple(
                EmailAddress(e.address, _point_type(e.type)) for e in message.email_addresses
            )
        case "phone_numbers":
            return tuple(PhoneNumber(p.number, _point_type(p.type)) for p in message.phone_numbers)
        case "addresses":
            return tuple(
                PostalAddress(
                    street_lines=tuple(a.street_lines),
                    city=a.city,
                    region=a.region,
                    postal_code=a.postal_code,
                    country_code=a.country_code,
                    type=_point_type(a.type),
                )
                for a in message.addresses
            )
        case "social_handles":
            return tuple(SocialHandle(s.network, s.handle) for s in message.social_handles)
        case "tags":
            return tuple(message.tags)
    raise KeyError(field)


def contact_points_to_proto(details: Any) -> dict[str, Any]:
    """Keyword arguments for a Person or Organization message."""
    return {
        "email_addresses": [
            person_pb2.EmailAddress(address=e.address, type=_TYPE_TO_PROTO[e.type])
            for e in details.email_addresses
        ],
        "phone_numbers": [
            person_pb2.PhoneNumber(number=p.number, type=_TYPE_TO_PROTO[p.type])
            for p in details.phone_numbers
        ],
        "addresses": [
            person_pb2.PostalAddress(
                street_lines=a.street_lines,
                city=a.city,
                region=a.region,
                postal_code=a.postal_code,
                country_code=a.country_code,
                type=_TYPE_TO_PROTO[a.type],
            )
            for a in details.addresses
        ],
        "social_handles": [
            person_pb2.SocialHandle(network=s.network, handle=s.handle)
            for s in details.social_handles
        ],
        "tags": details.tags,
    }


def details_from_proto(message: person_pb2.Person) -> PersonDetails:
    return PersonDetails(
        **{name: details_field(message, name) for name in PersonDetails.__dataclass_fields__}
    )


def person_to_proto(person: Person) -> person_pb2.Person:
    details = person.details
    message = person_pb2.Person(
        name=RESOURCE_PREFIX + person.id,
        given_name=details.given_name,
        family_name=details.family_name,
        display_name=person.display_name,
        job_title=details.job_title,
        owner=details.owner,
        background=details.background,
        etag=etag_for(person.version),
        custom_fields=custom_values_to_proto(details.custom_fields),
        erased=person.erased,
        **contact_points_to_proto(details),
    )
    message.create_time.FromDatetime(person.create_time)
    message.update_time.FromDatetime(person.update_time)
    return message
