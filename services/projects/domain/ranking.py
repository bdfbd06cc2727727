"""Fractional ranks: string keys that order cards, so a move writes one row.

A key is an integer part and an optional fraction, both in base-62 digits
(0-9, A-Z, a-z: ascending in byte order, which is how the database compares
them, see `storage.boards`). The integer part's first character says how
many digits follow ("a0".."az" have one, "b00".."bzz" two; "Z"/"Y".. count
down for keys before "a0"), so appending or prepending only increments or
decrements an integer and keys stay short however many cards are added at
an end. Between two keys a fraction is made up (the idea of LexoRank and
Greenspan's fractional indexing).

Inserting again and again at one spot would halve the gap each time (one
more character per six inserts). The fraction therefore leans towards the
neighbour whose key is longer, usually the one placed last: repeatedly
inserting after (or before) the same card then walks one digit at a time
and costs one character per sixty inserts.
"""

from enum import Enum

DIGITS = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
BASE = len(DIGITS)
FIRST_KEY = "a0"
# The smallest integer part: no key can come before the keys that start with it
# except by a fraction.
_SMALLEST_INTEGER = "A" + DIGITS[0] * 26
_INDEX = {digit: index for index, digit in enumerate(DIGITS)}


class _Lean(Enum):
    LOW = "low"
    MIDDLE = "middle"
    HIGH = "high"


def key_between(before: str | None, after: str | None) -> str:
    """A key ordered strictly between `before` and `after` (None: an open end).

    Raises ValueError unless `before < after`.
    """
    if before is not None and after is not None and before >= after:
        raise ValueError(f"{before!r} is not before {after!r}")
    if before is None and after is None:
        return FIRST_KEY
    if before is None:
        assert after is not None
        return _key_before(after)
    if after is None:
        return _key_after(before)
    return _key_inside(before, after)


def keys_after(before: str | None, count: int) -> list[str]:
    """`count` ascending keys after `before` (at the start when None)."""
    keys: list[str] = []
    last = before
    for _ in range(count):
        last = key_between(last, None)
        keys.append(last)
    return keys


def _key_before(after: str) -> str:
    integer = _integer_part(after)
    if integer == _SMALLEST_INTEGER:
        return integer + _fraction_between("", after[len(integer) :], _Lean.HIGH)
    if integer < after:
        return integer  # `after` has a fraction, so its bare integer comes first
    smaller = _decrement(integer)
    if smaller is None:  # pragma: no cover - only "A000..." has no predecessor
        raise ValueError(f"no key before {after!r}")
    return smaller


def _key_after(before: str) -> str:
    integer = _integer_part(before)
    larger = _increment(integer)
    if larger is None:
        return integer + _fraction_between(before[len(integer) :], None, _Lean.LOW)
    return larger


def _key_inside(before: str, after: str) -> str:
    lean = _lean(before, after)
    low, high = _integer_part(before), _integer_part(after)
    if low == high:
        return low + _fraction_between(before[len(low) :], after[len(high) :], lean)
    larger = _increment(low)
    if larger is not None and larger < after:
        return larger
    return low + _fraction_between(before[len(low) :], None, lean)


def _lean(before: str, after: str) -> _Lean:
    """Towards the longer key, which is usually the latest insert at this spot."""
    if len(before) > len(after):
        return _Lean.LOW
    if len(after) > len(before):
        return _Lean.HIGH
    return _Lean.MIDDLE


def _fraction_between(low: str, high: str | None, lean: _Lean) -> str:
    """Digits strictly between the fractions `low` and `high` (None: 1), without
    a trailing zero, so that every fraction has one spelling."""
    if high is not None:
        shared = 0
        while (low[shared] if shared < len(low) else DIGITS[0]) == high[shared]:
            shared += 1
        if shared:
            return high[:shared] + _fraction_between(low[shared:], high[shared:], lean)
    low_digit = _INDEX[low[0]] if low else 0
    high_digit = _INDEX[high[0]] if high is not None else BASE
    if high_digit - low_digit > 1:
        return DIGITS[_pick(low_digit, high_digit, lean)]
    if high is not None and len(high) > 1:
        return high[0]  # `high` cut to its first digit is still above `low`
    return DIGITS[low_digit] + _fraction_between(low[1:], None, lean)


def _pick(low: int, high: int, lean: _Lean) -> int:
    if lean is _Lean.LOW:
        return low + 1
    if lean is _Lean.HIGH:
        return high - 1
    return (low + high + 1) // 2


def _integer_length(head: str) -> int:
    if "a" <= head <= "z":
        return ord(head) - ord("a") + 2
    if "A" <= head <= "Z":
        return ord("Z") - ord(head) + 2
    raise ValueError(f"{head!r} does not start a rank key")


def _integer_part(key: str) -> str:
    length = _integer_length(key[0])
    if length > len(key):
        raise ValueError(f"{key!r} is not a rank key")
    return key[:length]


def _increment(integer: str) -> str | None:
    """The next integer part; None after the largest ("zzz...")."""
    head, digits = integer[0], list(integer[1:])
    for position in reversed(range(len(digits))):
        value = _INDEX[digits[position]] + 1
        if value < BASE:
            digits[position] = DIGITS[value]
            return head + "".join(digits)
        digits[position] = DIGITS[0]
    if head == "Z":
        return FIRST_KEY
    if head == "z":
        return None
    head = chr(ord(head) + 1)
    if head > "a":
        digits.append(DIGITS[0])
    else:
        digits.pop()
    return head + "".join(digits)


def _decrement(integer: str) -> str | None:
    """The previous integer part; None before the smallest ("A000...")."""
    head, digits = integer[0], list(integer[1:])
    for position in reversed(range(len(digits))):
        value = _INDEX[digits[position]] - 1
        if value >= 0:
            digits[position] = DIGITS[value]
            return head + "".join(digits)
        digits[position] = DIGITS[-1]
    if head == "a":
        return "Z" + DIGITS[-1]
    if head == "A":
        return None
    head = chr(ord(head) - 1)
    if head < "Z":
        digits.append(DIGITS[-1])
    else:
        digits.pop()
    return head + "".join(digits)
