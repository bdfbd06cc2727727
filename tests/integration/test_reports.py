"""Ticket reports through ReportService, on SQLite and PostgreSQL.

Two kinds of tickets are reported on. Tickets from "history" are written
straight into the service's database with chosen instants (across a DST
change, a microsecond from day boundaries), SLA targets and ratings, so every
figure has one exact expected value. Tickets created now through the API,
worked by real agents and rated by RateTicket, show the figures follow what
the RPCs do. Each test narrows its report with a tag of its own: the
module's tests share the database.
"""

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.type import date_pb2

from crm.support.v1 import agent_pb2, comment_pb2
from crm.support.v1 import agent_service_pb2 as agents_pb
from crm.support.v1 import report_service_pb2 as pb
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from crm.support.v1.report_service_pb2_grpc import ReportServiceStub
from crm_common.messaging.uow import UnitOfWork
from crm_common.storage.db import create_engine, session_factory
from crm_support.domain.sla_state import SlaMetric, SlaTarget
from crm_support.domain.tickets import (
    Channel,
    SatisfactionRating,
    SatisfactionScore,
    Ticket,
    TicketDetails,
    TicketStatus,
)
from crm_support.storage.tickets import TicketRepository
from tests.integration.harness import Suite, field_violations, rpc_error

AGENT = pb.TICKET_REPORT_GROUPING_AGENT
GROUP = pb.TICKET_REPORT_GROUPING_GROUP
UNSOLVED = [
    tp.TICKET_STATUS_NEW,
    tp.TICKET_STATUS_OPEN,
    tp.TICKET_STATUS_PENDING,
    tp.TICKET_STATUS_ON_HOLD,
]
METRICS = [
    tp.SLA_METRIC_FIRST_RESPONSE,
    tp.SLA_METRIC_NEXT_RESPONSE,
    tp.SLA_METRIC_RESOLUTION,
]
US = timedelta(microseconds=1)


@pytest.fixture(scope="module")
def reports(suite: Suite) -> ReportServiceStub:
    return suite.stub("support", ReportServiceStub)


