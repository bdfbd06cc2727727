"""AIP-160 filters in SQL: a checked filter tree becomes a WHERE clause.

Each filterable field is bound to where its data lives (a FieldBinding): a
plain column, a child table holding one value a row, a JSON array column or a
JSON object column of open-ended keys. JSON needs different SQL on SQLite and
PostgreSQL, so those tests are SQL elements compiled per dialect; either way
every value from the client reaches the database as a bound parameter.

Semantics: a comparison with a missing value (SQL NULL, an absent JSON key or
a JSON value of another type) is false, and NOT is its exact complement, so
`NOT custom_fields.region = "emea"` includes rows without a region.
"""

import operator
from abc import ABCMeta, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Dialect,
    Float,
    String,
    and_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    not_,
    or_,
    select,
    true,
    type_coerce,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import CompileError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import (
    BindParameter,
    BooleanClauseList,
    False_,
    Grouping,
    True_,
)
from sqlalchemy.sql.selectable import Exists
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeEngine

from crm_common.filtering import And, Comparison, Expr, Has, Not, Op, Or, Value

_COMPARE: dict[Op, Callable[[Any, Any], ColumnElement[bool]]] = {
    Op.EQ: operator.eq,
    Op.NE: operator.ne,
    Op.LT: operator.lt,
    Op.LE: operator.le,
    Op.GT: operator.gt,
    Op.GE: operator.ge,
}


class FieldBinding:
    """Where one filterable field's data lives, and how to test it in SQL.

    Subclasses override what they support. Bindings only see trees
    `check_filter` accepted, so reaching a default here is a programming
    error (schema and bindings disagree), not a client one.
    """

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        raise TypeError(f"{type(self).__name__} cannot compare {node.field!r}")

    def has(self, node: Has) -> ColumnElement[bool]:
        raise TypeError(f"{type(self).__name__} does not support {node.field!r}:")


def filter_clause(expr: Expr | None, bindings: Mapping[str, FieldBinding]) -> ColumnElement[bool]:
    """The WHERE clause for a checked filter; TRUE when there is none.

    `bindings` maps field names to bindings; a custom-field prefix such as
    `custom_fields` is bound once and serves every `custom_fields.<key>`.
    """
    match expr:
        case None:
            return true()
        case And(terms):
            return and_(*(filter_clause(term, bindings) for term in terms))
        case Or(terms):
            return or_(*(filter_clause(term, bindings) for term in terms))
        case Not(inner):
            return _negate(filter_clause(inner, bindings))
        case Comparison():
            return _binding(bindings, expr.field).compare(expr)
        case Has():
            return _binding(bindings, expr.field).has(expr)
    raise TypeError(f"not a filter expression: {expr!r}")


def _negate(clause: ColumnElement[bool]) -> ColumnElement[bool]:
    """NOT, with missing values counting as false.

    SQL's NOT NULL is NULL, which would drop rows from both a filter and its
    negation, hence the COALESCE; but around an EXISTS (never NULL) it only
    hides the anti-join from PostgreSQL's planner, so it is left out there.
    """
    if _never_null(clause):
        return not_(clause)
    return not_(func.coalesce(clause, false()))


def _never_null(clause: ColumnElement[bool]) -> bool:
    if isinstance(clause, Grouping):
        return _never_null(clause.element)
    if isinstance(clause, Exists | True_ | False_):
        return True
    if isinstance(clause, BooleanClauseList):
        return all(_never_null(part) for part in clause.clauses)
    return False


def _binding(bindings: Mapping[str, FieldBinding], field: str) -> FieldBinding:
    binding = bindings.get(field) or bindings.get(field.partition(".")[0])
    if binding is None:
        raise LookupError(f"no SQL binding for filter field {field!r}")
    return binding


@dataclass(frozen=True, eq=False)  # eq on SQL columns would build SQL, not compare
class ColumnBinding(FieldBinding):
    """A scalar field stored in one column (or any column expression)."""

    column: ColumnElement[Any]

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        if node.value is None:
            null = self.column.is_(None)
            return null if node.op is Op.EQ else not_(null)
        value = node.value
        if isinstance(value, int) and not isinstance(value, bool):
            # As a 64-bit parameter, so a number beyond a 32-bit column's range
            # compares (and matches nothing) instead of overflowing in PostgreSQL.
            value = bindparam(None, value, type_=BigInteger())
        return _COMPARE[node.op](self.column, value)

    def has(self, node: Has) -> ColumnElement[bool]:
        if node.value is not None:
            return super().has(node)
        present = self.column.is_not(None)
        # Proto3 strings have no presence: empty is how "unset" is stored.
        if isinstance(self.column.type, String):
            return and_(present, self.column != "")
        return present


