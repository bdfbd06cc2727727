"""Macros, triggers and automations: named action lists, and when they run.

Conditions are ticket filters saved as text and evaluated later (triggers
on each change, automations on a clock), so `@now` means the moment of
evaluation. They are parsed when saved, so a condition that could never
run is refused then rather than skipped silently forever.
"""

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any, ClassVar, Self, TypeVar

from crm_common.errors import InvalidArgument, Violations
from crm_common.filtering import Expr, FilterField, FilterSchema, parse_filter
from crm_common.pagination import SortKey
from crm_common.validation import check_id, check_length
from crm_support.domain.actions import Action, check_actions
from crm_support.domain.filter_placeholders import expand
from crm_support.domain.tickets import FILTER_SCHEMA

DISPLAY_NAME_MAX = 200
DESCRIPTION_MAX = 2000
POSITION_MAX = 2**31 - 1
NOT_SAVED = datetime.min.replace(tzinfo=UTC)


class TriggerEvent(IntEnum):
    CREATE = 1
    UPDATE = 2


def parse_condition(text: str, now: datetime, path: str) -> Expr | None:
    """The checked filter `text` means at `now`; INVALID_ARGUMENT on `path`.

    Nobody is looking when a trigger or automation runs, so `@me` is refused.
    """
    try:
        return parse_filter(expand(text, now, field=path), FILTER_SCHEMA)
    except InvalidArgument as error:
        raise InvalidArgument(replace(v, field=path) for v in error.violations) from None


def _check_condition(violations: Violations, path: str, text: str, now: datetime) -> None:
    try:
        parse_condition(text, now, path)
    except InvalidArgument as error:
        violations.extend(error.violations)


@dataclass(frozen=True)
class Configured:
    """What macros, triggers and automations have in common."""

    KIND: ClassVar[str]  # the request field holding one, e.g. "macro"
    COLLECTION: ClassVar[str]  # e.g. "macros/"
    # Fields a client may change (AIP-134); timestamps and version are the service's.
    UPDATABLE: ClassVar[tuple[str, ...]]
    # Macros are applied by an agent, who writes the comments naming no author.
    APPLIED_BY_AGENT: ClassVar[bool] = False

    # A draft from a request has only what the client sets; `create` does the rest.
    id: str = ""
    display_name: str = ""
    description: str = ""
    active: bool = True
    actions: tuple[Action, ...] = ()
    create_time: datetime = NOT_SAVED
    update_time: datetime = NOT_SAVED
    version: int = 0

    @property
    def name(self) -> str:
        return f"{self.COLLECTION}{self.id}"

    def checked(self, now: datetime) -> Self:
        """Normalised, or INVALID_ARGUMENT naming every bad field under KIND."""
        violations = Violations()
        prefix = self.KIND
        display_name = self.display_name.strip()
        if not display_name:
            violations.add(f"{prefix}.display_name", "is required")
        check_length(violations, f"{prefix}.display_name", display_name, DISPLAY_NAME_MAX)
        check_length(violations, f"{prefix}.description", self.description, DESCRIPTION_MAX)
        actions = check_actions(
            self.actions,
            violations,
            f"{prefix}.actions",
            author_required=not self.APPLIED_BY_AGENT,
        )
        checked = self._check_own(violations, now)
        violations.raise_if_any()
        return replace(checked, display_name=display_name, actions=actions)

    def _check_own(self, violations: Violations, now: datetime) -> Self:
        return self


R = TypeVar("R", bound=Configured)


@dataclass(frozen=True)
class Macro(Configured):
    KIND = "macro"
    COLLECTION = "macros/"
    UPDATABLE = ("display_name", "description", "actions", "active")
    APPLIED_BY_AGENT = True


@dataclass(frozen=True)
class Trigger(Configured):
    KIND = "trigger"
    COLLECTION = "triggers/"
    UPDATABLE = (
        "display_name",
        "description",
        "position",
        "active",
        "on",
        "condition",
        "actions",
    )

    position: int = 0
    on: tuple[TriggerEvent, ...] = ()
    condition: str = ""

    def _check_own(self, violations: Violations, now: datetime) -> Self:
        _check_position(violations, f"{self.KIND}.position", self.position)
        if not self.on:
            violations.add(f"{self.KIND}.on", "is required: CREATE, UPDATE or both")
        _check_condition(violations, f"{self.KIND}.condition", self.condition, now)
        return replace(self, on=tuple(sorted(set(self.on))))

    def fires_on(self, event: TriggerEvent) -> bool:
        return event in self.on


@dataclass(frozen=True)
class Automation(Configured):
    KIND = "automation"
    COLLECTION = "automations/"
    UPDATABLE = ("display_name", "description", "position", "active", "condition", "actions")

    position: int = 0
    condition: str = ""

    def _check_own(self, violations: Violations, now: datetime) -> Self:
        _check_position(violations, f"{self.KIND}.position", self.position)
        path = f"{self.KIND}.condition"
        # Without a condition an automation would act on every ticket there is.
        if not self.condition.strip():
            violations.add(path, "is required, e.g. status = SOLVED AND solve_time <= @now-4d")
        else:
            _check_condition(violations, path, self.condition, now)
        return self


def _check_position(violations: Violations, path: str, position: int) -> None:
    if not 0 <= position <= POSITION_MAX:
        violations.add(path, f"must be between 0 and {POSITION_MAX}")


def create(resource: R, resource_id: str, now: datetime) -> R:
    """A new resource with its id, times and first version; checked."""
    violations = Violations()
    check_id(violations, f"{resource.KIND}_id", resource_id)
    violations.raise_if_any()
    fresh = replace(resource, id=resource_id, create_time=now, update_time=now, version=1)
    return fresh.checked(now)


def revise(resource: R, changes: Mapping[str, Any], now: datetime) -> R:
    """The resource with `changes` (UPDATABLE fields) applied and checked; a new
    version only when something really changed."""
    revised = replace(resource, **changes).checked(now)
    if _content(revised) == _content(resource):
        return resource
    return replace(revised, update_time=now, version=resource.version + 1)


def _content(resource: Configured) -> dict[str, Any]:
    return {
        f.name: getattr(resource, f.name) for f in fields(resource) if f.name in resource.UPDATABLE
    }


# Sorting and filtering the lists.
LIST_FILTER = FilterSchema({"display_name": FilterField.string(), "active": FilterField.boolean()})
MACRO_SORTABLE = ("display_name", "create_time", "update_time")
MACRO_ORDER = (SortKey("display_name"),)
# Triggers and automations list in the order they run.
RUN_ORDER = (SortKey("position"), SortKey("id"))