def day(value: date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def report(
    reports: ReportServiceStub,
    first: date,
    last: date,
    time_zone: str = "",
    filter_: str = "",
    group_by: int = 0,
) -> pb.TicketReport:
    return reports.GetTicketReport(
        pb.GetTicketReportRequest(
            start_date=day(first),
            end_date=day(last),
            time_zone=time_zone,
            filter=filter_,
            group_by=group_by,
        )
    )


def per_day(figures: pb.TicketReportFigures) -> list[tuple[date, int, int]]:
    return [
        (date(d.date.year, d.date.month, d.date.day), d.created_count, d.solved_count)
        for d in figures.days
    ]


def backlog(figures: pb.TicketReportFigures) -> list[int]:
    assert [entry.status for entry in figures.backlog] == UNSOLVED
    return [entry.count for entry in figures.backlog]


def median(summary: pb.ReportDuration) -> tuple[int, timedelta | None]:
    value = summary.median.ToTimedelta() if summary.HasField("median") else None
    return summary.ticket_count, value


def sla(figures: pb.TicketReportFigures) -> dict[int, tuple[int, int, float | None]]:
    """Per metric (0 for all): met, breached, compliance percent."""
    compliance = figures.sla_compliance
    assert [m.metric for m in compliance.metrics] == METRICS
    found = {
        m.metric: (m.met_count, m.breached_count, _optional(m, "compliance_percent"))
        for m in compliance.metrics
    }
    found[0] = (
        compliance.met_count,
        compliance.breached_count,
        _optional(compliance, "compliance_percent"),
    )
    return found


def csat(figures: pb.TicketReportFigures) -> tuple[int, int, float | None]:
    rated = figures.satisfaction
    return rated.good_count, rated.bad_count, _optional(rated, "good_percent")


def _optional(message: Any, field: str) -> float | None:
    return getattr(message, field) if message.HasField(field) else None


# --- History: exact figures ----------------------------------------------------
#
# Berlin moves its clocks from 02:00 CET to 03:00 CEST on 2025-03-30 (01:00
# UTC). The report covers 2025-03-29 to 2025-04-01 in Berlin, that is
# [2025-03-28 23:00 UTC, 2025-04-01 22:00 UTC).


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def met(metric: SlaMetric) -> SlaTarget:
    return SlaTarget(metric, 3600, due_time=utc(2030, 1, 1), fulfill_time=utc(2025, 3, 30))


def breached(metric: SlaMetric, fulfilled: bool) -> SlaTarget:
    return SlaTarget(
        metric,
        3600,
        due_time=utc(2025, 3, 30),
        fulfill_time=utc(2025, 3, 31) if fulfilled else None,
        breached=True,
    )


RUNNING = SlaTarget(SlaMetric.RESOLUTION, 3600, due_time=utc(2030, 1, 1))


def rating(score: SatisfactionScore, assignee: str, group: str) -> SatisfactionRating:
    return SatisfactionRating(score, "", assignee, group, utc(2025, 4, 2))


HISTORY: dict[str, dict[str, Any]] = {
    # 00:30 CET on the first day, though still the 28th in UTC.
    "t1": {
        "created": utc(2025, 3, 28, 23, 30),
        "assignee": "a1",
        "group": "g1",
        "status": TicketStatus.SOLVED,
        "responded": utc(2025, 3, 29, 0, 30),
        "solved": utc(2025, 3, 29, 22, 30),  # 23:30 CET, the 29th
        "sla": (met(SlaMetric.FIRST_RESPONSE), met(SlaMetric.RESOLUTION)),
        "rating": rating(SatisfactionScore.GOOD, "agents/a1", "groups/g1"),
    },
    # Created the day before the range (23:30 CET on the 28th), solved inside it.
    "t2": {
        "created": utc(2025, 3, 28, 22, 30),
        "assignee": "a2",
        "group": "g1",
        "status": TicketStatus.CLOSED,
        "solved": utc(2025, 3, 30, 10),  # 12:00 CEST
    },
    # 01:30 CET, half an hour before the clocks jump.
    "t3": {
        "created": utc(2025, 3, 30, 0, 30),
        "assignee": "a1",
        "group": "g2",
        "status": TicketStatus.OPEN,
        "responded": utc(2025, 3, 30, 2, 30),
        "sla": (breached(SlaMetric.FIRST_RESPONSE, fulfilled=True), RUNNING),
    },
    # 00:30 CEST on the 31st, still the 30th in UTC.
    "t4": {
        "created": utc(2025, 3, 30, 22, 30),
        "status": TicketStatus.PENDING,
        "sla": (breached(SlaMetric.FIRST_RESPONSE, fulfilled=False),),
    },
    # The last microsecond of the range; solved on the first instant after it.
    "t5": {
        "created": utc(2025, 4, 1, 22) - US,
        "assignee": "a2",
        "group": "g2",
        "status": TicketStatus.SOLVED,
        # 30 minutes and a microsecond later.
        "responded": utc(2025, 4, 1, 22, 30),
        "solved": utc(2025, 4, 1, 22),
        # Rated while a1 had it; a2 got it afterwards.
        "rating": rating(SatisfactionScore.BAD, "agents/a1", "groups/g2"),
    },
    # The first instant after the range: only in the backlog.
    "t6": {"created": utc(2025, 4, 1, 22), "assignee": "a1", "status": TicketStatus.NEW},
    "t7": {
        "created": utc(2025, 3, 29, 12),
        "assignee": "a1",
        "group": "g1",
        "status": TicketStatus.SOLVED,
        "responded": utc(2025, 3, 29, 12) + US,
        "solved": utc(2025, 3, 31, 12),  # 14:00 CEST
        "sla": (met(SlaMetric.NEXT_RESPONSE),),
    },
    # Solved and reopened: its old solve counts nowhere.
    "t8": {
        "created": utc(2025, 3, 29, 6),
        "assignee": "a2",
        "group": "g1",
        "status": TicketStatus.OPEN,
        "responded": utc(2025, 3, 29, 10),
        "solved": utc(2025, 3, 29, 8),
    },
}
FIRST, LAST = date(2025, 3, 29), date(2025, 4, 1)
DAYS = [FIRST + timedelta(days=n) for n in range(4)]
H = timedelta(hours=1)


def _history_ticket(tag: str, number: int, label: str, spec: dict[str, Any]) -> Ticket:
    details = TicketDetails(
        subject=label,
        requester="people/p1",
        tags=(tag,),
        assignee=f"agents/{spec['assignee']}" if "assignee" in spec else "",
        group=f"groups/{spec['group']}" if "group" in spec else "",
    )
    ticket = Ticket.create(f"{tag}-{label}", number, details, Channel.EMAIL, spec["created"])
    ticket.status = spec["status"]
    ticket.first_response_time = spec.get("responded")
    ticket.solve_time = spec.get("solved")
    ticket.sla_targets = spec.get("sla", ())
    ticket.satisfaction = spec.get("rating")
    return ticket


async def _store(url: str, stored: list[Ticket]) -> None:
    engine = create_engine(url)
    try:
        async with UnitOfWork(session_factory(engine), "support") as uow:
            for ticket in stored:
                await TicketRepository(uow.session).add(ticket)
            await uow.commit()
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def history(suite: Suite) -> str:
    """Stores the history tickets under a tag of their own; returns the filter for them."""
    tag = f"history-{uuid.uuid4().hex[:8]}"
    # Numbers far above the service's own sequence.
    base = 900_000_000 + uuid.uuid4().int % 1_000_000 * 100
    stored = [
        _history_ticket(tag, base + n, label, spec)
        for n, (label, spec) in enumerate(HISTORY.items())
    ]
    # Outside the filter: must not count anywhere.
    stranger = _history_ticket(f"{tag}-x", base + 99, "t9", HISTORY["t1"])
    asyncio.run(_store(suite.database_urls["support"], [*stored, stranger]))
    return f'tags:"{tag}"'


def test_history_totals(reports: ReportServiceStub, history: str) -> None:
    found = report(reports, FIRST, LAST, "Europe/Berlin", history)
    assert (found.start_date, found.end_date) == (day(FIRST), day(LAST))
    assert (found.time_zone, found.filter, found.breakdown) == ("Europe/Berlin", history, [])
    total = found.total
    assert per_day(total) == [
        (DAYS[0], 3, 1),  # created t1 t7 t8; solved t1
        (DAYS[1], 1, 1),  # created t3; solved t2
        (DAYS[2], 1, 1),  # created t4; solved t7
        (DAYS[3], 1, 0),  # created t5
    ]
    assert (total.created_count, total.solved_count) == (6, 3)
    assert backlog(total) == [1, 2, 1, 0] and total.backlog_count == 4
    # t7 1 us, t5 30 min 1 us, t1 1 h, t3 2 h, t8 4 h.
    assert median(total.first_response) == (5, H)
    # t5 1 us, t1 23 h, t7 48 h.
    assert median(total.resolution) == (3, 23 * H)
    assert sla(total) == {
        0: (3, 2, 60.0),
        tp.SLA_METRIC_FIRST_RESPONSE: (1, 2, 100 / 3),
        tp.SLA_METRIC_NEXT_RESPONSE: (1, 0, 100.0),
        tp.SLA_METRIC_RESOLUTION: (1, 0, 100.0),
    }
    assert csat(total) == (1, 1, 50.0)


def test_history_per_agent(reports: ReportServiceStub, history: str) -> None:
    found = report(reports, FIRST, LAST, "Europe/Berlin", history, AGENT)
    assert found.group_by == AGENT
    assert [(row.assignee, row.group) for row in found.breakdown] == [
        ("agents/a1", ""),
        ("agents/a2", ""),
        ("", ""),
    ]
    a1, a2, nobody = (row.figures for row in found.breakdown)

    assert per_day(a1) == [(DAYS[0], 2, 1), (DAYS[1], 1, 0), (DAYS[2], 0, 1), (DAYS[3], 0, 0)]
    assert backlog(a1) == [1, 1, 0, 0]
    assert median(a1.first_response) == (3, H)
    assert median(a1.resolution) == (2, 35 * H + 30 * timedelta(minutes=1))
    assert sla(a1)[0] == (3, 1, 75.0)
    # t5's rating goes to a1, who had the ticket when it was rated.
    assert csat(a1) == (1, 1, 50.0)

    assert per_day(a2) == [(DAYS[0], 1, 0), (DAYS[1], 0, 1), (DAYS[2], 0, 0), (DAYS[3], 1, 0)]
    assert backlog(a2) == [0, 1, 0, 0]
    # The mean of the middle two, 2 h 15 min 0.5 us, rounds half to even as timedelta does.
    assert median(a2.first_response) == (2, (timedelta(minutes=30) + US + 4 * H) / 2)
    assert median(a2.resolution) == (1, US)
    assert sla(a2)[0] == (0, 0, None)
    assert csat(a2) == (0, 0, None)

    assert per_day(nobody) == [(DAYS[0], 0, 0), (DAYS[1], 0, 0), (DAYS[2], 1, 0), (DAYS[3], 0, 0)]
    assert backlog(nobody) == [0, 0, 1, 0]
    assert median(nobody.first_response) == (0, None)
    assert sla(nobody)[0] == (0, 1, 0.0)

    # The breakdown adds up to the totals.
    assert found.total.created_count == sum(r.figures.created_count for r in found.breakdown)
    assert found.total.backlog_count == sum(r.figures.backlog_count for r in found.breakdown)


def test_history_per_group(reports: ReportServiceStub, history: str) -> None:
    found = report(reports, FIRST, LAST, "Europe/Berlin", history, GROUP)
    assert [row.group for row in found.breakdown] == ["groups/g1", "groups/g2", ""]
    assert all(row.assignee == "" for row in found.breakdown)
    g1, g2, nobody = (row.figures for row in found.breakdown)
    assert (g1.created_count, g1.solved_count, backlog(g1)) == (3, 3, [0, 1, 0, 0])
    assert (g2.created_count, g2.solved_count, backlog(g2)) == (2, 0, [0, 1, 0, 0])
    assert (nobody.created_count, nobody.solved_count, backlog(nobody)) == (1, 0, [1, 0, 1, 0])
    assert median(g1.resolution) == (2, 35 * H + 30 * timedelta(minutes=1))
    assert median(g2.first_response) == (2, (2 * H + timedelta(minutes=30) + US) / 2)
    assert (csat(g1), csat(g2), csat(nobody)) == ((1, 0, 100.0), (0, 1, 0.0), (0, 0, None))


def test_history_in_utc_moves_tickets_across_days(reports: ReportServiceStub, history: str) -> None:
    # In UTC, t1 and t2 fall on the 28th and t4 on the 30th; t6 and t5's solve join 04-01.
    found = report(reports, date(2025, 3, 28), date(2025, 4, 1), "", history)
    assert found.time_zone == "UTC"
    assert per_day(found.total) == [
        (date(2025, 3, 28), 2, 0),
        (date(2025, 3, 29), 2, 1),
        (date(2025, 3, 30), 2, 1),
        (date(2025, 3, 31), 0, 1),
        (date(2025, 4, 1), 2, 1),
    ]


def test_a_day_on_its_own_and_the_filter_narrows(reports: ReportServiceStub, history: str) -> None:
    only = report(
        reports, DAYS[1], DAYS[1], "Europe/Berlin", f'{history} AND assignee = "agents/a1"'
    )
    assert per_day(only.total) == [(DAYS[1], 1, 0)]
    assert backlog(only.total) == [1, 1, 0, 0]
    assert median(only.total.first_response) == (1, 2 * H)
    assert sla(only.total)[0] == (0, 1, 0.0)
    # Far from any ticket: zeros everywhere but the backlog, which is now.
    empty = report(reports, date(2000, 1, 1), date(2000, 12, 31), "Asia/Kathmandu", history)
    assert len(empty.total.days) == 366
    assert (empty.total.created_count, empty.total.solved_count) == (0, 0)
    assert backlog(empty.total) == [1, 2, 1, 0]
    assert median(empty.total.first_response) == (0, None)
    assert (sla(empty.total)[0], csat(empty.total)) == ((0, 0, None), (0, 0, None))


# --- Live: figures follow the RPCs ---------------------------------------------


def test_figures_follow_the_work_done_through_the_api(
    suite: Suite, reports: ReportServiceStub
) -> None:
    agents = suite.stub("support", AgentServiceStub)
    suffix = uuid.uuid4().hex[:8]
    group = agents.CreateGroup(
        agents_pb.CreateGroupRequest(
            group=agent_pb2.Group(display_name=f"Billing {suffix}"), group_id=f"billing-{suffix}"
        )
    ).name
    ada, bob = (
        agents.CreateAgent(
            agents_pb.CreateAgentRequest(
                agent=agent_pb2.Agent(
                    display_name=person, email=f"{person}-{suffix}@example.com", groups=[group]
                ),
                agent_id=f"{person}-{suffix}",
            )
        ).name
        for person in ("ada", "bob")
    )
    tag = f"live-{suffix}"

    def open_ticket(assignee: str) -> tp.Ticket:
        message = tp.Ticket(subject="Invoice wrong", requester="people/p1", tags=[tag])
        created = suite.support.CreateTicket(support.CreateTicketRequest(ticket=message))
        assigned = tp.Ticket(name=created.name, assignee=assignee, group=group)
        return update(suite, assigned, "assignee", "group")

    def reply(name: str, author: str) -> None:
        body = comment_pb2.Comment(body="Fixed.", public=True, author=author)
        suite.support.CreateComment(support.CreateCommentRequest(parent=name, comment=body))

    def solve(name: str) -> tp.Ticket:
        return update(suite, tp.Ticket(name=name, status=tp.TICKET_STATUS_SOLVED), "status")

    def rate(name: str, score: int) -> None:
        suite.support.RateTicket(
            support.RateTicketRequest(
                name=name, satisfaction_rating=tp.SatisfactionRating(score=score)
            )
        )

    first, second, third = open_ticket(ada), open_ticket(ada), open_ticket(bob)
    reply(first.name, ada)
    reply(third.name, bob)
    solve(first.name)
    rate(first.name, tp.SATISFACTION_SCORE_GOOD)
    solve(second.name)
    rate(second.name, tp.SATISFACTION_SCORE_BAD)
    update(suite, tp.Ticket(name=third.name, status=tp.TICKET_STATUS_PENDING), "status")
    stored = {
        t.name: suite.support.GetTicket(support.GetTicketRequest(name=t.name))
        for t in (first, second, third)
    }

    def elapsed(ticket: tp.Ticket, moment: str) -> timedelta:
        return getattr(ticket, moment).ToDatetime() - ticket.create_time.ToDatetime()

    today = datetime.now(UTC).date()
    # A day either side, in case the tickets straddle midnight.
    found = report(
        reports, today - timedelta(days=1), today + timedelta(days=1), "", f'tags:"{tag}"', AGENT
    )
    total = found.total
    assert (total.created_count, total.solved_count) == (3, 2)
    assert backlog(total) == [0, 0, 1, 0]
    responses = sorted(elapsed(stored[t.name], "first_response_time") for t in (first, third))
    assert median(total.first_response) == (2, (responses[0] + responses[1]) / 2)
    resolutions = sorted(elapsed(stored[t.name], "solve_time") for t in (first, second))
    assert median(total.resolution) == (2, (resolutions[0] + resolutions[1]) / 2)
    assert csat(total) == (1, 1, 50.0)

    rows = {row.assignee: row.figures for row in found.breakdown}
    assert list(rows) == sorted([ada, bob])
    assert (rows[ada].created_count, rows[ada].solved_count, csat(rows[ada])) == (
        2,
        2,
        (1, 1, 50.0),
    )
    assert median(rows[ada].first_response) == (
        1,
        elapsed(stored[first.name], "first_response_time"),
    )
    assert (rows[bob].created_count, backlog(rows[bob]), csat(rows[bob])) == (
        1,
        [0, 0, 1, 0],
        (0, 0, None),
    )

    by_group = report(
        reports, today - timedelta(days=1), today + timedelta(days=1), "", f'tags:"{tag}"', GROUP
    )
    assert [(row.group, row.figures.created_count) for row in by_group.breakdown] == [(group, 3)]


def update(suite: Suite, message: tp.Ticket, *paths: str) -> tp.Ticket:
    request = support.UpdateTicketRequest(ticket=message, update_mask=FieldMask(paths=paths))
    return suite.support.UpdateTicket(request)


# --- Bad input -----------------------------------------------------------------


def request(**fields: Any) -> pb.GetTicketReportRequest:
    base: dict[str, Any] = {
        "start_date": date_pb2.Date(year=2025, month=1, day=1),
        "end_date": date_pb2.Date(year=2025, month=1, day=31),
    }
    return pb.GetTicketReportRequest(**{**base, **fields})


def d(year: int, month: int, day_: int) -> date_pb2.Date:
    return date_pb2.Date(year=year, month=month, day=day_)


BAD_INPUT = [
    (pb.GetTicketReportRequest(end_date=d(2025, 1, 1)), "start_date", "is required"),
    (request(end_date=None), "end_date", "is required"),
    (request(start_date=d(2025, 2, 29)), "start_date", "not a calendar date"),
    (request(start_date=d(2025, 0, 10)), "start_date", "not a calendar date"),
    (request(end_date=d(2025, 1, 0)), "end_date", "not a calendar date"),
    (request(start_date=d(2025, 1, 1), end_date=d(2024, 12, 31)), "end_date", "before start_date"),
    (request(start_date=d(2024, 1, 1), end_date=d(2025, 1, 1)), "end_date", "366 days"),
    (request(start_date=d(1969, 12, 31)), "start_date", "between 1970-01-01"),
    (request(end_date=d(9999, 12, 31)), "end_date", "9998-12-31"),
    (request(time_zone="Mars/Olympus_Mons"), "time_zone", "IANA"),
    (request(time_zone="../../etc/passwd"), "time_zone", "IANA"),
    (request(time_zone="localtime"), "time_zone", "IANA"),
    (request(time_zone="europe/berlin"), "time_zone", "IANA"),
    (request(filter="status = MAYBE"), "filter", ""),
    (request(filter="subject = x"), "filter", ""),
    (request(filter="status = "), "filter", ""),
    (request(group_by=7), "group_by", "not a known value"),
]


@pytest.mark.parametrize(("message", "field", "says"), BAD_INPUT)
def test_bad_input_names_the_field(
    reports: ReportServiceStub, message: pb.GetTicketReportRequest, field: str, says: str
) -> None:
    error = rpc_error(lambda: reports.GetTicketReport(message))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    violations = field_violations(error)
    assert list(violations) == [field]
    assert says in violations[field]


def test_every_fault_is_reported_at_once(reports: ReportServiceStub) -> None:
    message = pb.GetTicketReportRequest(
        start_date=d(2025, 13, 1), time_zone="Nowhere", filter="nope = 1", group_by=-1
    )
    error = rpc_error(lambda: reports.GetTicketReport(message))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert set(field_violations(error)) == {
        "start_date",
        "end_date",
        "time_zone",
        "filter",
        "group_by",
    }


def test_a_full_leap_year_is_the_longest_range(reports: ReportServiceStub) -> None:
    found = report(reports, date(2024, 1, 1), date(2024, 12, 31), filter_='tags:"nothing-here"')
    assert len(found.total.days) == 366
