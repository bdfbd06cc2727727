"""Custom fields: definitions made at run time, and the rules for their values.

A definition (`customFieldDefinitions/{id}`) fixes a field's type for good;
records (people, organizations) then hold values keyed by the definition id.
Values are checked here against the definitions, so a person or an
organization never stores a value its definition would not accept.
"""

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlsplit

from crm_common.errors import InvalidArgument, Violations
from crm_common.filtering import FilterField

DISPLAY_NAME_MAX = 200
DESCRIPTION_MAX = 1000
TEXT_MAX = 1000
URL_MAX = 2048
OPTION_MAX = 100
OPTIONS_MAX = 500

_DEFINITION_ID = re.compile(r"[a-z][a-z0-9_]{0,62}")


class FieldType(StrEnum):
    """The type of a field's values; the names double as the keys of stored values."""

    TEXT = "text"
    NUMBER = "number"
    DATE = "date"
    BOOLEAN = "boolean"
    SINGLE_SELECT = "option"
    URL = "url"


class ContactKind(StrEnum):
    PERSON = "person"
    ORGANIZATION = "organization"

    @property
    def plural(self) -> str:
        return "people" if self is ContactKind.PERSON else "organizations"


CustomScalar = str | float | bool | date


@dataclass(frozen=True)
class CustomValue:
    """One value as a client sent it or as stored.

    `type` says which case was set (None: none), so a TEXT field given a
    number is reported rather than coerced. A date arrives as
    "YYYY-MM-DD" text and leaves `normalise_values` as a `date`.
    """

    type: FieldType | None
    value: CustomScalar


@dataclass(frozen=True)
class DefinitionSpec:
    """The writable part of a definition, as a create or an update supplies it."""

    display_name: str = ""
    type: FieldType | None = None
    options: tuple[str, ...] = ()
    # None stands for a kind the client named that this service does not know.
    applies_to: tuple[ContactKind | None, ...] = ()
    description: str = ""


UPDATABLE_FIELDS = tuple(DefinitionSpec.__dataclass_fields__)


@dataclass(frozen=True)
class DefinitionChange:
    """What an update changed, and what the handler must check is unused."""

    changed_fields: list[str]
    removed_options: tuple[str, ...]
    removed_kinds: tuple[ContactKind, ...]


@dataclass
class CustomFieldDefinition:
    id: str
    spec: DefinitionSpec
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def type(self) -> FieldType:
        assert self.spec.type is not None  # normalise() guarantees it
        return self.spec.type

    def applies_to(self, kind: ContactKind) -> bool:
        return kind in self.spec.applies_to

    @classmethod
    def create(
        cls, definition_id: str, spec: DefinitionSpec, now: datetime
    ) -> "CustomFieldDefinition":
        violations = Violations()
        if not _DEFINITION_ID.fullmatch(definition_id):
            violations.add(
                "custom_field_definition_id",
                "must be 1-63 of a-z, 0-9 and '_', starting with a letter",
            )
        spec = normalise_spec(spec, violations)
        violations.raise_if_any()
        return cls(id=definition_id, spec=spec, create_time=now, update_time=now)

    def update(self, changes: Mapping[str, Any], now: datetime) -> DefinitionChange:
        """Applies the changes; the type is immutable, so changing it is invalid."""
        if "type" in changes and changes["type"] != self.spec.type:
            raise InvalidArgument.single(
                f"{_PREFIX}.type", f"cannot change once created (it is {_type_name(self.type)})"
            )
        violations = Violations()
        merged = normalise_spec(replace(self.spec, **changes), violations)
        violations.raise_if_any()
        changed = [name for name in changes if getattr(merged, name) != getattr(self.spec, name)]
        change = DefinitionChange(
            changed_fields=changed,
            removed_options=tuple(o for o in self.spec.options if o not in merged.options),
            removed_kinds=tuple(
                k for k in self.spec.applies_to if k is not None and k not in merged.applies_to
            ),
        )
        if changed:
            self.spec = merged
            self.update_time = now
            self.version += 1
        return change


