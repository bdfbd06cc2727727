"""Money on the command line: `google.type.Money` read and written exactly,
as Decimal, never through a float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from google.type.money_pb2 import Money

from crm_cli.rpc import CommandError

NANOS = Decimal("0.000000001")
CENTS = Decimal("0.01")


def money_amount(money: Money) -> tuple[str, Decimal]:
    """Exact: units and nanos as one Decimal, never a float."""
    return money.currency_code, Decimal(money.units) + Decimal(money.nanos) * NANOS


def format_money(currency: str, amount: Decimal) -> str:
    return f"{currency} {amount.quantize(CENTS, rounding=ROUND_HALF_EVEN):,}"


def money_text(money: Money) -> str:
    """`EUR 1,200.50`; "-" when no value is set."""
    return format_money(*money_amount(money)) if money.currency_code else "-"


def parse_money(amount: str, currency: str) -> Money:
    """`Money` of "1200.50" and "eur"; CommandError when the amount is not a number."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        raise CommandError(f"{amount!r} is not an amount such as 1200.50") from None
    if not value.is_finite():
        raise CommandError(f"{amount!r} is not an amount such as 1200.50")
    units = int(value)
    return Money(currency_code=currency.upper(), units=units, nanos=int((value - units) / NANOS))
