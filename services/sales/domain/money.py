"""Money as exact decimals in an ISO 4217 currency, and conversion between currencies.

Amounts are `Decimal`, never float: a forecast that sums a million deals must
add up to the cent. google.type.Money carries units and nanos, so nine
fractional digits is the most precision an amount can have.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

from crm_common.errors import FailedPrecondition, Violations

NANOS = Decimal("0.000000001")
# Reports sum amounts as integer nanos (units * 1e9 + nanos): exact and fast.
NANOS_PER_UNIT = 1_000_000_000
# Amounts beyond this are typing mistakes, and would overflow int64 units.
AMOUNT_MAX = Decimal("1e15")
# Reports round to cents; currencies with other minor units still sum exactly.
CENTS = Decimal("0.01")

_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True, order=True)
class Money:
    currency: str
    amount: Decimal

    @classmethod
    def zero(cls, currency: str) -> "Money":
        return cls(currency, Decimal(0))

    def __add__(self, other: "Money") -> "Money":
        if other.currency != self.currency:
            raise ValueError(f"cannot add {other.currency} to {self.currency}")
        return Money(self.currency, self.amount + other.amount)

    def times(self, factor: Decimal) -> "Money":
        return Money(self.currency, self.amount * factor)

    def rounded(self) -> "Money":
        return Money(self.currency, self.amount.quantize(CENTS, rounding=ROUND_HALF_EVEN))


def check_money(violations: Violations, path: str, money: Money, *, required: bool) -> None:
    if not money.currency and money.amount == 0:
        if required:
            violations.add(path, "is required")
        return
    if not _CURRENCY.fullmatch(money.currency):
        violations.add(f"{path}.currency_code", "must be an ISO 4217 code such as EUR")
    if money.amount < 0:
        violations.add(path, "must not be negative")
    if abs(money.amount) >= AMOUNT_MAX:
        violations.add(path, f"must be below {AMOUNT_MAX:,.0f}")


def from_units_nanos(units: int, nanos: int, violations: Violations, path: str) -> Decimal:
    """google.type.Money's units and nanos as one Decimal; both must share a sign."""
    if not -999_999_999 <= nanos <= 999_999_999:
        violations.add(f"{path}.nanos", "must be between -999,999,999 and 999,999,999")
        return Decimal(0)
    if (units > 0 and nanos < 0) or (units < 0 and nanos > 0):
        violations.add(f"{path}.nanos", "must have the same sign as units")
    return Decimal(units) + Decimal(nanos) * NANOS


def to_units_nanos(amount: Decimal) -> tuple[int, int]:
    exact = amount.quantize(NANOS, rounding=ROUND_HALF_EVEN)
    units = int(exact)  # truncates toward zero, so nanos share the sign
    nanos = int((exact - units) / NANOS)
    return units, nanos


def nanos_of(units: int, nanos: int) -> int:
    """google.type.Money's parts as one integer count of nanos."""
    return units * NANOS_PER_UNIT + nanos


def split_nanos(total: int) -> tuple[int, int]:
    """An integer count of nanos as google.type.Money's units and nanos (same sign)."""
    units, nanos = divmod(abs(total), NANOS_PER_UNIT)
    return (-units, -nanos) if total < 0 else (units, nanos)


def divide_half_even(numerator: int, denominator: int) -> int:
    """`numerator / denominator` (denominator > 0) rounded half to even, as
    Decimal's ROUND_HALF_EVEN would, without leaving integers."""
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient


def parse_rate(text: str) -> Decimal | None:
    """A positive exchange rate written as a decimal string, or None."""
    try:
        rate = Decimal(text)
    except InvalidOperation:
        return None
    return rate if rate.is_finite() and rate > 0 else None


@dataclass(frozen=True)
class ExchangeRates:
    """How many units of `base` one unit of each currency is worth."""

    base: str
    rates: Mapping[str, Decimal]

    def convert(self, money: Money) -> Money:
        """`money` in the base currency; FAILED_PRECONDITION when no rate is known."""
        if money.currency == self.base:
            return money
        return Money(self.base, money.amount * self.rate_of(money.currency))

    def rate_of(self, currency: str) -> Decimal:
        """What one unit of `currency` is worth in the base; FAILED_PRECONDITION
        when no rate is known."""
        if currency == self.base:
            return Decimal(1)
        rate = self.rates.get(currency)
        if rate is None:
            raise FailedPrecondition(
                f"no exchange rate from {currency} to {self.base}; add one first"
            )
        return rate
