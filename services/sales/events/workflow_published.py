"""The events workflow rules announce: `workflow.task_requested` and `workflow.notification`.

Both carry a key built from (rule, triggering event, action index, target),
the same on every delivery of the triggering event, so their consumers can
act once however often they see them.
"""

from datetime import date

from google.type.date_pb2 import Date

from crm.sales.v1 import events_pb2
from crm_common.messaging.envelope import OutgoingEvent
from crm_sales.domain.workflows import WorkflowRule

TASK_REQUESTED = "workflow.task_requested"
NOTIFICATION = "workflow.notification"


def action_key(rule: WorkflowRule, event_id: str, index: int, target: str) -> str:
    return f"{rule.name}/runs/{event_id}/actions/{index}/targets/{target}"


def task_requested(
    rule: WorkflowRule,
    key: str,
    event_id: str,
    subject: str,
    regarding: str,
    title: str,
    assignee: str,
    due: date,
) -> OutgoingEvent:
    payload = events_pb2.WorkflowTaskRequested(
        request_id=key,
        workflow_rule=rule.name,
        triggering_event_id=event_id,
        subject=subject,
        regarding=regarding,
        title=title,
        assignee=assignee,
        due_date=Date(year=due.year, month=due.month, day=due.day),
    )
    return _about(rule, TASK_REQUESTED, payload)


def notification(
    rule: WorkflowRule,
    key: str,
    event_id: str,
    subject: str,
    regarding: str,
    recipient: str,
    message: str,
) -> OutgoingEvent:
    payload = events_pb2.WorkflowNotification(
        notification_id=key,
        workflow_rule=rule.name,
        triggering_event_id=event_id,
        subject=subject,
        regarding=regarding,
        recipient=recipient,
        message=message,
    )
    return _about(rule, NOTIFICATION, payload)


def _about(
    rule: WorkflowRule,
    event_type: str,
    payload: events_pb2.WorkflowTaskRequested | events_pb2.WorkflowNotification,
) -> OutgoingEvent:
    # A rule's announcements do not change the rule: version 0 says "no version".
    return OutgoingEvent(
        type=event_type,
        aggregate_type="workflow_rule",
        aggregate_id=rule.id,
        aggregate_version=0,
        payload=payload,
    )
