"""Resource name prefixes and the checks of names other services own."""

import re

from crm_common.errors import Violations

PROJECTS = "projects/"
PEOPLE = "people/"
ORGANIZATIONS = "organizations/"
OPPORTUNITIES = "opportunities/"
TICKETS = "tickets/"
USERS = "users/"

_ID_PART = r"[^\s/]{1,63}"
_NAMES = {
    prefix: re.compile(re.escape(prefix) + _ID_PART)
    for prefix in (PEOPLE, ORGANIZATIONS, OPPORTUNITIES, TICKETS, USERS)
}
_USER_ID = re.compile(_ID_PART)


def is_name(value: str, *prefixes: str) -> bool:
    """Whether `value` is `{prefix}{id}` for one of the prefixes."""
    return any(_NAMES[prefix].fullmatch(value) for prefix in prefixes)


def check_name(violations: Violations, path: str, value: str, *prefixes: str) -> None:
    """An optional reference: empty, or a name like `people/123`."""
    if value and not is_name(value, *prefixes):
        examples = " or ".join(f"{prefix}123" for prefix in prefixes)
        violations.add(path, f"must be like {examples}")


def check_user_id(violations: Violations, path: str, value: str) -> None:
    if value and not _USER_ID.fullmatch(value):
        violations.add(path, "must be a user id of 1-63 characters without spaces or '/'")
