"""Resource names (AIP-122) such as `people/123`: their ids, and a clear error when malformed."""

from crm_common.errors import AlreadyExists, InvalidArgument


def id_from_name(name: str, prefix: str) -> str | None:
    """The id in `{prefix}{id}`, or None when `name` is not such a name."""
    resource_id = name.removeprefix(prefix)
    if not name.startswith(prefix) or not resource_id or "/" in resource_id:
        return None
    return resource_id


def require_id(name: str, prefix: str, field: str, expected: str) -> str:
    """The id in `{prefix}{id}`; INVALID_ARGUMENT on `field` saying `name` is not `expected`."""
    resource_id = id_from_name(name, prefix)
    if resource_id is None:
        raise InvalidArgument.single(field, f"{name!r} is not {expected}")
    return resource_id


def check_retried_create(name: str, existing: object, requested: object) -> None:
    """A create retried under its client-chosen id returns what the first attempt
    made; other content under that id is ALREADY_EXISTS."""
    if existing != requested:
        raise AlreadyExists(f"{name} already exists with other content")
