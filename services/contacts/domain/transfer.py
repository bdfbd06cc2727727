"""CSV import and export of people and organizations: columns, cells, identity.

Columns map to fields by the import's `column_mappings`, or, without any, by
headers equal to field names (what an export writes). One cell format serves
both directions, so an exported file re-imports unchanged:

- text fields as they are;
- lists (`email_addresses`, `phone_numbers`, `social_handles`, `tags`,
  `domains`): items separated by `;`, written `\\;` inside an item (and a
  backslash `\\\\`); an email or phone may end in its type,
  `ada@example.com (work)`; a social handle is `network:handle`;
- `addresses`: a JSON array of PostalAddress objects, since an address has
  parts of its own;
- `custom_fields.<id>`: typed by the definition: numbers `12.5`, dates
  `2024-05-01`, booleans `true`/`false` (also yes/no, 1/0), options, URLs
  and text as they are; an empty cell means no value;
- `name`: `people/{id}` or `organizations/{id}`, the record the row is.

Only mapped fields are written: a file of emails and tags leaves addresses
alone. A row is the record named in its `name` cell; else the record holding
one of its emails (people) or domains (organizations); else the record whose
id derives from the row's identifying values, so that importing a file twice
finds the records the first run created.
"""

import json
import re
import unicodedata
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from crm_common.errors import FailedPrecondition, FieldViolation, InvalidArgument, Violations
from crm_common.resources import id_from_name
from crm_contacts.domain import model, organizations
from crm_contacts.domain.contact_points import (
    ContactPointType,
    EmailAddress,
    PhoneNumber,
    PostalAddress,
    SocialHandle,
    normalise_email,
)
from crm_contacts.domain.custom_fields import (
    ContactKind,
    CustomFieldDefinition,
    CustomValue,
    Definitions,
    FieldType,
)
from crm_contacts.domain.listing import CUSTOM_FIELDS
from crm_contacts.domain.model import Person, PersonDetails
from crm_contacts.domain.organizations import (
    Organization,
    OrganizationDetails,
    normalise_domain,
)
from crm_contacts.domain.privacy import ensure_not_erased

NAME_COLUMN = "name"
CUSTOM_PREFIX = f"{CUSTOM_FIELDS}."
SEPARATOR = ";"
HEADER_FIELD = "header.column_mappings"
CSV_FIELD = "csv_data"

# The columns of each kind, in export order; custom fields follow.
COLUMNS: Mapping[ContactKind, tuple[str, ...]] = {
    kind: (NAME_COLUMN, *(name for name in fields if name != CUSTOM_FIELDS))
    for kind, fields in (
        (ContactKind.PERSON, model.WRITABLE_FIELDS),
        (ContactKind.ORGANIZATION, organizations.WRITABLE_FIELDS),
    )
}
_RESOURCE_PREFIX = {ContactKind.PERSON: "people/", ContactKind.ORGANIZATION: "organizations/"}
_LIST_FIELDS = frozenset({"tags", "domains"})
_POINT_TYPES = {point_type.value: point_type for point_type in ContactPointType}
_TYPED_POINT = re.compile(r"(?P<value>.*?)\s*\((?P<type>[A-Za-z]+)\)", re.DOTALL)
# A run of escapes (`\;`, `\\`) and other characters, or a separator.
_ITEM = re.compile(r"(?:\\[\s\S]|[^;\\]|\\)+|;")
_ESCAPE = re.compile(r"\\([;\\])")
_INDEX = re.compile(r"\[(\d+)\]")
_BOOLEANS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_ADDRESS_TEXT = ("city", "region", "postal_code", "country_code")
# Namespace of the ids derived from rows (any fixed UUID; never change it).
_ID_NAMESPACE = uuid.UUID("6f1c8f0e-0b7e-4c53-9a51-3c1f0d2b7a44")
_VIOLATION_PATH = re.compile(r'(?:person|organization)\.(?P<field>\w+)(?:\["(?P<key>[^"]*)"\])?')

Record = Person | Organization


# --- Columns ------------------------------------------------------------------


@dataclass(frozen=True)
class Column:
    index: int
    header: str
    field: str  # a field name, or `custom_fields.<id>`

    @property
    def custom_key(self) -> str | None:
        return self.field.removeprefix(CUSTOM_PREFIX) if _is_custom(self.field) else None


