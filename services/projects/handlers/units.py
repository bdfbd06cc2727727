"""Running a use case in a transaction of its own.

The use cases here work inside a unit of work their caller has opened and
leave the commit to it, so that they compose: a projects RPC runs one alone,
while the won-deal flow creates a project and its tasks in the transaction
that also records the event it handles.
"""

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from crm_common.messaging.uow import UnitOfWorkFactory

T = TypeVar("T")


async def in_transaction(
    units: UnitOfWorkFactory, use_case: Callable[..., Awaitable[T]], *args: Any
) -> T:
    """`use_case(uow, *args)` in a new unit of work, committed when it returns."""
    async with units() as uow:
        result = await use_case(uow, *args)
        await uow.commit()
    return result


async def read(units: UnitOfWorkFactory, query: Callable[..., Awaitable[T]], *args: Any) -> T:
    """`query(uow, *args)` in a new unit of work that writes nothing."""
    async with units() as uow:
        return await query(uow, *args)