@dataclass(frozen=True, eq=False)
class ChildTableBinding(FieldBinding):
    """A repeated field kept one value a row in a child table.

    For tags in `person_tags(person_id, tag)`: parent_key=people.c.id,
    child_key=person_tags.c.person_id, value=person_tags.c.tag.
    """

    parent_key: ColumnElement[Any]
    child_key: ColumnElement[Any]
    value: ColumnElement[Any]

    def has(self, node: Has) -> ColumnElement[bool]:
        conditions = [self.child_key == self.parent_key]
        if node.value is not None:
            conditions.append(self.value == node.value)
        # The parent's table correlates with the outer query automatically.
        return exists().where(*conditions)


@dataclass(frozen=True, eq=False)
class JsonArrayBinding(FieldBinding):
    """A repeated string field stored as a JSON array column (JSON or JSONB)."""

    column: ColumnElement[Any]

    def has(self, node: Has) -> ColumnElement[bool]:
        if node.value is None:
            return _JsonArrayNonEmpty(self.column)
        return _JsonArrayContains(self.column, str(node.value))


@dataclass(frozen=True, eq=False)
class JsonObjectBinding(FieldBinding):
    """Open-ended keys in a JSON object column: `custom_fields.<key>`.

    A value compares with keys holding the same JSON type: a quoted literal
    with strings, a number with numbers, true/false with booleans.
    """

    column: ColumnElement[Any]

    def compare(self, node: Comparison) -> ColumnElement[bool]:
        key = _custom_key(node.field)
        if node.value is None:
            present = _JsonKeyPresent(self.column, key)
            return not_(func.coalesce(present, false())) if node.op is Op.EQ else present
        kind, value = _json_kind(node.value)
        return _COMPARE[node.op](_JsonKeyValue(self.column, key, kind), value)

    def has(self, node: Has) -> ColumnElement[bool]:
        if node.value is not None:
            return super().has(node)
        return _JsonKeyPresent(self.column, _custom_key(node.field))


def _custom_key(field: str) -> str:
    prefix, _, key = field.partition(".")
    if not key:
        raise LookupError(f"{field!r} names no key under {prefix!r}")
    return key


def _json_kind(value: Value) -> tuple[str, Value]:
    if isinstance(value, bool):
        return "boolean", value
    if isinstance(value, int | float):
        return "number", float(value)
    if isinstance(value, str):
        return "string", value
    raise TypeError(f"a custom field cannot be compared with {value!r}")


# --- Dialect-specific JSON elements -------------------------------------------
#
# Each element builds ordinary SQLAlchemy constructs for the dialect at compile
# time. Client values live in BindParameters created up front and listed in
# _traverse_internals, so SQLAlchemy's statement cache sees them as parameters
# and never reuses one request's value for another.


class _DialectJson(ColumnElement[Any], metaclass=ABCMeta):
    __visit_name__ = "crm_dialect_json"
    inherit_cache = True
    column: ColumnElement[Any]

    @property
    def _from_objects(self) -> list[Any]:  # type: ignore[override]
        # The column's table, so `select(func.count()).where(...)` finds its FROM.
        return list(self.column._from_objects)

    def for_dialect(self, dialect: Dialect) -> ColumnElement[Any]:
        if dialect.name == "sqlite":
            return self.sqlite()
        if dialect.name == "postgresql":
            jsonb = isinstance(self.column.type.dialect_impl(dialect), JSONB)
            return self.postgresql(_PG_JSONB if jsonb else _PG_JSON)
        raise CompileError(f"JSON filters are not implemented for {dialect.name}")

    @abstractmethod
    def sqlite(self) -> ColumnElement[Any]: ...

    @abstractmethod
    def postgresql(self, json: "_PgJson") -> ColumnElement[Any]: ...


@compiles(_DialectJson)
def _compile_dialect_json(element: _DialectJson, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.for_dialect(compiler.dialect), **kw)


@dataclass(frozen=True)
class _PgJson:
    """PostgreSQL's functions for one of its two JSON types."""

    jsonb: bool
    typeof: Callable[..., ColumnElement[Any]]
    array_length: Callable[..., ColumnElement[Any]]
    array_elements_text: Callable[..., Any]
    extract_path: Callable[..., ColumnElement[Any]]
    extract_path_text: Callable[..., ColumnElement[Any]]

    def array(self, column: ColumnElement[Any]) -> ColumnElement[Any]:
        # PostgreSQL raises on array functions over a scalar or JSON null; as
        # NULL they yield nothing. CASE, unlike AND, guarantees the order.
        return case((self.typeof(column) == "array", column))