@dataclass(frozen=True)
class ImportPlan:
    """How to read the rows of one import: which cell is which field."""

    kind: ContactKind
    columns: tuple[Column, ...]
    width: int  # cells in the header row
    definitions: Definitions

    @property
    def prefix(self) -> str:
        return self.kind.value  # what domain violations start with: `person.`

    @property
    def custom_keys(self) -> tuple[str, ...]:
        return tuple(key for column in self.columns if (key := column.custom_key) is not None)

    def header_of(self, field_name: str) -> str:
        return next((c.header for c in self.columns if c.field == field_name), "")


def custom_field_ids(
    kind: ContactKind, header_row: Sequence[str], mappings: Mapping[str, str]
) -> set[str]:
    """The custom fields a header names, whose definitions `plan_import` needs."""
    return {key for column in _mapped(kind, header_row, mappings) if (key := column.custom_key)}


def plan_import(
    kind: ContactKind,
    header_row: Sequence[str],
    mappings: Mapping[str, str],
    definitions: Definitions,
) -> ImportPlan:
    """Checks the mapping against the header row and the fields; INVALID_ARGUMENT if wrong."""
    violations = Violations()
    headers = [cell.strip() for cell in header_row]
    for header in sorted(set(mappings) - set(headers)):
        violations.add(f'{HEADER_FIELD}["{header}"]', "names no column of the CSV header row")
    columns = _mapped(kind, header_row, mappings)
    for column in columns:
        problem = _target_problem(kind, column.field, definitions)
        if problem:
            if mappings:
                violations.add(f'{HEADER_FIELD}["{column.header}"]', problem)
            else:
                violations.add(CSV_FIELD, f"column {column.header!r}: {problem}")
    _check_unique(violations, columns, headers)
    if not columns:
        violations.add(
            CSV_FIELD,
            "no column maps to a field: name columns after fields "
            f"({', '.join(COLUMNS[kind])}) or send column_mappings",
        )
    violations.raise_if_any()
    return ImportPlan(kind, tuple(columns), len(header_row), definitions)


def _mapped(
    kind: ContactKind, header_row: Sequence[str], mappings: Mapping[str, str]
) -> list[Column]:
    """The columns mapped to something, valid or not; without mappings, those named after fields."""
    columns = []
    for index, cell in enumerate(header_row):
        header = cell.strip()
        if mappings:
            target = mappings.get(header, "").strip()
        else:
            target = header if header in COLUMNS[kind] or _is_custom(header) else ""
        if target:
            columns.append(Column(index, header, target))
    return columns


def _target_problem(kind: ContactKind, target: str, definitions: Definitions) -> str:
    if target in COLUMNS[kind]:
        return ""
    if not _is_custom(target):
        known = ", ".join([*COLUMNS[kind], f"{CUSTOM_PREFIX}<id>"])
        return f"{target!r} is not a field {kind.plural} can import; one of: {known}"
    key = target.removeprefix(CUSTOM_PREFIX)
    definition = definitions.get(key)
    if definition is None:
        return f"no custom field {key!r} is defined"
    if not definition.applies_to(kind):
        return f"custom field {key!r} does not apply to {kind.plural}"
    return ""


def _check_unique(violations: Violations, columns: list[Column], headers: list[str]) -> None:
    seen: dict[str, str] = {}
    for column in columns:
        if headers.count(column.header) > 1:
            if column.header not in seen.values():
                violations.add(
                    CSV_FIELD, f"column {column.header!r} appears twice in the header row"
                )
        elif column.field in seen:
            violations.add(
                CSV_FIELD,
                f"columns {seen[column.field]!r} and {column.header!r} both map to {column.field}",
            )
        seen[column.field] = column.header


def _is_custom(target: str) -> bool:
    return target.startswith(CUSTOM_PREFIX) and len(target) > len(CUSTOM_PREFIX)


# --- Rows ---------------------------------------------------------------------


@dataclass(frozen=True)
class RowError:
    row: int  # 1-based, the header row not counted
    column: str  # the column's header; empty for the whole row
    description: str


class RowRejected(Exception):
    """A row that cannot be imported, and every reason found."""

    def __init__(self, errors: list[RowError]) -> None:
        super().__init__("; ".join(f"{e.column}: {e.description}" for e in errors))
        self.errors = errors


@dataclass(frozen=True)
class ImportRow:
    """One row's values in domain form."""

    number: int
    # The id the `name` cell gave; empty when there is none.
    record_id: str
    # The mapped writable fields, custom fields aside.
    values: Mapping[str, Any]
    # The mapped custom fields; None clears the field.
    custom: Mapping[str, CustomValue | None] = field(default_factory=dict)
    # What finds the record the row is: its emails (people) or domains, normalised.
    keys: tuple[str, ...] = ()


