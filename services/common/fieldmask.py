"""`update_mask` handling (AIP-134)."""

from collections.abc import Iterable

from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.message import Message

from crm_common.errors import InvalidArgument, Violations


def resolve_update_mask(
    mask: FieldMask, resource: Message, updatable: Iterable[str], *, mask_field: str = "update_mask"
) -> frozenset[str]:
    """The set of top-level fields an update changes.

    `*` means every updatable field; an empty mask means the fields set to a
    non-default value in `resource`. Naming a field that does not exist or may
    not be changed is an error rather than silently ignored.
    """
    allowed = frozenset(updatable)
    if not mask.paths:
        return frozenset(field.name for field, _ in resource.ListFields()) & allowed
    if list(mask.paths) == ["*"]:
        return allowed
    violations = Violations()
    for path in mask.paths:
        if path not in allowed:
            known = path.split(".")[0] in resource.DESCRIPTOR.fields_by_name
            reason = "cannot be updated" if known else "is not a field of the resource"
            violations.add(mask_field, f"{path!r} {reason}")
    violations.raise_if_any()
    if not allowed & set(mask.paths):
        raise InvalidArgument.single(mask_field, "names no updatable field")
    return frozenset(mask.paths)
