"""The events the projects service announces, about projects and tasks."""

from google.protobuf.message import Message

from crm.projects.v1 import events_pb2
from crm_common.messaging.envelope import OutgoingEvent
from crm_projects.domain.projects import Project, ProjectStatus
from crm_projects.domain.reminders import Reminder
from crm_projects.domain.tasks import Task, TaskDraft, TaskStatus
from crm_projects.project_proto import project_to_proto
from crm_projects.task_proto import task_to_proto

PROJECT_CREATED = "project.created"
PROJECT_UPDATED = "project.updated"
PROJECT_COMPLETED = "project.completed"
TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_ASSIGNED = "task.assigned"
TASK_COMPLETED = "task.completed"
TASK_DUE_SOON = "task.due_soon"
TASK_OVERDUE = "task.overdue"


def project_created(project: Project) -> OutgoingEvent:
    payload = events_pb2.ProjectCreated(project=project_to_proto(project))
    return _about_project(project, PROJECT_CREATED, payload)


def project_changed(
    project: Project, changed_fields: list[str], before: ProjectStatus
) -> list[OutgoingEvent]:
    """`project.updated`, then `project.completed` when it has just been completed."""
    proto = project_to_proto(project)
    events = [
        _about_project(
            project,
            PROJECT_UPDATED,
            events_pb2.ProjectUpdated(project=proto, changed_fields=changed_fields),
        )
    ]
    if project.status is ProjectStatus.COMPLETED and before is not ProjectStatus.COMPLETED:
        events.append(
            _about_project(project, PROJECT_COMPLETED, events_pb2.ProjectCompleted(project=proto))
        )
    return events


def task_created(task: Task) -> list[OutgoingEvent]:
    """`task.created`, then `task.assigned` and `task.completed` when it starts so."""
    proto = task_to_proto(task)
    events = [_about_task(task, TASK_CREATED, events_pb2.TaskCreated(task=proto))]
    return events + _narrower(task, TaskDraft(project=task.project))


def task_changed(task: Task, changed_fields: list[str], before: TaskDraft) -> list[OutgoingEvent]:
    """`task.updated`, then `task.assigned` and `task.completed` when the change says so.

    The narrower events spare consumers (notifications, reminders) from
    inspecting every update.
    """
    proto = task_to_proto(task)
    payload = events_pb2.TaskUpdated(task=proto, changed_fields=changed_fields)
    return [_about_task(task, TASK_UPDATED, payload), *_narrower(task, before)]


def _narrower(task: Task, before: TaskDraft) -> list[OutgoingEvent]:
    events = []
    proto = task_to_proto(task)
    if task.draft.assignee != before.assignee:
        payload = events_pb2.TaskAssigned(task=proto, previous_assignee=before.assignee)
        events.append(_about_task(task, TASK_ASSIGNED, payload))
    if task.status is TaskStatus.DONE and before.status is not TaskStatus.DONE:
        events.append(_about_task(task, TASK_COMPLETED, events_pb2.TaskCompleted(task=proto)))
    return events


def _about_project(project: Project, event_type: str, payload: Message) -> OutgoingEvent:
    return OutgoingEvent(
        type=event_type,
        aggregate_type="project",
        aggregate_id=project.id,
        aggregate_version=project.version,
        payload=payload,
    )


def _about_task(task: Task, event_type: str, payload: Message) -> OutgoingEvent:
    return OutgoingEvent(
        type=event_type,
        aggregate_type="task",
        aggregate_id=task.id,
        aggregate_version=task.version,
        payload=payload,
    )


def task_reminder(task: Task, reminder: Reminder) -> OutgoingEvent:
    """`task.due_soon` or `task.overdue`, about the task as it is now."""
    proto = task_to_proto(task)
    if reminder is Reminder.OVERDUE:
        return _about_task(task, TASK_OVERDUE, events_pb2.TaskOverdue(task=proto))
    return _about_task(task, TASK_DUE_SOON, events_pb2.TaskDueSoon(task=proto))