class _CellError(ValueError):
    pass


def parse_row(plan: ImportPlan, number: int, cells: Sequence[str]) -> ImportRow | None:
    """The row's values, None for a blank row; RowRejected when a cell cannot be read."""
    if not any(cell.strip() for cell in cells):
        return None
    errors = []
    if any(cell.strip() for cell in cells[plan.width :]):
        errors.append(
            RowError(number, "", f"has {len(cells)} cells; the header row has {plan.width}")
        )
    record_id, values, custom = "", {}, {}
    for column in plan.columns:
        text = cells[column.index] if column.index < len(cells) else ""
        try:
            if column.field == NAME_COLUMN:
                record_id = _record_id(plan.kind, text)
            elif (key := column.custom_key) is not None:
                custom[key] = parse_custom(plan.definitions[key], text)
            else:
                values[column.field] = parse_cell(column.field, text)
        except _CellError as error:
            errors.append(RowError(number, column.header, str(error)))
    if errors:
        raise RowRejected(errors)
    return ImportRow(number, record_id, values, custom, match_keys(plan.kind, values))


def _record_id(kind: ContactKind, text: str) -> str:
    text = text.strip()
    if not text:
        return ""
    prefix = _RESOURCE_PREFIX[kind]
    record_id = id_from_name(text, prefix)
    if record_id is None:
        raise _CellError(f"{text!r} is not like {prefix}123")
    return record_id


def parse_cell(field_name: str, text: str) -> Any:
    """A cell of a standard field in domain form (not yet normalised)."""
    match field_name:
        case "email_addresses":
            return tuple(EmailAddress(*_typed_point(item)) for item in split_items(text))
        case "phone_numbers":
            return tuple(PhoneNumber(*_typed_point(item)) for item in split_items(text))
        case "addresses":
            return _addresses(text)
        case "social_handles":
            return tuple(_social(item) for item in split_items(text))
    if field_name in _LIST_FIELDS:
        return tuple(split_items(text))
    return text


def parse_custom(definition: CustomFieldDefinition, text: str) -> CustomValue | None:
    """A custom field's cell, typed by its definition; the domain checks the rest."""
    text = text.strip()
    if not text:
        return None
    match definition.type:
        case FieldType.NUMBER:
            try:
                return CustomValue(FieldType.NUMBER, float(text))
            except ValueError:
                raise _CellError(f"{text!r} is not a number") from None
        case FieldType.BOOLEAN:
            if text.casefold() not in _BOOLEANS:
                raise _CellError(f"{text!r} is not a boolean; write true or false")
            return CustomValue(FieldType.BOOLEAN, _BOOLEANS[text.casefold()])
    # Dates stay text here: the domain reads ISO dates and reports bad ones.
    return CustomValue(definition.type, text)


def split_items(text: str) -> list[str]:
    """`a; b\\;c` is ["a", "b;c"]; blank items are dropped."""
    if "\\" not in text:  # nothing escaped, the usual case: the quick way
        return [item.strip() for item in text.split(SEPARATOR) if item.strip()]
    items, current = [], []
    for token in _ITEM.findall(text):
        if token == SEPARATOR:
            items.append("".join(current))
            current = []
        else:
            current.append(_ESCAPE.sub(r"\1", token))
    items.append("".join(current))
    return [item.strip() for item in items if item.strip()]


def join_items(items: Sequence[str]) -> str:
    return SEPARATOR.join(item.replace("\\", "\\\\").replace(SEPARATOR, "\\;") for item in items)


def _typed_point(item: str) -> tuple[str, ContactPointType]:
    match = _TYPED_POINT.fullmatch(item) if item.endswith(")") else None
    point_type = _POINT_TYPES.get(match["type"].lower()) if match else None
    if match and point_type:
        return match["value"], point_type
    return item, ContactPointType.OTHER


def _social(item: str) -> SocialHandle:
    network, colon, handle = item.partition(":")
    if not colon:
        raise _CellError(f"{item!r} is not network:handle, e.g. github:ada")
    return SocialHandle(network, handle)


def _addresses(text: str) -> tuple[PostalAddress, ...]:
    if not text.strip():
        return ()
    try:
        parsed = json.loads(text)
    except ValueError:
        raise _CellError("is not a JSON array of addresses") from None
    if not isinstance(parsed, list):
        raise _CellError("is not a JSON array of addresses")
    return tuple(_address(index, item) for index, item in enumerate(parsed))


