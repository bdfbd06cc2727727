"""People as the contacts service understands them: plain data and rules."""

import re
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from crm_common.errors import InvalidArgument, Violations

NAME_MAX = 200
TEXT_MAX = 10_000
TAG_MAX = 64
TAGS_MAX = 50
CONTACT_POINTS_MAX = 20

_PERSON_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")
_PHONE = re.compile(r"\+?[0-9 ()\-.]{3,40}")
_COUNTRY = re.compile(r"[A-Z]{2}")


class ContactPointType(StrEnum):
    WORK = "work"
    HOME = "home"
    MOBILE = "mobile"
    OTHER = "other"


@dataclass(frozen=True)
class EmailAddress:
    address: str
    type: ContactPointType = ContactPointType.OTHER


@dataclass(frozen=True)
class PhoneNumber:
    number: str
    type: ContactPointType = ContactPointType.OTHER


@dataclass(frozen=True)
class PostalAddress:
    street_lines: tuple[str, ...] = ()
    city: str = ""
    region: str = ""
    postal_code: str = ""
    country_code: str = ""
    type: ContactPointType = ContactPointType.OTHER


@dataclass(frozen=True)
class SocialHandle:
    network: str
    handle: str


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
        if not _PERSON_ID.fullmatch(person_id):
            violations.add("person_id", "must be 1-63 of a-z, 0-9 and '-', starting alphanumeric")
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
        _check_length(violations, f"{prefix}.{name}", value, NAME_MAX)
    _check_length(violations, f"{prefix}.owner", details.owner, NAME_MAX)
    _check_length(violations, f"{prefix}.background", details.background, TEXT_MAX)
    return replace(
        details,
        given_name=given,
        family_name=family,
        job_title=details.job_title.strip(),
        owner=details.owner.strip(),
        email_addresses=_emails(details.email_addresses, violations, f"{prefix}.email_addresses"),
        phone_numbers=_phones(details.phone_numbers, violations, f"{prefix}.phone_numbers"),
        addresses=_addresses(details.addresses, violations, f"{prefix}.addresses"),
        social_handles=_socials(details.social_handles, violations, f"{prefix}.social_handles"),
        tags=normalise_tags(details.tags, violations, f"{prefix}.tags"),
    )


def normalise_email(address: str) -> str:
    """Trimmed and lower-cased: mail systems treat addresses case-insensitively in practice."""
    return address.strip().lower()


def _emails(
    emails: tuple[EmailAddress, ...], violations: Violations, path: str
) -> tuple[EmailAddress, ...]:
    _check_count(violations, path, emails, CONTACT_POINTS_MAX)
    result: list[EmailAddress] = []
    seen: set[str] = set()
    for index, email in enumerate(emails):
        address = normalise_email(email.address)
        if not _EMAIL.fullmatch(address) or len(address) > 254:
            violations.add(f"{path}[{index}].address", f"{email.address!r} is not an email address")
        elif address in seen:
            violations.add(f"{path}[{index}].address", f"{address} is listed twice")
        seen.add(address)
        result.append(EmailAddress(address, email.type))
    return tuple(result)


def _phones(
    phones: tuple[PhoneNumber, ...], violations: Violations, path: str
) -> tuple[PhoneNumber, ...]:
    _check_count(violations, path, phones, CONTACT_POINTS_MAX)
    result = []
    for index, phone in enumerate(phones):
        number = phone.number.strip()
        if not _PHONE.fullmatch(number) or sum(c.isdigit() for c in number) < 3:
            violations.add(f"{path}[{index}].number", f"{phone.number!r} is not a phone number")
        result.append(PhoneNumber(number, phone.type))
    return tuple(result)


def _addresses(
    addresses: tuple[PostalAddress, ...], violations: Violations, path: str
) -> tuple[PostalAddress, ...]:
    _check_count(violations, path, addresses, CONTACT_POINTS_MAX)
    result = []
    for index, address in enumerate(addresses):
        country = address.country_code.strip().upper()
        if country and not _COUNTRY.fullmatch(country):
            violations.add(f"{path}[{index}].country_code", "must be an ISO 3166-1 alpha-2 code")
        lines = tuple(line.strip() for line in address.street_lines if line.strip())
        for line_index, line in enumerate(lines):
            _check_length(violations, f"{path}[{index}].street_lines[{line_index}]", line, NAME_MAX)
        for name in ("city", "region", "postal_code"):
            _check_length(violations, f"{path}[{index}].{name}", getattr(address, name), NAME_MAX)
        result.append(replace(address, street_lines=lines, country_code=country))
    return tuple(result)


def _socials(
    handles: tuple[SocialHandle, ...], violations: Violations, path: str
) -> tuple[SocialHandle, ...]:
    _check_count(violations, path, handles, CONTACT_POINTS_MAX)
    result = []
    for index, social in enumerate(handles):
        network, handle = social.network.strip().lower(), social.handle.strip()
        if not network:
            violations.add(f"{path}[{index}].network", "is required")
        if not handle:
            violations.add(f"{path}[{index}].handle", "is required")
        _check_length(violations, f"{path}[{index}].handle", handle, NAME_MAX)
        result.append(SocialHandle(network, handle))
    return tuple(result)


def normalise_tags(tags: tuple[str, ...], violations: Violations, path: str) -> tuple[str, ...]:
    """Lower-cased, trimmed, de-duplicated, in first-seen order."""
    _check_count(violations, path, tags, TAGS_MAX)
    result: dict[str, None] = {}
    for index, tag in enumerate(tags):
        clean = tag.strip().lower()
        if not clean or len(clean) > TAG_MAX or "," in clean:
            violations.add(f"{path}[{index}]", f"tags are 1-{TAG_MAX} characters without commas")
        result[clean] = None
    return tuple(result)


def _check_length(violations: Violations, path: str, value: str, limit: int) -> None:
    if len(value) > limit:
        violations.add(path, f"is longer than {limit} characters")


def _check_count(violations: Violations, path: str, items: tuple[Any, ...], limit: int) -> None:
    if len(items) > limit:
        violations.add(path, f"has more than {limit} entries")


def reject_unknown_fields(changes: dict[str, Any]) -> None:
    unknown = set(changes) - set(WRITABLE_FIELDS)
    if unknown:
        raise InvalidArgument.single("update_mask", f"unknown fields: {', '.join(sorted(unknown))}")


# Re-exported for handlers that build details field by field.
__all__ = ["Person", "PersonDetails", "field"]
