"""Relationships between contact records: plain data and rules.

A relationship links two records under a named, directional type: "reports
to" read from the `from` end, "manages" from the `to` end. Its ends may be
people or organizations, so they are referred to by resource name
(`people/{id}`, `organizations/{id}`), which is also how they are stored.
"""

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from crm_common.errors import Violations
from crm_common.resources import id_from_name
from crm_contacts.domain.contact_points import NAME_MAX, check_id, check_length
from crm_contacts.domain.custom_fields import ContactKind

LABEL_MAX = 100
TYPE_PREFIX = "relationshipTypes/"
RELATIONSHIP_PREFIX = "relationships/"

UPDATABLE_FIELDS = ("role", "start_date", "end_date")

# A date as the client sent it: (year, month, day). Only full dates are
# accepted; google.type.Date also allows a year alone or a month and day,
# which could not be ordered or tell whether a link is current.
DateParts = tuple[int, int, int]

_PREFIX_OF_KIND = {ContactKind.PERSON: "people/", ContactKind.ORGANIZATION: "organizations/"}


@dataclass(frozen=True)
class RecordRef:
    """One end of a relationship: a person or an organization."""

    kind: ContactKind
    id: str

    @property
    def name(self) -> str:
        return _PREFIX_OF_KIND[self.kind] + self.id

    @classmethod
    def parse(cls, name: str) -> "RecordRef | None":
        for kind, prefix in _PREFIX_OF_KIND.items():
            record_id = id_from_name(name, prefix)
            if record_id is not None:
                return cls(kind, record_id)
        return None


def parse_record(violations: Violations, field: str, name: str) -> RecordRef | None:
    if not name:
        violations.add(field, "is required")
        return None
    record = RecordRef.parse(name)
    if record is None:
        violations.add(field, f"{name!r} is not like people/123 or organizations/123")
    return record


# --- Relationship types -------------------------------------------------------


@dataclass(frozen=True)
class RelationshipTypeDraft:
    """A type as the client asked for it; `RelationshipType.create` checks it."""

    id: str
    display_name: str
    inverse_display_name: str
    from_kind: ContactKind | None
    to_kind: ContactKind | None


@dataclass(frozen=True)
class RelationshipType:
    id: str
    display_name: str
    inverse_display_name: str
    from_kind: ContactKind
    to_kind: ContactKind
    create_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return TYPE_PREFIX + self.id

    @classmethod
    def create(cls, draft: RelationshipTypeDraft, now: datetime) -> "RelationshipType":
        violations = Violations()
        if draft.id:
            check_id(violations, "relationship_type_id", draft.id)
        else:
            violations.add("relationship_type_id", "is required")
        prefix = "relationship_type"
        display_name = _label(violations, f"{prefix}.display_name", draft.display_name)
        inverse = _label(violations, f"{prefix}.inverse_display_name", draft.inverse_display_name)
        for field, kind in (("from_kind", draft.from_kind), ("to_kind", draft.to_kind)):
            if kind is None:
                violations.add(f"{prefix}.{field}", "is required: PERSON or ORGANIZATION")
        violations.raise_if_any()
        assert draft.from_kind is not None and draft.to_kind is not None
        return cls(draft.id, display_name, inverse, draft.from_kind, draft.to_kind, now)

    def check_ends(self, from_: RecordRef, to: RecordRef) -> None:
        """Each end must be the kind of record the type links."""
        violations = Violations()
        for field, end, kind in (("from", from_, self.from_kind), ("to", to, self.to_kind)):
            if end.kind is not kind:
                violations.add(
                    f"relationship.{field}",
                    f"{self.name} links {self.from_kind} -> {self.to_kind}; "
                    f"{end.name} is a {end.kind}",
                )
        violations.raise_if_any()


def _label(violations: Violations, field: str, value: str) -> str:
    label = value.strip()
    if not label:
        violations.add(field, "is required")
    check_length(violations, field, label, LABEL_MAX)
    return label


# --- Relationships --------------------------------------------------------------


@dataclass(frozen=True)
class RelationshipDraft:
    """A link as the client asked for it; `parse_draft` checks it."""

    type: str
    from_: str
    to: str
    role: str = ""
    start_date: DateParts | None = None
    end_date: DateParts | None = None


@dataclass(frozen=True)
class RelationshipDetails:
    """The part of a relationship that may change after it is made."""

    role: str = ""
    start_date: date | None = None
    end_date: date | None = None


@dataclass(frozen=True)
class NewRelationship:
    """A draft that passed every check not needing stored data."""

    type_id: str
    from_: RecordRef
    to: RecordRef
    details: RelationshipDetails


def parse_draft(draft: RelationshipDraft) -> NewRelationship:
    """Reports every malformed field at once; the ends' existence and kinds come later."""
    violations = Violations()
    type_id = None
    if not draft.type:
        violations.add("relationship.type", "is required")
    else:
        type_id = id_from_name(draft.type, TYPE_PREFIX)
        if type_id is None:
            violations.add("relationship.type", f"{draft.type!r} is not like {TYPE_PREFIX}abc")
    from_ = parse_record(violations, "relationship.from", draft.from_)
    to = parse_record(violations, "relationship.to", draft.to)
    if from_ is not None and from_ == to:
        violations.add("relationship.to", "must differ from relationship.from")
    details = _details(violations, draft.role, draft.start_date, draft.end_date)
    violations.raise_if_any()
    assert type_id is not None and from_ is not None and to is not None
    return NewRelationship(type_id, from_, to, details)


