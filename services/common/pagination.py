"""List requests (AIP-132/158): page sizes, order_by, opaque keyset page tokens.

A page token carries the sort key of the last item returned plus a digest of
the query it belongs to, so pages stay stable while rows are inserted and a
token cannot be replayed against a different filter or order.
"""

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from crm_common.errors import InvalidArgument, Violations

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def page_size(
    requested: int, *, default: int = DEFAULT_PAGE_SIZE, maximum: int = MAX_PAGE_SIZE
) -> int:
    if requested < 0 or requested > maximum:
        raise InvalidArgument.single("page_size", f"must be between 0 and {maximum}")
    return requested or default


@dataclass(frozen=True)
class SortKey:
    field: str
    descending: bool = False


def parse_order_by(
    order_by: str,
    sortable: Sequence[str],
    *,
    default: Sequence[SortKey],
    unique: str = "id",
    prefixes: Sequence[str] = (),
) -> tuple[SortKey, ...]:
    """Parses `"family_name, create_time desc"` against the sortable fields.

    The unique field is appended as a tie-breaker so every row has exactly
    one place in the order, which keyset page tokens rely on. Under each of
    `prefixes` any key is accepted (`custom_fields.region` for the prefix
    `custom_fields`): keys defined at run time are for the caller to check.
    """
    keys = _parse_keys(order_by, sortable, prefixes) if order_by.strip() else list(default)
    if all(key.field != unique for key in keys):
        keys.append(SortKey(unique, descending=keys[-1].descending if keys else False))
    return tuple(keys)


def _parse_keys(order_by: str, sortable: Sequence[str], prefixes: Sequence[str]) -> list[SortKey]:
    violations = Violations()
    keys: list[SortKey] = []
    for part in order_by.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            violations.add("order_by", f"{part.strip()!r} is not `field` or `field desc`")
            continue
        if words[0] not in sortable and not _under_prefix(words[0], prefixes):
            listed = [*sortable, *(f"{prefix}.<key>" for prefix in prefixes)]
            violations.add(
                "order_by", f"cannot sort by {words[0]!r}; sortable: {', '.join(listed)}"
            )
            continue
        keys.append(SortKey(words[0], descending=len(words) == 2 and words[1] == "desc"))
    violations.raise_if_any()
    return keys


def _under_prefix(field: str, prefixes: Sequence[str]) -> bool:
    prefix, dot, key = field.partition(".")
    return bool(dot) and prefix in prefixes and _KEY.fullmatch(key) is not None


def query_digest(**query: Any) -> str:
    """Identifies the filter and order a token was issued for."""
    canonical = json.dumps(query, sort_keys=True, default=str)
    return hashlib.blake2s(canonical.encode(), digest_size=8).hexdigest()


def _encode_value(value: Any) -> Any:
    # Datetimes keep their type through the token so keyset comparisons
    # bind them as datetimes again.
    if isinstance(value, datetime):
        return {"dt": value.isoformat()}
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict):
        moment = datetime.fromisoformat(value["dt"])
        if moment.tzinfo is None:
            # Tokens are issued with UTC times; a naive one was edited by hand.
            raise ValueError("page token time without a time zone")
        return moment
    return value


def encode_page_token(after: Sequence[Any], digest: str) -> str:
    payload = {"a": [_encode_value(v) for v in after], "q": digest}
    raw = json.dumps(payload, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_page_token(token: str, digest: str) -> list[Any] | None:
    """The sort key to continue after, or None for the first page."""
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        decoded: Mapping[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
        after, issued_for = [_decode_value(v) for v in decoded["a"]], decoded["q"]
    except (binascii.Error, ValueError, KeyError, TypeError) as error:
        raise InvalidArgument.single("page_token", "is not a token this API issued") from error
    if issued_for != digest:
        raise InvalidArgument.single(
            "page_token", "belongs to a request with a different filter or order_by"
        )
    return after
