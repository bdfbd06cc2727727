import base64
import json
from datetime import UTC, datetime

import pytest

from crm_common.errors import InvalidArgument
from crm_common.pagination import (
    SortKey,
    decode_page_token,
    encode_page_token,
    page_size,
    parse_order_by,
    query_digest,
)


def test_page_size_defaults_and_bounds() -> None:
    assert page_size(0) == 50
    assert page_size(1000) == 1000
    for bad in (-1, 1001):
        with pytest.raises(InvalidArgument) as error:
            page_size(bad)
        assert error.value.violations[0].field == "page_size"


def test_order_by_parses_directions_and_appends_the_unique_tie_breaker() -> None:
    keys = parse_order_by(
        "family_name, create_time desc", ["family_name", "create_time"], default=()
    )
    assert keys == (
        SortKey("family_name"),
        SortKey("create_time", descending=True),
        SortKey("id", descending=True),
    )


def test_order_by_default_and_rejections() -> None:
    default = (SortKey("create_time", descending=True),)
    assert parse_order_by(" ", ["create_time"], default=default)[0] == default[0]
    with pytest.raises(InvalidArgument) as error:
        parse_order_by("password, create_time sideways", ["create_time"], default=default)
    assert [v.field for v in error.value.violations] == ["order_by", "order_by"]


def test_page_token_round_trips_datetimes() -> None:
    digest = query_digest(order_by=[("create_time", True)])
    moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    token = encode_page_token([moment, "abc"], digest)
    assert decode_page_token(token, digest) == [moment, "abc"]
    assert decode_page_token("", digest) is None


@pytest.mark.parametrize("token", ["not-base64!!", "eyJ4IjoxfQ", "AAAA"])
def test_garbage_tokens_are_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument):
        decode_page_token(token, "digest")


def test_token_from_another_query_is_refused() -> None:
    token = encode_page_token([1], query_digest(filter="a"))
    with pytest.raises(InvalidArgument) as error:
        decode_page_token(token, query_digest(filter="b"))
    assert "different filter" in error.value.violations[0].description


def test_token_with_a_naive_time_is_refused() -> None:
    digest = query_digest(order_by=[("create_time", True)])
    raw = json.dumps({"a": [{"dt": "2026-01-02T03:04:05"}], "q": digest}).encode()
    token = base64.urlsafe_b64encode(raw).decode().rstrip("=")
    with pytest.raises(InvalidArgument):
        decode_page_token(token, digest)
