"""Projects follow the other services: people merged or erased in contacts are
re-pointed or unlinked on projects and tasks, and a helpdesk ticket whose links
name a task shows up on that task."""

import uuid

from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.projects.v1 import project_pb2, task_pb2
from crm.projects.v1 import projects_service_pb2 as projects
from crm.projects.v1 import task_service_pb2 as tasks
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.task_service_pb2_grpc import TaskServiceStub
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2
from tests.integration.harness import Suite, eventually


def person(suite: Suite, name: str) -> str:
    created = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(given_name=name, family_name=uuid.uuid4().hex[:8])
        )
    )
    return created.name


def project_with(suite: Suite, *people: str) -> project_pb2.Project:
    stub = suite.stub("projects", ProjectsServiceStub)
    return stub.CreateProject(
        projects.CreateProjectRequest(
            project=project_pb2.Project(display_name="Engine roll-out", people=people)
        )
    )


def task_in(suite: Suite, project: str, contact: str = "") -> task_pb2.Task:
    stub = suite.stub("projects", TaskServiceStub)
    return stub.CreateTask(
        tasks.CreateTaskRequest(
            parent=project, task=task_pb2.Task(title="Call the customer", contact=contact)
        )
    )


def get_project(suite: Suite, name: str) -> project_pb2.Project:
    stub = suite.stub("projects", ProjectsServiceStub)
    return stub.GetProject(projects.GetProjectRequest(name=name))


def get_task(suite: Suite, name: str) -> task_pb2.Task:
    return suite.stub("projects", TaskServiceStub).GetTask(tasks.GetTaskRequest(name=name))


def test_a_merge_repoints_projects_and_tasks(projects_suite: Suite) -> None:
    survivor, merged = person(projects_suite, "Ada"), person(projects_suite, "Augusta")
    bystander = person(projects_suite, "Charles")
    only_merged = project_with(projects_suite, merged, bystander)
    both = project_with(projects_suite, survivor, merged)
    task = task_in(projects_suite, only_merged.name, contact=merged)
    other_task = task_in(projects_suite, both.name, contact=bystander)

    projects_suite.contacts.MergePeople(
        contacts.MergePeopleRequest(person=survivor, merged_people=[merged])
    )

    def repointed() -> None:
        first = get_project(projects_suite, only_merged.name)
        assert list(first.people) == [survivor, bystander]
        assert first.etag != only_merged.etag
        assert list(get_project(projects_suite, both.name).people) == [survivor]
        moved = get_task(projects_suite, task.name)
        assert moved.contact == survivor
        assert moved.etag != task.etag

    eventually(repointed)
    assert get_task(projects_suite, other_task.name) == other_task


def test_an_erasure_unlinks_the_person(projects_suite: Suite) -> None:
    erased, kept = person(projects_suite, "Erin"), person(projects_suite, "Kim")
    project = project_with(projects_suite, erased, kept)
    task = task_in(projects_suite, project.name, contact=erased)

    projects_suite.contacts.ErasePerson(contacts.ErasePersonRequest(name=erased))

    def scrubbed() -> None:
        assert list(get_project(projects_suite, project.name).people) == [kept]
        assert get_task(projects_suite, task.name).contact == ""

    eventually(scrubbed)


def test_a_ticket_linked_to_a_task_shows_on_it_until_unlinked(projects_suite: Suite) -> None:
    project = project_with(projects_suite)
    task, other = task_in(projects_suite, project.name), task_in(projects_suite, project.name)
    ticket = projects_suite.support.CreateTicket(
        support.CreateTicketRequest(
            ticket=ticket_pb2.Ticket(
                subject="Engine stalls after the installation",
                requester_email=f"ops-{uuid.uuid4().hex[:8]}@example.com",
                links=[task.name, "opportunities/elsewhere"],
            )
        )
    )

    def shown() -> None:
        assert list(get_task(projects_suite, task.name).linked_tickets) == [ticket.name]
        listed = suite_tasks(projects_suite, project.name)
        assert {t.name: list(t.linked_tickets) for t in listed} == {
            task.name: [ticket.name],
            other.name: [],
        }

    eventually(shown)

    projects_suite.support.UpdateTicket(
        support.UpdateTicketRequest(
            ticket=ticket_pb2.Ticket(name=ticket.name, links=[other.name]),
            update_mask=FieldMask(paths=["links"]),
        )
    )

    def moved() -> None:
        assert list(get_task(projects_suite, task.name).linked_tickets) == []
        assert list(get_task(projects_suite, other.name).linked_tickets) == [ticket.name]

    eventually(moved)


def suite_tasks(suite: Suite, project: str) -> list[task_pb2.Task]:
    stub = suite.stub("projects", TaskServiceStub)
    return list(stub.ListTasks(tasks.ListTasksRequest(parent=project)).tasks)
