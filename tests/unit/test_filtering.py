from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_common.errors import InvalidArgument
from crm_common.filtering import (
    MAX_DEPTH,
    MAX_FILTER_LENGTH,
    MAX_TERMS,
    And,
    Comparison,
    Expr,
    FilterField,
    FilterSchema,
    Has,
    Not,
    Op,
    Or,
    check_filter,
    parse_filter,
    parse_timestamp,
)

SCHEMA = FilterSchema(
    {
        "name": FilterField.string(),
        "phone": FilterField.string(),
        "age": FilterField.integer(),
        "score": FilterField.number(),
        "active": FilterField.boolean(),
        "create_time": FilterField.timestamp(),
        "stage": FilterField.enum(["LEAD", "CUSTOMER"]),
        "priority": FilterField.enum({"LOW": 1, "HIGH": 3}),
        "tags": FilterField.repeated_string(),
        "owner.id": FilterField.string(),
    },
    custom_prefixes=("custom_fields.",),
)


def eq(field: str, value: object) -> Comparison:
    return Comparison(field, Op.EQ, value)  # type: ignore[arg-type]


def error_of(text: str, schema: FilterSchema | None = None) -> str:
    """The single description an invalid filter gets; always on field `filter`."""
    with pytest.raises(InvalidArgument) as raised:
        parse_filter(text, schema)
    fields = {violation.field for violation in raised.value.violations}
    assert fields == {"filter"}
    return "; ".join(violation.description for violation in raised.value.violations)


# --- Grammar ------------------------------------------------------------------


def test_blank_filters_mean_no_filter() -> None:
    assert parse_filter("") is None
    assert parse_filter("  \t\n") is None
    assert check_filter(None, SCHEMA) is None


def test_every_comparison_operator() -> None:
    for op in Op:
        assert parse_filter(f"age {op.value} 3") == Comparison("age", op, 3)
        assert parse_filter(f"age{op.value}3") == Comparison("age", op, 3)


def test_or_binds_tighter_than_and() -> None:
    a, b, c = eq("a", 1), eq("b", 2), eq("c", 3)
    assert parse_filter("a=1 AND b=2 OR c=3") == And((a, Or((b, c))))
    assert parse_filter("a=1 OR b=2 AND c=3") == And((Or((a, b)), c))
    assert parse_filter("(a=1 AND b=2) OR c=3") == Or((And((a, b)), c))


def test_juxtaposition_is_and_and_ands_flatten() -> None:
    a, b, c, d = eq("a", 1), eq("b", 2), eq("c", 3), eq("d", 4)
    assert parse_filter("a=1 b=2") == And((a, b))
    assert parse_filter("a=1 b=2 AND c=3 d=4") == And((a, b, c, d))
    assert parse_filter("a=1 b=2 OR c=3") == And((a, Or((b, c))))
    assert parse_filter("a=1 OR b=2 OR c=3") == Or((a, b, c))


def test_not_and_minus_negate() -> None:
    a = eq("a", 1)
    assert parse_filter("NOT a=1") == Not(a)
    assert parse_filter("-a=1") == Not(a)
    assert parse_filter("NOT -a=1") == Not(Not(a))
    assert parse_filter("-(a=1 OR b=2)") == Not(Or((a, eq("b", 2))))
    # NOT takes the next term only: OR binds inside what follows.
    assert parse_filter("NOT a=1 OR b=2") == Or((Not(a), eq("b", 2)))


def test_keywords_are_case_sensitive_like_aip_160() -> None:
    assert parse_filter("a = and") == eq("a", "and")
    assert "expected an operator" in error_of("a=1 or b=2")


def test_values() -> None:
    cases = {
        "a = 42": 42,
        "a = -7": -7,
        "a = 2.5": 2.5,
        "a = -0.5": -0.5,
        "a = 1e3": 1000.0,
        "a = true": True,
        "a = false": False,
        "a = null": None,
        "a = emea": "emea",
        "a = 2026-01-01": "2026-01-01",
        "a = foo-bar": "foo-bar",
        'a = "42"': "42",
        'a = "null"': "null",
        "a = ''": "",
    }
    for text, value in cases.items():
        parsed = parse_filter(text)
        assert isinstance(parsed, Comparison)
        assert parsed.value == value, text
        assert type(parsed.value) is type(value), text


