"""Timeline summaries: exact money, one line, the customers an event names."""

from decimal import Decimal

import pytest

from crm_contacts.domain.notes import ParentKind, ParentRef
from crm_contacts.domain.timeline import (
    Money,
    TimelineKind,
    customers_among,
    deal_summary,
    format_money,
    note_summary,
    one_line,
    project_summary,
    ticket_summary,
)


@pytest.mark.parametrize(
    ("money", "shown"),
    [
        (Money("GBP", 12_000), "GBP 12,000.00"),
        (Money("EUR", 0, 500_000_000), "EUR 0.50"),
        (Money("USD", 1_234_567, 890_000_000), "USD 1,234,567.89"),
        # More precision than cents is shown, never rounded away.
        (Money("BHD", 1, 250_000), "BHD 1.00025"),
        (Money("JPY", 5), "JPY 5.00"),
        (Money("GBP", -5, -10_000_000), "GBP -5.01"),
        (Money("GBP"), "GBP 0.00"),
        (Money("", 3), "3.00"),
        # The largest int64 and nanos: exact, no float anywhere.
        (Money("USD", 2**63 - 1, 999_999_999), "USD 9,223,372,036,854,775,807.999999999"),
    ],
)
def test_money_is_formatted_exactly(money: Money, shown: str) -> None:
    assert format_money(money) == shown


def test_money_amount_is_a_decimal_of_units_and_nanos() -> None:
    assert Money("GBP", 0, 100_000_000).amount == Decimal("0.1")
    assert Money("GBP", 12, 345_000_000).amount == Decimal("12.345")


def test_deal_summaries() -> None:
    value = Money("GBP", 12_000)
    assert (
        deal_summary(TimelineKind.DEAL_WON, "Analytical Engine", value)
        == "Deal won: Analytical Engine (GBP 12,000.00)"
    )
    assert deal_summary(TimelineKind.DEAL_OPENED, "Engine") == "Deal opened: Engine"
    assert (
        deal_summary(TimelineKind.DEAL_LOST, "Engine", value, reason=" Price ")
        == "Deal lost: Engine (GBP 12,000.00) — Price"
    )


def test_ticket_and_project_summaries() -> None:
    assert (
        ticket_summary(TimelineKind.TICKET_OPENED, 1042, "Printer on fire")
        == "Ticket opened: #1042 Printer on fire"
    )
    assert ticket_summary(TimelineKind.TICKET_SOLVED, 0, "No number") == "Ticket solved: No number"
    assert project_summary("Difference Engine No. 2") == "Project started: Difference Engine No. 2"


def test_summaries_are_one_line() -> None:
    assert ticket_summary(TimelineKind.TICKET_OPENED, 7, "Two\nlines  here") == (
        "Ticket opened: #7 Two lines here"
    )
    assert note_summary("\n\n  Called about renewal.\nSecond line") == "Called about renewal."
    long = one_line("x" * 500, width=10)
    assert long == "xxxxxxxxx…" and len(long) == 10


def test_customers_among_keeps_people_and_organizations_once_each() -> None:
    names = [
        "organizations/acme",
        "people/ada",
        "",
        "people/ada",
        "customers/ada",
        "people/" + "a" * 64,
        "people/Not Valid",
        "people/grace",
    ]
    assert customers_among(names) == (
        ParentRef(ParentKind.ORGANIZATION, "acme"),
        ParentRef(ParentKind.PERSON, "ada"),
        ParentRef(ParentKind.PERSON, "grace"),
    )
