"""The caller an RPC runs on behalf of, as the authentication interceptor
established it from the request's bearer token.

The interceptor sets it for the duration of each call; anything that needs
the caller outside the servicer (audit entries, event envelopes) reads
`current_principal()`. Servicers pass it to handlers as a plain parameter.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal

from crm_common.auth.roles import Permission, permissions_of

PrincipalKind = Literal["user", "service"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: the token's subject, its roles, whether it is a
    person or another service, and the token's id (`jti`) when it has one."""

    subject: str
    roles: frozenset[str]
    kind: PrincipalKind = "user"
    token_id: str = ""

    def may(self, permission: Permission) -> bool:
        """Whether any of the caller's roles grants `permission`."""
        return permission in permissions_of(self.roles)


_current: ContextVar[Principal | None] = ContextVar("crm_principal", default=None)


def current_principal() -> Principal | None:
    """The caller of the RPC being served, or None outside an authenticated call."""
    return _current.get()


@contextmanager
def acting_as(principal: Principal | None) -> Iterator[None]:
    """Makes `principal` the current caller until the block ends."""
    token = _current.set(principal)
    try:
        yield
    finally:
        _current.reset(token)


def caller() -> Principal:
    """The current caller, for servicers to hand to their handlers: the
    interceptor runs every servicer method on behalf of an authenticated one."""
    principal = _current.get()
    if principal is None:
        raise RuntimeError("no authenticated caller: is the AuthInterceptor installed?")
    return principal