def test_quoting_and_escapes() -> None:
    assert parse_filter(r'a = "say \"hi\""') == eq("a", 'say "hi"')
    assert parse_filter(r"a = 'it\'s'") == eq("a", "it's")
    assert parse_filter("a = 'say \"hi\"'") == eq("a", 'say "hi"')
    assert parse_filter(r'a = "back\\slash\ttab\nline"') == eq("a", "back\\slash\ttab\nline")
    assert parse_filter('a = "x AND (y) OR z:*"') == eq("a", "x AND (y) OR z:*")


def test_has_and_presence() -> None:
    assert parse_filter('tags:"vip"') == Has("tags", "vip")
    assert parse_filter("tags:vip") == Has("tags", "vip")
    assert parse_filter("tags : vip") == Has("tags", "vip")
    assert parse_filter("owner.id:*") == Has("owner.id", None)
    assert parse_filter("-tags:*") == Not(Has("tags", None))


def test_field_paths_with_dots() -> None:
    assert parse_filter("custom_fields.region = emea") == eq("custom_fields.region", "emea")
    assert parse_filter("owner.id = people_1") == eq("owner.id", "people_1")


def test_minus_before_a_digit_is_a_negative_number_not_negation() -> None:
    assert parse_filter("a = -5 -b = 1") == And((eq("a", -5), Not(eq("b", 1))))


def test_the_tree_is_immutable() -> None:
    parsed = parse_filter("a=1 b=2")
    assert isinstance(parsed, And)
    with pytest.raises(AttributeError):
        parsed.terms = ()  # type: ignore[misc]
    assert isinstance(parsed.terms, tuple)


# --- Syntax errors --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a =", 'expected a value after "=", but the filter ends there'),
        ("a = AND", 'expected a value after "=" at column 5, found "AND"'),
        ("a", 'expected an operator (= != < <= > >= :) after "a", but the filter ends there'),
        ("a b", 'expected an operator (= != < <= > >= :) after "a" at column 3, found "b"'),
        ("a=1 AND", "expected a field name, but the filter ends there"),
        ("a=1 OR", "expected a field name, but the filter ends there"),
        ("NOT", "expected a field name, but the filter ends there"),
        ('"x" = 1', 'expected a field name at column 1, found string "x"'),
        ("= 1", 'expected a field name at column 1, found "="'),
        ("(a=1", 'expected ")" to close "(" from column 1, but the filter ends there'),
        ("(a=1 b", 'expected an operator (= != < <= > >= :) after "b", but the filter ends'),
        ("a=1)", 'unexpected ")" at column 4; it closes no "("'),
        ("()", 'expected a field name at column 2, found ")"'),
        ('a = "abc', "unterminated string starting at column 5: missing closing"),
        (r'a = "x\q"', 'unknown escape "\\q" at column 7'),
        ("a = 'x\\", "unterminated string starting at column 5: missing closing '"),
        ("a ! b", '"!" at column 3 must be followed by "="'),
        ("a-b = 1", '"a-b" at column 1 is not a field name'),
        ("1a = 1", '"1a" at column 1 is not a field name'),
        ("a.= 1", '"a." at column 1 is not a field name'),
        ("a = *", '"*" at column 5 is only allowed after ":"'),
        ("tags:null", '":" cannot take null (column 1); write tags:* to test presence'),
        ("t > 2026-01-01T10:00:00Z", 'unexpected ":" at column 18; quote values that contain'),
        ("a = 1 = 2", 'unexpected "=" at column 7'),
    ],
)
def test_syntax_errors_say_what_and_where(text: str, message: str) -> None:
    assert message in error_of(text)


def test_length_limit() -> None:
    longest = "a=" + '"' + "x" * (MAX_FILTER_LENGTH - 4) + '"'
    assert parse_filter(longest) is not None
    assert f"at most {MAX_FILTER_LENGTH}" in error_of(longest + " ")


def test_depth_limit() -> None:
    def nested(depth: int) -> str:
        return "(" * depth + "a=1" + ")" * depth

    assert parse_filter(nested(MAX_DEPTH)) == eq("a", 1)
    assert f"deeper than {MAX_DEPTH} levels" in error_of(nested(MAX_DEPTH + 1))
    assert "deeper" in error_of("NOT " * (MAX_DEPTH + 1) + "a=1")
    assert "deeper" in error_of("-" * (MAX_DEPTH + 1) + "a=1")
    # Far beyond the limit fails cleanly rather than hitting Python's recursion limit.
    assert "deeper" in error_of("(" * 900)


