"""Several concerns consuming one source's events, through one durable consumer."""

from collections.abc import Sequence

from crm.events.v1.event_pb2 import Event
from crm_common.messaging.consumer import EventHandler, Subscription
from crm_common.messaging.uow import UnitOfWork


def one_per_source(*subscriptions: Subscription) -> list[Subscription]:
    """The subscriptions merged by source, keeping the first-seen order.

    A durable consumer is named after its source, so a second subscription to the
    same source would share it and get only some of the events. Handlers of the
    same event type run in the order given, in one unit of work: the event is
    applied by all of them or by none.
    """
    merged: dict[str, dict[str, list[EventHandler]]] = {}
    for subscription in subscriptions:
        by_type = merged.setdefault(subscription.source, {})
        for event_type, handler in subscription.handlers.items():
            by_type.setdefault(event_type, []).append(handler)
    return [
        Subscription(
            source=source,
            handlers={event_type: _in_turn(handlers) for event_type, handlers in by_type.items()},
        )
        for source, by_type in merged.items()
    ]


def _in_turn(handlers: Sequence[EventHandler]) -> EventHandler:
    if len(handlers) == 1:
        return handlers[0]

    async def handle(event: Event, uow: UnitOfWork) -> None:
        for handler in handlers:
            await handler(event, uow)

    return handle
