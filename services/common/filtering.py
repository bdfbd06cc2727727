"""List filters (AIP-160): parse a `filter` string and check it against a schema.

One implementation for every List RPC, so the grammar, the limits and the
error messages are the same everywhere. Pure Python: the checked tree is
turned into SQL by `crm_common.storage.filter_sql`.

Supported: comparisons `= != < <= > >=`; the has operator `:` for repeated
fields (`tags:"vip"`) and presence (`field:*`); `AND`, `OR`, `NOT`, `-`,
parentheses, and juxtaposition as AND. As AIP-160 specifies, OR binds tighter
than AND: `a AND b OR c` means `a AND (b OR c)`. Not supported: functions,
wildcards inside strings and bare-word global search.
"""

import dataclasses
import math
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import Enum, StrEnum
from typing import Any, NoReturn

from crm_common.errors import InvalidArgument, Violations

FIELD = "filter"  # the request field every violation names

# Limits against hostile input: parsing is linear, but the SQL built from a
# filter is not free, and Python's recursion must stay far from its limit.
MAX_FILTER_LENGTH = 2000
MAX_DEPTH = 20
MAX_TERMS = 50

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1

Value = str | int | float | bool | datetime | None


class Op(StrEnum):
    EQ = "="
    NE = "!="
    LT = "<"
    LE = "<="
    GT = ">"
    GE = ">="


# Positions are 1-based columns into the filter text, 0 when a tree was built
# by hand; `source` is the value as written, so that `phone = 0123` can still
# mean the string "0123" once the schema says `phone` is a string.
def _position() -> Any:
    return dataclasses.field(default=0, compare=False, repr=False)


def _source() -> Any:
    return dataclasses.field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Comparison:
    field: str
    op: Op
    value: Value
    position: int = _position()
    source: str | None = _source()


@dataclass(frozen=True)
class Has:
    """`field:value` (membership in a repeated field) or `field:*` (value None: presence)."""

    field: str
    value: Value
    position: int = _position()
    source: str | None = _source()


@dataclass(frozen=True)
class And:
    terms: tuple["Expr", ...]


@dataclass(frozen=True)
class Or:
    terms: tuple["Expr", ...]


@dataclass(frozen=True)
class Not:
    expr: "Expr"


Expr = Comparison | Has | And | Or | Not


# --- Tokens -------------------------------------------------------------------


class _T(Enum):
    WORD = "word"
    STRING = "string"
    OP = "operator"
    LPAREN = "("
    RPAREN = ")"
    MINUS = "-"
    END = "end"


@dataclass(frozen=True)
class _Token:
    kind: _T
    text: str  # a string token's text is its unescaped content
    position: int


_OPERATORS = ("<=", ">=", "!=", "=", "<", ">", ":")
_WORD_END = frozenset("()\"'=<>!:")
_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r"}
_KEYWORDS = frozenset({"AND", "OR", "NOT"})
_NUMBER_START = re.compile(r"\.?\d")


def _fail(description: str) -> NoReturn:
    raise InvalidArgument.single(FIELD, description)


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char.isspace():
            index += 1
            continue
        token, index = _next_token(text, index)
        tokens.append(token)
    tokens.append(_Token(_T.END, "", len(text) + 1))
    return tokens


def _next_token(text: str, index: int) -> tuple[_Token, int]:
    char, column = text[index], index + 1
    if char in "()":
        return _Token(_T.LPAREN if char == "(" else _T.RPAREN, char, column), index + 1
    if char in "\"'":
        return _read_string(text, index)
    for operator in _OPERATORS:
        if text.startswith(operator, index):
            return _Token(_T.OP, operator, column), index + len(operator)
    if char == "!":
        _fail(f'"!" at column {column} must be followed by "=" (use NOT or - to negate)')
    # A minus directly before a digit is a negative number, otherwise negation.
    if char == "-" and not _NUMBER_START.match(text, index + 1):
        return _Token(_T.MINUS, char, column), index + 1
    end = index
    while end < len(text) and not text[end].isspace() and text[end] not in _WORD_END:
        end += 1
    return _Token(_T.WORD, text[index:end], column), end