def _address(index: int, item: Any) -> PostalAddress:
    where = f"address {index + 1}"
    allowed = {"street_lines", "type", *_ADDRESS_TEXT}
    if not isinstance(item, dict) or not set(item) <= allowed:
        raise _CellError(f"{where} is not an object of {', '.join(sorted(allowed))}")
    lines = item.get("street_lines", [])
    texts = [item.get(name, "") for name in _ADDRESS_TEXT]
    if not isinstance(lines, list) or not all(isinstance(v, str) for v in [*lines, *texts]):
        raise _CellError(f"{where}: street_lines is a list of text, the other parts text")
    kind = item.get("type", ContactPointType.OTHER.value)
    if kind not in _POINT_TYPES:
        raise _CellError(f"{where}: type {kind!r} is not one of work, home, mobile, other")
    return PostalAddress(tuple(lines), *texts, type=_POINT_TYPES[kind])


# --- Identity -------------------------------------------------------------------


def match_keys(kind: ContactKind, values: Mapping[str, Any]) -> tuple[str, ...]:
    """The values that find an existing record: emails of people, domains of organizations."""
    if kind is ContactKind.PERSON:
        return tuple(normalise_email(e.address) for e in values.get("email_addresses", ()))
    return tuple(normalise_domain(domain) for domain in values.get("domains", ()))


def derived_id(kind: ContactKind, row: ImportRow) -> str:
    """The id a new record gets from the row's identifying values.

    The first email (domain) when the row has one, so that two namesakes
    with different addresses stay two records; otherwise the names and the
    phone numbers (a person) or the name (an organization).
    """
    if row.keys:
        identity = ["key", row.keys[0]]
    elif kind is ContactKind.PERSON:
        phones = sorted(_digits(p.number) for p in row.values.get("phone_numbers", ()))
        names = (row.values.get("given_name", ""), row.values.get("family_name", ""))
        identity = ["names", *map(_folded, names), *phones]
    else:
        identity = ["name", _folded(row.values.get("display_name", ""))]
    return uuid.uuid5(_ID_NAMESPACE, "\x1f".join([kind.value, *identity])).hex


def resolve_target(plan: ImportPlan, row: ImportRow, owners: Mapping[str, str]) -> str:
    """The id of the record a row is: named, found by its keys, or derived.

    `owners` maps keys (emails, domains) to the ids of the records holding them.
    """
    held = {key: owners[key] for key in row.keys if key in owners}
    candidates = sorted(set(held.values()))
    target = row.record_id or (candidates[0] if candidates else derived_id(plan.kind, row))
    others = {key: owner for key, owner in held.items() if owner != target}
    if others:
        column = plan.header_of("email_addresses" if plan.kind is ContactKind.PERSON else "domains")
        prefix = _RESOURCE_PREFIX[plan.kind]
        taken = ", ".join(f"{key} belongs to {prefix}{owner}" for key, owner in others.items())
        what = f"{prefix}{target}" if row.record_id else "the record its other values match"
        raise RowRejected([RowError(row.number, column, f"{taken}, not to {what}")])
    return target


