"""SLA policies and clocks: matching, targets in business hours, pauses, cycles, breaches.

Dates are in 2026: Mon 2 Mar, Fri 6 Mar, Mon 9 Mar; Europe/Berlin moves its
clocks forward on Sun 29 Mar (02:00 -> 03:00).
"""

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from crm_common.errors import InvalidArgument
from crm_support.domain.business_hours import END_OF_DAY, BusinessCalendar, WorkingPeriod
from crm_support.domain.sla import (
    PublicReplies,
    SlaAlert,
    SlaTerms,
    announce,
    calls_for_escalation,
    match_policy,
    measure,
)
from crm_support.domain.sla_calendars import Calendar, CalendarSpec, WorkingDay
from crm_support.domain.sla_policies import (
    PolicySpec,
    SlaConditions,
    SlaEscalation,
    SlaPolicy,
    SlaPolicyTargets,
)
from crm_support.domain.sla_state import (
    SlaMetric,
    SlaTarget,
    targets_from_json,
    targets_to_json,
)
from crm_support.domain.tickets import Channel, Priority, Ticket, TicketDetails, TicketStatus

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
FIRST, NEXT, RESOLUTION = SlaMetric.FIRST_RESPONSE, SlaMetric.NEXT_RESPONSE, SlaMetric.RESOLUTION
NINE_TO_FIVE = (WorkingPeriod(time(9), time(17)),)
NO_REPLIES = PublicReplies()


def berlin(month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=BERLIN)


def hours(value: float) -> int:
    return int(value * 3600)


def office(zone: str = "Europe/Berlin", holidays: frozenset[date] = frozenset()):
    """Monday to Friday 09:00-17:00."""
    return BusinessCalendar.weekly(zone, NINE_TO_FIVE, holidays=holidays)


def terms(
    calendar: BusinessCalendar | None = None,
    lead: float = 0,
    policy: str = "slaPolicies/standard",
    **targets: float,
) -> SlaTerms:
    seconds = {SlaMetric[name.upper()]: hours(value) for name, value in targets.items()}
    return SlaTerms(policy, seconds, hours(lead), calendar or office())


def new_ticket(created: datetime, **details: object) -> Ticket:
    fields = {"subject": "Printer on fire", "requester": "people/p1", **details}
    return Ticket.create("t1", 1000, TicketDetails(**fields), Channel.EMAIL, created)  # type: ignore[arg-type]


def step(
    ticket: Ticket,
    sla: SlaTerms | None,
    now: datetime,
    replies: PublicReplies = NO_REPLIES,
) -> Ticket:
    """What the SLA rule does after a change at `now`."""
    state = measure(ticket, sla, replies, now.astimezone(UTC))
    ticket.sla_policy, ticket.sla_targets, ticket.sla_check_time = (
        state.policy,
        state.targets,
        state.check_time,
    )
    return ticket


def target(ticket: Ticket, metric: SlaMetric) -> SlaTarget:
    (found,) = [t for t in ticket.sla_targets if t.metric is metric]
    return found


def set_status(ticket: Ticket, status: TicketStatus, now: datetime) -> None:
    ticket.update({"status": status}, now.astimezone(UTC))


def agent_reply(ticket: Ticket, now: datetime) -> PublicReplies:
    had = ticket.first_response_time is not None
    ticket.record_comment(public=True, by_agent=True, now=now.astimezone(UTC))
    return PublicReplies(agent_had_replied=had, by_agent=(True,))


def requester_comment(ticket: Ticket, now: datetime) -> PublicReplies:
    ticket.record_comment(public=True, by_agent=False, now=now.astimezone(UTC))
    return PublicReplies(ticket.first_response_time is not None, (False,))


# --- Matching ------------------------------------------------------------------------


def policy(policy_id: str, position: int, **conditions: object) -> SlaPolicy:
    spec = PolicySpec(
        display_name=policy_id,
        position=position,
        conditions=SlaConditions(**conditions),  # type: ignore[arg-type]
        calendar="calendars/office",
        targets=SlaPolicyTargets(first_response=timedelta(hours=1)),
    )
    return SlaPolicy.create(policy_id, spec, berlin(3, 2))


