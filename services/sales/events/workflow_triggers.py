"""Runs workflow rules on the events that trigger them: the sales service's
own opportunity and lead events, and the support service's ticket events
(handlers/workflows.py). The consumers' inboxes apply each event once; the
runs table makes a rule's run on it happen once even without them."""

from crm.events.v1.event_pb2 import Event
from crm_common.messaging.consumer import Subscription
from crm_common.messaging.uow import UnitOfWork
from crm_sales.events.workflow_subjects import SALES_TRIGGERS, SUPPORT_TRIGGERS, triggering_event
from crm_sales.handlers.workflows import run_rules


async def on_trigger(event: Event, uow: UnitOfWork) -> None:
    await run_rules(uow, triggering_event(event))


SALES_WORKFLOWS = Subscription(
    source="sales", handlers={event_type: on_trigger for event_type in SALES_TRIGGERS}
)
SUPPORT_WORKFLOWS = Subscription(
    source="support", handlers={event_type: on_trigger for event_type in SUPPORT_TRIGGERS}
)