def test_term_limit() -> None:
    at_limit = " ".join(f"a={i}" for i in range(MAX_TERMS))
    assert isinstance(parse_filter(at_limit), And)
    over = at_limit + " b=1"
    assert f"more than {MAX_TERMS} restrictions at column {len(at_limit) + 2}" in error_of(over)


@given(st.text(max_size=80))
def test_any_text_parses_or_fails_as_invalid_argument(text: str) -> None:
    try:
        parse_filter(text, SCHEMA)
    except InvalidArgument as error:
        assert {v.field for v in error.violations} == {"filter"}


@given(st.text(alphabet=st.sampled_from('ab=:*()- "\\ANDORT'), max_size=60))
def test_filter_like_text_parses_or_fails_as_invalid_argument(text: str) -> None:
    try:
        parse_filter(text)
    except InvalidArgument as error:
        assert {v.field for v in error.violations} == {"filter"}


# --- Schema checks and conversions -----------------------------------------------


def checked(text: str) -> Expr | None:
    return parse_filter(text, SCHEMA)


def test_values_convert_to_the_fields_type() -> None:
    assert checked("age > 30") == Comparison("age", Op.GT, 30)
    assert checked('age = "30"') == eq("age", 30)
    assert checked("score >= 1") == Comparison("score", Op.GE, 1.0)
    assert checked('score < "2.5"') == Comparison("score", Op.LT, 2.5)
    assert checked('active = "TRUE"') == eq("active", True)
    assert checked("active != false") == Comparison("active", Op.NE, False)
    assert checked("name = 42") == eq("name", "42")
    assert checked("name = true") == eq("name", "true")
    assert checked("name:*") == Has("name", None)
    assert checked('tags:"vip"') == Has("tags", "vip")
    assert checked("tags:007") == Has("tags", "007")


def test_strings_keep_numbers_as_written() -> None:
    # Without the source text "0123" would come back as "123".
    assert checked("phone = 0123") == eq("phone", "0123")
    assert checked("phone = 1.50") == eq("phone", "1.50")
    parsed = checked("phone = 0123")
    assert isinstance(parsed, Comparison)
    assert type(parsed.value) is str


def test_enums_match_case_insensitively_and_map_to_stored_values() -> None:
    assert checked("stage = customer") == eq("stage", "CUSTOMER")
    assert checked('stage != "Lead"') == Comparison("stage", Op.NE, "LEAD")
    assert checked("priority = high") == eq("priority", 3)


def test_timestamps_become_aware_utc_datetimes() -> None:
    midnight = datetime(2026, 1, 1, tzinfo=UTC)
    assert checked('create_time > "2026-01-01"') == Comparison("create_time", Op.GT, midnight)
    assert checked("create_time > 2026-01-01") == Comparison("create_time", Op.GT, midnight)
    parsed = checked('create_time <= "2026-01-01T10:30:00+02:00"')
    assert isinstance(parsed, Comparison)
    assert parsed.value == datetime(2026, 1, 1, 8, 30, tzinfo=UTC)
    assert isinstance(parsed.value, datetime)
    assert parsed.value.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01", datetime(2026, 1, 1, tzinfo=UTC)),
        ("2026-01-01T09:30:00Z", datetime(2026, 1, 1, 9, 30, tzinfo=UTC)),
        ("2026-01-01t09:30:00z", datetime(2026, 1, 1, 9, 30, tzinfo=UTC)),
        ("2026-01-01 09:30:00Z", datetime(2026, 1, 1, 9, 30, tzinfo=UTC)),
        ("2026-01-01T09:30:00.5Z", datetime(2026, 1, 1, 9, 30, 0, 500000, tzinfo=UTC)),
        ("2026-01-01T09:30:00.123456789Z", datetime(2026, 1, 1, 9, 30, 0, 123456, tzinfo=UTC)),
        ("2026-01-01T00:30:00-05:30", datetime(2026, 1, 1, 6, 0, tzinfo=UTC)),
        ("2026-01-01T09:30:00+00:00", datetime(2026, 1, 1, 9, 30, tzinfo=UTC)),
    ],
)
def test_rfc_3339_timestamps(text: str, expected: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected
    assert parsed is not None and parsed.utcoffset() == timedelta(0)


@pytest.mark.parametrize(
    "text",
    [
        "2026-01-01T09:30:00",  # no zone: would silently mean server time
        "2026-13-01",
        "2026-02-30",
        "2026-01-01T25:00:00Z",
        "2026-W01",
        "20260101",
        "2026-1-1",
        "yesterday",
        "2026-01-01T09:30Z",
        "",
    ],
)
def test_non_rfc_3339_timestamps_are_rejected(text: str) -> None:
    assert parse_timestamp(text) is None


def test_a_hand_built_tree_is_checked_too() -> None:
    offset = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=2)))
    tree = And((Comparison("create_time", Op.LT, offset), Comparison("age", Op.GT, 3)))
    assert check_filter(tree, SCHEMA) == And(
        (Comparison("create_time", Op.LT, datetime(2026, 1, 1, 10, tzinfo=UTC)), tree.terms[1])
    )


