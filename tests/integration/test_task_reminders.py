"""`task.due_soon` and `task.overdue` from the projects scheduler: once each per
due time, across a restart of the projects process and with two replicas
racing on one PostgreSQL database."""

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from crm.events.v1.event_pb2 import Event
from crm.projects.v1 import events_pb2, project_pb2, task_pb2
from crm.projects.v1 import projects_service_pb2 as projects_pb
from crm.projects.v1 import task_service_pb2 as tasks_pb
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from crm_cli.processes import ServiceProcess
from crm_cli.servers import NatsServer, PostgresServer, free_port
from crm_common.auth.client import with_token
from tests.integration.harness import ADMIN_TOKEN, Suite, eventually, published_events

REMINDERS = ("task.due_soon", "task.overdue")


def reminders(nats_url: str, task_ids: set[str]) -> dict[str, list[Event]]:
    found: dict[str, list[Event]] = {task_id: [] for task_id in task_ids}
    for event in published_events(nats_url, "projects"):
        if event.type in REMINDERS and event.aggregate_id in found:
            found[event.aggregate_id].append(event)
    return found


def due_in(seconds: float) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC) + timedelta(seconds=seconds))
    return stamp


def new_project(channel: grpc.Channel) -> str:
    project = project_pb2.Project(display_name=f"Reminders {uuid.uuid4().hex[:6]}")
    request = projects_pb.CreateProjectRequest(project=project)
    return ProjectsServiceStub(channel).CreateProject(request).name


def new_task(channel: grpc.Channel, project: str, title: str, **fields: object) -> task_pb2.Task:
    task = task_pb2.Task(title=title, **fields)  # type: ignore[arg-type]
    request = tasks_pb.CreateTaskRequest(parent=project, task=task)
    return TaskServiceStub(channel).CreateTask(request)


def update_task(channel: grpc.Channel, task: task_pb2.Task, *paths: str) -> task_pb2.Task:
    request = tasks_pb.UpdateTaskRequest(task=task, update_mask=FieldMask(paths=paths))
    return TaskServiceStub(channel).UpdateTask(request)


def task_id(task: task_pb2.Task) -> str:
    return task.name.rpartition("/")[2]


def types_of(events: list[Event]) -> list[str]:
    return [event.type for event in events]


def test_due_soon_then_overdue_once_each_across_a_restart(projects_suite: Suite) -> None:
    channel = projects_suite.channel("projects")
    project = new_project(channel)
    task = new_task(channel, project, "Call the customer", due_time=due_in(6))
    later = new_task(channel, project, "Next month", due_time=due_in(40 * 24 * 3600))
    undated = new_task(channel, project, "Whenever")
    ids = {task_id(t) for t in (task, later, undated)}
    url = projects_suite.nats.url

    def warned() -> list[Event]:
        found = reminders(url, ids)[task_id(task)]
        assert types_of(found) == ["task.due_soon"], types_of(found)
        return found

    [due_soon] = eventually(warned, timeout=30)
    payload = events_pb2.TaskDueSoon()
    assert due_soon.payload.Unpack(payload)
    assert payload.task.name == task.name and payload.task.due_time == task.due_time
    assert due_soon.aggregate_type == "task"

    projects = projects_suite.processes["projects"]
    projects.stop()
    projects.start()

    def overdue() -> list[Event]:
        found = reminders(url, ids)[task_id(task)]
        assert types_of(found) == ["task.due_soon", "task.overdue"], types_of(found)
        return found

    said = eventually(overdue, timeout=40)
    late = events_pb2.TaskOverdue()
    assert said[1].payload.Unpack(late) and late.task.name == task.name
    time.sleep(2)  # ten more runs of the scheduler announce nothing more
    after = reminders(url, ids)
    assert types_of(after[task_id(task)]) == ["task.due_soon", "task.overdue"]
    assert after[task_id(later)] == [] and after[task_id(undated)] == []


def test_a_new_due_time_is_reminded_again_and_done_tasks_are_not(
    projects_suite: Suite,
) -> None:
    channel = projects_suite.channel("projects")
    project = new_project(channel)
    moved = new_task(channel, project, "Moved", due_time=due_in(-60))
    finished = new_task(channel, project, "Finished", due_time=due_in(3600))
    ids = {task_id(moved), task_id(finished)}
    url = projects_suite.nats.url

    def announced(expected: dict[str, list[str]]) -> None:
        found = {key: types_of(events) for key, events in reminders(url, ids).items()}
        assert found == expected, found

    # Already past due when first seen: overdue only.
    eventually(
        lambda: announced({task_id(moved): ["task.overdue"], task_id(finished): ["task.due_soon"]}),
        timeout=30,
    )
    finished.status = task_pb2.TASK_STATUS_DONE
    finished.due_time.CopyFrom(due_in(-30))
    update_task(channel, finished, "status", "due_time")
    moved.due_time.CopyFrom(due_in(3))
    update_task(channel, moved, "due_time")
    eventually(
        lambda: announced(
            {
                task_id(moved): ["task.overdue", "task.due_soon", "task.overdue"],
                task_id(finished): ["task.due_soon"],
            }
        ),
        timeout=30,
    )


@pytest.mark.slow
def test_replicas_racing_announce_each_reminder_once(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    with NatsServer(tmp_path / "nats-store") as broker:
        env = {
            "CRM_NATS_URL": broker.url,
            "CRM_PROJECTS_DATABASE_URL": postgres_server.create_database(
                f"reminders_{uuid.uuid4().hex}"
            ),
            # Both replicas look far more often than the tasks fall due.
            "CRM_JOBS_INTERVAL_SECONDS": "0.02",
        }
        replicas = [
            ServiceProcess("projects", f"127.0.0.1:{free_port()}", env, tmp_path / f"{name}.log")
            for name in ("a", "b")
        ]
        try:
            for replica in replicas:
                replica.start()
            with with_token(grpc.insecure_channel(replicas[0].address), ADMIN_TOKEN) as channel:
                project = new_project(channel)
                ids = {
                    task_id(new_task(channel, project, f"Race {index}", due_time=due_in(4)))
                    for index in range(20)
                }

            def announced() -> dict[str, list[str]]:
                found = {
                    key: types_of(events) for key, events in reminders(broker.url, ids).items()
                }
                assert all(len(types) >= 2 for types in found.values()), found
                return found

            eventually(announced, timeout=60)
            time.sleep(1)  # fifty more runs of each replica announce nothing more
            assert all(types == list(REMINDERS) for types in announced().values()), announced()
        finally:
            for replica in replicas:
                replica.stop()
