"""Project templates: validation (dependency cycles above all) and how a template
is laid out on a won deal (relative dates, assignees, dependency order)."""

from datetime import UTC, date, datetime, timedelta

import pytest

from crm_common.errors import InvalidArgument
from crm_projects.domain.tasks import Priority
from crm_projects.domain.templates import (
    DealRole,
    DefaultAssignee,
    ProjectTemplate,
    TemplateMilestone,
    TemplateSpec,
    TemplateTask,
    find_cycle,
)
from crm_projects.domain.ticket_links import TaskLink, task_links
from crm_projects.domain.won_deals import WonDeal, plan_project

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
# Late in the evening: the win's day is still 10 March in UTC.
WON_AT = datetime(2026, 3, 10, 22, 30, tzinfo=UTC)
OWNER = DefaultAssignee(role=DealRole.OWNER)


def task(key: str, *depends_on: str, **fields: object) -> TemplateTask:
    return TemplateTask(key=key, title=f"Do {key}", depends_on=depends_on, **fields)  # type: ignore[arg-type]


def spec(*tasks: TemplateTask, **fields: object) -> TemplateSpec:
    values: dict[str, object] = {"display_name": "Onboarding", "tasks": tasks, **fields}
    return TemplateSpec(**values)  # type: ignore[arg-type]


def violations_of(template_spec: TemplateSpec, template_id: str = "onboarding") -> dict[str, str]:
    with pytest.raises(InvalidArgument) as raised:
        ProjectTemplate.create(template_id, template_spec, NOW)
    return {v.field: v.description for v in raised.value.violations}


def deal(owner: str = "ada") -> WonDeal:
    return WonDeal(
        opportunity="opportunities/7",
        display_name="Analytical Engine, 2 units",
        organization="organizations/3",
        people=("people/1", "people/2"),
        owner=owner,
        pipeline="pipelines/new-business",
        won_at=WON_AT,
    )


# --- cycles ------------------------------------------------------------------------


def test_a_cycle_through_several_tasks_is_refused_naming_it() -> None:
    found = violations_of(spec(task("a", "c"), task("b", "a"), task("c", "b")))
    assert list(found) == ["project_template.tasks[0].depends_on"]
    assert "a -> c -> b -> a" in found["project_template.tasks[0].depends_on"]


def test_a_task_depending_on_itself_is_refused() -> None:
    found = violations_of(spec(task("a", "a")))
    assert found == {"project_template.tasks[0].depends_on[0]": "a task cannot depend on itself"}


def test_a_diamond_is_not_a_cycle() -> None:
    template = ProjectTemplate.create(
        "onboarding",
        spec(task("d", "b", "c"), task("b", "a"), task("c", "a"), task("a")),
        NOW,
    )
    assert [t.key for t in template.spec.tasks] == ["d", "b", "c", "a"]


def test_find_cycle_handles_long_chains_and_unknown_keys() -> None:
    chain = {str(n): [str(n + 1)] for n in range(5000)}
    assert find_cycle(chain) == []
    chain["4999"] = ["0"]
    assert len(find_cycle(chain)) == 5000
    assert find_cycle({"a": ["nowhere"]}) == []


def test_updating_into_a_cycle_is_refused_and_changes_nothing() -> None:
    template = ProjectTemplate.create("onboarding", spec(task("a"), task("b", "a")), NOW)
    with pytest.raises(InvalidArgument):
        template.update({"tasks": (task("a", "b"), task("b", "a"))}, NOW)
    assert template.version == 1
    assert template.spec.tasks[0].depends_on == ()


# --- other validation --------------------------------------------------------------


def test_every_problem_is_reported_with_its_path() -> None:
    found = violations_of(
        spec(
            task("a", "missing", milestone="nope", due_offset_days=-1),
            task("a", checklist=(" ",)),
            TemplateTask(key="Bad Key", title=" ", assignee=DefaultAssignee(user="ada")),
            display_name=" ",
            pipelines=("stages/1",),
            milestones=(TemplateMilestone("m", "", 4000), TemplateMilestone("m", "Twice")),
        ),
        template_id="Not An Id",
    )
    assert set(found) == {
        "project_template_id",
        "project_template.display_name",
        "project_template.pipelines[0]",
        "project_template.milestones[0].display_name",
        "project_template.milestones[0].due_offset_days",
        "project_template.milestones[1].key",
        "project_template.tasks[0].milestone",
        "project_template.tasks[0].due_offset_days",
        "project_template.tasks[0].depends_on[0]",
        "project_template.tasks[1].key",
        "project_template.tasks[1].checklist[0]",
        "project_template.tasks[2].key",
        "project_template.tasks[2].title",
        "project_template.tasks[2].default_assignee.user",
    }