_PREFIX = "custom_field_definition"


def normalise_spec(spec: DefinitionSpec, violations: Violations) -> DefinitionSpec:
    """Validates a definition, collecting all violations, and returns canonical values."""
    display_name, description = spec.display_name.strip(), spec.description.strip()
    if not display_name:
        violations.add(f"{_PREFIX}.display_name", "is required")
    elif len(display_name) > DISPLAY_NAME_MAX:
        violations.add(f"{_PREFIX}.display_name", f"is longer than {DISPLAY_NAME_MAX} characters")
    if len(description) > DESCRIPTION_MAX:
        violations.add(f"{_PREFIX}.description", f"is longer than {DESCRIPTION_MAX} characters")
    if spec.type is None:
        violations.add(f"{_PREFIX}.type", "is required")
    return replace(
        spec,
        display_name=display_name,
        description=description,
        options=_options(spec, violations),
        applies_to=_applies_to(spec.applies_to, violations),
    )


def _options(spec: DefinitionSpec, violations: Violations) -> tuple[str, ...]:
    path = f"{_PREFIX}.options"
    options = tuple(option.strip() for option in spec.options)
    if spec.type is not FieldType.SINGLE_SELECT:
        if options:
            violations.add(path, "only SINGLE_SELECT fields have options")
        return options
    if not options:
        violations.add(path, "a SINGLE_SELECT field needs at least one option")
    elif len(options) > OPTIONS_MAX:
        violations.add(path, f"has more than {OPTIONS_MAX} entries")
    # Values match options case-insensitively, so options must differ beyond case.
    seen: set[str] = set()
    for index, option in enumerate(options):
        if not option or len(option) > OPTION_MAX:
            violations.add(f"{path}[{index}]", f"options are 1-{OPTION_MAX} characters")
        elif option.casefold() in seen:
            violations.add(f"{path}[{index}]", f"{option!r} is listed twice")
        seen.add(option.casefold())
    return options


def _applies_to(
    kinds: tuple[ContactKind | None, ...], violations: Violations
) -> tuple[ContactKind, ...]:
    path = f"{_PREFIX}.applies_to"
    if not kinds:
        violations.add(path, "name at least one kind of record")
    known = [kind for kind in kinds if kind is not None]
    if len(known) != len(kinds):
        violations.add(path, "CONTACT_KIND_UNSPECIFIED is not a kind of record")
    # Canonical order, so that the same set compares (and etags) equal.
    return tuple(kind for kind in ContactKind if kind in known)


# --- Values -----------------------------------------------------------------

# The definitions a write needs: those of the custom fields it sets.
Definitions = Mapping[str, CustomFieldDefinition]
NO_DEFINITIONS: Definitions = MappingProxyType({})


def normalise_values(
    definitions: Mapping[str, CustomFieldDefinition],
    values: Mapping[str, CustomValue],
    kind: ContactKind,
    path_prefix: str,
    violations: Violations,
) -> dict[str, CustomValue]:
    """Checks each value against its definition and returns canonical values.

    Violations name the value, e.g. `person.custom_fields["region"]`; keys
    come back sorted so that equal maps compare and serialise equally.
    """
    result: dict[str, CustomValue] = {}
    for key in sorted(values):
        path = f'{path_prefix}.custom_fields["{key}"]'
        definition = definitions.get(key)
        if definition is None:
            violations.add(path, f"no custom field {key!r} is defined")
        elif not definition.applies_to(kind):
            violations.add(path, f"custom field {key!r} does not apply to {kind.plural}")
        else:
            problem, normalised = _check_value(definition, values[key])
            if problem:
                violations.add(path, problem)
            else:
                result[key] = normalised
    return result