def _folded(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def _digits(number: str) -> str:
    return "".join(c for c in number if c.isdigit())


# --- Applying a row ----------------------------------------------------------------


class Outcome(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass
class Applied:
    outcome: Outcome
    record: Record
    changed: list[str]
    read_version: int  # the version the record had before (0 when created)


def apply_row(
    plan: ImportPlan,
    row: ImportRow,
    existing: Record | None,
    target_id: str,
    now: datetime,
    definitions: Definitions,
) -> Applied:
    """Creates the record or updates `existing` in place; RowRejected when invalid.

    `definitions` must hold those of the row's custom fields and, for an
    update, of the custom fields the record already holds.
    """
    try:
        if existing is None:
            return Applied(Outcome.CREATED, _create(plan, row, target_id, now, definitions), [], 0)
        read_version = existing.version
        changed = _update(row, existing, now, definitions)
    except InvalidArgument as error:
        raise RowRejected(row_errors(plan, row.number, error.violations)) from None
    except FailedPrecondition as error:
        raise RowRejected([RowError(row.number, "", error.message)]) from None
    outcome = Outcome.UPDATED if changed else Outcome.UNCHANGED
    return Applied(outcome, existing, changed, read_version)


def _create(
    plan: ImportPlan, row: ImportRow, record_id: str, now: datetime, definitions: Definitions
) -> Record:
    custom = {key: value for key, value in row.custom.items() if value is not None}
    if plan.kind is ContactKind.ORGANIZATION:
        details = OrganizationDetails(**row.values, custom_fields=custom)
        return Organization.create(record_id, details, now, definitions)
    return Person.create(
        record_id, PersonDetails(**row.values, custom_fields=custom), now, definitions
    )


def _update(row: ImportRow, record: Record, now: datetime, definitions: Definitions) -> list[str]:
    if isinstance(record, Person):
        ensure_not_erased(record)
    changes = dict(row.values)
    if row.custom:
        changes[CUSTOM_FIELDS] = merged_custom(record.details.custom_fields, row.custom)
    return record.update(changes, now, definitions)


def merged_custom(
    held: Mapping[str, CustomValue], row: Mapping[str, CustomValue | None]
) -> dict[str, CustomValue]:
    """The record's custom values with the row's columns applied; the others kept."""
    merged = {key: value for key, value in held.items() if key not in row}
    merged.update((key, value) for key, value in row.items() if value is not None)
    return merged


def row_errors(
    plan: ImportPlan, number: int, violations: Sequence[FieldViolation]
) -> list[RowError]:
    """Domain violations (`person.email_addresses[1].address`) as errors naming columns."""
    errors = []
    for violation in violations:
        target, rest = _violation_target(plan.prefix, violation.field)
        header = plan.header_of(target)
        if not header:
            where = violation.field.removeprefix(f"{plan.prefix}.")
        else:
            index = _INDEX.match(rest)
            where = f"item {int(index[1]) + 1}" if index else rest.lstrip(".")
        description = f"{where}: {violation.description}" if where else violation.description
        errors.append(RowError(number, header, description))
    return errors


def _violation_target(prefix: str, path: str) -> tuple[str, str]:
    """The column field a violation is about, and the rest of its path (`[1].address`)."""
    if path == f"{prefix}_id":
        return NAME_COLUMN, ""
    match = _VIOLATION_PATH.match(path)
    if match is None:
        return "", path
    rest = path[match.end() :]
    if match["field"] == CUSTOM_FIELDS and match["key"] is not None:
        return f"{CUSTOM_PREFIX}{match['key']}", rest
    return match["field"], rest


# --- Export cells ----------------------------------------------------------------


def export_header(kind: ContactKind, custom_keys: Sequence[str]) -> list[str]:
    return [*COLUMNS[kind], *(f"{CUSTOM_PREFIX}{key}" for key in custom_keys)]


def export_cells(
    kind: ContactKind,
    record_id: str,
    details: PersonDetails | OrganizationDetails,
    custom_keys: Sequence[str],
) -> list[str]:
    """One record as a CSV row under `export_header(kind, custom_keys)`."""
    cells = [_RESOURCE_PREFIX[kind] + record_id]
    cells += [format_cell(name, getattr(details, name)) for name in COLUMNS[kind][1:]]
    held = details.custom_fields
    cells += [format_custom(held[key]) if key in held else "" for key in custom_keys]
    return cells


def format_cell(field_name: str, value: Any) -> str:
    match field_name:
        case "email_addresses":
            return join_items([_with_type(e.address, e.type) for e in value])
        case "phone_numbers":
            return join_items([_with_type(p.number, p.type) for p in value])
        case "addresses":
            return (
                json.dumps([_address_json(a) for a in value], ensure_ascii=False) if value else ""
            )
        case "social_handles":
            return join_items([f"{s.network}:{s.handle}" for s in value])
    if field_name in _LIST_FIELDS:
        return join_items(value)
    return str(value)


def format_custom(value: CustomValue) -> str:
    raw = value.value
    if isinstance(raw, bool):
        return "true" if raw else "false"
    if isinstance(raw, float):
        # repr is the shortest text that reads back as the same float.
        return str(int(raw)) if raw.is_integer() and abs(raw) < 2**53 else repr(raw)
    if isinstance(raw, date):
        return raw.isoformat()
    return str(raw)


def _with_type(text: str, point_type: ContactPointType) -> str:
    # OTHER is what a bare value means, so it goes unwritten.
    return text if point_type is ContactPointType.OTHER else f"{text} ({point_type.value})"


def _address_json(address: PostalAddress) -> dict[str, Any]:
    parts: dict[str, Any] = {"street_lines": list(address.street_lines)}
    parts.update((name, getattr(address, name)) for name in _ADDRESS_TEXT)
    if address.type is not ContactPointType.OTHER:  # the default, as for emails
        parts["type"] = address.type.value
    return {name: value for name, value in parts.items() if value}
