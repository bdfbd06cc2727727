"""Organizations: plain data and rules."""

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from crm_common.errors import Violations
from crm_contacts.domain.contact_points import (
    NAME_MAX,
    TEXT_MAX,
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

DOMAINS_MAX = 20
_DOMAIN = re.compile(r"(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}")


@dataclass(frozen=True)
class OrganizationDetails:
    """The writable part of an organization."""

    display_name: str = ""
    domains: tuple[str, ...] = ()
    email_addresses: tuple[EmailAddress, ...] = ()
    phone_numbers: tuple[PhoneNumber, ...] = ()
    addresses: tuple[PostalAddress, ...] = ()
    website: str = ""
    industry: str = ""
    owner: str = ""
    background: str = ""
    social_handles: tuple[SocialHandle, ...] = ()
    tags: tuple[str, ...] = ()
    # Keyed by definition id; checked against the definitions on every write.
    custom_fields: Mapping[str, CustomValue] = field(default_factory=dict)


WRITABLE_FIELDS = tuple(OrganizationDetails.__dataclass_fields__)


@dataclass
class Organization:
    id: str
    details: OrganizationDetails
    create_time: datetime
    update_time: datetime
    version: int = 1

    @classmethod
    def create(
        cls,
        organization_id: str,
        details: OrganizationDetails,
        now: datetime,
        definitions: Definitions = NO_DEFINITIONS,
    ) -> "Organization":
        """`definitions` must hold those of the custom fields `details` sets."""
        violations = Violations()
        check_id(violations, "organization_id", organization_id)
        details = normalise(details, violations)
        details = with_custom_values(details, definitions, ContactKind.ORGANIZATION, violations)
        violations.raise_if_any()
        return cls(id=organization_id, details=details, create_time=now, update_time=now)

    def update(
        self, changes: dict[str, Any], now: datetime, definitions: Definitions = NO_DEFINITIONS
    ) -> list[str]:
        """Applies the changed fields; returns the names of those that really changed.

        Custom fields are checked only when they change, as for people (see
        `Person.update`).
        """
        violations = Violations()
        merged = normalise(replace(self.details, **changes), violations)
        if "custom_fields" in changes:
            merged = with_custom_values(merged, definitions, ContactKind.ORGANIZATION, violations)
        violations.raise_if_any()
        changed = [name for name in changes if getattr(merged, name) != getattr(self.details, name)]
        if changed:
            self.details = merged
            self.update_time = now
            self.version += 1
        return changed


def normalise(details: OrganizationDetails, violations: Violations) -> OrganizationDetails:
    prefix = "organization"
    display_name = details.display_name.strip()
    if not display_name:
        violations.add(f"{prefix}.display_name", "is required")
    for name, value, limit in (
        ("display_name", display_name, NAME_MAX),
        ("industry", details.industry, NAME_MAX),
        ("owner", details.owner, NAME_MAX),
        ("background", details.background, TEXT_MAX),
    ):
        check_length(violations, f"{prefix}.{name}", value, limit)
    website = details.website.strip()
    if website and not _is_web_url(website):
        violations.add(f"{prefix}.website", f"{website!r} is not an http(s) URL")
    points = normalise_contact_points(details, violations, prefix)
    return replace(
        details,
        display_name=display_name,
        website=website,
        industry=details.industry.strip(),
        owner=details.owner.strip(),
        domains=_domains(details.domains, violations, f"{prefix}.domains"),
        **points,
    )


def _domains(domains: tuple[str, ...], violations: Violations, path: str) -> tuple[str, ...]:
    if len(domains) > DOMAINS_MAX:
        violations.add(path, f"has more than {DOMAINS_MAX} entries")
    result: dict[str, None] = {}
    for index, domain in enumerate(domains):
        clean = normalise_domain(domain)
        if not _DOMAIN.fullmatch(clean):
            violations.add(f"{path}[{index}]", f"{domain!r} is not a domain name like example.com")
        elif clean in result:
            violations.add(f"{path}[{index}]", f"{clean} is listed twice")
        result[clean] = None
    return tuple(result)


def normalise_domain(domain: str) -> str:
    """`WWW.Example.com ` is example.com: how domains are stored and matched."""
    return domain.strip().lower().removeprefix("www.")


def _is_web_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)
