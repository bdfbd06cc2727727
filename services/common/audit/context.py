"""The RPC being served and who it is attributed to, for the unit of work.

A server interceptor sets the call for the duration of each RPC; the unit of
work reads it when it commits, to attribute the change. Outside any RPC
(scheduled jobs, events a service follows) there is no call, and the change
is the service's own.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from google.protobuf.message import Message

from crm_common.auth.principal import current_principal

ANONYMOUS = "anonymous"
SYSTEM = "system"


@dataclass(frozen=True)
class Call:
    """An RPC in progress: its full method name, the caller's address, the request."""

    method: str
    peer: str
    request: Message | None = None


@dataclass(frozen=True)
class Actor:
    """Who a change is attributed to: a subject and its kind (`user`, `service`,
    `anonymous` or `system`)."""

    subject: str
    kind: str


_call: ContextVar[Call | None] = ContextVar("crm_audit_call", default=None)


def current_call() -> Call | None:
    return _call.get()


@contextmanager
def serving(call: Call) -> Iterator[None]:
    """Makes `call` the current call until the block ends."""
    token = _call.set(call)
    try:
        yield
    finally:
        _call.reset(token)


def current_actor(service: str) -> Actor:
    """The authenticated caller; `anonymous` in an RPC of a service that does not
    authenticate; the service itself outside any RPC."""
    principal = current_principal()
    if principal is not None:
        return Actor(principal.subject, principal.kind)
    if current_call() is not None:
        return Actor(ANONYMOUS, ANONYMOUS)
    return Actor(service, SYSTEM)
