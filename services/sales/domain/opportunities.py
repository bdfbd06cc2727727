"""Opportunities: a deal's value, where it stands in its pipeline, and how it got there."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import Decimal
from enum import IntEnum
from typing import Any

from crm_common.errors import FailedPrecondition, Violations
from crm_common.filtering import FilterField, FilterSchema
from crm_common.validation import (
    apply_changes,
    check_count,
    check_id,
    check_length,
    normalise_custom_fields,
    normalise_tags,
)
from crm_sales.domain.money import Money, check_money
from crm_sales.domain.pipelines import Pipeline

DISPLAY_NAME_MAX = 200
PEOPLE_MAX = 50
REASON_MAX = 100
OWNER_MAX = 128
PEOPLE = "people/"
ORGANIZATIONS = "organizations/"


class State(IntEnum):
    OPEN = 1
    WON = 2
    LOST = 3


class ForecastCategory(IntEnum):
    """How sure the owner is; by default it follows the probability."""

    PIPELINE = 1
    BEST_CASE = 2
    COMMIT = 3
    OMITTED = 4


@dataclass(frozen=True)
class StageVisit:
    stage_id: str
    enter_time: datetime
    # None while the opportunity is still in the stage.
    leave_time: datetime | None = None
    # Stage ids are unique within a pipeline only; a deal may move between pipelines.
    pipeline_id: str = ""


@dataclass(frozen=True)
class OpportunityDetails:
    """What a client writes; stage moves and closing have rules of their own."""

    display_name: str = ""
    value: Money = field(default_factory=lambda: Money("", Decimal(0)))
    expected_close_date: date | None = None
    # Percent; None follows the stage's default.
    probability: int | None = None
    forecast_category: ForecastCategory | None = None
    owner: str = ""
    organization: str = ""
    people: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OpportunityDraft:
    """A new opportunity as its creator describes it (a client, or a lead's conversion)."""

    details: OpportunityDetails
    # `pipelines/{id}`.
    pipeline: str
    # The stage id within the pipeline; empty starts in its first open stage.
    stage_id: str = ""


@dataclass
class Opportunity:
    id: str
    details: OpportunityDetails
    pipeline_id: str
    stage_id: str
    state: State
    create_time: datetime
    update_time: datetime
    stage_history: tuple[StageVisit, ...] = ()
    close_reason: str = ""
    close_time: datetime | None = None
    version: int = 1

    @property
    def name(self) -> str:
        return f"opportunities/{self.id}"

    @classmethod
    def create(
        cls,
        opportunity_id: str,
        details: OpportunityDetails,
        pipeline: Pipeline,
        stage_id: str,
        now: datetime,
    ) -> "Opportunity":
        violations = Violations()
        check_id(violations, "opportunity_id", opportunity_id)
        details = normalise(details, violations)
        violations.raise_if_any()
        return cls(
            opportunity_id,
            details,
            pipeline.id,
            stage_id,
            State.OPEN,
            now,
            now,
            stage_history=(StageVisit(stage_id, now, pipeline_id=pipeline.id),),
        )

    def probability(self, pipeline: Pipeline) -> int:
        """Won deals are certain and lost ones worthless; open ones use the override
        or the stage's default."""
        if self.state is State.WON:
            return 100
        if self.state is State.LOST:
            return 0
        if self.details.probability is not None:
            return self.details.probability
        return pipeline.stage(self.stage_id).probability

    def forecast_category(self, pipeline: Pipeline) -> ForecastCategory:
        if self.details.forecast_category is not None:
            return self.details.forecast_category
        return default_category(self.probability(pipeline))

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        self._refuse_if_closed("edited")
        merged, changed = apply_changes(self.details, changes, normalise)
        if changed:
            self.details = merged
            self._touch(now)
        return changed

    def move_to(self, pipeline: Pipeline, stage_id: str, now: datetime) -> bool:
        """Enters `stage_id` (possibly of another pipeline); False when already there."""
        self._refuse_if_closed("moved")
        if (pipeline.id, stage_id) == (self.pipeline_id, self.stage_id):
            return False
        self._leave_stage(now)
        self.pipeline_id, self.stage_id = pipeline.id, stage_id
        self.stage_history = (
            *self.stage_history,
            StageVisit(stage_id, now, pipeline_id=pipeline.id),
        )
        self._touch(now)
        return True

    def close(self, state: State, reason: str, now: datetime) -> None:
        self._refuse_if_closed("closed again")
        if state is State.OPEN:
            raise ValueError("closing needs WON or LOST")
        self.state, self.close_reason, self.close_time = state, reason, now
        self._leave_stage(now)
        self._touch(now)

    def reopen(self, now: datetime) -> None:
        if self.state is State.OPEN:
            raise FailedPrecondition(f"{self.name} is already open")
        self.state, self.close_reason, self.close_time = State.OPEN, "", None
        self.stage_history = (
            *self.stage_history,
            StageVisit(self.stage_id, now, pipeline_id=self.pipeline_id),
        )
        self._touch(now)

    def repoint_contacts(self, merged: set[str], survivor: str, now: datetime) -> bool:
        """Links to contacts merged into `survivor` now name it; closed deals too,
        as their history must keep pointing at someone who exists."""
        people = tuple(dict.fromkeys(survivor if p in merged else p for p in self.details.people))
        organization = (
            survivor if self.details.organization in merged else self.details.organization
        )
        return self._relink(people, organization, now)

    def forget_contact(self, contact: str, now: datetime) -> bool:
        """Drops every link to an erased contact."""
        people = tuple(p for p in self.details.people if p != contact)
        organization = "" if self.details.organization == contact else self.details.organization
        return self._relink(people, organization, now)

    def _relink(self, people: tuple[str, ...], organization: str, now: datetime) -> bool:
        if (people, organization) == (self.details.people, self.details.organization):
            return False
        self.details = replace(self.details, people=people, organization=organization)
        self._touch(now)
        return True

    def _leave_stage(self, now: datetime) -> None:
        *earlier, current = self.stage_history
        self.stage_history = (*earlier, replace(current, leave_time=now))

    def _refuse_if_closed(self, what: str) -> None:
        if self.state is not State.OPEN:
            raise FailedPrecondition(
                f"{self.name} is {self.state.name.lower()}; reopen it before it is {what}"
            )

    def _touch(self, now: datetime) -> None:
        self.update_time = now
        self.version += 1


def default_category(probability: int) -> ForecastCategory:
    if probability >= 90:
        return ForecastCategory.COMMIT
    if probability >= 50:
        return ForecastCategory.BEST_CASE
    return ForecastCategory.PIPELINE


def normalise(details: OpportunityDetails, violations: Violations) -> OpportunityDetails:
    prefix = "opportunity"
    display_name = details.display_name.strip()
    if not display_name:
        violations.add(f"{prefix}.display_name", "is required")
    check_length(violations, f"{prefix}.display_name", display_name, DISPLAY_NAME_MAX)
    check_money(violations, f"{prefix}.value", details.value, required=True)
    if details.probability is not None and not 0 <= details.probability <= 100:
        violations.add(f"{prefix}.probability", "is a percentage, 0 to 100")
    check_length(violations, f"{prefix}.owner", details.owner, OWNER_MAX)
    if details.organization and not _is_name(details.organization, ORGANIZATIONS):
        violations.add(f"{prefix}.organization", "must be like organizations/123")
    check_count(violations, f"{prefix}.people", details.people, PEOPLE_MAX)
    for index, person in enumerate(details.people):
        if not _is_name(person, PEOPLE):
            violations.add(f"{prefix}.people[{index}]", "must be like people/123")
    return replace(
        details,
        display_name=display_name,
        people=tuple(dict.fromkeys(details.people)),
        tags=normalise_tags(details.tags, violations, f"{prefix}.tags"),
        custom_fields=normalise_custom_fields(
            details.custom_fields, violations, f"{prefix}.custom_fields"
        ),
    )


def _is_name(name: str, prefix: str) -> bool:
    resource_id = name.removeprefix(prefix)
    return name.startswith(prefix) and bool(resource_id) and "/" not in resource_id


@dataclass(frozen=True)
class Deal:
    """An opportunity with the pipeline it is in, which its probability and
    forecast category depend on."""

    opportunity: Opportunity
    pipeline: Pipeline

    @property
    def probability(self) -> int:
        return self.opportunity.probability(self.pipeline)

    @property
    def forecast_category(self) -> ForecastCategory:
        return self.opportunity.forecast_category(self.pipeline)


# What ListOpportunities, forecasts and workflow conditions filter on.
FILTER_SCHEMA = FilterSchema(
    {
        **{
            name: FilterField.string()
            for name in (
                "display_name",
                "owner",
                "organization",
                "pipeline",
                "stage",
                "close_reason",
                "value.currency_code",
                "expected_close_date",
            )
        },
        "state": FilterField.enum({state.name: int(state) for state in State}),
        "forecast_category": FilterField.enum({c.name: int(c) for c in ForecastCategory}),
        "people": FilterField.repeated_string(),
        "tags": FilterField.repeated_string(),
        "value.units": FilterField.integer(),
        "effective_probability": FilterField.integer(),
        "close_time": FilterField.timestamp(),
        "create_time": FilterField.timestamp(),
        "update_time": FilterField.timestamp(),
    },
    custom_prefixes=("custom_fields",),
)
