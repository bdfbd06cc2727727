"""Ticket actions shared by macros, triggers and automations: checking, templates, applying."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from crm_common.errors import FailedPrecondition, InvalidArgument, Violations
from crm_support.domain.actions import (
    ActionContext,
    AddComment,
    AddFollowers,
    AddTags,
    RemoveTags,
    SetAssignee,
    SetCustomField,
    SetGroup,
    SetPriority,
    SetStatus,
    SetType,
    apply_actions,
    check_actions,
    check_template,
    needs_agent,
    render,
)
from crm_support.domain.automation import (
    Automation,
    Macro,
    Trigger,
    TriggerEvent,
    create,
    revise,
)
from crm_support.domain.tickets import (
    Channel,
    Priority,
    Ticket,
    TicketDetails,
    TicketStatus,
    TicketType,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
LATER = NOW + timedelta(minutes=5)
ADA = ActionContext(requester_name="Ada King Lovelace", agent="agents/grace", agent_name="Grace")


def ticket(**details: object) -> Ticket:
    fields: dict[str, object] = {
        "subject": "Printer on fire",
        "requester": "people/ada",
        "tags": ("hardware",),
        **details,
    }
    return Ticket.create("t1", 1042, TicketDetails(**fields), Channel.EMAIL, NOW)  # type: ignore[arg-type]


def ids() -> object:
    numbers = count(1)
    return lambda: f"c{next(numbers)}"


def violations_of(actions: list[object], *, author_required: bool = False) -> dict[str, str]:
    found = Violations()
    check_actions(actions, found, "macro.actions", author_required=author_required)  # type: ignore[arg-type]
    try:
        found.raise_if_any()
    except InvalidArgument as error:
        return {v.field: v.description for v in error.violations}
    return {}


# --- Templates ---


def test_templates_name_known_placeholders_only() -> None:
    found = Violations()
    check_template("Hi {{requester.first_name}}, ticket #{{ ticket.number }}", found, "body")
    assert not found
    for text, problem in [
        ("Hi {{requester.nickname}}", "unknown placeholder {{requester.nickname}}"),
        ("Hi {{requester.name", '"{{" at column 4 is not closed'),
        ("   ", "is required"),
    ]:
        found = Violations()
        check_template(text, found, "body")
        with pytest.raises(InvalidArgument) as raised:
            found.raise_if_any()
        assert [v.field for v in raised.value.violations] == ["body"]
        assert problem in raised.value.violations[0].description


def test_render_fills_every_placeholder() -> None:
    values = {"requester.first_name": "Ada", "ticket.number": "1042"}
    assert render("Hi {{requester.first_name}} ({{ ticket.number }}) {x}", values) == (
        "Hi Ada (1042) {x}"
    )


# --- Checking ---


def test_checking_names_each_bad_action_precisely() -> None:
    assert violations_of([]) == {"macro.actions": "is required: at least one action"}
    problems = violations_of(
        [
            SetGroup("tier2"),
            SetAssignee("people/1"),
            AddTags(()),
            RemoveTags(("a,b",)),
            SetCustomField("Region", "x" * 1001),
            AddFollowers(("has space",)),
            AddComment("Hi {{agent.nickname}}", True, "people/7"),
        ]
    )
    assert set(problems) == {
        "macro.actions[0].set_group",
        "macro.actions[1].set_assignee",
        "macro.actions[2].add_tags.tags",
        "macro.actions[3].remove_tags.tags[0]",
        "macro.actions[4].set_custom_field.key",
        "macro.actions[4].set_custom_field.value",
        "macro.actions[5].add_followers.followers[0]",
        "macro.actions[6].add_comment.body",
        "macro.actions[6].add_comment.author",
    }


def test_clearing_group_and_assignee_is_allowed() -> None:
    assert violations_of([SetGroup(""), SetAssignee("")]) == {}


def test_triggers_and_automations_must_name_comment_authors() -> None:
    comment = AddComment("We got it", True)
    assert violations_of([comment]) == {}
    assert violations_of([comment], author_required=True) == {
        "macro.actions[0].add_comment.author": "is required: no agent applies this"
    }
    assert needs_agent([comment]) and not needs_agent([replace(comment, author="agents/bot")])


def test_checking_normalises_tags_and_followers() -> None:
    found = Violations()
    actions = check_actions(
        [AddTags((" VIP", "vip")), AddFollowers(("u1", "u1"))],
        found,
        "macro.actions",
        author_required=False,
    )
    assert actions == (AddTags(("vip",)), AddFollowers(("u1",)))


# --- Applying ---


def test_field_actions_build_on_each_other_through_ticket_update() -> None:
    subject = ticket(custom_fields={"region": "emea", "plan": "pro"})
    applied = apply_actions(
        subject,
        [
            SetPriority(Priority.URGENT),
            SetType(TicketType.INCIDENT),
            SetGroup("groups/tier2"),
            SetAssignee("agents/grace"),
            AddTags(("VIP", "billing")),
            RemoveTags(("HARDWARE", "billing")),
            SetCustomField("region", "apac"),
            SetCustomField("plan", ""),
            AddFollowers(("u1",)),
            SetStatus(TicketStatus.OPEN),
        ],
        ADA,
        LATER,
        ids(),
    )
    assert set(applied.changed_fields) == {
        "priority",
        "type",
        "group",
        "assignee",
        "tags",
        "custom_fields",
        "followers",
        "status",
    }
    details = subject.details
    assert details.tags == ("vip",)
    assert details.custom_fields == {"region": "apac"}
    assert (details.priority, details.group, details.assignee) == (
        Priority.URGENT,
        "groups/tier2",
        "agents/grace",
    )
    assert subject.status is TicketStatus.OPEN and subject.update_time == LATER
    assert applied.comments == []


def test_actions_that_change_nothing_report_nothing() -> None:
    subject = ticket()
    version = subject.version
    applied = apply_actions(subject, [AddTags(("hardware",))], ADA, LATER, ids())
    assert not applied.changed and subject.version == version


def test_reply_from_a_template_speaks_of_the_ticket_as_the_actions_leave_it() -> None:
    subject = ticket()
    body = (
        "Hi {{requester.first_name}}, #{{ticket.number}} ({{ticket.subject}}) is now "
        "{{ticket.status}} at {{ticket.priority}} priority. {{agent.name}} for {{requester.name}}"
    )
    applied = apply_actions(
        subject,
        [SetStatus(TicketStatus.ON_HOLD), SetPriority(Priority.HIGH), AddComment(body, True)],
        ADA,
        LATER,
        ids(),
    )
    (reply,) = applied.comments
    assert reply.body == (
        "Hi Ada, #1042 (Printer on fire) is now on hold at high priority. "
        "Grace for Ada King Lovelace"
    )
    assert (reply.id, reply.ticket_id, reply.author, reply.public) == (
        "c1",
        "t1",
        "agents/grace",
        True,
    )
    # A macro's public reply is the agent's response.
    assert subject.first_response_time == LATER


def test_automated_replies_are_no_first_response() -> None:
    subject = ticket()
    context = ActionContext(automated=True)
    applied = apply_actions(
        subject, [AddComment("We got it.", True, "agents/bot")], context, LATER, ids()
    )
    assert [c.author for c in applied.comments] == ["agents/bot"]
    assert applied.changed and subject.first_response_time is None
    assert subject.update_time == LATER


def test_unknown_requester_leaves_names_empty() -> None:
    applied = apply_actions(
        ticket(),
        [AddComment("Hi {{requester.first_name}}!", False)],
        ActionContext(agent="agents/a"),
        LATER,
        ids(),
    )
    assert applied.comments[0].body == "Hi !"


def test_a_comment_without_author_needs_the_agent() -> None:
    with pytest.raises(InvalidArgument) as raised:
        apply_actions(ticket(), [AddComment("Hi", True)], ActionContext(), LATER, ids())
    assert raised.value.violations[0].field == "agent"


def test_replying_and_closing_in_one_go() -> None:
    subject = ticket()
    subject.update({"status": TicketStatus.SOLVED}, NOW)
    applied = apply_actions(
        subject,
        [
            AddComment("Closing this, {{requester.first_name}}.", True, "agents/bot"),
            SetStatus(TicketStatus.CLOSED),
        ],
        ActionContext(requester_name="Ada", automated=True),
        LATER,
        ids(),
    )
    assert applied.changed_fields == ["status"] and len(applied.comments) == 1
    assert subject.status is TicketStatus.CLOSED


def test_a_refused_action_leaves_the_ticket_untouched() -> None:
    subject = ticket()
    before = replace(subject)
    with pytest.raises(FailedPrecondition, match="NEW to CLOSED"):
        apply_actions(
            subject,
            [
                AddComment("Bye", True, "agents/bot"),
                AddTags(("x",)),
                SetStatus(TicketStatus.CLOSED),
            ],
            ADA,
            LATER,
            ids(),
        )
    assert subject == before


def test_closed_tickets_are_never_changed() -> None:
    subject = ticket()
    subject.update({"status": TicketStatus.SOLVED}, NOW)
    subject.update({"status": TicketStatus.CLOSED}, NOW)
    with pytest.raises(FailedPrecondition, match="closed"):
        apply_actions(subject, [AddTags(("x",))], ADA, LATER, ids())


# --- Macros, triggers, automations ---


def test_saving_checks_conditions_and_actions_under_the_resource() -> None:
    with pytest.raises(InvalidArgument) as raised:
        create(
            Trigger(display_name=" ", condition="status = MAYBE", actions=(SetGroup("x"),)),
            "t1",
            NOW,
        )
    fields = {v.field for v in raised.value.violations}
    assert fields == {
        "trigger.display_name",
        "trigger.on",
        "trigger.condition",
        "trigger.actions[0].set_group",
    }
    with pytest.raises(InvalidArgument) as raised:
        create(
            Automation(display_name="Close", actions=(SetStatus(TicketStatus.CLOSED),)), "a1", NOW
        )
    assert [v.field for v in raised.value.violations] == ["automation.condition"]
    with pytest.raises(InvalidArgument) as raised:
        create(Macro(display_name="M", actions=(AddTags(("x",)),)), "Bad Id", NOW)
    assert [v.field for v in raised.value.violations] == ["macro_id"]


def test_conditions_may_speak_of_now_but_not_of_me() -> None:
    automation = Automation(
        display_name="Close solved",
        condition="status = SOLVED AND solve_time <= @now-4d",
        actions=(SetStatus(TicketStatus.CLOSED),),
    )
    assert create(automation, "a1", NOW).condition == automation.condition
    with pytest.raises(InvalidArgument) as raised:
        create(replace(automation, condition="assignee = @me"), "a1", NOW)
    assert [v.field for v in raised.value.violations] == ["automation.condition"]


def test_revising_bumps_the_version_only_on_a_real_change() -> None:
    trigger = create(
        Trigger(
            display_name="VIP",
            on=(TriggerEvent.UPDATE, TriggerEvent.CREATE, TriggerEvent.CREATE),
            condition='tags:"vip"',
            actions=(SetPriority(Priority.URGENT),),
        ),
        "vip",
        NOW,
    )
    assert trigger.on == (TriggerEvent.CREATE, TriggerEvent.UPDATE) and trigger.version == 1
    assert revise(trigger, {"display_name": "VIP"}, LATER) is trigger
    revised = revise(trigger, {"active": False}, LATER)
    assert (revised.version, revised.update_time, revised.active) == (2, LATER, False)
