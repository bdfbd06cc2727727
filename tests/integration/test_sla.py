"""SLA calendars, policies and clocks through the support service, on SQLite and PostgreSQL.

Policies here match only tickets carrying a tag of the test's own, so that the
tests do not measure each other's tickets. Short real-time targets use a 24x7
calendar, so that business time is wall-clock time.
"""

import time
import uuid
from pathlib import Path

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.field_mask_pb2 import FieldMask
from google.type import date_pb2, dayofweek_pb2, timeofday_pb2

from crm.events.v1.event_pb2 import Event
from crm.support.v1 import agent_pb2, agent_service_pb2, comment_pb2, events_pb2
from crm.support.v1 import sla_service_pb2 as pb
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from crm.support.v1.sla_service_pb2_grpc import SlaServiceStub
from crm.support.v1.support_service_pb2_grpc import SupportServiceStub
from crm_cli.processes import ServiceProcess
from crm_cli.servers import NatsServer, PostgresServer, free_port
from crm_common.auth.client import with_token
from tests.integration.harness import (
    ADMIN_TOKEN,
    Suite,
    eventually,
    field_violations,
    published_events,
    rpc_error,
)

WEEKDAYS = range(dayofweek_pb2.MONDAY, dayofweek_pb2.FRIDAY + 1)
EVERY_DAY = range(dayofweek_pb2.MONDAY, dayofweek_pb2.SUNDAY + 1)


def sla(suite: Suite) -> SlaServiceStub:
    return suite.stub("support", SlaServiceStub)


def clock(hours: int, minutes: int = 0) -> timeofday_pb2.TimeOfDay:
    return timeofday_pb2.TimeOfDay(hours=hours, minutes=minutes)


def day(weekday: int, *periods: tuple[int, int]) -> pb.WorkingDay:
    return pb.WorkingDay(
        day_of_week=weekday,  # type: ignore[arg-type]
        periods=[pb.WorkingPeriod(start_time=clock(s), end_time=clock(e)) for s, e in periods],
    )


def office(**overrides: object) -> pb.Calendar:
    fields: dict[str, object] = {
        "display_name": "Berlin office",
        "time_zone": "Europe/Berlin",
        "weekly_hours": [day(d, (9, 12), (13, 17)) for d in WEEKDAYS],
        "holidays": [date_pb2.Date(year=2026, month=12, day=24)],
        "holiday_country": "DE",
        "holiday_subdivision": "BY",
    }
    return pb.Calendar(**{**fields, **overrides})


def round_the_clock(suite: Suite) -> str:
    calendar = pb.Calendar(
        display_name="24x7",
        time_zone="UTC",
        weekly_hours=[day(d, (0, 24)) for d in EVERY_DAY],
    )
    return sla(suite).CreateCalendar(pb.CreateCalendarRequest(calendar=calendar)).name


def seconds(value: float) -> Duration:
    return Duration(seconds=int(value))


def policy(calendar: str, tag: str, **overrides: object) -> pb.SlaPolicy:
    fields: dict[str, object] = {
        "display_name": f"Policy for {tag}",
        "calendar": calendar,
        "conditions": pb.SlaConditions(tags=[tag]),
        "targets": pb.SlaPolicyTargets(first_response=seconds(3600), resolution=seconds(86400)),
    }
    return pb.SlaPolicy(**{**fields, **overrides})


def create_policy(suite: Suite, message: pb.SlaPolicy, policy_id: str = "") -> pb.SlaPolicy:
    request = pb.CreateSlaPolicyRequest(sla_policy=message, sla_policy_id=policy_id)
    return sla(suite).CreateSlaPolicy(request)


def new_tag() -> str:
    return f"sla-{uuid.uuid4().hex[:10]}"


def create_ticket(suite: Suite, *tags: str, **fields: object) -> tp.Ticket:
    message = tp.Ticket(
        subject="Printer on fire",
        requester=f"people/{uuid.uuid4().hex}",
        tags=list(tags),
        **fields,  # type: ignore[arg-type]
    )
    return suite.support.CreateTicket(support.CreateTicketRequest(ticket=message))


def get_ticket(suite: Suite, name: str) -> tp.Ticket:
    return suite.support.GetTicket(support.GetTicketRequest(name=name))