def test_policies_are_tried_by_position_then_id_and_the_first_match_wins() -> None:
    catch_all = policy("catch-all", 100)
    urgent = policy("urgent", 1, priorities=(Priority.URGENT,))
    vip_b = policy("vip-b", 5, organizations=("organizations/acme",))
    vip_a = policy("vip-a", 5, tags=("vip", "gold"))
    policies = [catch_all, vip_b, urgent, vip_a]
    ticket = new_ticket(berlin(3, 2, 10), organization="organizations/acme", tags=("gold",))
    assert match_policy(policies, ticket) is vip_a  # same position as vip-b: the id decides
    ticket.details = replace(ticket.details, priority=Priority.URGENT)
    assert match_policy(policies, ticket) is urgent
    ticket.details = replace(ticket.details, priority=Priority.LOW, tags=())
    assert match_policy(policies, ticket) is vip_b
    ticket.details = replace(ticket.details, organization="")
    assert match_policy(policies, ticket) is catch_all
    assert match_policy([urgent], ticket) is None


def test_all_conditions_must_hold_each_with_any_of_its_values() -> None:
    both = policy(
        "both",
        1,
        priorities=(Priority.HIGH, Priority.URGENT),
        channels=(Channel.PHONE,),
        tags=("billing",),
    )
    ticket = new_ticket(berlin(3, 2, 10), priority=Priority.HIGH, tags=("billing", "x"))
    assert match_policy([both], ticket) is None  # came by email, not phone
    ticket.channel = Channel.PHONE
    assert match_policy([both], ticket) is both
    ticket.details = replace(ticket.details, tags=("other",))
    assert match_policy([both], ticket) is None


# --- Targets in business hours ------------------------------------------------------------


def test_first_response_and_resolution_run_from_creation_in_business_hours() -> None:
    # Friday 16:00: one working hour left this week, the rest on Monday.
    ticket = step(
        new_ticket(berlin(3, 6, 16)), terms(first_response=4, resolution=16), berlin(3, 6, 16)
    )
    assert ticket.sla_policy == "slaPolicies/standard"
    assert target(ticket, FIRST).due_time == berlin(3, 9, 12)
    assert target(ticket, RESOLUTION).due_time == berlin(3, 10, 16)
    assert ticket.sla_due_time == berlin(3, 9, 12)
    assert ticket.sla_check_time == berlin(3, 9, 12)
    assert [t.metric for t in ticket.sla_targets] == [FIRST, RESOLUTION]  # next response waits


def test_holidays_and_time_zones_move_due_times() -> None:
    easter_monday = date(2026, 4, 6)
    sla = terms(office(holidays=frozenset({easter_monday})), first_response=4)
    ticket = step(new_ticket(berlin(4, 3, 16)), sla, berlin(4, 3, 16))  # Good Friday: working here
    assert target(ticket, FIRST).due_time == berlin(4, 7, 12)
    # The same instant on a New York calendar: 10:00 there, due 14:00 there.
    new_york = step(
        new_ticket(berlin(3, 3, 16)),
        terms(office("America/New_York"), first_response=4),
        berlin(3, 3, 16),
    )
    assert target(new_york, FIRST).due_time == datetime(2026, 3, 3, 14, tzinfo=NEW_YORK)


def test_daylight_saving_change_over_a_weekend() -> None:
    # Friday 27 March 16:00 CET; 3 hours: 1 on Friday, 2 on Monday 30 March in CEST.
    ticket = step(new_ticket(berlin(3, 27, 16)), terms(first_response=3), berlin(3, 27, 16))
    due = target(ticket, FIRST).due_time
    assert due == berlin(3, 30, 11)
    assert due is not None and due.astimezone(UTC) == datetime(2026, 3, 30, 9, tzinfo=UTC)


def test_first_response_is_met_by_the_first_public_agent_reply() -> None:
    ticket = step(
        new_ticket(berlin(3, 2, 9)), terms(first_response=2, resolution=8), berlin(3, 2, 9)
    )
    replies = agent_reply(ticket, berlin(3, 2, 10))
    step(ticket, terms(first_response=2, resolution=8), berlin(3, 2, 10), replies)
    first = target(ticket, FIRST)
    assert first.fulfill_time == berlin(3, 2, 10) and not first.breached
    assert first.due_time == berlin(3, 2, 11) and not first.running
    assert ticket.sla_due_time == target(ticket, RESOLUTION).due_time == berlin(3, 2, 17)


# --- Pauses ------------------------------------------------------------------------------