def _details(
    violations: Violations, role: str, start: DateParts | None, end: DateParts | None
) -> RelationshipDetails:
    role = role.strip()
    check_length(violations, "relationship.role", role, NAME_MAX)
    start_date = _date(violations, "relationship.start_date", start)
    end_date = _date(violations, "relationship.end_date", end)
    if start_date and end_date and end_date < start_date:
        violations.add("relationship.end_date", "is before relationship.start_date")
    return RelationshipDetails(role, start_date, end_date)


def _date(violations: Violations, field: str, parts: DateParts | None) -> date | None:
    if parts is None:
        return None
    try:
        return date(*parts)
    except ValueError:
        violations.add(field, f"{_shown(parts)} is not a full, valid date (year, month and day)")
        return None


def _shown(parts: DateParts) -> str:
    year, month, day = parts
    return f"{year:04d}-{month:02d}-{day:02d}"


def _as_parts(value: date | None) -> DateParts | None:
    return None if value is None else (value.year, value.month, value.day)


@dataclass
class Relationship:
    id: str
    type_id: str
    from_: RecordRef
    to: RecordRef
    details: RelationshipDetails
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return RELATIONSHIP_PREFIX + self.id

    @property
    def type_name(self) -> str:
        return TYPE_PREFIX + self.type_id

    @classmethod
    def create(
        cls,
        relationship_id: str,
        new: NewRelationship,
        relationship_type: RelationshipType,
        now: datetime,
    ) -> "Relationship":
        relationship_type.check_ends(new.from_, new.to)
        return cls(
            id=relationship_id,
            type_id=new.type_id,
            from_=new.from_,
            to=new.to,
            details=new.details,
            create_time=now,
            update_time=now,
        )

    def is_current(self, today: date) -> bool:
        """Holds today: no end date, or one still ahead.

        The SQL filter `current` in storage/relationships.py says the same.
        """
        end = self.details.end_date
        return end is None or end > today

    @property
    def is_open(self) -> bool:
        """No end date: at most one open link of a type joins the same two records."""
        return self.details.end_date is None

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        """Applies role/start_date/end_date (dates as DateParts or None); returns what changed."""
        current = {
            "role": self.details.role,
            "start_date": _as_parts(self.details.start_date),
            "end_date": _as_parts(self.details.end_date),
        }
        merged = current | changes
        violations = Violations()
        details = _details(violations, merged["role"], merged["start_date"], merged["end_date"])
        violations.raise_if_any()
        changed = [
            name for name in changes if getattr(details, name) != getattr(self.details, name)
        ]
        if changed:
            self.details = details
            self._touch(now)
        return changed

    def repointed(self, old: RecordRef, new: RecordRef, now: datetime) -> "Relationship":
        """A copy with every end at `old` moved to `new`."""
        moved = replace(
            self,
            from_=new if self.from_ == old else self.from_,
            to=new if self.to == old else self.to,
        )
        moved._touch(now)
        return moved

    def duplicate_key(self) -> tuple[object, ...]:
        """Equal for links that say the same thing and so should be one.

        Open links of a type between the same two records are duplicates
        whatever their role (the database allows only one); ended ones only
        when role and dates match too, since someone may leave and rejoin.
        """
        ends = (self.type_id, self.from_.name, self.to.name)
        return ends if self.is_open else (*ends, self.details)

    def _touch(self, now: datetime) -> None:
        self.update_time = now
        self.version += 1


# --- Merging records ------------------------------------------------------------


@dataclass(frozen=True)
class RepointPlan:
    moved: list[Relationship]
    dropped: list[Relationship]


def plan_repoint(
    links: Iterable[Relationship], old: RecordRef, new: RecordRef, now: datetime
) -> RepointPlan:
    """Moves the links of `old` to `new`, as when `old` is merged into `new`.

    `links` are those touching either record. Links that would join `new` to
    itself are dropped, and so are duplicates; what `new` already had wins,
    then the oldest moved link.
    """
    if old.kind is not new.kind:
        raise ValueError(f"cannot repoint {old.name} to {new.name}: different kinds")
    links = list(links)
    staying = [link for link in links if old not in (link.from_, link.to)]
    moving = sorted(
        (link for link in links if old in (link.from_, link.to)),
        key=lambda link: (link.create_time, link.id),
    )
    seen = {link.duplicate_key() for link in staying}
    moved: list[Relationship] = []
    dropped: list[Relationship] = []
    for link in moving:
        candidate = link.repointed(old, new, now)
        key = candidate.duplicate_key()
        if candidate.from_ == candidate.to or key in seen:
            dropped.append(link)
            continue
        seen.add(key)
        moved.append(candidate)
    return RepointPlan(moved, dropped)