def test_custom_fields_take_any_key_and_keep_the_literals_type() -> None:
    assert checked("custom_fields.region = emea") == eq("custom_fields.region", "emea")
    assert checked("custom_fields.size > 10") == Comparison("custom_fields.size", Op.GT, 10)
    assert checked('custom_fields.size = "10"') == eq("custom_fields.size", "10")
    assert checked("custom_fields.vip = true") == eq("custom_fields.vip", True)
    assert checked("custom_fields.region = null") == eq("custom_fields.region", None)
    assert checked("custom_fields.region:*") == Has("custom_fields.region", None)
    # AIP-160's map form tests a key's presence.
    assert checked("custom_fields:region") == Has("custom_fields.region", None)


def test_null_compares_with_equality_only() -> None:
    assert checked("age = null") == eq("age", None)
    assert checked("name != null") == Comparison("name", Op.NE, None)
    assert 'field "age" at column 1 cannot be compared with null using "<"' in error_of(
        "age < null", SCHEMA
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "shoe_size = 9",
            'unknown field "shoe_size" at column 1; filterable: name, phone, age, score, '
            "active, create_time, stage, priority, tags, owner.id, custom_fields.<key>",
        ),
        ("owner.name = x", 'unknown field "owner.name" at column 1'),
        ("custom_fields = x", '"custom_fields" at column 1 needs a key'),
        ("custom_fields.a.b = x", 'unknown field "custom_fields.a.b"'),
        ("customfields.a = x", 'unknown field "customfields.a"'),
        ("age > old", 'field "age" at column 1 takes an integer, got "old"'),
        ("age = 1.5", 'field "age" at column 1 takes an integer, got "1.5"'),
        ("age = true", 'field "age" at column 1 takes an integer, got "true"'),
        ("age = 9223372036854775808", "takes a 64-bit integer"),
        ("score = abc", 'field "score" at column 1 takes a number, got "abc"'),
        ("active = yes", 'field "active" at column 1 takes true or false, got "yes"'),
        ("active < true", '"<" does not apply to boolean field "active" at column 1; use != or ='),
        ("stage = won", 'field "stage" at column 1 takes one of LEAD, CUSTOMER, got "won"'),
        ("stage > lead", '">" does not apply to enum field "stage"'),
        ("create_time > yesterday", "takes an RFC 3339 timestamp"),
        ('create_time > "2026-01-01T10:00:00"', "takes an RFC 3339 timestamp"),
        ("create_time > 5", "takes an RFC 3339 timestamp"),
        (
            "tags = vip",
            'field "tags" at column 1 is repeated; "=" does not apply, use tags:"value"',
        ),
        ('name:"x"', '":" with a value applies to repeated fields, not to string field "name"'),
        ("custom_fields.vip > true", "is compared with a boolean; use = or != rather than"),
        ('custom_fields:"a b"', 'needs a key name after ":", got "a b"'),
    ],
)
def test_schema_errors_say_what_was_wrong(text: str, message: str) -> None:
    assert message in error_of(text, SCHEMA)


def test_all_schema_errors_are_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as raised:
        parse_filter("shoe_size = 9 AND age = old OR active < true", SCHEMA)
    descriptions = [violation.description for violation in raised.value.violations]
    assert len(descriptions) == 3
    assert {violation.field for violation in raised.value.violations} == {"filter"}


def test_schema_rejects_bad_declarations() -> None:
    with pytest.raises(ValueError, match="not a filterable field name"):
        FilterSchema({"bad name": FilterField.string()})
    with pytest.raises(ValueError, match="must be one name"):
        FilterSchema({}, custom_prefixes=("meta.custom",))
    assert FilterSchema({}, custom_prefixes=("cf.",)).custom_prefixes == ("cf",)
