"""Contact points as JSON columns, shared by the people and organizations tables."""

from typing import Any

from crm_contacts.domain.contact_points import (
    ContactPointType,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
    SocialHandle,
)

CONTACT_POINT_COLUMNS = ("email_addresses", "phone_numbers", "addresses", "social_handles", "tags")


def contact_points_to_columns(details: Any) -> dict[str, Any]:
    return {name: _plain(getattr(details, name)) for name in CONTACT_POINT_COLUMNS}


def contact_points_from_row(row: Any) -> dict[str, Any]:
    return {
        "email_addresses": tuple(
            EmailAddress(e["address"], ContactPointType(e["type"])) for e in row.email_addresses
        ),
        "phone_numbers": tuple(
            PhoneNumber(p["number"], ContactPointType(p["type"])) for p in row.phone_numbers
        ),
        "addresses": tuple(
            PostalAddress(
                **{
                    **a,
                    "street_lines": tuple(a["street_lines"]),
                    "type": ContactPointType(a["type"]),
                }
            )
            for a in row.addresses
        ),
        "social_handles": tuple(SocialHandle(**s) for s in row.social_handles),
        "tags": tuple(row.tags),
    }


def _plain(values: tuple[Any, ...]) -> list[Any]:
    # One level deep is enough (their fields are text, enums and tuples of
    # text, which JSON takes as they are) and much cheaper than asdict's deep
    # copy. A contact point is a frozen dataclass without slots, so its
    # __dict__ holds exactly its fields, in order; tags are plain text.
    return [value if isinstance(value, str) else dict(vars(value)) for value in values]
