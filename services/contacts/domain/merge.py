"""Merging people into one: which request is valid, and what the survivor absorbs.

The survivor keeps everything it has and gains what only the others have:

- contact points and tags: the union, the survivor's first and in its order,
  then each merged person's in request order, without repeats (phones compare
  by `canonical_phone`, so one number written two ways stays once);
- names, job title, owner, background: the survivor's value unless empty, else
  the first non-empty one among the merged people;
- custom fields: the survivor's values, plus the keys only others hold (the
  first merged person holding a key wins).
"""

from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from crm_common.errors import FailedPrecondition, InvalidArgument, Violations
from crm_common.resources import id_from_name
from crm_contacts.domain.contact_points import ContactPointType, PostalAddress
from crm_contacts.domain.custom_fields import Definitions
from crm_contacts.domain.duplicates import canonical_phone
from crm_contacts.domain.model import WRITABLE_FIELDS, Person, PersonDetails

PERSON_PREFIX = "people/"
MERGED_MAX = 20


@dataclass(frozen=True)
class MergeRequest:
    survivor_id: str
    merged_ids: tuple[str, ...]


def parse_merge_request(person: str, merged_people: Sequence[str]) -> MergeRequest:
    """Checks the names, reporting every bad one; existence is checked later."""
    violations = Violations()
    survivor_id = _person_id(violations, "person", person)
    if not merged_people:
        violations.add("merged_people", "name at least one person to merge")
    elif len(merged_people) > MERGED_MAX:
        violations.add("merged_people", f"at most {MERGED_MAX} people can be merged at once")
    merged_ids: list[str] = []
    for index, name in enumerate(merged_people):
        field = f"merged_people[{index}]"
        merged_id = _person_id(violations, field, name)
        if merged_id is None:
            continue
        if merged_id == survivor_id:
            violations.add(field, f"{name} is the surviving person; it cannot merge into itself")
        elif merged_id in merged_ids:
            violations.add(field, f"{name} is listed twice")
        merged_ids.append(merged_id)
    violations.raise_if_any()
    assert survivor_id is not None
    return MergeRequest(survivor_id, tuple(merged_ids))


def _person_id(violations: Violations, field: str, name: str) -> str | None:
    if not name:
        violations.add(field, "is required")
        return None
    person_id = id_from_name(name, PERSON_PREFIX)
    if person_id is None:
        violations.add(field, f"{name!r} is not a person name like people/123")
    return person_id


# --- What the survivor absorbs --------------------------------------------------


@dataclass(frozen=True)
class Absorbed:
    details: PersonDetails
    # The fields whose value differs from the survivor's before the merge.
    changed_fields: tuple[str, ...]

    @property
    def changes(self) -> dict[str, Any]:
        return {name: getattr(self.details, name) for name in self.changed_fields}


def _address_key(address: PostalAddress) -> Hashable:
    # The same place is one address whatever kind it was filed under.
    return replace(address, type=ContactPointType.OTHER)


# How each repeated field tells two entries for the same thing apart.
_UNION_KEYS: dict[str, Callable[[Any], Hashable]] = {
    "email_addresses": lambda email: email.address,
    "phone_numbers": lambda phone: canonical_phone(phone.number) or phone.number,
    "addresses": _address_key,
    "social_handles": lambda social: (social.network, social.handle.casefold()),
    "tags": lambda tag: tag,
}
_SCALARS = frozenset({"given_name", "family_name", "job_title", "owner", "background"})
_CUSTOM_FIELDS = "custom_fields"


def absorb(survivor: PersonDetails, merged: Sequence[PersonDetails]) -> Absorbed:
    """The survivor's details once it holds what the merged people add."""
    values = {name: _absorbed(name, survivor, merged) for name in WRITABLE_FIELDS}
    changed = tuple(name for name, value in values.items() if value != getattr(survivor, name))
    return Absorbed(replace(survivor, **values), changed)


def _absorbed(name: str, survivor: PersonDetails, merged: Sequence[PersonDetails]) -> Any:
    everyone = [getattr(details, name) for details in (survivor, *merged)]
    if name in _UNION_KEYS:
        return _union(everyone, _UNION_KEYS[name])
    if name in _SCALARS:
        return next((value for value in everyone if value), everyone[0])
    if name == _CUSTOM_FIELDS:
        return _first_per_key(everyone)
    # A new writable field must say how it merges, or it would silently be lost.
    raise KeyError(f"no merge rule for PersonDetails.{name}")


def _union(lists: Iterable[tuple[Any, ...]], key: Callable[[Any], Hashable]) -> tuple[Any, ...]:
    kept: dict[Hashable, Any] = {}
    for items in lists:
        for item in items:
            kept.setdefault(key(item), item)
    return tuple(kept.values())


def _first_per_key(mappings: Iterable[Mapping[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for mapping in mappings:
        for key, value in mapping.items():
            result.setdefault(key, value)
    return result


def merge_into(
    survivor: Person, merged: Sequence[Person], now: datetime, definitions: Definitions
) -> list[str]:
    """Makes `survivor` absorb `merged`; returns the fields that changed.

    Its version advances even when no field changes: its links and notes did,
    so an etag read before the merge must no longer match.
    `definitions` must hold those of every custom field the merged people hold.
    """
    absorbed = absorb(survivor.details, [person.details for person in merged])
    try:
        changed = survivor.update(absorbed.changes, now, definitions)
    except InvalidArgument as error:
        # The request was fine; the records make the merge impossible (e.g.
        # more email addresses together than a person may have).
        raise FailedPrecondition(
            f"merging into people/{survivor.id} would break a rule: {error.message}"
        ) from error
    if not changed:
        survivor.touch(now)
    return changed
