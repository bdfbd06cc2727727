"""The managed lists of reasons a deal is won or lost.

Reasons are archived rather than deleted: closed deals and the win/loss
report keep pointing at them.
"""

from dataclasses import dataclass, replace
from datetime import datetime
from enum import IntEnum
from typing import Any

from crm_common.errors import FailedPrecondition, InvalidArgument, Violations
from crm_common.validation import apply_changes, check_id, check_length
from crm_sales.domain.opportunities import State

DISPLAY_NAME_MAX = 100
CLOSE_REASONS = "closeReasons/"


class ReasonKind(IntEnum):
    WON = 1
    LOST = 2

    @property
    def closes_as(self) -> State:
        return State.WON if self is ReasonKind.WON else State.LOST


@dataclass(frozen=True)
class CloseReasonDetails:
    display_name: str = ""
    archived: bool = False


@dataclass
class CloseReason:
    id: str
    kind: ReasonKind
    details: CloseReasonDetails
    create_time: datetime
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return f"{CLOSE_REASONS}{self.id}"

    @classmethod
    def create(
        cls, reason_id: str, kind: ReasonKind | None, details: CloseReasonDetails, now: datetime
    ) -> "CloseReason":
        violations = Violations()
        check_id(violations, "close_reason_id", reason_id)
        if kind is None:
            violations.add("close_reason.kind", "is required: WON or LOST")
        details = _normalise(details, violations)
        violations.raise_if_any()
        assert kind is not None
        return cls(reason_id, kind, details, now, now)

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        merged, changed = apply_changes(self.details, changes, _normalise)
        if changed:
            self.details = merged
            self.update_time = now
            self.version += 1
        return changed

    def check_closes(self, state: State, field: str) -> None:
        """Refuses this reason for closing a deal as `state`."""
        if self.kind.closes_as is not state:
            raise InvalidArgument.single(
                field,
                f"{self.name} is a {self.kind.name.lower()} reason; "
                f"a deal {state.name.lower()} needs a {state.name.lower()} reason",
            )
        if self.details.archived:
            raise FailedPrecondition(f"{self.name} is archived; pick a current reason")


def _normalise(details: CloseReasonDetails, violations: Violations) -> CloseReasonDetails:
    display_name = details.display_name.strip()
    if not display_name:
        violations.add("close_reason.display_name", "is required")
    check_length(violations, "close_reason.display_name", display_name, DISPLAY_NAME_MAX)
    return replace(details, display_name=display_name)