def test_pending_and_on_hold_stop_the_clock_with_the_time_left() -> None:
    sla = terms(resolution=8)
    ticket = step(new_ticket(berlin(3, 2, 9)), sla, berlin(3, 2, 9))
    set_status(ticket, TicketStatus.PENDING, berlin(3, 2, 11))
    step(ticket, sla, berlin(3, 2, 11))
    paused = target(ticket, RESOLUTION)
    assert paused.paused and paused.due_time is None and paused.remaining_seconds == hours(6)
    assert ticket.sla_due_time is None and ticket.sla_check_time is None
    step(ticket, sla, berlin(3, 3, 12))  # nothing moves while it waits
    assert target(ticket, RESOLUTION) == paused
    set_status(ticket, TicketStatus.ON_HOLD, berlin(3, 3, 12))
    step(ticket, sla, berlin(3, 3, 12))
    assert target(ticket, RESOLUTION) == paused
    set_status(ticket, TicketStatus.OPEN, berlin(3, 4, 9))
    step(ticket, sla, berlin(3, 4, 9))
    resumed = target(ticket, RESOLUTION)
    assert not resumed.paused and resumed.due_time == berlin(3, 4, 15)


def test_pausing_after_the_due_time_keeps_the_breach() -> None:
    sla = terms(first_response=1)
    ticket = step(new_ticket(berlin(3, 2, 9)), sla, berlin(3, 2, 9))
    set_status(ticket, TicketStatus.PENDING, berlin(3, 2, 11))
    step(ticket, sla, berlin(3, 2, 11))
    first = target(ticket, FIRST)
    assert first.paused and first.breached and first.remaining_seconds == 0
    # The breach is still to be announced, so the scheduler must look now.
    assert ticket.sla_check_time == berlin(3, 2, 11)


def test_solving_meets_all_targets_and_reopening_resumes_resolution() -> None:
    sla = terms(first_response=4, resolution=8)
    ticket = step(new_ticket(berlin(3, 2, 9)), sla, berlin(3, 2, 9))
    set_status(ticket, TicketStatus.SOLVED, berlin(3, 2, 12))
    step(ticket, sla, berlin(3, 2, 12))
    assert all(t.fulfill_time == berlin(3, 2, 12) for t in ticket.sla_targets)
    assert target(ticket, RESOLUTION).remaining_seconds == hours(5)
    assert ticket.sla_check_time is None and ticket.sla_due_time is None
    set_status(ticket, TicketStatus.OPEN, berlin(3, 3, 9))  # the requester wrote back
    step(ticket, sla, berlin(3, 3, 9))
    assert target(ticket, FIRST).fulfill_time == berlin(3, 2, 12)  # stays met
    resolution = target(ticket, RESOLUTION)
    assert resolution.fulfill_time is None and resolution.due_time == berlin(3, 3, 14)


# --- Next response -------------------------------------------------------------------------


def test_next_response_cycles_between_requester_comments_and_agent_replies() -> None:
    sla = terms(first_response=2, next_response=1)
    ticket = step(new_ticket(berlin(3, 2, 9)), sla, berlin(3, 2, 9))
    early = requester_comment(ticket, berlin(3, 2, 9, 30))  # before any agent reply
    step(ticket, sla, berlin(3, 2, 9, 30), early)
    assert [t.metric for t in ticket.sla_targets] == [FIRST]
    step(ticket, sla, berlin(3, 2, 10), agent_reply(ticket, berlin(3, 2, 10)))
    step(ticket, sla, berlin(3, 2, 13), requester_comment(ticket, berlin(3, 2, 13)))
    started = target(ticket, NEXT)
    assert started.due_time == berlin(3, 2, 14) and started.running
    # A second requester comment does not restart the clock.
    step(ticket, sla, berlin(3, 2, 13, 30), requester_comment(ticket, berlin(3, 2, 13, 30)))
    assert target(ticket, NEXT) == started
    step(ticket, sla, berlin(3, 2, 16), agent_reply(ticket, berlin(3, 2, 16)))
    late = target(ticket, NEXT)
    assert late.fulfill_time == berlin(3, 2, 16) and late.breached
    step(ticket, sla, berlin(3, 3, 10), requester_comment(ticket, berlin(3, 3, 10)))
    fresh = target(ticket, NEXT)
    assert fresh.due_time == berlin(3, 3, 11) and not fresh.breached and not fresh.breach_sent


