"""Pure rules of the projects service: project status transitions, task
validation and start rule, dependency cycles, and completion roll-up."""

from datetime import UTC, date, datetime

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument
from crm_projects.domain.completion import TaskProgress, by_milestone, roll_up
from crm_projects.domain.dependencies import check_no_cycle, find_cycle
from crm_projects.domain.projects import (
    Completion,
    Project,
    ProjectDraft,
    ProjectStatus,
    check_project_transition,
)
from crm_projects.domain.tasks import (
    ChecklistItem,
    Task,
    TaskDraft,
    TaskStatus,
    check_can_start,
)

NOW = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def project(**fields: object) -> Project:
    return Project.create("p1", ProjectDraft(**{"display_name": "Rollout", **fields}), NOW)


def task(task_id: str = "t1", **fields: object) -> Task:
    return Task.create(task_id, TaskDraft(**{"project": "p1", "title": "Do it", **fields}), NOW)


def violations(error: InvalidArgument) -> dict[str, str]:
    return {v.field: v.description for v in error.violations}


def test_a_project_is_normalised_and_starts_not_started() -> None:
    created = project(
        display_name="  Rollout ",
        tags=("Onboarding", "onboarding"),
        people=("people/1", "people/1"),
        custom_fields={"region": "emea", "empty": ""},
    )
    assert created.draft.display_name == "Rollout"
    assert created.draft.tags == ("onboarding",)
    assert created.draft.people == ("people/1",)
    assert created.draft.custom_fields == {"region": "emea"}
    assert created.status is ProjectStatus.NOT_STARTED
    assert created.version == 1


def test_every_bad_project_field_is_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as raised:
        Project.create(
            "Bad Id",
            ProjectDraft(
                display_name=" ",
                owner="has space",
                organization="people/1",
                people=("organizations/1",),
                opportunity="deals/1",
                start_date=date(2025, 5, 1),
                due_date=date(2025, 4, 1),
                custom_fields={"Bad-Key": "x"},
            ),
            NOW,
        )
    assert set(violations(raised.value)) == {
        "project_id",
        "project.display_name",
        "project.owner",
        "project.organization",
        "project.people[0]",
        "project.opportunity",
        "project.due_date",
        "project.custom_fields['Bad-Key']",
    }


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (ProjectStatus.NOT_STARTED, ProjectStatus.IN_PROGRESS),
        (ProjectStatus.IN_PROGRESS, ProjectStatus.COMPLETED),
        (ProjectStatus.DEFERRED, ProjectStatus.IN_PROGRESS),
        (ProjectStatus.COMPLETED, ProjectStatus.IN_PROGRESS),
        (ProjectStatus.CANCELLED, ProjectStatus.IN_PROGRESS),
        (ProjectStatus.COMPLETED, ProjectStatus.COMPLETED),
    ],
)
def test_allowed_project_transitions(before: ProjectStatus, after: ProjectStatus) -> None:
    check_project_transition("projects/p1", before, after)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (ProjectStatus.COMPLETED, ProjectStatus.NOT_STARTED),
        (ProjectStatus.CANCELLED, ProjectStatus.COMPLETED),
        (ProjectStatus.IN_PROGRESS, ProjectStatus.NOT_STARTED),
    ],
)
def test_refused_project_transitions_say_what_is_allowed(
    before: ProjectStatus, after: ProjectStatus
) -> None:
    with pytest.raises(FailedPrecondition, match=f"cannot go from {before.name} to {after.name}"):
        check_project_transition("projects/p1", before, after)


def test_an_update_bumps_the_version_only_when_something_changes() -> None:
    created = project()
    assert created.update({"display_name": "Rollout"}, NOW) == []
    assert created.version == 1
    assert created.update({"status": ProjectStatus.IN_PROGRESS}, NOW) == ["status"]
    assert created.version == 2


def test_a_finished_project_cannot_go_back_to_not_started() -> None:
    created = project(status=ProjectStatus.COMPLETED)
    with pytest.raises(FailedPrecondition):
        created.update({"status": ProjectStatus.NOT_STARTED}, NOW)
    assert created.status is ProjectStatus.COMPLETED