def update_ticket(suite: Suite, message: tp.Ticket, *paths: str) -> tp.Ticket:
    request = support.UpdateTicketRequest(ticket=message, update_mask=FieldMask(paths=paths))
    return suite.support.UpdateTicket(request)


def targets(ticket: tp.Ticket) -> dict[int, tp.SlaTarget]:
    return {target.metric: target for target in ticket.sla_targets}


def ticket_events(suite: Suite, ticket: str) -> list[Event]:
    ticket_id = ticket.removeprefix("tickets/")
    return [e for e in published_events(suite.nats.url, "support") if e.aggregate_id == ticket_id]


def event_types(suite: Suite, ticket: str) -> list[str]:
    return [event.type for event in ticket_events(suite, ticket)]


# --- Calendars ------------------------------------------------------------------------------


def test_calendar_crud(suite: Suite) -> None:
    stub = sla(suite)
    calendar_id = f"office-{uuid.uuid4().hex[:8]}"
    created = stub.CreateCalendar(
        pb.CreateCalendarRequest(calendar=office(), calendar_id=calendar_id)
    )
    assert created.name == f"calendars/{calendar_id}" and created.etag
    assert [d.day_of_week for d in created.weekly_hours] == list(WEEKDAYS)
    assert created.holiday_country == "DE" and created.HasField("create_time")
    assert stub.GetCalendar(pb.GetCalendarRequest(name=created.name)) == created
    again = rpc_error(
        lambda: stub.CreateCalendar(
            pb.CreateCalendarRequest(calendar=office(), calendar_id=calendar_id)
        )
    )
    assert again.code() == grpc.StatusCode.ALREADY_EXISTS

    night = pb.Calendar(
        name=created.name,
        etag=created.etag,
        weekly_hours=[day(dayofweek_pb2.SATURDAY, (22, 24)), day(dayofweek_pb2.SUNDAY, (0, 6))],
    )
    changed = stub.UpdateCalendar(
        pb.UpdateCalendarRequest(calendar=night, update_mask=FieldMask(paths=["weekly_hours"]))
    )
    assert changed.weekly_hours[0].periods[0].end_time == timeofday_pb2.TimeOfDay(hours=24)
    assert changed.display_name == created.display_name and changed.etag != created.etag
    stale = rpc_error(
        lambda: stub.UpdateCalendar(
            pb.UpdateCalendarRequest(
                calendar=pb.Calendar(name=created.name, etag=created.etag, display_name="x"),
                update_mask=FieldMask(paths=["display_name"]),
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED

    names: list[str] = []
    token = ""
    while True:
        page = stub.ListCalendars(pb.ListCalendarsRequest(page_size=1, page_token=token))
        names += [c.name for c in page.calendars]
        token = page.next_page_token
        if not token:
            break
    assert created.name in names and names == sorted(names)

    stale_delete = rpc_error(
        lambda: stub.DeleteCalendar(pb.DeleteCalendarRequest(name=created.name, etag=created.etag))
    )
    assert stale_delete.code() == grpc.StatusCode.ABORTED
    stub.DeleteCalendar(pb.DeleteCalendarRequest(name=created.name, etag=changed.etag))
    for call in (
        lambda: stub.GetCalendar(pb.GetCalendarRequest(name=created.name)),
        lambda: stub.DeleteCalendar(pb.DeleteCalendarRequest(name=created.name)),
        lambda: stub.UpdateCalendar(
            pb.UpdateCalendarRequest(calendar=pb.Calendar(name=created.name, display_name="x"))
        ),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND


def bad_period() -> pb.WorkingPeriod:
    return pb.WorkingPeriod(start_time=clock(9), end_time=timeofday_pb2.TimeOfDay(hours=25))


CALENDAR_BAD_INPUT: list[tuple[str, object, str]] = [
    ("CreateCalendar", pb.CreateCalendarRequest(), "calendar"),
    ("CreateCalendar", pb.CreateCalendarRequest(calendar=office(), calendar_id="A"), "calendar_id"),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(display_name="")),
        "calendar.display_name",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(time_zone="Mars/Base")),
        "calendar.time_zone",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(time_zone="Europe/" + "x" * 100_000)),
        "calendar.time_zone",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(weekly_hours=[])),
        "calendar.weekly_hours",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(weekly_hours=[day(1, (9, 12), (11, 13))])),
        "calendar.weekly_hours[0].periods[1].start_time",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(weekly_hours=[day(1, (9, 17)), day(1, (18, 19))])),
        "calendar.weekly_hours[1].day_of_week",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(weekly_hours=[day(0, (9, 17))])),
        "calendar.weekly_hours[0].day_of_week",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(weekly_hours=[day(9, (9, 17))])),
        "calendar.weekly_hours[0].day_of_week",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(weekly_hours=[day(1, (17, 9))])),
        "calendar.weekly_hours[0].periods[0].end_time",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(weekly_hours=[day(1)])),
        "calendar.weekly_hours[0].periods",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(
            calendar=office(weekly_hours=[pb.WorkingDay(day_of_week=1, periods=[bad_period()])])
        ),
        "calendar.weekly_hours[0].periods[0].end_time",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(
            calendar=office(
                weekly_hours=[pb.WorkingDay(day_of_week=1, periods=[pb.WorkingPeriod()])]
            )
        ),
        "calendar.weekly_hours[0].periods[0].start_time",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(
            calendar=office(holidays=[date_pb2.Date(year=2026, month=2, day=31)])
        ),
        "calendar.holidays[0]",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(holiday_country="XX")),
        "calendar.holiday_country",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(holiday_subdivision="ZZ")),
        "calendar.holiday_subdivision",
    ),
    (
        "CreateCalendar",
        pb.CreateCalendarRequest(calendar=office(holiday_country="", holiday_subdivision="BY")),
        "calendar.holiday_subdivision",
    ),
    ("GetCalendar", pb.GetCalendarRequest(name="calendars/"), "name"),
    ("GetCalendar", pb.GetCalendarRequest(name="slaPolicies/x"), "name"),
    ("ListCalendars", pb.ListCalendarsRequest(page_size=-1), "page_size"),
    ("ListCalendars", pb.ListCalendarsRequest(page_token="garbage"), "page_token"),
    ("UpdateCalendar", pb.UpdateCalendarRequest(), "calendar"),
    ("UpdateCalendar", pb.UpdateCalendarRequest(calendar=pb.Calendar(name="x")), "calendar.name"),
    (
        "UpdateCalendar",
        pb.UpdateCalendarRequest(
            calendar=pb.Calendar(name="calendars/x"), update_mask=FieldMask(paths=["create_time"])
        ),
        "update_mask",
    ),
    ("DeleteCalendar", pb.DeleteCalendarRequest(name="calendars/a/b"), "name"),
]


