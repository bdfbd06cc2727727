"""What ListPeople can filter on, custom fields included.

Checking happens in two steps because custom fields are defined at run
time: the request alone is checked against the fixed fields (any
`custom_fields.<id>` passes), then the handler loads the definitions the
request names and the filter is checked again, typed by them.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from crm_common.errors import Violations
from crm_common.filter_fields import field_names
from crm_common.filtering import Expr, FilterField, FilterSchema, check_filter
from crm_common.pagination import SortKey
from crm_contacts.domain.custom_fields import ContactKind, CustomFieldDefinition, filter_field

CUSTOM_FIELDS = "custom_fields"

_FIELDS = {
    "given_name": FilterField.string(),
    "family_name": FilterField.string(),
    "job_title": FilterField.string(),
    "owner": FilterField.string(),
    "tags": FilterField.repeated_string(),
    "email_addresses": FilterField.repeated_string(),
    "create_time": FilterField.timestamp(),
    "update_time": FilterField.timestamp(),
}

FILTER_SCHEMA = FilterSchema(_FIELDS, custom_prefixes=(CUSTOM_FIELDS,))


@dataclass(frozen=True)
class PeopleQuery:
    """A checked ListPeople query: typed filter, sort keys and the definitions they name."""

    filter: Expr | None
    keys: tuple[SortKey, ...]
    definitions: Mapping[str, CustomFieldDefinition]


def custom_field_ids(expr: Expr | None, keys: Iterable[SortKey]) -> set[str]:
    """The ids of the custom fields a filter and an order name."""
    names = field_names(expr) | {key.field for key in keys}
    return {key for prefix, _, key in (n.partition(".") for n in names) if prefix == CUSTOM_FIELDS}


def check_query(
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    definitions: Mapping[str, CustomFieldDefinition],
) -> PeopleQuery:
    """Rejects custom fields that are not defined for people, then types the filter."""
    violations = Violations()
    _check_defined(violations, "order_by", (key.field for key in keys), definitions)
    _check_defined(violations, "filter", field_names(expr), definitions)
    violations.raise_if_any()
    custom = {f"{CUSTOM_FIELDS}.{d.id}": filter_field(d) for d in definitions.values()}
    typed = check_filter(expr, FilterSchema({**_FIELDS, **custom}))
    return PeopleQuery(typed, keys, definitions)


def _check_defined(
    violations: Violations,
    field: str,
    names: Iterable[str],
    definitions: Mapping[str, CustomFieldDefinition],
) -> None:
    for name in sorted(set(names)):
        prefix, _, key = name.partition(".")
        if prefix != CUSTOM_FIELDS:
            continue
        definition = definitions.get(key)
        if definition is None:
            violations.add(field, f"{name!r}: no custom field {key!r} is defined")
        elif not definition.applies_to(ContactKind.PERSON):
            violations.add(field, f"{name!r}: custom field {key!r} does not apply to people")
