"""Report RPCs: the request checked into a period, a filter and a grouping; figures out."""

from datetime import date

from google.type import date_pb2
from grpc.aio import ServicerContext

from crm.support.v1 import report_service_pb2 as pb
from crm.support.v1 import report_service_pb2_grpc as pb_grpc
from crm_common.errors import InvalidArgument, Violations
from crm_common.filtering import Expr, parse_filter
from crm_common.messaging.uow import UnitOfWorkFactory
from crm_support.domain.reports import (
    DurationSummary,
    Figures,
    Grouping,
    ReportPeriod,
    Satisfaction,
    TicketReport,
    report_period,
)
from crm_support.domain.tickets import FILTER_SCHEMA
from crm_support.handlers import reports as handlers

_GROUPINGS = {
    pb.TICKET_REPORT_GROUPING_UNSPECIFIED: Grouping.NONE,
    pb.TICKET_REPORT_GROUPING_AGENT: Grouping.AGENT,
    pb.TICKET_REPORT_GROUPING_GROUP: Grouping.GROUP,
}


class ReportServicer(pb_grpc.ReportServiceServicer):
    def __init__(self, units: UnitOfWorkFactory) -> None:
        self._units = units

    async def GetTicketReport(
        self, request: pb.GetTicketReportRequest, context: ServicerContext
    ) -> pb.TicketReport:
        period, expr, grouping = _checked(request)
        report = await handlers.ticket_report(self._units(), period, expr, grouping)
        return _report_to_proto(report, request)


def _checked(request: pb.GetTicketReportRequest) -> tuple[ReportPeriod, Expr | None, Grouping]:
    """The request's parts, or INVALID_ARGUMENT naming every field at fault."""
    violations = Violations()
    period = expr = None
    try:
        period = report_period(
            _parts(request.start_date), _parts(request.end_date), request.time_zone
        )
    except InvalidArgument as error:
        violations.extend(error.violations)
    try:
        expr = parse_filter(request.filter, FILTER_SCHEMA)
    except InvalidArgument as error:
        violations.extend(error.violations)
    grouping = _GROUPINGS.get(request.group_by)
    if grouping is None:
        violations.add("group_by", f"{request.group_by} is not a known value")
    violations.raise_if_any()
    assert period is not None and grouping is not None
    return period, expr, grouping


def _parts(value: date_pb2.Date) -> tuple[int, int, int]:
    return value.year, value.month, value.day


def _report_to_proto(report: TicketReport, request: pb.GetTicketReportRequest) -> pb.TicketReport:
    period = report.period
    message = pb.TicketReport(
        start_date=_date(period.first_day),
        end_date=_date(period.last_day),
        time_zone=period.time_zone,
        filter=request.filter,
        group_by=request.group_by,
        total=_figures(report.total),
    )
    for key, figures in report.breakdown:
        row = message.breakdown.add(figures=_figures(figures))
        if report.grouping is Grouping.AGENT:
            row.assignee = key
        else:
            row.group = key
    return message


def _figures(figures: Figures) -> pb.TicketReportFigures:
    sla = figures.sla_total
    return pb.TicketReportFigures(
        days=[
            pb.ReportDayCount(date=_date(d.day), created_count=d.created, solved_count=d.solved)
            for d in figures.days
        ],
        created_count=figures.created,
        solved_count=figures.solved,
        backlog=[
            pb.ReportStatusCount(status=int(status), count=count)
            for status, count in figures.backlog.items()
        ],
        backlog_count=figures.backlog_total,
        first_response=_duration(figures.first_response),
        resolution=_duration(figures.resolution),
        sla_compliance=pb.ReportSlaCompliance(
            met_count=sla.met,
            breached_count=sla.breached,
            compliance_percent=sla.percent,
            metrics=[
                pb.ReportSlaMetricCompliance(
                    metric=int(metric),
                    met_count=tally.met,
                    breached_count=tally.breached,
                    compliance_percent=tally.percent,
                )
                for metric, tally in figures.sla.items()
            ],
        ),
        satisfaction=_satisfaction(figures.satisfaction),
    )


def _duration(summary: DurationSummary) -> pb.ReportDuration:
    message = pb.ReportDuration(ticket_count=summary.count)
    if summary.median is not None:
        message.median.FromTimedelta(summary.median)
    return message


def _satisfaction(tally: Satisfaction) -> pb.ReportSatisfaction:
    return pb.ReportSatisfaction(
        good_count=tally.good, bad_count=tally.bad, good_percent=tally.good_percent
    )


def _date(value: date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)