def _read_string(text: str, start: int) -> tuple[_Token, int]:
    quote, chars, index = text[start], [], start + 1
    while index < len(text):
        char = text[index]
        if char == quote:
            return _Token(_T.STRING, "".join(chars), start + 1), index + 1
        if char == "\\":
            escaped = text[index + 1 : index + 2]
            if not escaped:
                break  # a trailing backslash: the string is what is unfinished
            if escaped not in _ESCAPES:
                _fail(
                    f'unknown escape "\\{escaped}" at column {index + 1}; '
                    "use \\\\, \\\", \\', \\n, \\t or \\r"
                )
            chars.append(_ESCAPES[escaped])
            index += 2
            continue
        chars.append(char)
        index += 1
    _fail(f"unterminated string starting at column {start + 1}: missing closing {quote}")


# --- Parser -------------------------------------------------------------------

_FIELD_PATH = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_INT = re.compile(r"-?\d+")
_FLOAT = re.compile(r"-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
_OPERATOR_LIST = "= != < <= > >= :"


def _describe(token: _Token) -> str:
    if token.kind is _T.END:
        return "the end of the filter"
    if token.kind is _T.STRING:
        return f'string "{token.text}"'
    return f'"{token.text}"'


def _at(token: _Token) -> str:
    return "at the end of the filter" if token.kind is _T.END else f"at column {token.position}"


def _found(token: _Token) -> str:
    """Completes "expected X": where, and what came instead."""
    if token.kind is _T.END:
        return ", but the filter ends there"
    return f" at column {token.position}, found {_describe(token)}"


class _Parser:
    """Recursive descent over AIP-160's grammar:

    expression = sequence {"AND" sequence}
    sequence   = factor {factor}            (juxtaposition: AND)
    factor     = term {"OR" term}
    term       = ["NOT" | "-"] term | simple
    simple     = restriction | "(" expression ")"
    """

    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._index = 0
        self._depth = 0
        self._terms = 0

    def parse(self) -> Expr | None:
        if self._peek().kind is _T.END:
            return None
        expr = self._expression()
        token = self._peek()
        if token.kind is not _T.END:
            self._unexpected(token)
        return expr

    def _peek(self) -> _Token:
        return self._tokens[self._index]

    def _next(self) -> _Token:
        token = self._tokens[self._index]
        self._index += 1
        return token

    def _at_keyword(self, keyword: str) -> bool:
        token = self._peek()
        return token.kind is _T.WORD and token.text == keyword

    def _starts_term(self) -> bool:
        token = self._peek()
        if token.kind is _T.WORD:
            return token.text not in ("AND", "OR")
        return token.kind in (_T.STRING, _T.LPAREN, _T.MINUS)

    @contextmanager
    def _nested(self, token: _Token) -> Iterator[None]:
        self._depth += 1
        if self._depth > MAX_DEPTH:
            _fail(f"filter nests deeper than {MAX_DEPTH} levels {_at(token)}")
        yield
        self._depth -= 1

    def _unexpected(self, token: _Token) -> NoReturn:
        hint = ""
        if token.kind is _T.OP:
            hint = "; quote values that contain operators, spaces or parentheses"
        elif token.kind is _T.RPAREN:
            hint = '; it closes no "("'
        _fail(f"unexpected {_describe(token)} {_at(token)}{hint}")

    def _expression(self) -> Expr:
        parts = [self._sequence()]
        while self._at_keyword("AND"):
            self._next()
            parts.append(self._sequence())
        return _joined(And, parts)

    def _sequence(self) -> Expr:
        parts = [self._factor()]
        while self._starts_term():
            parts.append(self._factor())
        return _joined(And, parts)

    def _factor(self) -> Expr:
        parts = [self._term()]
        while self._at_keyword("OR"):
            self._next()
            parts.append(self._term())
        return _joined(Or, parts)

    def _term(self) -> Expr:
        token = self._peek()
        if token.kind is _T.MINUS or (token.kind is _T.WORD and token.text == "NOT"):
            self._next()
            with self._nested(token):
                return Not(self._term())
        return self._simple()

    def _simple(self) -> Expr:
        token = self._peek()
        if token.kind is not _T.LPAREN:
            return self._restriction()
        self._next()
        with self._nested(token):
            expr = self._expression()
        closing = self._next()
        if closing.kind is not _T.RPAREN:
            _fail(f'expected ")" to close "(" from column {token.position}{_found(closing)}')
        return expr

    def _restriction(self) -> Expr:
        token = self._next()
        if token.kind is not _T.WORD or token.text in _KEYWORDS:
            _fail(f"expected a field name{_found(token)}")
        if not _FIELD_PATH.fullmatch(token.text):
            _fail(
                f'"{token.text}" at column {token.position} is not a field name; '
                'write a comparison such as name = "value"'
            )
        self._terms += 1
        if self._terms > MAX_TERMS:
            _fail(f"filter has more than {MAX_TERMS} restrictions {_at(token)}")
        operator = self._next()
        if operator.kind is not _T.OP:
            _fail(f'expected an operator ({_OPERATOR_LIST}) after "{token.text}"{_found(operator)}')
        if operator.text == ":":
            return self._has(token)
        value, source = self._value(operator)
        return Comparison(token.text, Op(operator.text), value, token.position, source)

    def _has(self, field: _Token) -> Has:
        token = self._peek()
        if token.kind is _T.WORD and token.text == "*":
            self._next()
            return Has(field.text, None, field.position, "*")
        value, source = self._value(self._tokens[self._index - 1])
        if value is None:
            _fail(
                f'":" cannot take null (column {field.position}); '
                f"write {field.text}:* to test presence"
            )
        return Has(field.text, value, field.position, source)

    def _value(self, operator: _Token) -> tuple[Value, str]:
        token = self._next()
        if token.kind is _T.STRING:
            return token.text, token.text
        if token.kind is not _T.WORD or token.text in _KEYWORDS:
            _fail(f'expected a value after "{operator.text}"{_found(token)}')
        if token.text == "*":
            _fail(f'"*" at column {token.position} is only allowed after ":", as in field:*')
        return _bare_value(token), token.text


def _bare_value(token: _Token) -> Value:
    text = token.text
    literals: dict[str, Value] = {"true": True, "false": False, "null": None}
    if text in literals:
        return literals[text]
    if _INT.fullmatch(text):
        return int(text)
    if _FLOAT.fullmatch(text):
        number = float(text)
        if not math.isfinite(number):
            _fail(f"number {text} at column {token.position} is out of range")
        return number
    return text


def _joined(kind: type[And] | type[Or], parts: list[Expr]) -> Expr:
    if len(parts) == 1:
        return parts[0]
    # Flattening keeps `a b AND c` one And of three rather than a nested pair.
    flat: list[Expr] = []
    for part in parts:
        flat.extend(part.terms if isinstance(part, kind) else (part,))
    return kind(tuple(flat))


# --- Schema -------------------------------------------------------------------


class Kind(StrEnum):
    STRING = "string"
    INT = "integer"
    FLOAT = "number"
    BOOL = "boolean"
    TIMESTAMP = "timestamp"
    ENUM = "enum"
    REPEATED_STRING = "repeated string"
    CUSTOM = "custom field"  # a key under a custom-field prefix; typed by its literal


@dataclass(frozen=True)
class FilterField:
    """How one filterable field may be tested.

    For ENUM, `values` maps each name a client may write (matched
    case-insensitively) to the value stored in the database.
    """

    kind: Kind
    values: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def string(cls) -> "FilterField":
        return cls(Kind.STRING)

    @classmethod
    def integer(cls) -> "FilterField":
        return cls(Kind.INT)

    @classmethod
    def number(cls) -> "FilterField":
        return cls(Kind.FLOAT)

    @classmethod
    def boolean(cls) -> "FilterField":
        return cls(Kind.BOOL)

    @classmethod
    def timestamp(cls) -> "FilterField":
        return cls(Kind.TIMESTAMP)

    @classmethod
    def repeated_string(cls) -> "FilterField":
        return cls(Kind.REPEATED_STRING)

    @classmethod
    def enum(cls, values: Iterable[str] | Mapping[str, Any]) -> "FilterField":
        """`enum(["OPEN", "WON"])` stores names; `enum({"OPEN": 1})` stores mapped values."""
        mapping = dict(values) if isinstance(values, Mapping) else {v: v for v in values}
        return cls(Kind.ENUM, mapping)


_CUSTOM_FIELD = FilterField(Kind.CUSTOM)


@dataclass(frozen=True)
class FilterSchema:
    """The fields a List RPC can filter on.

    `custom_prefixes` name JSON-object fields, such as `custom_fields`, whose
    keys are open-ended: `custom_fields.region` is accepted for any key.
    """

    fields: Mapping[str, FilterField]
    custom_prefixes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        # "custom_fields." and "custom_fields" both declare the same prefix.
        prefixes = tuple(prefix.rstrip(".") for prefix in self.custom_prefixes)
        object.__setattr__(self, "custom_prefixes", prefixes)
        for name in (*self.fields, *prefixes):
            if not _FIELD_PATH.fullmatch(name):
                raise ValueError(f"not a filterable field name: {name!r}")
        # Lookups split `prefix.key` at the first dot.
        if any("." in prefix for prefix in prefixes):
            raise ValueError(f"custom-field prefixes must be one name: {prefixes!r}")

    def lookup(self, name: str) -> FilterField | None:
        if name in self.fields:
            return self.fields[name]
        prefix, dot, key = name.partition(".")
        if dot and prefix in self.custom_prefixes and "." not in key:
            return _CUSTOM_FIELD
        return None

    def filterable(self) -> str:
        names = [*self.fields, *(f"{prefix}.<key>" for prefix in self.custom_prefixes)]
        return ", ".join(names)


def parse_filter(text: str, schema: FilterSchema | None = None) -> Expr | None:
    """The tree for `text`, None when it is blank; checked when a schema is given.

    Raises InvalidArgument on field `filter` for any syntax or schema error.
    """
    if len(text) > MAX_FILTER_LENGTH:
        _fail(f"is {len(text)} characters long; at most {MAX_FILTER_LENGTH} are allowed")
    expr = _Parser(_tokenize(text)).parse()
    return expr if schema is None else check_filter(expr, schema)


def check_filter(expr: Expr | None, schema: FilterSchema) -> Expr | None:
    """Validates fields and operators and converts values to their field's type.

    Reports every problem at once, like the rest of request validation.
    """
    if expr is None:
        return None
    violations = Violations()
    checked = _Checker(schema, violations).visit(expr)
    violations.raise_if_any()
    return checked


# --- Checking -----------------------------------------------------------------


class _Bad(Exception):
    """One restriction's problem; the checker records it and carries on."""


_ORDERED = frozenset(Op)
_EQUALITY = frozenset({Op.EQ, Op.NE})
_OPERATORS_FOR: dict[Kind, frozenset[Op]] = {
    Kind.STRING: _ORDERED,
    Kind.INT: _ORDERED,
    Kind.FLOAT: _ORDERED,
    Kind.TIMESTAMP: _ORDERED,
    Kind.CUSTOM: _ORDERED,
    Kind.BOOL: _EQUALITY,
    Kind.ENUM: _EQUALITY,
    Kind.REPEATED_STRING: frozenset(),
}


class _Checker:
    def __init__(self, schema: FilterSchema, violations: Violations) -> None:
        self._schema = schema
        self._violations = violations

    def visit(self, expr: Expr) -> Expr:
        match expr:
            case And(terms):
                return And(tuple(self.visit(term) for term in terms))
            case Or(terms):
                return Or(tuple(self.visit(term) for term in terms))
            case Not(inner):
                return Not(self.visit(inner))
        try:
            return self._comparison(expr) if isinstance(expr, Comparison) else self._has(expr)
        except _Bad as problem:
            self._violations.add(FIELD, str(problem))
            return expr

    def _field(self, name: str, position: int) -> FilterField:
        spec = self._schema.lookup(name)
        if spec is not None:
            return spec
        where = f" at column {position}" if position else ""
        if name in self._schema.custom_prefixes:
            raise _Bad(f'"{name}"{where} needs a key, as in {name}.region = "emea"')
        raise _Bad(f'unknown field "{name}"{where}; filterable: {self._schema.filterable()}')

    def _comparison(self, node: Comparison) -> Comparison:
        spec = self._field(node.field, node.position)
        if node.op not in _OPERATORS_FOR[spec.kind]:
            raise _Bad(_operator_problem(node, spec.kind))
        if node.value is None:
            if node.op not in _EQUALITY:
                raise _Bad(f'{_name(node)} cannot be compared with null using "{node.op}"')
            return node
        value = _convert(spec, node.value, node.source, _name(node))
        if spec.kind is Kind.CUSTOM and isinstance(value, bool) and node.op not in _EQUALITY:
            raise _Bad(
                f'{_name(node)} is compared with a boolean; use = or != rather than "{node.op}"'
            )
        return dataclasses.replace(node, value=value)

    def _has(self, node: Has) -> Has:
        if node.value is not None and node.field in self._schema.custom_prefixes:
            return self._has_key(node)
        spec = self._field(node.field, node.position)
        if node.value is None:
            return node
        if spec.kind is not Kind.REPEATED_STRING:
            raise _Bad(
                f'":" with a value applies to repeated fields, not to {spec.kind} {_name(node)}; '
                f"use {node.field} = ... or {node.field}:* for presence"
            )
        return dataclasses.replace(node, value=_as_string(node.value, node.source))

    def _has_key(self, node: Has) -> Has:
        # AIP-160's map form: `custom_fields:region` is `custom_fields.region:*`.
        key = node.value
        if not isinstance(key, str) or not _FIELD_PATH.fullmatch(key) or "." in key:
            raise _Bad(f'{_name(node)} needs a key name after ":", got {_shown(key, node.source)}')
        return Has(f"{node.field}.{key}", None, node.position, "*")


def _name(node: Comparison | Has) -> str:
    where = f" at column {node.position}" if node.position else ""
    return f'field "{node.field}"{where}'


def _operator_problem(node: Comparison, kind: Kind) -> str:
    if kind is Kind.REPEATED_STRING:
        return (
            f'{_name(node)} is repeated; "{node.op}" does not apply, '
            f'use {node.field}:"value" or {node.field}:*'
        )
    allowed = " or ".join(sorted(_OPERATORS_FOR[kind]))
    return f'"{node.op}" does not apply to {kind} {_name(node)}; use {allowed}'


def _shown(value: Value, source: str | None) -> str:
    return f'"{source}"' if source is not None else repr(value)


def _as_string(value: Value, source: str | None) -> str:
    if isinstance(value, str):
        return value
    # `code = 0123` parsed as a number; the text as written is what was meant.
    if source is not None:
        return source
    return str(value).lower() if isinstance(value, bool) else str(value)


def _convert(spec: FilterField, value: Value, source: str | None, name: str) -> Value:
    try:
        return _CONVERTERS[spec.kind](spec, value, source)
    except ValueError as error:
        raise _Bad(f"{name} {error}, got {_shown(value, source)}") from None


def _to_string(_: FilterField, value: Value, source: str | None) -> Value:
    return _as_string(value, source)


def _to_int(_: FilterField, value: Value, source: str | None) -> Value:
    text = value if isinstance(value, str) else source
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif text is not None and _INT.fullmatch(text.strip()):
        number = int(text)
    else:
        raise ValueError("takes an integer")
    if not INT64_MIN <= number <= INT64_MAX:
        raise ValueError("takes a 64-bit integer")
    return number


def _to_float(_: FilterField, value: Value, source: str | None) -> Value:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and _FLOAT.fullmatch(value.strip()):
        number = float(value)
        if math.isfinite(number):
            return number
    raise ValueError("takes a number")


def _to_bool(_: FilterField, value: Value, source: str | None) -> Value:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ValueError("takes true or false")


def _to_timestamp(_: FilterField, value: Value, source: str | None) -> Value:
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    parsed = parse_timestamp(value) if isinstance(value, str) else None
    if parsed is None:
        raise ValueError(
            'takes an RFC 3339 timestamp such as "2026-01-01" or "2026-01-01T09:30:00Z"'
        )
    return parsed


def _to_enum(spec: FilterField, value: Value, source: str | None) -> Value:
    text = _as_string(value, source)
    for name, stored in spec.values.items():
        if name.casefold() == text.casefold():
            return stored
    raise ValueError(f"takes one of {', '.join(spec.values)}")


def _to_custom(_: FilterField, value: Value, source: str | None) -> Value:
    # A custom field's type is the literal's: "10" is a string, 10 a number.
    return value


_CONVERTERS = {
    Kind.STRING: _to_string,
    Kind.INT: _to_int,
    Kind.FLOAT: _to_float,
    Kind.BOOL: _to_bool,
    Kind.TIMESTAMP: _to_timestamp,
    Kind.ENUM: _to_enum,
    Kind.CUSTOM: _to_custom,
}


_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_DATE_TIME = re.compile(
    r"(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_timestamp(text: str) -> datetime | None:
    """An aware UTC datetime for an RFC 3339 date or date-time, else None.

    Stricter than `datetime.fromisoformat`, which also takes week dates and
    zone-less times; a time without a zone would silently mean server time.
    """
    text = text.strip()
    try:
        if _DATE.fullmatch(text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        match = _DATE_TIME.fullmatch(text)
        if match is None:
            return None
        day, clock, fraction, zone = match.groups()
        # Python keeps microseconds; finer digits are dropped, not rounded up.
        micros = (fraction or "").ljust(6, "0")[:6]
        offset = "+00:00" if zone in ("Z", "z") else zone
        return datetime.fromisoformat(f"{day}T{clock}.{micros}{offset}").astimezone(UTC)
    except ValueError:
        return None