# --- Breaches and warnings ------------------------------------------------------------------


def test_a_warning_then_a_breach_are_announced_once_each() -> None:
    sla = terms(first_response=2, lead=0.5)
    ticket = step(new_ticket(berlin(3, 2, 9)), sla, berlin(3, 2, 9))
    first = target(ticket, FIRST)
    assert first.warning_time == berlin(3, 2, 10, 30)
    assert ticket.sla_check_time == berlin(3, 2, 10, 30)
    assert announce(ticket.sla_targets, berlin(3, 2, 10, 29)) == (ticket.sla_targets, [])

    marked, said = announce(ticket.sla_targets, berlin(3, 2, 10, 31))
    assert [a.alert for a in said] == [SlaAlert.WARNING]
    ticket.sla_targets = marked
    step(ticket, sla, berlin(3, 2, 10, 31))
    assert ticket.sla_check_time == berlin(3, 2, 11)
    assert announce(ticket.sla_targets, berlin(3, 2, 10, 45))[1] == []

    marked, said = announce(ticket.sla_targets, berlin(3, 2, 11, 5))
    assert [a.alert for a in said] == [SlaAlert.BREACH] and calls_for_escalation(said)
    ticket.sla_targets = marked
    step(ticket, sla, berlin(3, 2, 11, 5))
    assert target(ticket, FIRST).breached and ticket.sla_check_time is None
    assert announce(ticket.sla_targets, berlin(3, 3, 9))[1] == []


def test_a_breach_found_late_is_announced_without_a_warning() -> None:
    sla = terms(resolution=1, lead=0.5)
    ticket = step(new_ticket(berlin(3, 2, 9)), sla, berlin(3, 2, 9))
    marked, said = announce(ticket.sla_targets, berlin(3, 2, 12))  # the scheduler was down
    assert [a.alert for a in said] == [SlaAlert.BREACH]
    ticket.sla_targets = marked
    step(ticket, sla, berlin(3, 2, 12))
    assert announce(ticket.sla_targets, berlin(3, 2, 12))[1] == []


def test_a_target_met_late_is_reported_but_not_escalated() -> None:
    sla = terms(first_response=1)
    ticket = step(new_ticket(berlin(3, 2, 9)), sla, berlin(3, 2, 9))
    step(ticket, sla, berlin(3, 2, 11), agent_reply(ticket, berlin(3, 2, 11)))
    assert target(ticket, FIRST).breached and not target(ticket, FIRST).breach_sent
    assert ticket.sla_check_time == berlin(3, 2, 10)
    _, said = announce(ticket.sla_targets, berlin(3, 2, 11))
    assert [a.alert for a in said] == [SlaAlert.BREACH] and not calls_for_escalation(said)


def test_escalation_only_raises_the_priority_and_moves_the_group_once() -> None:
    escalation = SlaEscalation(priority=Priority.HIGH, group="groups/tier2")
    ticket = new_ticket(berlin(3, 2, 9), priority=Priority.NORMAL, group="groups/tier1")
    assert escalation.changes_for(ticket) == {"priority": Priority.HIGH, "group": "groups/tier2"}
    ticket.details = replace(ticket.details, priority=Priority.URGENT, group="groups/tier2")
    assert escalation.changes_for(ticket) == {}


# --- Re-targeting -----------------------------------------------------------------------------


def test_a_new_policy_keeps_met_targets_and_the_business_time_used() -> None:
    normal = terms(policy="slaPolicies/normal", first_response=4, resolution=16, lead=1)
    ticket = step(new_ticket(berlin(3, 2, 9)), normal, berlin(3, 2, 9))
    step(ticket, normal, berlin(3, 2, 10), agent_reply(ticket, berlin(3, 2, 10)))
    marked, _ = announce(ticket.sla_targets, berlin(3, 2, 10))
    ticket.sla_targets = tuple(replace(t, warning_sent=True) for t in marked)
    urgent = terms(policy="slaPolicies/urgent", first_response=1, resolution=4, next_response=1)
    step(ticket, urgent, berlin(3, 2, 11))
    assert ticket.sla_policy == "slaPolicies/urgent"
    assert target(ticket, FIRST).fulfill_time == berlin(3, 2, 10)  # kept as met
    assert target(ticket, FIRST).target_seconds == hours(4)
    resolution = target(ticket, RESOLUTION)
    # Two hours used of four: due at 13:00; flags stay with the target.
    assert resolution.target_seconds == hours(4) and resolution.due_time == berlin(3, 2, 13)
    assert resolution.warning_sent
    shorter = terms(policy="slaPolicies/urgent", resolution=1)
    step(ticket, shorter, berlin(3, 2, 11))
    assert [t.metric for t in ticket.sla_targets] == [FIRST, RESOLUTION]  # met one kept
    assert target(ticket, RESOLUTION).breached  # an hour allowed, two used


