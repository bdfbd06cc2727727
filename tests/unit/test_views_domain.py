"""Saved views and the agent queue: validation, placeholders, queries."""

import importlib.util
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

import pytest

import crm_support
from crm_common.errors import InvalidArgument
from crm_common.filtering import And, Comparison, Op, Or
from crm_common.pagination import SortKey
from crm_support.domain.tickets import TicketStatus
from crm_support.domain.views import (
    BATCH_COUNT_MAX,
    QUEUE_ORDER,
    QUEUE_STATUSES,
    View,
    ViewDetails,
    check_agent,
    check_batch,
    queue_filter,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
MIGRATION = Path(crm_support.__file__).parent / "storage/migrations/versions/0006_views.py"


def details(**overrides: object) -> ViewDetails:
    return ViewDetails(**{"display_name": "Mine", "filter": "assignee = @me", **overrides})


def violations(error: pytest.ExceptionInfo[InvalidArgument]) -> dict[str, str]:
    return {v.field: v.description for v in error.value.violations}


def migration() -> ModuleType:
    spec = importlib.util.spec_from_file_location("views_migration", MIGRATION)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_create_normalises_and_keeps_placeholders_as_written() -> None:
    view = View.create("mine", details(display_name="  Mine  ", filter=" assignee = @me "), NOW)
    assert view.name == "views/mine" and view.version == 1
    assert view.details.display_name == "Mine"
    assert view.details.filter == "assignee = @me"


def test_every_bad_field_is_reported_under_its_request_path() -> None:
    bad = details(
        display_name=" ",
        filter="assignee = @me AND colour = red",
        order_by="colour desc",
        owner="people/1",
    )
    with pytest.raises(InvalidArgument) as error:
        View.create("Not An Id", bad, NOW)
    found = violations(error)
    assert set(found) == {
        "view_id",
        "view.display_name",
        "view.filter",
        "view.order_by",
        "view.owner",
    }
    assert "colour" in found["view.filter"] and "colour" in found["view.order_by"]


@pytest.mark.parametrize(
    "text",
    ["status = @then", "status = (", "priority > URGENT", "sla_due_time <= @now+1y", "tags = x"],
)
def test_filters_that_could_not_run_are_refused_at_save_time(text: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        View.create("v", details(filter=text), NOW)
    assert list(violations(error)) == ["view.filter"]


def test_display_name_order_by_and_owner_have_limits() -> None:
    with pytest.raises(InvalidArgument) as error:
        View.create(
            "v",
            details(display_name="x" * 101, order_by="priority," * 100, owner="agents/" + "a" * 64),
            NOW,
        )
    assert set(violations(error)) == {"view.display_name", "view.order_by", "view.owner"}


@pytest.mark.parametrize("text", ["create_time > @now-999999w", "create_time < @now+999999w"])
def test_times_beyond_the_calendar_are_refused_not_crashed_on(text: str) -> None:
    with pytest.raises(InvalidArgument) as error:
        View.create("v", details(filter=text), NOW)
    assert "years 1 to 9999" in violations(error)["view.filter"]


def test_relative_times_far_back_still_run() -> None:
    view = View.create("v", details(filter="solve_time < @now-4d AND update_time > @now-520w"), NOW)
    assert view.query(NOW, "").expr is not None
    assert view.query_identity("agents/1") == view.query_identity("")


def test_update_reports_what_changed_and_bumps_the_version() -> None:
    view = View.create("v", details(), NOW)
    later = NOW + timedelta(minutes=5)
    assert view.update({"display_name": "Mine", "position": 0}, later) == []
    assert view.version == 1
    assert view.update({"filter": "status = OPEN", "position": 3}, later) == ["filter", "position"]
    assert (view.version, view.update_time, view.details.position) == (2, later, 3)
    with pytest.raises(InvalidArgument) as error:
        view.update({"order_by": "subject"}, later)
    assert list(violations(error)) == ["view.order_by"]
    assert view.version == 2


def test_query_expands_placeholders_for_the_agent_and_the_moment() -> None:
    view = View.create(
        "v", details(filter="assignee = @me AND sla_due_time <= @now+1h", order_by=""), NOW
    )
    query = view.query(NOW, "agents/7")
    assert query.expr == And(
        (
            Comparison("assignee", Op.EQ, "agents/7"),
            Comparison("sla_due_time", Op.LE, NOW + timedelta(hours=1)),
        )
    )
    # Newest first by default, with the id as tie-breaker.
    assert query.keys == (SortKey("create_time", True), SortKey("id", True))


def test_me_is_required_unless_a_personal_view_has_an_owner() -> None:
    shared = View.create("v", details(), NOW)
    with pytest.raises(InvalidArgument) as error:
        shared.query(NOW, "")
    assert "views/v uses @me" in violations(error)["agent"]
    personal = View.create("p", details(owner="agents/3"), NOW)
    assert personal.query(NOW, "").expr == Comparison("assignee", Op.EQ, "agents/3")
    assert personal.query(NOW, "agents/9").expr == Comparison("assignee", Op.EQ, "agents/9")
    # Without @me nobody needs to be named.
    assert View.create("o", details(filter="status = OPEN"), NOW).query(NOW, "").expr


def test_page_tokens_are_bound_to_the_query_and_to_me_only_when_used() -> None:
    view = View.create("v", details(), NOW)
    assert view.query_identity("agents/1") != view.query_identity("agents/2")
    view.update({"display_name": "Renamed"}, NOW)
    renamed = view.query_identity("agents/1")
    view.update({"order_by": "priority desc"}, NOW)
    assert view.query_identity("agents/1") != renamed
    open_view = View.create("o", details(filter="status = OPEN"), NOW)
    assert open_view.query_identity("agents/1") == open_view.query_identity("agents/2")


def test_queue_is_working_tickets_of_the_agent_or_unassigned_ones_it_may_take() -> None:
    def alternatives(*who: Comparison | Or) -> list[And]:
        # One per (assignee, working status), so each is one index range.
        return [And((*who, Comparison("status", Op.EQ, int(s)))) for s in QUEUE_STATUSES]

    mine = Comparison("assignee", Op.EQ, "agents/7")
    unassigned = Comparison("assignee", Op.EQ, "")
    assert QUEUE_STATUSES == (TicketStatus.NEW, TicketStatus.OPEN)
    takeable = Or(
        (
            Comparison("group", Op.EQ, ""),
            Comparison("group", Op.EQ, "groups/a"),
            Comparison("group", Op.EQ, "groups/b"),
        )
    )
    assert queue_filter("agents/7", ["groups/a", "groups/b"]) == Or(
        (*alternatives(mine), *alternatives(unassigned, takeable))
    )
    no_group = Comparison("group", Op.EQ, "")
    assert queue_filter("agents/7", []) == Or(
        (*alternatives(mine), *alternatives(unassigned, no_group))
    )


def test_queue_order_is_sla_then_urgency_then_age() -> None:
    assert [(k.field, k.descending) for k in QUEUE_ORDER] == [
        ("sla_due_time", False),
        ("priority", True),
        ("create_time", False),
        ("id", False),
    ]


def test_batch_names_are_checked_one_by_one() -> None:
    assert check_batch(["views/a", "views/b", "views/a"]) == ["a", "b", "a"]
    with pytest.raises(InvalidArgument) as error:
        check_batch(["views/a", "tickets/1", "views/"])
    assert set(violations(error)) == {"names[1]", "names[2]"}
    for names in ([], ["views/a"] * (BATCH_COUNT_MAX + 1)):
        with pytest.raises(InvalidArgument) as error:
            check_batch(names)
        assert list(violations(error)) == ["names"]


def test_agent_names() -> None:
    check_agent("")
    check_agent("agents/7", required=True)
    for bad, required in (("", True), ("agents/", False), ("people/1", False)):
        with pytest.raises(InvalidArgument) as error:
            check_agent(bad, required=required)
        assert list(violations(error)) == ["agent"]


def test_built_in_views_are_valid_and_ordered() -> None:
    built_in = migration().BUILT_IN_VIEWS
    assert [v["id"] for v in built_in] == [
        "my-open",
        "breaching-soon",
        "unassigned-urgent",
        "unsolved",
    ]
    positions = [v["position"] for v in built_in]
    assert positions == sorted(positions)
    for row in built_in:
        view = View.create(
            row["id"],
            ViewDetails(row["display_name"], row["filter"], row["order_by"], "", row["position"]),
            NOW,
        )
        assert view.query(NOW, "agents/7").keys[0] == SortKey("sla_due_time")
