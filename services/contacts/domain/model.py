"""People as the contacts service understands them: plain data and rules."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
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
from crm_contacts.domain.custom_fields import (
    NO_DEFINITIONS,
    ContactKind,
    CustomValue,
    Definitions,
    with_custom_values,
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
    # Keyed by definition id; checked against the definitions on every write.
    custom_fields: Mapping[str, CustomValue] = field(default_factory=dict)


WRITABLE_FIELDS = tuple(PersonDetails.__dataclass_fields__)


@dataclass
class Person:
    id: str
    details: PersonDetails
    create_time: datetime
    update_time: datetime
    version: int = 1
    # An erased person is a tombstone: no personal data, and no more changes.
    erased: bool = False

    @property
    def display_name(self) -> str:
        return " ".join(n for n in (self.details.given_name, self.details.family_name) if n)

    @classmethod
    def create(
        cls,
        person_id: str,
        details: PersonDetails,
        now: datetime,
        definitions: Definitions = NO_DEFINITIONS,
    ) -> "Person":
        """`definitions` must hold those of the custom fields `details` sets."""
        violations = Violations()
        check_id(violations, "person_id", person_id)
        details = normalise(details, violations, prefix="person")
        details = with_custom_values(details, definitions, ContactKind.PERSON, violations)
        violations.raise_if_any()
        return cls(id=person_id, details=details, create_time=now, update_time=now)

    def update(
        self, changes: dict[str, Any], now: datetime, definitions: Definitions = NO_DEFINITIONS
    ) -> list[str]:
        """Applies the changed fields; returns the names of those that really changed.

        Custom fields are checked only when they change: the values kept
        were valid when written and definitions cannot invalidate them since
        (types are immutable, options and definitions in use stay).
        """
        violations = Violations()
        merged = normalise(replace(self.details, **changes), violations, prefix="person")
        if "custom_fields" in changes:
            merged = with_custom_values(merged, definitions, ContactKind.PERSON, violations)
        violations.raise_if_any()
        changed = [name for name in changes if getattr(merged, name) != getattr(self.details, name)]
        if changed:
            self.details = merged
            self.update_time = now
            self.version += 1
        return changed

    def touch(self, now: datetime) -> None:
        """Records a change outside the details, such as the links a merge moved here."""
        self.update_time = now
        self.version += 1

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