def test_bad_task_fields_are_reported_at_once() -> None:
    with pytest.raises(InvalidArgument) as raised:
        task(
            "t1",
            title="",
            assignee="alice",
            contact="opportunities/1",
            opportunity="people/1",
            ticket="task/1",
            checklist=(ChecklistItem(" "),),
            depends_on=("t1",),
        )
    assert set(violations(raised.value)) == {
        "task.title",
        "task.assignee",
        "task.contact",
        "task.opportunity",
        "task.ticket",
        "task.checklist[0].text",
        "task.depends_on",
    }


def test_a_task_links_to_a_person_or_an_organization() -> None:
    assert task(contact="people/7").draft.contact == "people/7"
    assert task(contact="organizations/7").draft.contact == "organizations/7"


def test_a_task_starts_only_after_its_dependencies_are_done() -> None:
    blocked = task("t3", depends_on=("t1", "t2"), status=TaskStatus.IN_PROGRESS)
    with pytest.raises(FailedPrecondition, match="projects/p1/tasks/t2 not done yet"):
        check_can_start(blocked, {"t1": TaskStatus.DONE, "t2": TaskStatus.IN_PROGRESS})
    check_can_start(blocked, {"t1": TaskStatus.DONE, "t2": TaskStatus.DONE})


def test_a_task_not_started_may_wait_on_anything() -> None:
    waiting = task("t3", depends_on=("t1",), status=TaskStatus.TODO)
    check_can_start(waiting, {"t1": TaskStatus.TODO})
    cancelled = task("t4", depends_on=("t1",), status=TaskStatus.CANCELLED)
    check_can_start(cancelled, {"t1": TaskStatus.TODO})


def test_task_completion_follows_its_checklist_until_done() -> None:
    items = (ChecklistItem("a", True), ChecklistItem("b"), ChecklistItem("c"))
    assert task(checklist=items).completion_percent == 33
    assert task(checklist=items, status=TaskStatus.DONE).completion_percent == 100
    assert task().completion_percent == 0


def test_no_cycle_in_a_chain() -> None:
    graph = {"b": ["a"], "c": ["b"]}
    assert find_cycle(graph, "d", ["c"]) is None
    assert find_cycle(graph, "a", []) is None


def test_a_dependency_back_onto_the_chain_is_a_cycle_named_in_order() -> None:
    graph = {"b": ["a"], "c": ["b"]}
    assert find_cycle(graph, "a", ["c"]) == ["a", "c", "b", "a"]
    with pytest.raises(FailedPrecondition) as raised:
        check_no_cycle("p1", graph, "a", ["c"])
    assert (
        "projects/p1/tasks/a -> projects/p1/tasks/c -> projects/p1/tasks/b -> projects/p1/tasks/a"
        in raised.value.message
    )


def test_the_task_own_old_dependencies_do_not_count() -> None:
    # a depended on c; replacing that with b (which depends on nothing) is fine.
    assert find_cycle({"a": ["c"], "c": []}, "a", ["b"]) is None


def test_diamonds_are_not_cycles() -> None:
    graph = {"b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert find_cycle(graph, "e", ["d", "b"]) is None


def test_roll_up_counts_done_tasks_and_ticked_checklists_and_skips_cancelled() -> None:
    tasks = [
        TaskProgress("m1", TaskStatus.DONE, 0, 0),
        TaskProgress("m1", TaskStatus.TODO, 1, 2),
        TaskProgress("m2", TaskStatus.TODO, 0, 0),
        TaskProgress("", TaskStatus.CANCELLED, 0, 0),
    ]
    assert roll_up(tasks) == Completion(done=1.5, total=3)
    assert roll_up(tasks).percent == 50
    assert by_milestone(tasks) == {
        "m1": Completion(done=1.5, total=2),
        "m2": Completion(done=0.0, total=1),
    }


def test_completion_is_rounded_down_so_100_means_all_done() -> None:
    almost = [TaskProgress("", TaskStatus.DONE, 0, 0)] * 199 + [
        TaskProgress("", TaskStatus.TODO, 0, 0)
    ]
    assert roll_up(almost).percent == 99
    assert roll_up([]).percent == 0