_PG_JSON = _PgJson(
    False,
    func.json_typeof,
    func.json_array_length,
    func.json_array_elements_text,
    func.json_extract_path,
    func.json_extract_path_text,
)
_PG_JSONB = _PgJson(
    True,
    func.jsonb_typeof,
    func.jsonb_array_length,
    func.jsonb_array_elements_text,
    func.jsonb_extract_path,
    func.jsonb_extract_path_text,
)


class _JsonArrayContains(_DialectJson):
    inherit_cache = True  # each subclass must opt in; its cache key is _traverse_internals
    type = Boolean()
    _is_implicitly_boolean = True  # a predicate: SQLite needs no "= 1" after it
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("value", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], value: str) -> None:
        self.column = column
        self.value: BindParameter[str] = bindparam(None, value, type_=String())

    def sqlite(self) -> ColumnElement[Any]:
        each = func.json_each(self.column).table_valued("value")
        return select(each.c.value).where(each.c.value == self.value).exists()

    def postgresql(self, json: _PgJson) -> ColumnElement[Any]:
        if json.jsonb:
            # Containment can use a GIN index on the column.
            return self.column.op("@>")(func.jsonb_build_array(self.value))
        each = json.array_elements_text(json.array(self.column)).table_valued("value")
        return select(each.c.value).where(each.c.value == self.value).exists()


class _JsonArrayNonEmpty(_DialectJson):
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column

    def sqlite(self) -> ColumnElement[Any]:
        return func.json_array_length(self.column) > 0

    def postgresql(self, json: _PgJson) -> ColumnElement[Any]:
        return json.array_length(json.array(self.column)) > 0


class _JsonKey(_DialectJson):
    """Addresses one key of a JSON object column.

    SQLite takes a JSON path and PostgreSQL a key, so both are bound; keys are
    plain identifiers (the schema checks), so the path needs no escaping.
    """

    inherit_cache = True

    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("key", InternalTraversal.dp_clauseelement),
        ("path", InternalTraversal.dp_clauseelement),
    ]

    def __init__(self, column: ColumnElement[Any], key: str) -> None:
        self.column = column
        self.key: BindParameter[str] = bindparam(None, key, type_=String())
        self.path: BindParameter[str] = bindparam(None, f'$."{key}"', type_=String())

    def sqlite_type(self) -> ColumnElement[Any]:
        return func.json_type(self.column, self.path)

    def postgresql_type(self, json: _PgJson) -> ColumnElement[Any]:
        return json.typeof(json.extract_path(self.column, self.key))


class _JsonKeyPresent(_JsonKey):
    inherit_cache = True
    type = Boolean()
    _is_implicitly_boolean = True

    def sqlite(self) -> ColumnElement[Any]:
        return self.sqlite_type() != "null"

    def postgresql(self, json: _PgJson) -> ColumnElement[Any]:
        return self.postgresql_type(json) != "null"


_SQL_TYPES: dict[str, TypeEngine[Any]] = {
    "string": String(),
    "number": Float(),
    "boolean": Boolean(),
}
# json_type() names on SQLite for each JSON type a filter value can have.
_SQLITE_TYPES = {"string": ("text",), "number": ("integer", "real"), "boolean": ("true", "false")}


class _JsonKeyValue(_JsonKey):
    """The key's value when it holds JSON of type `kind`, else NULL."""

    inherit_cache = True

    _traverse_internals = [
        *_JsonKey._traverse_internals,
        ("kind", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], key: str, kind: str) -> None:
        super().__init__(column, key)
        self.kind = kind
        self.type = _SQL_TYPES[kind]

    def sqlite(self) -> ColumnElement[Any]:
        # json_extract yields native SQL values: text, numbers, 1/0 for booleans.
        value = func.json_extract(self.column, self.path)
        typed = case((self.sqlite_type().in_(_SQLITE_TYPES[self.kind]), value))
        return type_coerce(typed, self.type)

    def postgresql(self, json: _PgJson) -> ColumnElement[Any]:
        text = json.extract_path_text(self.column, self.key)
        value = text if self.kind == "string" else cast(text, self.type)
        return case((self.postgresql_type(json) == self.kind, value))