@pytest.mark.parametrize(("method", "request_", "field"), CALENDAR_BAD_INPUT)
def test_calendar_bad_input_names_the_field(
    suite: Suite, method: str, request_: object, field: str
) -> None:
    error = rpc_error(lambda: getattr(sla(suite), method)(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field in field_violations(error), field_violations(error)


def test_bad_updates_of_an_existing_calendar(suite: Suite) -> None:
    created = sla(suite).CreateCalendar(pb.CreateCalendarRequest(calendar=office()))
    cases = [
        (pb.Calendar(name=created.name, time_zone="Nowhere"), "time_zone", "calendar.time_zone"),
        (pb.Calendar(name=created.name), "weekly_hours", "calendar.weekly_hours"),
        (
            pb.Calendar(
                name=created.name,
                weekly_hours=[pb.WorkingDay(day_of_week=2, periods=[bad_period()])],
            ),
            "weekly_hours",
            "calendar.weekly_hours[0].periods[0].end_time",
        ),
    ]
    for message, path, field in cases:
        request = pb.UpdateCalendarRequest(calendar=message, update_mask=FieldMask(paths=[path]))
        error = rpc_error(lambda request=request: sla(suite).UpdateCalendar(request))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert field in field_violations(error)


# --- Policies ---------------------------------------------------------------------------------


def test_policy_crud_and_order(suite: Suite) -> None:
    stub = sla(suite)
    calendar = stub.CreateCalendar(pb.CreateCalendarRequest(calendar=office())).name
    tag = new_tag()
    late = create_policy(suite, policy(calendar, tag, position=50), f"late-{tag}")
    early = create_policy(
        suite,
        policy(
            calendar,
            tag,
            position=10,
            description="VIPs on the phone",
            conditions=pb.SlaConditions(
                priorities=[tp.TICKET_PRIORITY_URGENT, tp.TICKET_PRIORITY_HIGH],
                organizations=["organizations/acme"],
                tags=["VIP", tag],
                channels=[tp.TICKET_CHANNEL_PHONE],
            ),
            warning_lead=seconds(600),
            escalation=pb.SlaEscalation(priority=tp.TICKET_PRIORITY_URGENT, group="groups/tier2"),
        ),
        f"early-{tag}",
    )
    assert early.name == f"slaPolicies/early-{tag}" and early.calendar == calendar
    assert list(early.conditions.priorities) == [tp.TICKET_PRIORITY_HIGH, tp.TICKET_PRIORITY_URGENT]
    assert list(early.conditions.tags) == sorted([tag, "vip"])
    assert early.targets.first_response.seconds == 3600 and not early.targets.HasField(
        "next_response"
    )
    assert early.warning_lead.seconds == 600 and early.escalation.group == "groups/tier2"
    assert stub.GetSlaPolicy(pb.GetSlaPolicyRequest(name=early.name)) == early

    names: list[str] = []
    token = ""
    while True:
        page = stub.ListSlaPolicies(pb.ListSlaPoliciesRequest(page_size=1, page_token=token))
        names += [p.name for p in page.sla_policies]
        token = page.next_page_token
        if not token:
            break
    assert names.index(early.name) < names.index(late.name)

    moved = stub.UpdateSlaPolicy(
        pb.UpdateSlaPolicyRequest(
            sla_policy=pb.SlaPolicy(name=early.name, etag=early.etag, position=99),
            update_mask=FieldMask(paths=["position"]),
        )
    )
    assert moved.position == 99 and moved.etag != early.etag and moved.targets == early.targets
    listed = [
        p.name for p in stub.ListSlaPolicies(pb.ListSlaPoliciesRequest(page_size=1000)).sla_policies
    ]
    assert listed.index(late.name) < listed.index(early.name)
    stale = rpc_error(
        lambda: stub.UpdateSlaPolicy(
            pb.UpdateSlaPolicyRequest(
                sla_policy=pb.SlaPolicy(name=early.name, etag=early.etag, position=1),
                update_mask=FieldMask(paths=["position"]),
            )
        )
    )
    assert stale.code() == grpc.StatusCode.ABORTED

    in_use = rpc_error(lambda: stub.DeleteCalendar(pb.DeleteCalendarRequest(name=calendar)))
    assert in_use.code() == grpc.StatusCode.FAILED_PRECONDITION
    for made in (moved, late):
        stub.DeleteSlaPolicy(pb.DeleteSlaPolicyRequest(name=made.name, etag=made.etag))
    stub.DeleteCalendar(pb.DeleteCalendarRequest(name=calendar))
    for call in (
        lambda: stub.GetSlaPolicy(pb.GetSlaPolicyRequest(name=early.name)),
        lambda: stub.DeleteSlaPolicy(pb.DeleteSlaPolicyRequest(name=early.name)),
        lambda: stub.UpdateSlaPolicy(
            pb.UpdateSlaPolicyRequest(sla_policy=pb.SlaPolicy(name=early.name, position=3))
        ),
    ):
        assert rpc_error(call).code() == grpc.StatusCode.NOT_FOUND


def policy_request(**overrides: object) -> pb.CreateSlaPolicyRequest:
    calendar = str(overrides.pop("calendar", "calendars/any"))
    return pb.CreateSlaPolicyRequest(sla_policy=policy(calendar, "t", **overrides))


POLICY_BAD_INPUT: list[tuple[str, object, str]] = [
    ("CreateSlaPolicy", pb.CreateSlaPolicyRequest(), "sla_policy"),
    (
        "CreateSlaPolicy",
        pb.CreateSlaPolicyRequest(sla_policy=policy("calendars/any", "t"), sla_policy_id="X Y"),
        "sla_policy_id",
    ),
    ("CreateSlaPolicy", policy_request(display_name=" "), "sla_policy.display_name"),
    ("CreateSlaPolicy", policy_request(position=-1), "sla_policy.position"),
    ("CreateSlaPolicy", policy_request(calendar=""), "sla_policy.calendar"),
    ("CreateSlaPolicy", policy_request(calendar="office"), "sla_policy.calendar"),
    (
        "CreateSlaPolicy",
        policy_request(calendar="calendars/" + "x" * 100_000),
        "sla_policy.calendar",
    ),
    ("CreateSlaPolicy", policy_request(targets=pb.SlaPolicyTargets()), "sla_policy.targets"),
    (
        "CreateSlaPolicy",
        policy_request(targets=pb.SlaPolicyTargets(first_response=Duration(seconds=0))),
        "sla_policy.targets.first_response",
    ),
    (
        "CreateSlaPolicy",
        policy_request(targets=pb.SlaPolicyTargets(resolution=Duration(seconds=1, nanos=5))),
        "sla_policy.targets.resolution",
    ),
    (
        "CreateSlaPolicy",
        policy_request(targets=pb.SlaPolicyTargets(next_response=Duration(seconds=400 * 86400))),
        "sla_policy.targets.next_response",
    ),
    (
        "CreateSlaPolicy",
        policy_request(targets=pb.SlaPolicyTargets(next_response=Duration(seconds=10**15))),
        "sla_policy.targets.next_response",
    ),
    (
        "CreateSlaPolicy",
        policy_request(warning_lead=Duration(seconds=-60)),
        "sla_policy.warning_lead",
    ),
    (
        "CreateSlaPolicy",
        policy_request(conditions=pb.SlaConditions(priorities=[tp.TICKET_PRIORITY_UNSPECIFIED])),
        "sla_policy.conditions.priorities[0]",
    ),
    (
        "CreateSlaPolicy",
        policy_request(conditions=pb.SlaConditions(channels=[tp.TICKET_CHANNEL_WEB, 42])),
        "sla_policy.conditions.channels[1]",
    ),
    (
        "CreateSlaPolicy",
        policy_request(conditions=pb.SlaConditions(organizations=["acme"])),
        "sla_policy.conditions.organizations[0]",
    ),
    (
        "CreateSlaPolicy",
        policy_request(conditions=pb.SlaConditions(tags=[""])),
        "sla_policy.conditions.tags[0]",
    ),
    (
        "CreateSlaPolicy",
        policy_request(escalation=pb.SlaEscalation(priority=9)),
        "sla_policy.escalation.priority",
    ),
    (
        "CreateSlaPolicy",
        policy_request(escalation=pb.SlaEscalation(group="tier2")),
        "sla_policy.escalation.group",
    ),
    (
        "CreateSlaPolicy",
        policy_request(escalation=pb.SlaEscalation(group="groups/" + "x" * 300)),
        "sla_policy.escalation.group",
    ),
    (
        "CreateSlaPolicy",
        policy_request(conditions=pb.SlaConditions(organizations=["organizations/" + "x" * 300])),
        "sla_policy.conditions.organizations[0]",
    ),
    ("GetSlaPolicy", pb.GetSlaPolicyRequest(name="policies/x"), "name"),
    ("ListSlaPolicies", pb.ListSlaPoliciesRequest(page_size=1001), "page_size"),
    ("ListSlaPolicies", pb.ListSlaPoliciesRequest(page_token="garbage"), "page_token"),
    ("UpdateSlaPolicy", pb.UpdateSlaPolicyRequest(), "sla_policy"),
    (
        "UpdateSlaPolicy",
        pb.UpdateSlaPolicyRequest(sla_policy=pb.SlaPolicy(name="")),
        "sla_policy.name",
    ),
    (
        "UpdateSlaPolicy",
        pb.UpdateSlaPolicyRequest(
            sla_policy=pb.SlaPolicy(name="slaPolicies/x"), update_mask=FieldMask(paths=["etag"])
        ),
        "update_mask",
    ),
    ("DeleteSlaPolicy", pb.DeleteSlaPolicyRequest(name=""), "name"),
]


@pytest.mark.parametrize(("method", "request_", "field"), POLICY_BAD_INPUT)
def test_policy_bad_input_names_the_field(
    suite: Suite, method: str, request_: object, field: str
) -> None:
    error = rpc_error(lambda: getattr(sla(suite), method)(request_))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert field in field_violations(error), field_violations(error)


def test_policy_needs_an_existing_calendar(suite: Suite) -> None:
    missing = rpc_error(lambda: create_policy(suite, policy("calendars/nowhere", new_tag())))
    assert missing.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "calendars/nowhere" in field_violations(missing)["sla_policy.calendar"]
    made = create_policy(suite, policy(round_the_clock(suite), new_tag()))
    moved = rpc_error(
        lambda: sla(suite).UpdateSlaPolicy(
            pb.UpdateSlaPolicyRequest(
                sla_policy=pb.SlaPolicy(name=made.name, calendar="calendars/nowhere"),
                update_mask=FieldMask(paths=["calendar"]),
            )
        )
    )
    assert moved.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "sla_policy.calendar" in field_violations(moved)


# --- Tickets ----------------------------------------------------------------------------------


def test_tickets_get_the_first_matching_policy_and_due_times(suite: Suite) -> None:
    calendar = round_the_clock(suite)
    tag = new_tag()
    urgent = create_policy(
        suite,
        policy(
            calendar,
            tag,
            position=1,
            conditions=pb.SlaConditions(tags=[tag], priorities=[tp.TICKET_PRIORITY_URGENT]),
            targets=pb.SlaPolicyTargets(first_response=seconds(600), resolution=seconds(7200)),
        ),
    )
    standard = create_policy(suite, policy(calendar, tag, position=2))
    ticket = create_ticket(suite, tag)
    assert ticket.sla_policy == standard.name
    due = targets(ticket)
    assert set(due) == {tp.SLA_METRIC_FIRST_RESPONSE, tp.SLA_METRIC_RESOLUTION}
    created = ticket.create_time.ToSeconds()
    assert due[tp.SLA_METRIC_FIRST_RESPONSE].due_time.ToSeconds() - created in (3600, 3599)
    assert due[tp.SLA_METRIC_FIRST_RESPONSE].target.seconds == 3600
    assert ticket.sla_due_time == due[tp.SLA_METRIC_FIRST_RESPONSE].due_time

    raised = update_ticket(
        suite, tp.Ticket(name=ticket.name, priority=tp.TICKET_PRIORITY_URGENT), "priority"
    )
    assert raised.sla_policy == urgent.name
    first = targets(raised)[tp.SLA_METRIC_FIRST_RESPONSE]
    assert first.target.seconds == 600 and first.due_time.ToSeconds() - created in (600, 599)

    reply = comment_pb2.Comment(body="On it", public=True, author="agents/a1")
    suite.support.CreateComment(support.CreateCommentRequest(parent=ticket.name, comment=reply))
    answered = get_ticket(suite, ticket.name)
    met = targets(answered)[tp.SLA_METRIC_FIRST_RESPONSE]
    assert met.fulfill_time == answered.first_response_time and not met.breached
    assert answered.sla_due_time == targets(answered)[tp.SLA_METRIC_RESOLUTION].due_time
    listed = suite.support.ListTickets(
        support.ListTicketsRequest(filter=f'sla_policy = "{urgent.name}"')
    )
    assert [t.name for t in listed.tickets] == [ticket.name]
    untouched = create_ticket(suite, new_tag())
    assert untouched.sla_policy == "" and not untouched.sla_targets


def test_pending_pauses_the_clock(suite: Suite) -> None:
    tag = new_tag()
    create_policy(suite, policy(round_the_clock(suite), tag))
    ticket = create_ticket(suite, tag)
    pending = update_ticket(
        suite, tp.Ticket(name=ticket.name, status=tp.TICKET_STATUS_PENDING), "status"
    )
    paused = targets(pending)
    assert all(t.paused and not t.HasField("due_time") for t in paused.values())
    assert paused[tp.SLA_METRIC_RESOLUTION].remaining.seconds in range(86390, 86401)
    assert not pending.HasField("sla_due_time")
    time.sleep(1.5)
    reopened = update_ticket(
        suite, tp.Ticket(name=ticket.name, status=tp.TICKET_STATUS_OPEN), "status"
    )
    running = targets(reopened)[tp.SLA_METRIC_RESOLUTION]
    assert not running.paused
    # The clock stood still for the pause: due later than first promised.
    original = targets(ticket)[tp.SLA_METRIC_RESOLUTION].due_time.ToSeconds()
    assert running.due_time.ToSeconds() >= original + 1
    assert reopened.sla_due_time == targets(reopened)[tp.SLA_METRIC_FIRST_RESPONSE].due_time


def test_next_response_runs_from_the_requesters_comment(suite: Suite) -> None:
    tag = new_tag()
    targets_ = pb.SlaPolicyTargets(first_response=seconds(600), next_response=seconds(300))
    create_policy(suite, policy(round_the_clock(suite), tag, targets=targets_))
    ticket = create_ticket(suite, tag)

    def say(author: str) -> tp.Ticket:
        message = comment_pb2.Comment(body="...", public=True, author=author)
        suite.support.CreateComment(
            support.CreateCommentRequest(parent=ticket.name, comment=message)
        )
        return get_ticket(suite, ticket.name)

    assert tp.SLA_METRIC_NEXT_RESPONSE not in targets(say("agents/a1"))
    waiting = targets(say(ticket.requester))[tp.SLA_METRIC_NEXT_RESPONSE]
    assert waiting.HasField("due_time") and not waiting.HasField("fulfill_time")
    answered = targets(say("agents/a1"))[tp.SLA_METRIC_NEXT_RESPONSE]
    assert answered.HasField("fulfill_time") and not answered.breached


def announcements(suite: Suite, ticket: str) -> list[Event]:
    return [e for e in ticket_events(suite, ticket) if e.type.startswith("ticket.sla_")]


def test_breach_is_announced_once_even_across_a_restart(suite: Suite) -> None:
    tag = new_tag()
    # Warned after 2 s, breached after 12 s.
    targets_ = pb.SlaPolicyTargets(first_response=seconds(12))
    create_policy(
        suite, policy(round_the_clock(suite), tag, targets=targets_, warning_lead=seconds(10))
    )
    ticket = create_ticket(suite, tag)
    assert ticket.sla_targets[0].due_time.ToSeconds() >= ticket.create_time.ToSeconds() + 11

    warned = eventually(lambda: _only(announcements(suite, ticket.name), 1), timeout=30)
    assert warned[0].type == "ticket.sla_warning"
    warning = events_pb2.TicketSlaWarning()
    warned[0].payload.Unpack(warning)
    assert warning.target.metric == tp.SLA_METRIC_FIRST_RESPONSE and not warning.target.breached

    support_process = suite.processes["support"]
    support_process.stop()
    support_process.start()

    said = eventually(lambda: _only(announcements(suite, ticket.name), 2), timeout=40)
    assert [e.type for e in said] == ["ticket.sla_warning", "ticket.sla_breached"]
    breach = events_pb2.TicketSlaBreached()
    said[1].payload.Unpack(breach)
    assert breach.target.breached and breach.ticket.name == ticket.name
    breached = get_ticket(suite, ticket.name)
    assert breached.sla_targets[0].breached
    time.sleep(2)  # ten more scheduler runs announce nothing more
    assert len(announcements(suite, ticket.name)) == 2


def _only(events: list[Event], count: int) -> list[Event]:
    assert len(events) == count, [e.type for e in events]
    return events


def test_escalation_raises_priority_and_moves_the_group(suite: Suite) -> None:
    agents = suite.stub("support", AgentServiceStub)
    group_id = f"tier2-{uuid.uuid4().hex[:8]}"
    agents.CreateGroup(
        agent_service_pb2.CreateGroupRequest(
            group=agent_pb2.Group(display_name="Tier 2"), group_id=group_id
        )
    )
    tag = new_tag()
    create_policy(
        suite,
        policy(
            round_the_clock(suite),
            tag,
            targets=pb.SlaPolicyTargets(first_response=seconds(1)),
            escalation=pb.SlaEscalation(
                priority=tp.TICKET_PRIORITY_HIGH, group=f"groups/{group_id}"
            ),
        ),
    )
    ticket = create_ticket(suite, tag, priority=tp.TICKET_PRIORITY_LOW)

    def escalated() -> tp.Ticket:
        current = get_ticket(suite, ticket.name)
        assert current.priority == tp.TICKET_PRIORITY_HIGH and current.group == f"groups/{group_id}"
        return current

    current = eventually(escalated, timeout=30)
    assert current.sla_targets[0].breached

    def escalation_events() -> list[str]:
        types = event_types(suite, ticket.name)
        assert "ticket.sla_breached" in types and "ticket.assigned" in types, types
        return types

    types = eventually(escalation_events)
    assert types.count("ticket.sla_breached") == 1
    updated = [e for e in ticket_events(suite, ticket.name) if e.type == "ticket.updated"]
    changed = events_pb2.TicketUpdated()
    updated[-1].payload.Unpack(changed)
    assert {"priority", "group", "sla_targets"} <= set(changed.changed_fields)


def test_an_escalation_the_ticket_refuses_does_not_hold_back_the_breach(suite: Suite) -> None:
    tag = new_tag()
    create_policy(
        suite,
        policy(
            round_the_clock(suite),
            tag,
            targets=pb.SlaPolicyTargets(resolution=seconds(1)),
            escalation=pb.SlaEscalation(group=f"groups/missing-{uuid.uuid4().hex[:6]}"),
        ),
    )
    ticket = create_ticket(suite, tag)
    said = eventually(lambda: _only(announcements(suite, ticket.name), 1), timeout=30)
    assert said[0].type == "ticket.sla_breached"
    assert get_ticket(suite, ticket.name).sla_targets[0].breached


@pytest.mark.slow
def test_replicas_racing_announce_each_target_once(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    with NatsServer(tmp_path / "nats-store") as broker:
        env = {
            "CRM_NATS_URL": broker.url,
            "CRM_SUPPORT_DATABASE_URL": postgres_server.create_database(f"sla_{uuid.uuid4().hex}"),
            # Both replicas look far more often than the targets fall due.
            "CRM_JOBS_INTERVAL_SECONDS": "0.02",
        }
        replicas = [
            ServiceProcess("support", f"127.0.0.1:{free_port()}", env, tmp_path / f"{name}.log")
            for name in ("a", "b")
        ]
        try:
            for replica in replicas:
                replica.start()
            with with_token(grpc.insecure_channel(replicas[0].address), ADMIN_TOKEN) as channel:
                stub = SlaServiceStub(channel)
                calendar = pb.Calendar(
                    display_name="24x7",
                    time_zone="UTC",
                    weekly_hours=[day(d, (0, 24)) for d in EVERY_DAY],
                )
                calendar_name = stub.CreateCalendar(
                    pb.CreateCalendarRequest(calendar=calendar)
                ).name
                stub.CreateSlaPolicy(
                    pb.CreateSlaPolicyRequest(
                        sla_policy=pb.SlaPolicy(
                            display_name="Fast",
                            calendar=calendar_name,
                            targets=pb.SlaPolicyTargets(first_response=seconds(3)),
                            warning_lead=seconds(2),
                        )
                    )
                )
                tickets = SupportServiceStub(channel)
                ids = {
                    tickets.CreateTicket(
                        support.CreateTicketRequest(
                            ticket=tp.Ticket(subject=f"Race {i}", requester="people/p1")
                        )
                    ).name.removeprefix("tickets/")
                    for i in range(20)
                }

            def announced() -> dict[str, list[str]]:
                found: dict[str, list[str]] = {ticket_id: [] for ticket_id in ids}
                for event in published_events(broker.url, "support"):
                    if event.type.startswith("ticket.sla_"):
                        found[event.aggregate_id].append(event.type)
                assert all(len(types) >= 2 for types in found.values()), found
                return found

            eventually(announced, timeout=60)
            time.sleep(1)  # fifty more runs of each replica announce nothing more
            assert all(
                types == ["ticket.sla_warning", "ticket.sla_breached"]
                for types in announced().values()
            ), announced()
        finally:
            for replica in replicas:
                replica.stop()
