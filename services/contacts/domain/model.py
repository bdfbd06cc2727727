"""People as the contacts service understands them: plain data and rules."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from crm_common.errors import Violations
from crm_contacts.domain.contact_points import (
    NAME_MAX,
    TEXT_MAX,
    ContactPointType,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
    SocialHandle,
    check_id,
    check_length,
    normalise_contact_points,
)

__all__ = [
    "ContactPointType",
    "EmailAddress",
    "Person",
    "PersonDetails",
    "PhoneNumber",
    "PostalAddress",
    "SocialHandle",
]


@dataclass(frozen=True)
class PersonDetails:
    """The writable part of a person, as a create or an update supplies it."""

    given_name: str = ""
    family_name: str = ""
    email_addresses: tuple[EmailAddress, ...] = ()
    phone_numbers: tuple[PhoneNumber, ...] = ()
    addresses: tuple[PostalAddress, ...] = ()
    job_title: str = ""
    owner: str = ""
    background: str = ""
    social_handles: tuple[SocialHandle, ...] = ()
    tags: tuple[str, ...] = ()


WRITABLE_FIELDS = tuple(PersonDetails.__dataclass_fields__)


@dataclass
class Person:
    id: str
    details: PersonDetails
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def display_name(self) -> str:
        return " ".join(n for n in (self.details.given_name, self.details.family_name) if n)

    @classmethod
    def create(cls, person_id: str, details: PersonDetails, now: datetime) -> "Person":
        violations = Violations()
        check_id(violations, "person_id", person_id)
        details = normalise(details, violations, prefix="person")
        violations.raise_if_any()
        return cls(id=person_id, details=details, create_time=now, update_time=now)

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        """Applies the changed fields; returns the names of those that really changed."""
        violations = Violations()
        merged = normalise(replace(self.details, **changes), violations, prefix="person")
        violations.raise_if_any()
        changed = [name for name in changes if getattr(merged, name) != getattr(self.details, name)]
        if changed:
            self.details = merged
            self.update_time = now
            self.version += 1
        return changed

    @property
    def normalised_emails(self) -> list[str]:
        return [email.address for email in self.details.email_addresses]


def normalise(details: PersonDetails, violations: Violations, prefix: str) -> PersonDetails:
    """Validates every field, collecting all violations, and returns canonical values."""
    given, family = details.given_name.strip(), details.family_name.strip()
    if not given and not family:
        violations.add(f"{prefix}.given_name", "a person needs a given or a family name")
    for name, value in (
        ("given_name", given),
        ("family_name", family),
        ("job_title", details.job_title),
    ):
        check_length(violations, f"{prefix}.{name}", value, NAME_MAX)
    check_length(violations, f"{prefix}.owner", details.owner, NAME_MAX)
    check_length(violations, f"{prefix}.background", details.background, TEXT_MAX)
    return replace(
        details,
        given_name=given,
        family_name=family,
        job_title=details.job_title.strip(),
        owner=details.owner.strip(),
        **normalise_contact_points(details, violations, prefix),
    )