def test_no_policy_drops_running_targets_and_keeps_met_ones() -> None:
    sla = terms(first_response=4, resolution=16)
    ticket = step(new_ticket(berlin(3, 2, 9)), sla, berlin(3, 2, 9))
    step(ticket, sla, berlin(3, 2, 10), agent_reply(ticket, berlin(3, 2, 10)))
    step(ticket, None, berlin(3, 2, 11))
    assert ticket.sla_policy == "" and [t.metric for t in ticket.sla_targets] == [FIRST]
    assert ticket.sla_check_time is None


def test_a_policy_that_starts_to_apply_later_measures_from_creation() -> None:
    ticket = step(new_ticket(berlin(3, 2, 9)), None, berlin(3, 2, 9))
    assert ticket.sla_targets == ()
    step(ticket, terms(resolution=4), berlin(3, 2, 11))
    assert target(ticket, RESOLUTION).due_time == berlin(3, 2, 13)


def test_measuring_again_changes_nothing() -> None:
    sla = terms(first_response=4, resolution=16, lead=1)
    ticket = step(new_ticket(berlin(3, 2, 9)), sla, berlin(3, 2, 9))
    before = ticket.sla_targets
    step(ticket, sla, berlin(3, 2, 10))
    assert ticket.sla_targets == before


def test_round_the_clock_targets_count_every_second() -> None:
    always = BusinessCalendar.always()
    start = datetime(2026, 3, 7, 23, 59, 58, tzinfo=UTC)  # a Saturday night
    ticket = step(new_ticket(start), terms(always, first_response=5 / 3600), start)
    assert target(ticket, FIRST).due_time == start + timedelta(seconds=5)


# --- Stored state -------------------------------------------------------------------------------


def test_targets_round_trip_through_json_and_old_rows_still_load() -> None:
    ticket = step(new_ticket(berlin(3, 2, 9)), terms(first_response=4, lead=1), berlin(3, 2, 9))
    assert targets_from_json(targets_to_json(ticket.sla_targets)) == ticket.sla_targets
    old = {k: v for k, v in targets_to_json(ticket.sla_targets)[0].items()}
    del old["resume_time"], old["warning_time"]
    (loaded,) = targets_from_json([old])
    assert loaded.resume_time is None and loaded.due_time == berlin(3, 2, 13)


# --- Resources ------------------------------------------------------------------------------------


def calendar_spec(**overrides: object) -> CalendarSpec:
    fields: dict[str, object] = {
        "display_name": "Office",
        "time_zone": "Europe/Berlin",
        "weekly_hours": tuple(WorkingDay(day, NINE_TO_FIVE) for day in range(5)),
    }
    return CalendarSpec(**{**fields, **overrides})  # type: ignore[arg-type]


def violations(call: object) -> dict[str, str]:
    with pytest.raises(InvalidArgument) as caught:
        call()  # type: ignore[operator]
    return {v.field: v.description for v in caught.value.violations}


def test_calendar_reports_every_problem_with_its_request_path() -> None:
    spec = calendar_spec(
        display_name=" ",
        time_zone="Mars/Olympus",
        weekly_hours=(
            WorkingDay(0, (WorkingPeriod(time(9), time(12)), WorkingPeriod(time(11), time(13)))),
            WorkingDay(0, NINE_TO_FIVE),
            WorkingDay(None, ()),
            WorkingDay(2, (WorkingPeriod(time(17), time(9)),)),
        ),
        holiday_country="XX",
    )
    found = violations(lambda: Calendar.create("Bad Id", spec, berlin(3, 2)))
    assert set(found) == {
        "calendar_id",
        "calendar.display_name",
        "calendar.time_zone",
        "calendar.weekly_hours[0].periods[1].start_time",
        "calendar.weekly_hours[1].day_of_week",
        "calendar.weekly_hours[2].day_of_week",
        "calendar.weekly_hours[2].periods",
        "calendar.weekly_hours[3].periods[0].end_time",
        "calendar.holiday_country",
    }
    assert "weekly_hours[0]" in found["calendar.weekly_hours[1].day_of_week"]
    empty = violations(lambda: Calendar.create("c", calendar_spec(weekly_hours=()), berlin(3, 2)))
    assert set(empty) == {"calendar.weekly_hours"}
    region = calendar_spec(holiday_country="DE", holiday_subdivision="ZZ")
    assert set(violations(lambda: Calendar.create("c", region, berlin(3, 2)))) == {
        "calendar.holiday_subdivision"
    }


