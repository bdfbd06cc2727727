"""Emails, phones, addresses, social handles and tags: what people and
organizations share, with the rules that normalise them."""

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, Protocol

from crm_common.errors import Violations

# Shared with support; re-exported here for the contacts modules that use them.
from crm_common.validation import (  # noqa: F401
    TAG_MAX,
    TAGS_MAX,
    check_count,
    check_id,
    check_length,
    is_email_address,
    normalise_email,
    normalise_tags,
)

NAME_MAX = 200
TEXT_MAX = 10_000
CONTACT_POINTS_MAX = 20

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


class HasContactPoints(Protocol):
    email_addresses: tuple[EmailAddress, ...]
    phone_numbers: tuple[PhoneNumber, ...]
    addresses: tuple[PostalAddress, ...]
    social_handles: tuple[SocialHandle, ...]
    tags: tuple[str, ...]


def normalise_contact_points(
    details: HasContactPoints, violations: Violations, prefix: str
) -> dict[str, Any]:
    """Canonical contact points and tags, as keyword arguments for `replace`."""
    return {
        "email_addresses": _emails(
            details.email_addresses, violations, f"{prefix}.email_addresses"
        ),
        "phone_numbers": _phones(details.phone_numbers, violations, f"{prefix}.phone_numbers"),
        "addresses": _addresses(details.addresses, violations, f"{prefix}.addresses"),
        "social_handles": _socials(details.social_handles, violations, f"{prefix}.social_handles"),
        "tags": normalise_tags(details.tags, violations, f"{prefix}.tags"),
    }


def _emails(
    emails: tuple[EmailAddress, ...], violations: Violations, path: str
) -> tuple[EmailAddress, ...]:
    check_count(violations, path, emails, CONTACT_POINTS_MAX)
    result: list[EmailAddress] = []
    seen: set[str] = set()
    for index, email in enumerate(emails):
        address = normalise_email(email.address)
        if not is_email_address(address):
            violations.add(f"{path}[{index}].address", f"{email.address!r} is not an email address")
        elif address in seen:
            violations.add(f"{path}[{index}].address", f"{address} is listed twice")
        seen.add(address)
        result.append(EmailAddress(address, email.type))
    return tuple(result)


def _phones(
    phones: tuple[PhoneNumber, ...], violations: Violations, path: str
) -> tuple[PhoneNumber, ...]:
    check_count(violations, path, phones, CONTACT_POINTS_MAX)
    result = []
    for index, phone in enumerate(phones):
        number = phone.number.strip()
        if not _PHONE.fullmatch(number) or sum(map(str.isdigit, number)) < 3:
            violations.add(f"{path}[{index}].number", f"{phone.number!r} is not a phone number")
        result.append(PhoneNumber(number, phone.type))
    return tuple(result)


def _addresses(
    addresses: tuple[PostalAddress, ...], violations: Violations, path: str
) -> tuple[PostalAddress, ...]:
    check_count(violations, path, addresses, CONTACT_POINTS_MAX)
    result = []
    for index, address in enumerate(addresses):
        country = address.country_code.strip().upper()
        if country and not _COUNTRY.fullmatch(country):
            violations.add(f"{path}[{index}].country_code", "must be an ISO 3166-1 alpha-2 code")
        lines = tuple(line.strip() for line in address.street_lines if line.strip())
        for line_index, line in enumerate(lines):
            check_length(violations, f"{path}[{index}].street_lines[{line_index}]", line, NAME_MAX)
        for name in ("city", "region", "postal_code"):
            check_length(violations, f"{path}[{index}].{name}", getattr(address, name), NAME_MAX)
        result.append(replace(address, street_lines=lines, country_code=country))
    return tuple(result)


def _socials(
    handles: tuple[SocialHandle, ...], violations: Violations, path: str
) -> tuple[SocialHandle, ...]:
    check_count(violations, path, handles, CONTACT_POINTS_MAX)
    result = []
    for index, social in enumerate(handles):
        network, handle = social.network.strip().lower(), social.handle.strip()
        if not network:
            violations.add(f"{path}[{index}].network", "is required")
        if not handle:
            violations.add(f"{path}[{index}].handle", "is required")
        check_length(violations, f"{path}[{index}].handle", handle, NAME_MAX)
        result.append(SocialHandle(network, handle))
    return tuple(result)
