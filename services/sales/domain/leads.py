"""Leads: people who may become customers, qualified before they are converted."""

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import IntEnum
from typing import Any

from crm_common.errors import FailedPrecondition, Violations
from crm_common.validation import (
    apply_changes,
    check_id,
    check_length,
    is_email_address,
    normalise_custom_fields,
    normalise_email,
    normalise_tags,
)
from crm_sales.domain.scoring import Score, ScoreLine

NAME_MAX = 200
PHONE_MAX = 50
SOURCE_MAX = 64
REASON_MAX = 500
OWNER_MAX = 128


class LeadStatus(IntEnum):
    NEW = 1
    CONTACTED = 2
    QUALIFIED = 3
    DISQUALIFIED = 4
    # Set by conversion only; final.
    CONVERTED = 5


# Disqualifying needs a reason; a disqualified lead may be revived.
_MOVES: Mapping[LeadStatus, frozenset[LeadStatus]] = {
    LeadStatus.NEW: frozenset(
        {LeadStatus.CONTACTED, LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED}
    ),
    LeadStatus.CONTACTED: frozenset({LeadStatus.QUALIFIED, LeadStatus.DISQUALIFIED}),
    LeadStatus.QUALIFIED: frozenset({LeadStatus.CONTACTED, LeadStatus.DISQUALIFIED}),
    LeadStatus.DISQUALIFIED: frozenset({LeadStatus.NEW, LeadStatus.CONTACTED}),
    LeadStatus.CONVERTED: frozenset(),
}


@dataclass(frozen=True)
class LeadDetails:
    given_name: str = ""
    family_name: str = ""
    email: str = ""
    phone: str = ""
    company_name: str = ""
    title: str = ""
    # Where it came from: web, referral, event, ...; free text, lower-cased.
    source: str = ""
    owner: str = ""
    tags: tuple[str, ...] = ()
    custom_fields: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Conversion:
    """What a conversion produced in the contacts and sales services."""

    person: str
    organization: str
    opportunity: str
    time: datetime


@dataclass
class Lead:
    id: str
    details: LeadDetails
    status: LeadStatus
    create_time: datetime
    update_time: datetime
    disqualify_reason: str = ""
    score: int = 0
    # The rules' lines behind `score`, so the score explains itself.
    breakdown: tuple[ScoreLine, ...] = ()
    conversion: Conversion | None = None
    version: int = 1

    @property
    def name(self) -> str:
        return f"leads/{self.id}"

    @classmethod
    def create(cls, lead_id: str, details: LeadDetails, now: datetime) -> "Lead":
        violations = Violations()
        check_id(violations, "lead_id", lead_id)
        details = normalise(details, violations)
        violations.raise_if_any()
        return cls(lead_id, details, LeadStatus.NEW, now, now)

    def first_score(self, score: Score) -> None:
        """Scores a lead being created: part of its first version, not a change."""
        self.score, self.breakdown = score.total, score.breakdown

    def change(self, changes: dict[str, Any], now: datetime) -> list[str]:
        """Applies an update of details, `status` and `disqualify_reason`; returns
        the names of the fields that really changed."""
        details = {name: value for name, value in changes.items() if name in _DETAIL_FIELDS}
        changed = self.update(details, now)
        if "status" in changes or "disqualify_reason" in changes:
            before = (self.status, self.disqualify_reason)
            status = changes.get("status", self.status)
            self.move(status, changes.get("disqualify_reason", self.disqualify_reason), now)
            changed += [
                name
                for name, old, new in zip(
                    ("status", "disqualify_reason"),
                    before,
                    (self.status, self.disqualify_reason),
                    strict=True,
                )
                if old != new
            ]
        return changed

    def update(self, changes: dict[str, Any], now: datetime) -> list[str]:
        self._refuse_if_converted()
        merged, changed = apply_changes(self.details, changes, normalise)
        if changed:
            self.details = merged
            self._touch(now)
        return changed

    def move(self, status: LeadStatus, reason: str, now: datetime) -> bool:
        """Changes the status; False when it already is `status`."""
        self._refuse_if_converted()
        if status == self.status:
            return self._restate_reason(reason, now)
        if status is LeadStatus.CONVERTED or status not in _MOVES[self.status]:
            raise FailedPrecondition(
                f"{self.name} cannot go from {self.status.name} to {status.name}"
            )
        violations = Violations()
        reason = reason.strip()
        if status is LeadStatus.DISQUALIFIED and not reason:
            violations.add("lead.disqualify_reason", "is required to disqualify a lead")
        check_length(violations, "lead.disqualify_reason", reason, REASON_MAX)
        violations.raise_if_any()
        self.status = status
        self.disqualify_reason = reason if status is LeadStatus.DISQUALIFIED else ""
        self._touch(now)
        return True

    def _restate_reason(self, reason: str, now: datetime) -> bool:
        """A disqualified lead's reason may be corrected; other statuses keep none."""
        reason = reason.strip()
        if self.status is not LeadStatus.DISQUALIFIED or reason in ("", self.disqualify_reason):
            return False
        violations = Violations()
        check_length(violations, "lead.disqualify_reason", reason, REASON_MAX)
        violations.raise_if_any()
        self.disqualify_reason = reason
        self._touch(now)
        return True

    def convert(self, conversion: Conversion) -> None:
        """Marks the lead converted; only a qualified lead converts."""
        self._refuse_if_converted()
        if self.status is not LeadStatus.QUALIFIED:
            raise FailedPrecondition(
                f"{self.name} is {self.status.name}; only a QUALIFIED lead can be converted"
            )
        self.status, self.conversion = LeadStatus.CONVERTED, conversion
        self._touch(conversion.time)

    def rescore(self, score: Score, now: datetime) -> bool:
        """Takes the score the rules now give; False when nothing about it changed."""
        if (score.total, score.breakdown) == (self.score, self.breakdown):
            return False
        self.score, self.breakdown = score.total, score.breakdown
        self._touch(now)
        return True

    def _refuse_if_converted(self) -> None:
        if self.status is LeadStatus.CONVERTED:
            raise FailedPrecondition(f"{self.name} was converted; it no longer changes")

    def _touch(self, now: datetime) -> None:
        self.update_time = now
        self.version += 1


_DETAIL_FIELDS = frozenset(LeadDetails.__dataclass_fields__)


def normalise(details: LeadDetails, violations: Violations) -> LeadDetails:
    prefix = "lead"
    given, family = details.given_name.strip(), details.family_name.strip()
    company = details.company_name.strip()
    email = normalise_email(details.email)
    if not (given or family or company or email):
        violations.add(f"{prefix}.family_name", "a lead needs a name, a company or an email")
    for path, value, limit in (
        ("given_name", given, NAME_MAX),
        ("family_name", family, NAME_MAX),
        ("company_name", company, NAME_MAX),
        ("title", details.title, NAME_MAX),
        ("phone", details.phone, PHONE_MAX),
        ("source", details.source, SOURCE_MAX),
        ("owner", details.owner, OWNER_MAX),
    ):
        check_length(violations, f"{prefix}.{path}", value, limit)
    if email and not is_email_address(email):
        violations.add(f"{prefix}.email", "is not an email address")
    return replace(
        details,
        given_name=given,
        family_name=family,
        company_name=company,
        email=email,
        source=details.source.strip().lower(),
        tags=normalise_tags(details.tags, violations, f"{prefix}.tags"),
        # Keys are identifiers, so that `custom_fields.<key>` can name them in a filter.
        custom_fields=normalise_custom_fields(
            details.custom_fields, violations, f"{prefix}.custom_fields"
        ),
    )