def test_calendar_normalises_and_builds_the_business_calendar() -> None:
    spec = calendar_spec(
        weekly_hours=(
            WorkingDay(4, (WorkingPeriod(time(13), END_OF_DAY), WorkingPeriod(time(8), time(12)))),
            WorkingDay(0, NINE_TO_FIVE),
        ),
        holidays=(date(2026, 12, 24), date(2026, 12, 24)),
        holiday_country=" de ",
        holiday_subdivision="BY",
    )
    calendar = Calendar.create("office", spec, berlin(3, 2))
    assert [d.weekday for d in calendar.spec.weekly_hours] == [0, 4]
    assert calendar.spec.weekly_hours[1].periods[0].start == time(8)
    assert calendar.spec.holidays == (date(2026, 12, 24),) and calendar.spec.holiday_country == "DE"
    built = calendar.business_calendar(berlin(3, 2))
    assert date(2026, 1, 6) in built.holidays  # Epiphany, a Bavarian holiday
    assert date(2027, 1, 6) in built.holidays and date(2026, 12, 24) in built.holidays
    assert calendar.update({"display_name": "Office"}, berlin(3, 3)) == []
    assert calendar.update({"time_zone": "America/New_York"}, berlin(3, 3)) == ["time_zone"]
    assert calendar.version == 2


def policy_spec(**overrides: object) -> PolicySpec:
    fields: dict[str, object] = {
        "display_name": "Urgent",
        "calendar": "calendars/office",
        "targets": SlaPolicyTargets(first_response=timedelta(hours=1)),
    }
    return PolicySpec(**{**fields, **overrides})  # type: ignore[arg-type]


def test_policy_reports_every_problem_with_its_request_path() -> None:
    spec = policy_spec(
        display_name="",
        position=-1,
        calendar="office",
        targets=SlaPolicyTargets(
            first_response=timedelta(0),
            next_response=timedelta(seconds=1.5),
            resolution=timedelta(days=400),
        ),
        warning_lead=timedelta(seconds=-5),
        conditions=SlaConditions(organizations=("acme",), tags=("a,b",)),
        escalation=SlaEscalation(group="tier2"),
    )
    found = violations(lambda: SlaPolicy.create("p", spec, berlin(3, 2)))
    assert set(found) == {
        "sla_policy.display_name",
        "sla_policy.position",
        "sla_policy.calendar",
        "sla_policy.targets.first_response",
        "sla_policy.targets.next_response",
        "sla_policy.targets.resolution",
        "sla_policy.warning_lead",
        "sla_policy.conditions.organizations[0]",
        "sla_policy.conditions.tags[0]",
        "sla_policy.escalation.group",
    }
    none = violations(
        lambda: SlaPolicy.create("p", policy_spec(targets=SlaPolicyTargets()), berlin(3, 2))
    )
    assert set(none) == {"sla_policy.targets"}


def test_policy_conditions_are_canonical() -> None:
    conditions = SlaConditions(
        priorities=(Priority.URGENT, Priority.HIGH, Priority.URGENT), tags=("VIP", "gold", "vip")
    )
    created = SlaPolicy.create("p", policy_spec(conditions=conditions), berlin(3, 2))
    assert created.spec.conditions.priorities == (Priority.HIGH, Priority.URGENT)
    assert created.spec.conditions.tags == ("gold", "vip")
    same = SlaConditions(priorities=(Priority.HIGH, Priority.URGENT), tags=("gold", "vip"))
    assert created.update({"conditions": same}, berlin(3, 3)) == []
    assert created.spec.targets.seconds() == {FIRST: 3600}
