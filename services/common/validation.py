"""Field rules more than one service applies: ids, lengths, counts, tags, emails.

Moved here from crm_contacts.domain.contact_points so that support validates
tickets by the same rules instead of a copy of them.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any, TypeVar

from crm_common.errors import Violations

T = TypeVar("T")

TAG_MAX = 64
TAGS_MAX = 50
EMAIL_MAX = 254
CUSTOM_FIELDS_MAX = 100
CUSTOM_VALUE_MAX = 1000
CUSTOM_FIELD_KEY = re.compile(r"[a-z][a-z0-9_]{0,62}")

_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)+")


def check_id(violations: Violations, field: str, value: str) -> None:
    if not _ID.fullmatch(value):
        violations.add(field, "must be 1-63 of a-z, 0-9 and '-', starting alphanumeric")


def check_length(violations: Violations, path: str, value: str, limit: int) -> None:
    if len(value) > limit:
        violations.add(path, f"is longer than {limit} characters")


def check_count(violations: Violations, path: str, items: tuple[Any, ...], limit: int) -> None:
    if len(items) > limit:
        violations.add(path, f"has more than {limit} entries")


def normalise_email(address: str) -> str:
    """Trimmed and lower-cased: mail systems treat addresses case-insensitively in practice."""
    return address.strip().lower()


def is_email_address(address: str) -> bool:
    """Whether a normalised address looks deliverable (`a@b.c`, at most 254 characters)."""
    return len(address) <= EMAIL_MAX and _EMAIL.fullmatch(address) is not None


def normalise_tags(tags: tuple[str, ...], violations: Violations, path: str) -> tuple[str, ...]:
    """Lower-cased, trimmed, de-duplicated, in first-seen order."""
    check_count(violations, path, tags, TAGS_MAX)
    result: dict[str, None] = {}
    for index, tag in enumerate(tags):
        clean = tag.strip().lower()
        if not clean or len(clean) > TAG_MAX or "," in clean:
            violations.add(f"{path}[{index}]", f"tags are 1-{TAG_MAX} characters without commas")
        result[clean] = None
    return tuple(result)


def normalise_custom_fields(
    values: Mapping[str, str], violations: Violations, path: str
) -> dict[str, str]:
    """Open-ended key/value fields (moved here from crm_support.domain.tickets for sales):
    keys `[a-z][a-z0-9_]{0,62}`, values up to 1000 characters, sorted by key."""
    check_count(violations, path, tuple(values), CUSTOM_FIELDS_MAX)
    for key, value in values.items():
        if not CUSTOM_FIELD_KEY.fullmatch(key):
            violations.add(f"{path}[{key!r}]", "keys are [a-z][a-z0-9_]{0,62}")
        check_length(violations, f"{path}[{key!r}]", value, CUSTOM_VALUE_MAX)
    return dict(sorted(values.items()))


def apply_changes(
    details: T, changes: dict[str, Any], normalise: Callable[[T, Violations], T]
) -> tuple[T, list[str]]:
    """`details` with `changes` applied and normalised (INVALID_ARGUMENT listing every
    violation), and the names of the fields whose value really changed."""
    violations = Violations()
    merged = normalise(replace(details, **changes), violations)  # type: ignore[type-var]
    violations.raise_if_any()
    return merged, [n for n in changes if getattr(merged, n) != getattr(details, n)]
