"""The managed exchange-rate table: what one unit of a currency is worth in the base currency."""

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from crm_common.errors import InvalidArgument, Violations
from crm_sales.domain.money import parse_rate

EXCHANGE_RATES = "exchangeRates/"
# Beyond these a rate is a typing mistake; nine decimals match google.type.Money.
RATE_MAX = Decimal(1_000_000_000)
RATE_DECIMALS = 9

_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass
class ExchangeRate:
    currency: str
    rate: Decimal
    update_time: datetime
    version: int = 1

    @property
    def name(self) -> str:
        return f"{EXCHANGE_RATES}{self.currency}"

    def set(self, rate: Decimal, now: datetime) -> bool:
        """Changes the rate; False when it already is `rate`."""
        if rate == self.rate:
            return False
        self.rate, self.update_time = rate, now
        self.version += 1
        return True


def currency_from_name(name: str, field: str) -> str:
    """The currency code in `exchangeRates/{code}`; INVALID_ARGUMENT on `field` otherwise."""
    code = name.removeprefix(EXCHANGE_RATES)
    if not name.startswith(EXCHANGE_RATES) or not _CURRENCY.fullmatch(code):
        raise InvalidArgument.single(
            field, f"{name!r} is not an exchange rate name such as exchangeRates/USD"
        )
    return code


def check_currency_code(violations: Violations, field: str, code: str) -> None:
    if not _CURRENCY.fullmatch(code):
        violations.add(field, f"{code!r} is not an ISO 4217 code such as EUR")


def parse_exchange_rate(violations: Violations, field: str, text: str) -> Decimal | None:
    """The rate a client wrote, normalised (`0.9200` is `0.92`), or None after a violation."""
    if not text.strip():
        violations.add(field, "is required")
        return None
    rate = parse_rate(text.strip())
    if rate is None:
        violations.add(field, f"{text!r} is not a positive decimal number such as 0.92")
        return None
    if rate >= RATE_MAX:
        violations.add(field, f"must be below {RATE_MAX:,}")
        return None
    exponent = rate.normalize().as_tuple().exponent
    if isinstance(exponent, int) and -exponent > RATE_DECIMALS:
        violations.add(field, f"has more than {RATE_DECIMALS} digits after the point")
        return None
    return normalised(rate)


def normalised(rate: Decimal) -> Decimal:
    """`rate` without trailing zeros, never in exponent notation."""
    plain = rate.normalize()
    return plain.quantize(Decimal(1)) if plain == plain.to_integral_value() else plain


def rate_text(rate: Decimal) -> str:
    return format(rate, "f")
