"""The customer timeline: notes, and what other services announced about a customer."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, localcontext
from enum import StrEnum

from crm_common.errors import Violations
from crm_contacts.domain.contact_points import check_id
from crm_contacts.domain.notes import Note, ParentRef

OWN_SOURCE = "contacts"
SUMMARY_MAX = 300  # one line in a list; the resource has the rest


class TimelineKind(StrEnum):
    NOTE = "note"
    DEAL_OPENED = "deal_opened"
    DEAL_WON = "deal_won"
    DEAL_LOST = "deal_lost"
    TICKET_OPENED = "ticket_opened"
    TICKET_SOLVED = "ticket_solved"
    PROJECT_STARTED = "project_started"


_LABELS = {
    TimelineKind.NOTE: "Note",
    TimelineKind.DEAL_OPENED: "Deal opened",
    TimelineKind.DEAL_WON: "Deal won",
    TimelineKind.DEAL_LOST: "Deal lost",
    TimelineKind.TICKET_OPENED: "Ticket opened",
    TimelineKind.TICKET_SOLVED: "Ticket solved",
    TimelineKind.PROJECT_STARTED: "Project started",
}


@dataclass(frozen=True)
class Money:
    """An amount as google.type.Money holds it: whole units plus nanos (same sign)."""

    currency_code: str
    units: int = 0
    nanos: int = 0

    @property
    def amount(self) -> Decimal:
        # Decimal throughout: a float cannot hold 0.1 exactly, and money
        # shown to people must be the amount that was entered.
        with localcontext() as context:
            context.prec = 40  # int64 units and nine decimals fit without rounding
            return Decimal(self.units) + Decimal(self.nanos).scaleb(-9)


@dataclass(frozen=True)
class Announcement:
    """Something another service announced, to go on the timeline of each of `about`."""

    kind: TimelineKind
    summary: str
    source: str
    resource: str
    time: datetime
    about: tuple[ParentRef, ...]


@dataclass(frozen=True)
class TimelineEntry:
    id: str
    parent: ParentRef
    time: datetime
    kind: TimelineKind
    summary: str
    source: str
    resource: str
    note: Note | None = None

    @classmethod
    def of_note(cls, note: Note) -> "TimelineEntry":
        return cls(
            id=note.ref.id,
            parent=note.ref.parent,
            time=note.create_time,
            kind=TimelineKind.NOTE,
            summary=note_summary(note.body),
            source=OWN_SOURCE,
            resource=note.name,
            note=note,
        )


def format_money(money: Money) -> str:
    """`GBP 12,000.00`: two decimals at least, more only when the amount has them.

    Never rounded: a value with more precision than cents shows all of it.
    """
    amount = money.amount
    with localcontext() as context:
        context.prec = 40
        exponent = amount.normalize().as_tuple().exponent
        places = max(-exponent, 2) if isinstance(exponent, int) else 2
        shown = format(amount.quantize(Decimal(1).scaleb(-places)), ",f")
    return f"{money.currency_code} {shown}" if money.currency_code else shown


def deal_summary(
    kind: TimelineKind, title: str, value: Money | None = None, reason: str = ""
) -> str:
    """`Deal won: Analytical Engine (GBP 12,000.00)`, with the reason when given."""
    text = f"{_LABELS[kind]}: {title}"
    if value is not None:
        text += f" ({format_money(value)})"
    if reason.strip():
        text += f" — {reason.strip()}"
    return one_line(text)


def ticket_summary(kind: TimelineKind, number: int, subject: str) -> str:
    """`Ticket opened: #1042 Printer on fire`."""
    label = f"#{number} {subject}" if number else subject
    return one_line(f"{_LABELS[kind]}: {label}")


def project_summary(title: str) -> str:
    return one_line(f"{_LABELS[TimelineKind.PROJECT_STARTED]}: {title}")


def note_summary(body: str) -> str:
    """The note's first non-blank line."""
    first = next((line for line in body.splitlines() if line.strip()), "")
    return one_line(first)


def one_line(text: str, width: int = SUMMARY_MAX) -> str:
    """`text` with its whitespace collapsed, cut to `width` with "…" when longer."""
    line = " ".join(text.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def customers_among(names: Iterable[str]) -> tuple[ParentRef, ...]:
    """The people and organizations `names` refer to, once each, in order.

    Blank names, and names no contact can have, are skipped: the
    announcement still reaches the others it names.
    """
    found: dict[ParentRef, None] = {}
    for name in names:
        parent = ParentRef.parse(name)
        if parent is not None and _is_contact_id(parent.id):
            found[parent] = None
    return tuple(found)


def _is_contact_id(value: str) -> bool:
    violations = Violations()
    check_id(violations, "id", value)
    return not violations
