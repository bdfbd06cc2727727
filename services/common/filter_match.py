"""Whether one record in memory matches a checked AIP-160 filter.

Some decisions are taken before a record is saved, or about a record another
service owns (triggers, scoring rules, workflow rules), so they cannot ask
the database. Their answer must be the one a List RPC would give for the
stored record, so a service describes each field by its stored form and
this mirrors the SQL translation (crm_common/storage/filter_sql.py):

- a comparison with a missing value (None) is false, and NOT is its exact
  complement; `field = null` asks whether the value is missing;
- a value of another type than the stored one makes a comparison false
  (custom fields hold strings, so only a quoted value can match them);
- `field:*` is "set": not missing, and for strings also not empty;
- `repeated:"value"` is membership, after putting the value in stored form.

String ordering (`<`, `>`) is by code point, as on SQLite; PostgreSQL orders
by the database's collation.
"""

import operator
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, TypeVar

from crm_common.filtering import And, Comparison, Expr, Has, Not, Op, Or

RecordT = TypeVar("RecordT")

Stored = str | int | float | date | datetime | None

_COMPARE: dict[Op, Callable[[Any, Any], bool]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


def same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Scalar(Generic[RecordT]):
    """A single-valued field: its stored value, and how a client's value is put in that form."""

    stored: Callable[[RecordT], Stored]
    normalise: Callable[[Any], Any] = same


@dataclass(frozen=True)
class Repeated(Generic[RecordT]):
    """A repeated string field: its stored values, and how a client's value is put in that form."""

    values: Callable[[RecordT], Collection[str]]
    normalise: Callable[[str], str] = same


@dataclass(frozen=True)
class RecordFields(Generic[RecordT]):
    """How each filterable field of one kind of record is read in memory.

    `custom` maps a custom-field prefix (`custom_fields`) to the record's
    string-valued object; `custom_fields.region` reads its "region" key.
    """

    scalars: Mapping[str, Scalar[RecordT]]
    repeated: Mapping[str, Repeated[RecordT]] = field(default_factory=dict)
    custom: Mapping[str, Callable[[RecordT], Mapping[str, str]]] = field(default_factory=dict)

    @property
    def names(self) -> frozenset[str]:
        """Every field this can test, custom prefixes included."""
        return frozenset(self.scalars) | frozenset(self.repeated) | frozenset(self.custom)

    def matches(self, expr: Expr | None, record: RecordT) -> bool:
        """Whether `record` satisfies `expr`, a filter checked against the matching schema."""
        match expr:
            case None:
                return True
            case And(terms):
                return all(self.matches(term, record) for term in terms)
            case Or(terms):
                return any(self.matches(term, record) for term in terms)
            case Not(inner):
                return not self.matches(inner, record)
            case Comparison():
                return self._compare(expr, record)
            case Has():
                return self._has(expr, record)
        raise TypeError(f"not a filter expression: {expr!r}")

    def _scalar(self, name: str, record: RecordT) -> tuple[Stored, Callable[[Any], Any]]:
        if name in self.scalars:
            spec = self.scalars[name]
            return spec.stored(record), spec.normalise
        prefix, _, key = name.partition(".")
        if prefix in self.custom and key:
            return self.custom[prefix](record).get(key), same
        raise LookupError(f"{name!r} cannot be tested in memory")

    def _compare(self, node: Comparison, record: RecordT) -> bool:
        stored, normalise = self._scalar(node.field, record)
        if node.value is None:
            return (stored is None) == (node.op is Op.EQ)
        value = normalise(node.value) if isinstance(node.value, str) else node.value
        if stored is None or not _comparable(stored, value):
            return False
        return _COMPARE[node.op](stored, value)

    def _has(self, node: Has, record: RecordT) -> bool:
        if node.field in self.repeated:
            spec = self.repeated[node.field]
            values = spec.values(record)
            if node.value is None:
                return bool(values)
            return spec.normalise(str(node.value)) in values
        if node.value is not None:
            raise LookupError(f"{node.field!r}: a value after ':' needs a repeated field")
        stored, _ = self._scalar(node.field, record)
        # Unset strings are stored empty (proto3 has no presence for them).
        return stored is not None and stored != ""


def _comparable(stored: object, value: object) -> bool:
    if isinstance(stored, bool) or isinstance(value, bool):
        return type(stored) is type(value)
    numbers = (int, float)
    if isinstance(stored, numbers) and isinstance(value, numbers):
        return True
    # A date is not a datetime's equal even though datetime subclasses date.
    return type(stored) is type(value)
