"""Macros, triggers and automations through AutomationService, on SQLite and PostgreSQL."""

import uuid

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import person_pb2
from crm.support.v1 import agent_pb2, agent_service_pb2, comment_pb2, events_pb2
from crm.support.v1 import automation_service_pb2 as am
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from crm.support.v1.automation_service_pb2_grpc import AutomationServiceStub
from tests.integration.harness import Suite, eventually, field_violations, rpc_error
from tests.integration.test_tickets import ticket_events


@pytest.fixture(scope="module")
def automation(suite: Suite) -> AutomationServiceStub:
    return suite.stub("support", AutomationServiceStub)


@pytest.fixture(scope="module")
def agents(suite: Suite) -> AgentServiceStub:
    return suite.stub("support", AgentServiceStub)


TICKET_EVENTS = {
    "ticket.created",
    "ticket.updated",
    "ticket.status_changed",
    "ticket.comment_added",
}


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def create_ticket(suite: Suite, *tags: str, **fields: object) -> tp.Ticket:
    values: dict[str, object] = {
        "subject": "Printer on fire",
        "requester": f"people/{uuid.uuid4().hex}",
        "tags": list(tags),
        **fields,
    }
    return suite.support.CreateTicket(support.CreateTicketRequest(ticket=tp.Ticket(**values)))


def get_ticket(suite: Suite, name: str) -> tp.Ticket:
    return suite.support.GetTicket(support.GetTicketRequest(name=name))


def set_status(suite: Suite, name: str, status: int) -> tp.Ticket:
    request = support.UpdateTicketRequest(
        ticket=tp.Ticket(name=name, status=status), update_mask=FieldMask(paths=["status"])
    )
    return suite.support.UpdateTicket(request)


def comments(suite: Suite, name: str) -> list[comment_pb2.Comment]:
    return list(suite.support.ListComments(support.ListCommentsRequest(parent=name)).comments)


def note(body: str, author: str = "agents/helpdesk-bot", public: bool = False) -> am.TicketAction:
    return am.TicketAction(add_comment=am.CommentTemplate(body=body, public=public, author=author))


def tags(*values: str) -> am.TicketAction:
    return am.TicketAction(add_tags=am.TagsChange(tags=values))


def create_macro(automation: AutomationServiceStub, **fields: object) -> am.Macro:
    values: dict[str, object] = {"display_name": unique("Macro"), "actions": [tags("x")], **fields}
    return automation.CreateMacro(am.CreateMacroRequest(macro=am.Macro(**values)))


# --- Macros -------------------------------------------------------------------------