class HasCustomFields(Protocol):
    """The writable details (a dataclass) of a kind of record that holds custom values."""

    __dataclass_fields__: ClassVar[dict[str, Any]]
    custom_fields: Mapping[str, CustomValue]


Details = TypeVar("Details", bound=HasCustomFields)


def with_custom_values(
    details: Details,
    definitions: Definitions,
    kind: ContactKind,
    violations: Violations,
) -> Details:
    """`details` with its custom fields checked for `kind` and made canonical.

    Violations are named after the kind, e.g. `organization.custom_fields["x"]`.
    """
    values = normalise_values(definitions, details.custom_fields, kind, kind.value, violations)
    return replace(details, custom_fields=values)


def validate_values(
    definitions: Mapping[str, CustomFieldDefinition],
    values: Mapping[str, CustomValue],
    kind: ContactKind,
    path_prefix: str,
) -> dict[str, CustomValue]:
    """`normalise_values`, raising INVALID_ARGUMENT at once on any violation."""
    violations = Violations()
    result = normalise_values(definitions, values, kind, path_prefix, violations)
    violations.raise_if_any()
    return result


def _check_value(definition: CustomFieldDefinition, value: CustomValue) -> tuple[str, CustomValue]:
    """A problem description (empty when fine) and the canonical value."""
    expected = definition.type
    if value.type is not expected:
        return f"is a {_type_name(expected)} field; set {expected.value}_value", value
    raw = value.value
    match expected:
        case FieldType.TEXT:
            text = str(raw).strip()
            if not text:
                return "is empty; leave the field out instead", value
            if len(text) > TEXT_MAX:
                return f"is longer than {TEXT_MAX} characters", value
            return "", CustomValue(expected, text)
        case FieldType.NUMBER:
            if not isinstance(raw, int | float) or not math.isfinite(raw):
                return "must be a finite number", value
            return "", CustomValue(expected, float(raw))
        case FieldType.DATE:
            return _check_date(raw, value)
        case FieldType.BOOLEAN:
            return "", CustomValue(expected, bool(raw))
        case FieldType.SINGLE_SELECT:
            return _check_option(definition, str(raw), value)
        case FieldType.URL:
            url = str(raw).strip()
            if len(url) > URL_MAX or not _is_web_url(url):
                return f"{url!r} is not an http(s) URL with a host", value
            return "", CustomValue(expected, url)


def _check_date(raw: CustomScalar, value: CustomValue) -> tuple[str, CustomValue]:
    if isinstance(raw, date):
        return "", value
    try:
        return "", CustomValue(FieldType.DATE, date.fromisoformat(str(raw)))
    except ValueError:
        return f"{raw} is not a valid calendar date", value


def _check_option(
    definition: CustomFieldDefinition, raw: str, value: CustomValue
) -> tuple[str, CustomValue]:
    wanted = raw.strip().casefold()
    for option in definition.spec.options:
        if option.casefold() == wanted:
            return "", CustomValue(FieldType.SINGLE_SELECT, option)
    return f"{raw!r} is not one of the options: {', '.join(definition.spec.options)}", value


def _is_web_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        return parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unbalanced "[" in the host
        return False


def _type_name(field_type: FieldType) -> str:
    return "SINGLE_SELECT" if field_type is FieldType.SINGLE_SELECT else field_type.name


# --- Filtering ----------------------------------------------------------------


def filter_field(definition: CustomFieldDefinition) -> FilterField:
    """How `custom_fields.<id>` may be tested in a List filter.

    Dates take timestamps ("2026-01-01" is its midnight UTC), so a date
    compares with any instant the way the day's start would.
    """
    match definition.type:
        case FieldType.NUMBER:
            return FilterField.number()
        case FieldType.DATE:
            return FilterField.timestamp()
        case FieldType.BOOLEAN:
            return FilterField.boolean()
        case FieldType.SINGLE_SELECT:
            return FilterField.enum(definition.spec.options)
    return FilterField.string()