def test_values_are_trimmed_and_duplicates_dropped() -> None:
    template = ProjectTemplate.create(
        "onboarding",
        spec(
            TemplateTask(key="a", title="  Kick-off call ", checklist=(" agenda ",)),
            task("b", "a", "a"),
            display_name="  Onboarding  ",
            pipelines=("pipelines/1", "pipelines/1"),
        ),
        NOW,
    )
    assert template.spec.display_name == "Onboarding"
    assert template.spec.pipelines == ("pipelines/1",)
    assert template.spec.tasks[0].title == "Kick-off call"
    assert template.spec.tasks[0].checklist == ("agenda",)
    assert template.spec.tasks[1].depends_on == ("a",)


# --- laying a template out on a won deal -------------------------------------------


def onboarding() -> ProjectTemplate:
    return ProjectTemplate.create(
        "onboarding",
        spec(
            task("train", "install", due_offset_days=14, assignee=OWNER, milestone="live"),
            task(
                "install",
                "kickoff",
                due_offset_days=7,
                assignee=DefaultAssignee(user="users/grace"),
                priority=Priority.HIGH,
                checklist=("ship", "assemble"),
            ),
            task("kickoff", assignee=OWNER),
            description="From signature to first run.",
            milestones=(TemplateMilestone("live", "Live", 21),),
        ),
        NOW,
    )


def test_dates_count_from_the_win() -> None:
    plan = plan_project(onboarding(), deal())
    assert plan.start_date == date(2026, 3, 10)
    assert [(m.key, m.due_date) for m in plan.milestones] == [("live", date(2026, 3, 31))]
    due = {t.key: t.due_time for t in plan.tasks}
    assert due == {
        "kickoff": WON_AT,
        "install": WON_AT + timedelta(days=7),
        "train": WON_AT + timedelta(days=14),
    }
    assert plan.due_date == date(2026, 3, 31)


def test_tasks_come_after_those_they_depend_on() -> None:
    plan = plan_project(onboarding(), deal())
    assert [t.key for t in plan.tasks] == ["kickoff", "install", "train"]
    assert plan.tasks[2].depends_on == ("install",)
    assert plan.tasks[2].milestone == "live"


def test_assignees_are_the_deal_owner_or_the_fixed_user() -> None:
    plan = plan_project(onboarding(), deal(owner="ada"))
    assert {t.key: t.assignee for t in plan.tasks} == {
        "kickoff": "users/ada",
        "install": "users/grace",
        "train": "users/ada",
    }
    assert plan.owner == "ada"
    assert plan.tasks[1].priority is Priority.HIGH
    assert plan.tasks[1].checklist == ("ship", "assemble")


def test_an_owner_that_is_no_user_id_leaves_the_owners_tasks_unassigned() -> None:
    for owner in ("", "ada lovelace", "a/b"):
        plan = plan_project(onboarding(), deal(owner=owner))
        assert {t.key: t.assignee for t in plan.tasks}["kickoff"] == ""
        assert plan.owner == ""


def test_the_project_is_the_deals() -> None:
    plan = plan_project(onboarding(), deal())
    assert (plan.display_name, plan.opportunity, plan.organization, plan.people) == (
        "Analytical Engine, 2 units",
        "opportunities/7",
        "organizations/3",
        ("people/1", "people/2"),
    )
    assert plan.description == "From signature to first run."


def test_an_empty_template_makes_a_project_without_a_due_date() -> None:
    plan = plan_project(ProjectTemplate.create("bare", spec(), NOW), deal())
    assert (plan.milestones, plan.tasks, plan.due_date) == ((), (), None)


# --- tickets naming tasks ----------------------------------------------------------


def test_only_task_links_count_once_each() -> None:
    links = [
        "projects/p1/tasks/t1",
        "opportunities/9",
        "projects/p1/tasks/t1",
        "projects/p1/milestones/m1",
        "projects/p2/tasks/t2",
        "projects//tasks/t3",
    ]
    assert task_links(links) == [TaskLink("p1", "t1"), TaskLink("p2", "t2")]