def test_macro_crud(automation: AutomationServiceStub) -> None:
    macro_id = unique("ask-logs")
    actions = [
        note("Hi {{requester.first_name}}, please send logs.", author="", public=True),
        am.TicketAction(set_status=tp.TICKET_STATUS_PENDING),
        tags("Needs-Logs", "needs-logs"),
    ]
    created = automation.CreateMacro(
        am.CreateMacroRequest(
            macro=am.Macro(display_name=" Ask for logs ", actions=actions), macro_id=macro_id
        )
    )
    assert created.name == f"macros/{macro_id}" and created.display_name == "Ask for logs"
    assert created.active and created.etag and created.create_time == created.update_time
    assert list(created.actions[2].add_tags.tags) == ["needs-logs"]
    assert automation.GetMacro(am.GetMacroRequest(name=created.name)) == created
    again = rpc_error(
        lambda: automation.CreateMacro(am.CreateMacroRequest(macro=created, macro_id=macro_id))
    )
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS

    generated = create_macro(automation, display_name="Zz last", active=False)
    assert generated.name.startswith("macros/") and not generated.active

    changed = automation.UpdateMacro(
        am.UpdateMacroRequest(
            macro=am.Macro(name=created.name, description="For crashes", etag=created.etag),
            update_mask=FieldMask(paths=["description"]),
        )
    )
    assert changed.description == "For crashes" and changed.etag != created.etag
    assert changed.actions == created.actions
    unchanged = automation.UpdateMacro(
        am.UpdateMacroRequest(
            macro=am.Macro(name=created.name, description="For crashes"),
            update_mask=FieldMask(paths=["description"]),
        )
    )
    assert unchanged.etag == changed.etag
    stale = rpc_error(
        lambda: automation.UpdateMacro(
            am.UpdateMacroRequest(
                macro=am.Macro(name=created.name, active=False, etag=created.etag),
                update_mask=FieldMask(paths=["active"]),
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED

    def listed(filter_: str, order_by: str = "") -> list[str]:
        names, token = [], ""
        while True:
            response = automation.ListMacros(
                am.ListMacrosRequest(
                    filter=filter_, order_by=order_by, page_size=1, page_token=token
                )
            )
            names += [m.name for m in response.macros]
            token = response.next_page_token
            if not token:
                return names

    everything = listed("")
    assert everything.index(created.name) < everything.index(generated.name)  # by display name
    assert generated.name not in listed("active = true")
    assert listed('display_name = "Ask for logs"') == [created.name]
    assert listed("", "create_time desc")[0] == generated.name

    stale_delete = rpc_error(
        lambda: automation.DeleteMacro(am.DeleteMacroRequest(name=created.name, etag=created.etag))
    )
    assert stale_delete.code() == grpc.StatusCode.ABORTED
    automation.DeleteMacro(am.DeleteMacroRequest(name=created.name, etag=changed.etag))
    gone = rpc_error(lambda: automation.GetMacro(am.GetMacroRequest(name=created.name)))
    assert gone.code() == grpc.StatusCode.NOT_FOUND


def test_macro_replies_by_the_requesters_first_name(
    suite: Suite, automation: AutomationServiceStub, agents: AgentServiceStub
) -> None:
    person = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(given_name="Ada", family_name="Lovelace")
        )
    )
    eventually(
        lambda: suite.support.GetCustomer(
            support.GetCustomerRequest(name=person.name.replace("people/", "customers/"))
        )
    )
    grace = agents.CreateAgent(
        agent_service_pb2.CreateAgentRequest(
            agent=agent_pb2.Agent(display_name="Grace Hopper", email=f"{unique('grace')}@x.example")
        )
    )
    macro = create_macro(
        automation,
        actions=[
            am.TicketAction(set_status=tp.TICKET_STATUS_PENDING),
            note(
                "Hi {{requester.first_name}}, #{{ticket.number}} is {{ticket.status}}. "
                "-- {{agent.name}}",
                author="",
                public=True,
            ),
            tags("needs-logs"),
        ],
    )
    ticket = create_ticket(suite, requester=person.name)
    applied = automation.ApplyMacro(
        am.ApplyMacroRequest(
            name=macro.name, ticket=ticket.name, agent=grace.name, ticket_etag=ticket.etag
        )
    )
    assert applied.status == tp.TICKET_STATUS_PENDING
    assert "needs-logs" in applied.tags and applied.HasField("first_response_time")
    assert applied.requester_display_name == "Ada Lovelace"
    (reply,) = comments(suite, ticket.name)
    assert reply.body == f"Hi Ada, #{ticket.number} is pending. -- Grace Hopper"
    assert reply.author == grace.name and reply.public
    assert get_ticket(suite, ticket.name) == applied

    stale = rpc_error(
        lambda: automation.ApplyMacro(
            am.ApplyMacroRequest(
                name=macro.name, ticket=ticket.name, agent=grace.name, ticket_etag=ticket.etag
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED

    def check_events() -> None:
        events = ticket_events(suite, ticket.name.split("/")[1])
        types = [e.type for e in events if e.type in TICKET_EVENTS]
        assert types == [
            "ticket.created",
            "ticket.updated",
            "ticket.status_changed",
            "ticket.comment_added",
        ]

    eventually(check_events)


def test_macros_that_cannot_apply(
    suite: Suite, automation: AutomationServiceStub, agents: AgentServiceStub
) -> None:
    ticket = create_ticket(suite)
    reply = create_macro(automation, actions=[note("Hello", author="", public=True)])
    without_agent = rpc_error(
        lambda: automation.ApplyMacro(am.ApplyMacroRequest(name=reply.name, ticket=ticket.name))
    )
    assert without_agent.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "agent" in field_violations(without_agent)
    unknown_agent = rpc_error(
        lambda: automation.ApplyMacro(
            am.ApplyMacroRequest(name=reply.name, ticket=ticket.name, agent="agents/nobody")
        )
    )
    assert "agent" in field_violations(unknown_agent)

    inactive = create_macro(automation, active=False)
    error = rpc_error(
        lambda: automation.ApplyMacro(am.ApplyMacroRequest(name=inactive.name, ticket=ticket.name))
    )
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION

    close = create_macro(automation, actions=[am.TicketAction(set_status=tp.TICKET_STATUS_CLOSED)])
    refused = rpc_error(
        lambda: automation.ApplyMacro(am.ApplyMacroRequest(name=close.name, ticket=ticket.name))
    )
    assert refused.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert get_ticket(suite, ticket.name) == ticket

    for status in (tp.TICKET_STATUS_SOLVED, tp.TICKET_STATUS_CLOSED):
        set_status(suite, ticket.name, status)
    closed = rpc_error(
        lambda: automation.ApplyMacro(
            am.ApplyMacroRequest(name=create_macro(automation).name, ticket=ticket.name)
        )
    )
    assert closed.code() == grpc.StatusCode.FAILED_PRECONDITION
    for request in (
        am.ApplyMacroRequest(name="macros/missing", ticket=ticket.name),
        am.ApplyMacroRequest(name=reply.name, ticket="tickets/missing", agent="agents/a"),
    ):
        missing = rpc_error(lambda request=request: automation.ApplyMacro(request))
        assert missing.code() == grpc.StatusCode.NOT_FOUND


# --- Triggers -----------------------------------------------------------------------


def create_trigger(automation: AutomationServiceStub, **fields: object) -> am.Trigger:
    values: dict[str, object] = {
        "display_name": unique("Trigger"),
        "on": [am.TRIGGER_EVENT_CREATE],
        **fields,
    }
    return automation.CreateTrigger(am.CreateTriggerRequest(trigger=am.Trigger(**values)))


def test_triggers_act_on_create_in_position_order(
    suite: Suite, automation: AutomationServiceStub, agents: AgentServiceStub
) -> None:
    vip = unique("vip")
    tier2 = agents.CreateGroup(
        agent_service_pb2.CreateGroupRequest(group=agent_pb2.Group(display_name=unique("Tier 2")))
    )
    # Runs second, on the ticket as the first trigger left it.
    route = create_trigger(
        automation,
        position=20,
        condition=f'priority = URGENT AND tags:"{vip}"',
        actions=[am.TicketAction(set_group=tier2.name)],
    )
    escalate = create_trigger(
        automation,
        position=10,
        condition=f'tags:"{vip}" AND status = NEW',
        actions=[am.TicketAction(set_priority=tp.TICKET_PRIORITY_URGENT), tags("escalated")],
    )
    listed = automation.ListTriggers(am.ListTriggersRequest(filter="active = true")).triggers
    names = [t.name for t in listed]
    assert names.index(escalate.name) < names.index(route.name)

    created = create_ticket(suite, vip)
    assert created.priority == tp.TICKET_PRIORITY_URGENT
    assert list(created.tags) == [vip, "escalated"] and created.group == tier2.name
    plain = create_ticket(suite, unique("other"))
    assert plain.priority == tp.TICKET_PRIORITY_NORMAL and not plain.group

    # On create only: a later update leaves the ticket alone.
    lowered = suite.support.UpdateTicket(
        support.UpdateTicketRequest(
            ticket=tp.Ticket(name=created.name, priority=tp.TICKET_PRIORITY_LOW),
            update_mask=FieldMask(paths=["priority"]),
        )
    )
    assert lowered.priority == tp.TICKET_PRIORITY_LOW

    automation.UpdateTrigger(
        am.UpdateTriggerRequest(
            trigger=am.Trigger(name=escalate.name, active=False),
            update_mask=FieldMask(paths=["active"]),
        )
    )
    assert create_ticket(suite, vip).priority == tp.TICKET_PRIORITY_NORMAL
    for trigger in (escalate, route):
        automation.DeleteTrigger(am.DeleteTriggerRequest(name=trigger.name))


def test_update_triggers_act_once_per_change_without_loops(
    suite: Suite, automation: AutomationServiceStub
) -> None:
    watched = unique("watched")
    # Its own change would match it again: it must still act once per change.
    trigger = create_trigger(
        automation,
        on=[am.TRIGGER_EVENT_UPDATE],
        condition=f'tags:"{watched}" AND status = PENDING',
        actions=[tags("waiting"), note("Waiting on {{requester.name}} ({{ticket.priority}})")],
    )
    assert trigger.position >= 0 and trigger.condition.startswith("tags:")
    ticket = create_ticket(suite, watched)
    assert comments(suite, ticket.name) == []
    pending = set_status(suite, ticket.name, tp.TICKET_STATUS_PENDING)
    assert "waiting" in pending.tags
    (first,) = comments(suite, ticket.name)
    assert first.body == "Waiting on  (normal)" and not first.public
    assert first.author == "agents/helpdesk-bot"
    assert not pending.HasField("first_response_time")
    # The next change (an agent's note) is another update: the trigger acts again, once.
    suite.support.CreateComment(
        support.CreateCommentRequest(
            parent=ticket.name,
            comment=comment_pb2.Comment(body="Checked", public=False, author="agents/a1"),
        )
    )
    bodies = sorted(c.body for c in comments(suite, ticket.name))
    assert bodies == sorted(["Checked", first.body, first.body])
    automation.DeleteTrigger(am.DeleteTriggerRequest(name=trigger.name))


def test_a_trigger_a_ticket_refuses_is_skipped_for_it(
    suite: Suite, automation: AutomationServiceStub
) -> None:
    odd = unique("odd")
    # NEW -> CLOSED is no allowed transition: the ticket is still created, untouched.
    refused = create_trigger(
        automation,
        condition=f'tags:"{odd}"',
        actions=[tags("closed-early"), am.TicketAction(set_status=tp.TICKET_STATUS_CLOSED)],
    )
    tagger = create_trigger(automation, condition=f'tags:"{odd}"', actions=[tags("seen")])
    created = create_ticket(suite, odd)
    assert created.status == tp.TICKET_STATUS_NEW and list(created.tags) == [odd, "seen"]
    for trigger in (refused, tagger):
        automation.DeleteTrigger(am.DeleteTriggerRequest(name=trigger.name))


def test_trigger_crud_and_placement(automation: AutomationServiceStub) -> None:
    # Inactive: they would act on every ticket the other tests create.
    first = create_trigger(
        automation, actions=[tags("a")], condition="priority = LOW", active=False
    )
    second = create_trigger(automation, actions=[tags("b")], active=False)
    assert second.position == first.position + 1 and second.condition == ""
    assert list(second.on) == [am.TRIGGER_EVENT_CREATE]
    got = automation.GetTrigger(am.GetTriggerRequest(name=first.name))
    assert got == first
    moved = automation.UpdateTrigger(
        am.UpdateTriggerRequest(
            trigger=am.Trigger(
                name=first.name,
                position=second.position + 5,
                on=[am.TRIGGER_EVENT_UPDATE, am.TRIGGER_EVENT_CREATE],
                condition="priority = HIGH",
                etag=first.etag,
            ),
            update_mask=FieldMask(paths=["position", "on", "condition"]),
        )
    )
    assert list(moved.on) == [am.TRIGGER_EVENT_CREATE, am.TRIGGER_EVENT_UPDATE]
    names = [t.name for t in automation.ListTriggers(am.ListTriggersRequest()).triggers]
    assert names.index(second.name) < names.index(first.name)
    for trigger in (moved, second):
        automation.DeleteTrigger(am.DeleteTriggerRequest(name=trigger.name, etag=trigger.etag))
    missing = rpc_error(lambda: automation.GetTrigger(am.GetTriggerRequest(name=first.name)))
    assert missing.code() == grpc.StatusCode.NOT_FOUND


# --- Automations --------------------------------------------------------------------


def create_automation(automation: AutomationServiceStub, **fields: object) -> am.Automation:
    values: dict[str, object] = {"display_name": unique("Automation"), **fields}
    return automation.CreateAutomation(
        am.CreateAutomationRequest(automation=am.Automation(**values))
    )


def test_automation_closes_solved_tickets_once_the_condition_holds(
    suite: Suite, automation: AutomationServiceStub
) -> None:
    batch = unique("batch")
    closer = create_automation(
        automation,
        condition=f'status = SOLVED AND solve_time <= @now-1s AND tags:"{batch}"',
        actions=[
            note("Closed: solved for a while, {{requester.first_name}}.", public=True),
            am.TicketAction(set_status=tp.TICKET_STATUS_CLOSED),
        ],
    )
    assert closer.condition.endswith(f'tags:"{batch}"')
    names = [a.name for a in automation.ListAutomations(am.ListAutomationsRequest()).automations]
    assert closer.name in names
    solved = create_ticket(suite, batch)
    set_status(suite, solved.name, tp.TICKET_STATUS_SOLVED)
    still_open = create_ticket(suite, batch)

    def closed() -> tp.Ticket:
        current = get_ticket(suite, solved.name)
        assert current.status == tp.TICKET_STATUS_CLOSED
        return current

    assert eventually(closed).solve_time.seconds > 0
    assert [c.body for c in comments(suite, solved.name)] == ["Closed: solved for a while, ."]
    assert get_ticket(suite, still_open.name).status == tp.TICKET_STATUS_NEW

    def check_events() -> None:
        events = ticket_events(suite, solved.name.split("/")[1])
        types = [e.type for e in events]
        assert types.count("ticket.status_changed") == 2
        assert types.count("ticket.comment_added") == 1
        last_change = events_pb2.TicketStatusChanged()
        [e for e in events if e.type == "ticket.status_changed"][-1].payload.Unpack(last_change)
        assert last_change.previous_status == tp.TICKET_STATUS_SOLVED
        assert last_change.ticket.status == tp.TICKET_STATUS_CLOSED

    eventually(check_events)
    automation.DeleteAutomation(am.DeleteAutomationRequest(name=closer.name))


def test_automations_act_once_per_ticket_and_never_on_closed_ones(
    suite: Suite, automation: AutomationServiceStub
) -> None:
    marked = unique("marked")
    watcher = create_automation(
        automation,
        # Still matches after acting: only the record of having acted stops it.
        condition=f'tags:"{marked}"',
        actions=[tags("seen"), note("Looked at #{{ticket.number}}")],
    )
    closed = create_ticket(suite, marked + "-later")
    for status in (tp.TICKET_STATUS_SOLVED, tp.TICKET_STATUS_CLOSED):
        closed = set_status(suite, closed.name, status)
    automation.UpdateAutomation(
        am.UpdateAutomationRequest(
            automation=am.Automation(
                name=watcher.name, condition=f'tags:"{marked}" OR tags:"{marked}-later"'
            ),
            update_mask=FieldMask(paths=["condition"]),
        )
    )
    first = create_ticket(suite, marked)

    def looked_at(name: str) -> None:
        assert "seen" in get_ticket(suite, name).tags

    eventually(lambda: looked_at(first.name))
    # A ticket created afterwards being handled means later runs happened.
    second = create_ticket(suite, marked)
    eventually(lambda: looked_at(second.name))
    assert [c.body for c in comments(suite, first.name)] == [f"Looked at #{first.number}"]
    assert get_ticket(suite, closed.name) == closed
    automation.DeleteAutomation(am.DeleteAutomationRequest(name=watcher.name))


def test_an_automation_a_ticket_refuses_leaves_it_alone(
    suite: Suite, automation: AutomationServiceStub
) -> None:
    odd = unique("odd")
    closer = create_automation(
        automation,
        condition=f'tags:"{odd}"',
        actions=[tags("closed-by-automation"), am.TicketAction(set_status=tp.TICKET_STATUS_CLOSED)],
    )
    new = create_ticket(suite, odd)  # NEW -> CLOSED is no allowed transition
    solved = set_status(suite, create_ticket(suite, odd).name, tp.TICKET_STATUS_SOLVED)

    def closed() -> None:
        assert get_ticket(suite, solved.name).status == tp.TICKET_STATUS_CLOSED

    eventually(closed)  # the later ticket was handled, so the earlier one was too
    assert get_ticket(suite, new.name) == new
    automation.DeleteAutomation(am.DeleteAutomationRequest(name=closer.name))


def test_automation_crud(automation: AutomationServiceStub) -> None:
    created = create_automation(
        automation,
        condition="status = PENDING AND update_time <= @now-7d",
        actions=[am.TicketAction(set_status=tp.TICKET_STATUS_SOLVED)],
        active=False,
        position=7,
    )
    assert (created.position, created.active) == (7, False)
    assert automation.GetAutomation(am.GetAutomationRequest(name=created.name)) == created
    inactive = automation.ListAutomations(am.ListAutomationsRequest(filter="active = false"))
    assert created.name in [a.name for a in inactive.automations]
    updated = automation.UpdateAutomation(
        am.UpdateAutomationRequest(
            automation=am.Automation(
                name=created.name,
                actions=[am.TicketAction(set_type=tp.TICKET_TYPE_UNSPECIFIED)],
                etag=created.etag,
            ),
            update_mask=FieldMask(paths=["actions"]),
        )
    )
    assert updated.actions[0].WhichOneof("action") == "set_type"
    automation.DeleteAutomation(am.DeleteAutomationRequest(name=created.name))
    for call in (
        lambda: automation.GetAutomation(am.GetAutomationRequest(name=created.name)),
        lambda: automation.DeleteAutomation(am.DeleteAutomationRequest(name=created.name)),
        lambda: automation.UpdateAutomation(
            am.UpdateAutomationRequest(
                automation=am.Automation(name=created.name, display_name="x"),
                update_mask=FieldMask(paths=["display_name"]),
            )
        ),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND


# --- Bad input ----------------------------------------------------------------------

_OK = [tags("x")]


def _macro(**fields: object) -> am.Macro:
    return am.Macro(**{"display_name": "M", "actions": _OK, **fields})


def _trigger(**fields: object) -> am.Trigger:
    values = {"display_name": "T", "on": [am.TRIGGER_EVENT_CREATE], "actions": _OK, **fields}
    return am.Trigger(**values)


def _automation(**fields: object) -> am.Automation:
    values = {"display_name": "A", "condition": "status = SOLVED", "actions": _OK, **fields}
    return am.Automation(**values)


def _action(**fields: object) -> list[am.TicketAction]:
    return [am.TicketAction(**fields)]


BAD_INPUT = [
    ("CreateMacro", am.CreateMacroRequest(), "macro"),
    ("CreateMacro", am.CreateMacroRequest(macro=_macro(display_name=" ")), "macro.display_name"),
    (
        "CreateMacro",
        am.CreateMacroRequest(macro=_macro(description="d" * 2001)),
        "macro.description",
    ),
    ("CreateMacro", am.CreateMacroRequest(macro=_macro(actions=[])), "macro.actions"),
    ("CreateMacro", am.CreateMacroRequest(macro=_macro(actions=[tags()] * 51)), "macro.actions"),
    (
        "CreateMacro",
        am.CreateMacroRequest(macro=_macro(actions=[am.TicketAction()])),
        "macro.actions[0]",
    ),
    (
        "CreateMacro",
        am.CreateMacroRequest(macro=_macro(actions=_action(set_status=0))),
        "macro.actions[0].set_status",
    ),
    (
        "CreateMacro",
        am.CreateMacroRequest(macro=_macro(actions=_action(set_priority=99))),
        "macro.actions[0].set_priority",
    ),
    (
        "CreateMacro",
        am.CreateMacroRequest(macro=_macro(actions=[*_OK, *_action(set_group="tier2")])),
        "macro.actions[1].set_group",
    ),
    (
        "CreateMacro",
        am.CreateMacroRequest(macro=_macro(actions=_action(set_group="groups/missing"))),
        "macro.actions[0].set_group",
    ),
    (
        "CreateMacro",
        am.CreateMacroRequest(macro=_macro(actions=_action(set_assignee="agents/missing"))),
        "macro.actions[0].set_assignee",
    ),
    (
        "CreateMacro",
        am.CreateMacroRequest(macro=_macro(actions=[note("Hi {{requester.nick}}")])),
        "macro.actions[0].add_comment.body",
    ),
    (
        "CreateMacro",
        am.CreateMacroRequest(
            macro=_macro(actions=_action(set_custom_field=am.CustomFieldChange(key="Bad")))
        ),
        "macro.actions[0].set_custom_field.key",
    ),
    ("CreateMacro", am.CreateMacroRequest(macro=_macro(), macro_id="A B"), "macro_id"),
    ("GetMacro", am.GetMacroRequest(name="macros/"), "name"),
    ("ListMacros", am.ListMacrosRequest(page_size=-1), "page_size"),
    ("ListMacros", am.ListMacrosRequest(filter="priority = 1"), "filter"),
    ("ListMacros", am.ListMacrosRequest(order_by="position"), "order_by"),
    ("ListMacros", am.ListMacrosRequest(page_token="garbage"), "page_token"),
    ("UpdateMacro", am.UpdateMacroRequest(), "macro"),
    ("UpdateMacro", am.UpdateMacroRequest(macro=am.Macro(name="x")), "macro.name"),
    (
        "UpdateMacro",
        am.UpdateMacroRequest(
            macro=am.Macro(name="macros/m"), update_mask=FieldMask(paths=["etag"])
        ),
        "update_mask",
    ),
    (
        "UpdateMacro",
        am.UpdateMacroRequest(
            macro=am.Macro(name="macros/m", actions=[am.TicketAction()]),
            update_mask=FieldMask(paths=["actions"]),
        ),
        "macro.actions[0]",
    ),
    ("DeleteMacro", am.DeleteMacroRequest(name="triggers/t"), "name"),
    ("ApplyMacro", am.ApplyMacroRequest(ticket="tickets/t"), "name"),
    ("ApplyMacro", am.ApplyMacroRequest(name="macros/m", ticket="t"), "ticket"),
    (
        "ApplyMacro",
        am.ApplyMacroRequest(name="macros/m", ticket="tickets/t", agent="people/1"),
        "agent",
    ),
    ("CreateTrigger", am.CreateTriggerRequest(), "trigger"),
    ("CreateTrigger", am.CreateTriggerRequest(trigger=_trigger(on=[])), "trigger.on"),
    ("CreateTrigger", am.CreateTriggerRequest(trigger=_trigger(on=[0])), "trigger.on[0]"),
    (
        "CreateTrigger",
        am.CreateTriggerRequest(trigger=_trigger(condition="status = MAYBE")),
        "trigger.condition",
    ),
    (
        "CreateTrigger",
        am.CreateTriggerRequest(trigger=_trigger(condition="assignee = @me")),
        "trigger.condition",
    ),
    ("CreateTrigger", am.CreateTriggerRequest(trigger=_trigger(position=-1)), "trigger.position"),
    (
        "CreateTrigger",
        am.CreateTriggerRequest(trigger=_trigger(actions=[note("Hi", author="")])),
        "trigger.actions[0].add_comment.author",
    ),
    ("CreateTrigger", am.CreateTriggerRequest(trigger=_trigger(), trigger_id="_"), "trigger_id"),
    ("GetTrigger", am.GetTriggerRequest(name="macros/m"), "name"),
    ("ListTriggers", am.ListTriggersRequest(filter="position = 1"), "filter"),
    ("ListTriggers", am.ListTriggersRequest(page_size=1001), "page_size"),
    ("UpdateTrigger", am.UpdateTriggerRequest(), "trigger"),
    ("DeleteTrigger", am.DeleteTriggerRequest(name=""), "name"),
    ("CreateAutomation", am.CreateAutomationRequest(), "automation"),
    (
        "CreateAutomation",
        am.CreateAutomationRequest(automation=_automation(condition=" ")),
        "automation.condition",
    ),
    (
        "CreateAutomation",
        am.CreateAutomationRequest(automation=_automation(condition="solve_time <= @later")),
        "automation.condition",
    ),
    (
        "CreateAutomation",
        am.CreateAutomationRequest(automation=_automation(actions=[note("Bye {{x}}")])),
        "automation.actions[0].add_comment.body",
    ),
    ("GetAutomation", am.GetAutomationRequest(name="automations/a/b"), "name"),
    ("ListAutomations", am.ListAutomationsRequest(filter="active = maybe"), "filter"),
    ("UpdateAutomation", am.UpdateAutomationRequest(automation=am.Automation()), "automation.name"),
    ("DeleteAutomation", am.DeleteAutomationRequest(name="x"), "name"),
]


@pytest.mark.parametrize(("method", "request_", "field"), BAD_INPUT)
def test_bad_input_names_the_field(
    automation: AutomationServiceStub, method: str, request_: object, field: str
) -> None:
    error = rpc_error(lambda: getattr(automation, method)(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field in field_violations(error), field_violations(error)


def test_missing_resources_are_not_found(automation: AutomationServiceStub) -> None:
    for call in (
        lambda: automation.GetMacro(am.GetMacroRequest(name="macros/missing")),
        lambda: automation.DeleteMacro(am.DeleteMacroRequest(name="macros/missing")),
        lambda: automation.GetTrigger(am.GetTriggerRequest(name="triggers/missing")),
        lambda: automation.UpdateTrigger(
            am.UpdateTriggerRequest(
                trigger=am.Trigger(name="triggers/missing", display_name="x"),
                update_mask=FieldMask(paths=["display_name"]),
            )
        ),
        lambda: automation.DeleteTrigger(am.DeleteTriggerRequest(name="triggers/missing")),
        lambda: automation.GetAutomation(am.GetAutomationRequest(name="automations/missing")),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND


def test_bad_updates_of_existing_resources(automation: AutomationServiceStub) -> None:
    trigger = create_trigger(automation, actions=[tags("x")], active=False)
    macro = create_macro(automation)
    closer = create_automation(automation, condition="status = SOLVED", actions=_OK, active=False)
    cases = [
        (
            lambda: automation.UpdateTrigger(
                am.UpdateTriggerRequest(
                    trigger=am.Trigger(name=trigger.name, condition="(("),
                    update_mask=FieldMask(paths=["condition"]),
                )
            ),
            "trigger.condition",
        ),
        (
            lambda: automation.UpdateTrigger(
                am.UpdateTriggerRequest(
                    trigger=am.Trigger(name=trigger.name), update_mask=FieldMask(paths=["on"])
                )
            ),
            "trigger.on",
        ),
        (
            lambda: automation.UpdateMacro(
                am.UpdateMacroRequest(
                    macro=am.Macro(name=macro.name), update_mask=FieldMask(paths=["actions"])
                )
            ),
            "macro.actions",
        ),
        (
            lambda: automation.UpdateMacro(
                am.UpdateMacroRequest(
                    macro=am.Macro(name=macro.name, actions=_action(set_group="groups/gone")),
                    update_mask=FieldMask(paths=["actions"]),
                )
            ),
            "macro.actions[0].set_group",
        ),
        (
            lambda: automation.UpdateAutomation(
                am.UpdateAutomationRequest(
                    automation=am.Automation(name=closer.name, position=-5),
                    update_mask=FieldMask(paths=["position"]),
                )
            ),
            "automation.position",
        ),
    ]
    for call, field in cases:
        error = rpc_error(call)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, field
        assert field in field_violations(error), field_violations(error)
