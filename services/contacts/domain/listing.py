"""What the List RPCs of contact records can filter and sort on, custom fields included.

People and organizations list the same way; a `ListingSchema` says what
differs: the kind of record (which custom fields apply) and its fixed fields.

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


@dataclass(frozen=True)
class ListingSchema:
    """The fields one kind of record can be filtered on, besides `custom_fields.<id>`."""

    kind: ContactKind
    fields: Mapping[str, FilterField]

    @property
    def filter_schema(self) -> FilterSchema:
        """The first step's schema: fixed fields typed, any custom field accepted."""
        return FilterSchema(self.fields, custom_prefixes=(CUSTOM_FIELDS,))


@dataclass(frozen=True)
class ListQuery:
    """A checked List query: typed filter, sort keys and the definitions they name."""

    filter: Expr | None
    keys: tuple[SortKey, ...]
    definitions: Mapping[str, CustomFieldDefinition]


def custom_field_id(name: str) -> str | None:
    """`region` for `custom_fields.region`; None for a fixed field."""
    prefix, dot, key = name.partition(".")
    return key if dot and prefix == CUSTOM_FIELDS else None


def custom_field_ids(expr: Expr | None, keys: Iterable[SortKey]) -> set[str]:
    """The ids of the custom fields a filter and an order name."""
    names = field_names(expr) | {key.field for key in keys}
    return {key for key in map(custom_field_id, names) if key is not None}


def check_query(
    schema: ListingSchema,
    expr: Expr | None,
    keys: tuple[SortKey, ...],
    definitions: Mapping[str, CustomFieldDefinition],
) -> ListQuery:
    """Rejects custom fields not defined for the schema's kind, then types the filter."""
    violations = Violations()
    _check_defined(violations, schema.kind, "order_by", (key.field for key in keys), definitions)
    _check_defined(violations, schema.kind, "filter", field_names(expr), definitions)
    violations.raise_if_any()
    custom = {f"{CUSTOM_FIELDS}.{d.id}": filter_field(d) for d in definitions.values()}
    typed = check_filter(expr, FilterSchema({**schema.fields, **custom}))
    return ListQuery(typed, keys, definitions)


def _check_defined(
    violations: Violations,
    kind: ContactKind,
    field: str,
    names: Iterable[str],
    definitions: Mapping[str, CustomFieldDefinition],
) -> None:
    for name in sorted(set(names)):
        key = custom_field_id(name)
        if key is None:
            continue
        definition = definitions.get(key)
        if definition is None:
            violations.add(field, f"{name!r}: no custom field {key!r} is defined")
        elif not definition.applies_to(kind):
            violations.add(field, f"{name!r}: custom field {key!r} does not apply to {kind.plural}")


PEOPLE_LISTING = ListingSchema(
    ContactKind.PERSON,
    {
        "given_name": FilterField.string(),
        "family_name": FilterField.string(),
        "job_title": FilterField.string(),
        "owner": FilterField.string(),
        "tags": FilterField.repeated_string(),
        "email_addresses": FilterField.repeated_string(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    },
)

ORGANIZATIONS_LISTING = ListingSchema(
    ContactKind.ORGANIZATION,
    {
        "display_name": FilterField.string(),
        "industry": FilterField.string(),
        "owner": FilterField.string(),
        "website": FilterField.string(),
        "domains": FilterField.repeated_string(),
        "tags": FilterField.repeated_string(),
        "email_addresses": FilterField.repeated_string(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    },
)
