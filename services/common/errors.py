"""Errors a domain or handler raises; the gRPC layer maps each to a status code.

Plain Python on purpose: domain code raises these without knowing about gRPC.
"""

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldViolation:
    """One bad field: `field` is a path such as `person.email_addresses[1].address`."""

    field: str
    description: str


class DomainError(Exception):
    """Base of the errors that are the client's doing, never INTERNAL."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidArgument(DomainError):
    """The request is malformed; carries every violation found, not just the first."""

    def __init__(self, violations: Iterable[FieldViolation]) -> None:
        self.violations = tuple(violations)
        summary = "; ".join(f"{v.field}: {v.description}" for v in self.violations)
        super().__init__(f"invalid request: {summary}")

    @classmethod
    def single(cls, field: str, description: str) -> "InvalidArgument":
        return cls([FieldViolation(field, description)])


class NotFound(DomainError):
    """The named resource does not exist."""


class AlreadyExists(DomainError):
    """Creating would duplicate an existing resource or unique value."""


class FailedPrecondition(DomainError):
    """The request is well-formed but the resource's state does not allow it."""


class Aborted(DomainError):
    """A concurrent change won, e.g. the etag sent is stale; re-read and retry."""


class Unavailable(DomainError):
    """Another service this call needs cannot be reached; nothing changed, retry later."""


class PermissionDenied(DomainError):
    """The caller may not do this, or not to this record; says nothing about
    whether the record exists."""


class Violations:
    """Collects field violations so a request reports all its problems at once."""

    def __init__(self) -> None:
        self._items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self._items.append(FieldViolation(field, description))

    def extend(self, violations: Iterable[FieldViolation]) -> None:
        self._items.extend(violations)

    def __bool__(self) -> bool:
        return bool(self._items)

    def raise_if_any(self) -> None:
        if self._items:
            raise InvalidArgument(self._items)
