"""`crm sales ...`: the sales team's work from the terminal.

This module registers the whole `crm sales` group and holds what concerns
pipelines and close reasons: `pipeline [PIPELINE]` shows a pipeline as a
board (its stages as columns, each with the number of open deals and their
total value in each currency, the deals themselves largest first, and what
was won and lost this month), `pipeline create` sets one up, and `reasons`
lists and adds the reasons deals are won or lost for. Leads and scoring
rules are in sales_leads.py, deals in sales_deals.py, the forecast in
sales_forecast.py.

All talk to the sales service at $CRM_SALES_TARGET (127.0.0.1 and the sales port).
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from itertools import zip_longest

from google.protobuf.timestamp_pb2 import Timestamp

from crm.sales.v1 import close_reason_pb2, opportunity_pb2, pipeline_pb2
from crm.sales.v1 import sales_service_pb2 as pb
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from crm_cli.arguments import enum_value, slug
from crm_cli.money import format_money, money_amount, money_text
from crm_cli.rpc import CommandError, ServiceClient, all_pages
from crm_cli.tables import enum_label, format_table, shorten
from crm_common.config import DEFAULT_PORTS

TARGET_ENV = "CRM_SALES_TARGET"
DEFAULT_TARGET = f"127.0.0.1:{DEFAULT_PORTS['sales']}"
SALES = ServiceClient("sales", TARGET_ENV, DEFAULT_TARGET)
PIPELINES = "pipelines/"
CLOSE_REASONS = "closeReasons/"
PAGE_SIZE = 1000
DEAL_WIDTH = 28
# `crm sales pipeline create NAME ...`: the word that makes PIPELINE a verb.
CREATE = "create"
REASON_KINDS = {
    "won": close_reason_pb2.CLOSE_REASON_KIND_WON,
    "lost": close_reason_pb2.CLOSE_REASON_KIND_LOST,
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    sales = subparsers.add_parser(
        "sales",
        help="work the sales pipeline: pipeline, lead, deal, forecast, reasons, scoring",
        description=f"Sales commands, with the sales service at ${TARGET_ENV} "
        f"(default {DEFAULT_TARGET}).",
    )
    commands = sales.add_subparsers(title="commands", metavar="COMMAND", required=True)

    pipeline = commands.add_parser(
        "pipeline",
        help="a pipeline as a board; `pipeline create` sets one up",
        usage="crm sales pipeline [-h] [--deals N] [PIPELINE]\n"
        "       crm sales pipeline create NAME --stage NAME:PROBABILITY [--stage ...] [--id ID]",
        description="Shows PIPELINE (an id or pipelines/ID) as a board: a column per "
        "unarchived stage with its open deals' count and total value in each currency, "
        "then the deals, largest first, and the deals won and lost this month. Without "
        "PIPELINE: the only pipeline's board, or the list of pipelines to choose from. "
        "`create NAME` makes a pipeline with the --stage columns in the order given, each "
        "with its default win probability, e.g. --stage Qualified:20; its id and its "
        "stages' ids are their names in lower case with dashes.",
    )
    pipeline.add_argument("pipeline", nargs="?", default="", metavar="PIPELINE")
    pipeline.add_argument("new_name", nargs="?", default="", help=argparse.SUPPRESS)
    pipeline.add_argument(
        "--deals", type=int, default=10, metavar="N", help="deals shown per stage (default 10)"
    )
    pipeline.add_argument(
        "--stage",
        action="append",
        default=[],
        type=stage_spec,
        metavar="NAME:PROBABILITY",
        help="with create: a stage and its default win probability in percent (repeatable)",
    )
    pipeline.add_argument("--id", default="", help="with create: the pipeline's id")
    pipeline.set_defaults(func=pipeline_command)

    reasons = commands.add_parser(
        "reasons",
        help="the reasons deals are won or lost for; --add one",
        description="Lists the managed close reasons a deal is won or lost with, or with "
        "--add KIND NAME adds one (KIND is won or lost).",
    )
    reasons.add_argument("--add", nargs=2, metavar=("KIND", "NAME"), help="add a reason")
    reasons.set_defaults(func=reasons_command)

    # Imported here: these modules use this one's helpers.
    from crm_cli import sales_deals, sales_forecast, sales_leads

    sales_leads.register(commands)
    sales_deals.register(commands)
    sales_forecast.register(commands)


def stage_spec(text: str) -> pipeline_pb2.Stage:
    """`Qualified:20`: a stage named Qualified (id `qualified`), 20% likely to be won."""
    label, _, probability = text.rpartition(":")
    if not label.strip() or not probability.isdigit() or int(probability) > 100 or not slug(label):
        raise argparse.ArgumentTypeError(f"not like NAME:PROBABILITY, e.g. Qualified:20: {text!r}")
    return pipeline_pb2.Stage(
        id=slug(label), display_name=label.strip(), probability=int(probability)
    )


# --- Pipelines -----------------------------------------------------------------------------


def pipeline_command(args: argparse.Namespace) -> int:
    if args.pipeline == CREATE and args.new_name:
        return create_pipeline(args)
    if args.new_name or args.stage or args.id:
        return SALES.fail(CommandError(f"NAME, --stage and --id go with `{CREATE}` only"))
    try:
        with SALES.connect(SalesServiceStub) as sales:
            name = pipeline_name(args.pipeline)
            if not name:
                pipelines = all_pipelines(sales)
                if len(pipelines) != 1:
                    print(pipelines_table(pipelines))
                    return 0
                name = pipelines[0].name
            pipeline = sales.GetPipeline(pb.GetPipelineRequest(name=name))
            deals = _deals(sales, pipeline.name, "state = OPEN")
            since = _month_start(datetime.now(UTC))
            closed = _deals(sales, pipeline.name, f'state != OPEN AND close_time >= "{since}"')
    except CommandError as error:
        return SALES.fail(error)
    print(f"{pipeline.display_name} ({pipeline.name})")
    print(board(pipeline, deals, max(args.deals, 0)))
    print()
    print(closed_summary(closed))
    return 0


def create_pipeline(args: argparse.Namespace) -> int:
    if not args.stage:
        return SALES.fail(CommandError("a pipeline needs its stages: --stage NAME:PROBABILITY"))
    pipeline = pipeline_pb2.Pipeline(display_name=args.new_name, stages=args.stage)
    request = pb.CreatePipelineRequest(
        pipeline=pipeline, pipeline_id=args.id or slug(args.new_name)
    )
    try:
        with SALES.connect(SalesServiceStub) as sales:
            created = sales.CreatePipeline(request)
    except CommandError as error:
        return SALES.fail(error)
    stages = ", ".join(f"{s.display_name} ({s.id}, {s.probability}%)" for s in created.stages)
    print(f"Created {created.display_name} ({created.name}): {stages}.")
    return 0


def board(
    pipeline: pipeline_pb2.Pipeline,
    deals: Sequence[opportunity_pb2.Opportunity],
    shown: int,
) -> str:
    """Stages as columns: header, deal count, a total per currency, then deals."""
    stages = [stage for stage in pipeline.stages if not stage.archived]
    in_stage: dict[str, list[opportunity_pb2.Opportunity]] = defaultdict(list)
    for deal in deals:
        in_stage[deal.stage].append(deal)
    header = [f"{stage.display_name.upper()} ({stage.probability}%)" for stage in stages]
    counts = [deal_count(len(in_stage[stage.name])) for stage in stages]
    totals = [
        [
            format_money(currency, amount)
            for currency, amount in sorted(totals_by_currency(in_stage[stage.name]).items())
        ]
        for stage in stages
    ]
    listed = [
        [
            f"{shorten(deal.display_name, DEAL_WIDTH)} {money_text(deal.value)}"
            for deal in sorted(in_stage[stage.name], key=_largest_first)[:shown]
        ]
        for stage in stages
    ]
    rows = [header, counts]
    rows += [list(row) for row in zip_longest(*totals, fillvalue="")]
    if any(listed):
        rows.append(["-" * 3 for _ in stages])
        rows += [list(row) for row in zip_longest(*listed, fillvalue="")]
    return format_table(rows)


def closed_summary(deals: Sequence[opportunity_pb2.Opportunity]) -> str:
    """`Won this month: 1 deal, EUR 12,000.00. Lost this month: 0 deals.`"""
    parts = []
    for state, label in (
        (opportunity_pb2.OPPORTUNITY_STATE_WON, "Won"),
        (opportunity_pb2.OPPORTUNITY_STATE_LOST, "Lost"),
    ):
        those = [deal for deal in deals if deal.state == state]
        totals = sorted(totals_by_currency(those).items())
        values = "".join(f", {format_money(currency, amount)}" for currency, amount in totals)
        parts.append(f"{label} this month: {deal_count(len(those))}{values}.")
    return " ".join(parts)


def pipelines_table(pipelines: Sequence[pipeline_pb2.Pipeline]) -> str:
    if not pipelines:
        return (
            "No pipelines yet; create one with "
            "`crm sales pipeline create NAME --stage NAME:PROBABILITY ...`."
        )
    rows = [["PIPELINE", "NAME", "STAGES"]]
    rows += [
        [p.name.removeprefix(PIPELINES), p.display_name, str(sum(not s.archived for s in p.stages))]
        for p in pipelines
    ]
    return format_table(rows)


def totals_by_currency(deals: Sequence[opportunity_pb2.Opportunity]) -> dict[str, Decimal]:
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for deal in deals:
        currency, amount = money_amount(deal.value)
        totals[currency] += amount
    return dict(totals)


def deal_count(count: int) -> str:
    return f"{count} deal" if count == 1 else f"{count} deals"


def pipeline_name(argument: str) -> str:
    """`pipelines/ID` from an id or a full name; empty stays empty."""
    return argument if not argument or argument.startswith(PIPELINES) else PIPELINES + argument


def all_pipelines(sales: SalesServiceStub) -> list[pipeline_pb2.Pipeline]:
    request = pb.ListPipelinesRequest(page_size=PAGE_SIZE)
    return all_pages(sales.ListPipelines, request, "pipelines")


def _deals(sales: SalesServiceStub, pipeline: str, query: str) -> list[opportunity_pb2.Opportunity]:
    request = pb.ListOpportunitiesRequest(
        filter=f'pipeline = "{pipeline}" AND {query}', page_size=PAGE_SIZE
    )
    return all_pages(sales.ListOpportunities, request, "opportunities")


def _largest_first(deal: opportunity_pb2.Opportunity) -> tuple[Decimal, str]:
    return -money_amount(deal.value)[1], deal.display_name


def _month_start(now: datetime) -> str:
    start = Timestamp()
    start.FromDatetime(now.replace(day=1, hour=0, minute=0, second=0, microsecond=0))
    return start.ToJsonString()


# --- Close reasons -------------------------------------------------------------------------


def reasons_command(args: argparse.Namespace) -> int:
    try:
        with SALES.connect(SalesServiceStub) as sales:
            if args.add:
                kind, label = args.add
                print(f"Added {add_close_reason(sales, kind, label)}.")
                return 0
            reasons = all_close_reasons(sales)
    except CommandError as error:
        return SALES.fail(error)
    print(reasons_table(reasons))
    return 0


def add_close_reason(sales: SalesServiceStub, kind: str, label: str) -> str:
    try:
        value = enum_value(close_reason_pb2.CloseReasonKind, "CLOSE_REASON_KIND_")(kind)
    except argparse.ArgumentTypeError as error:
        raise CommandError(f"KIND {error}") from None
    reason = close_reason_pb2.CloseReason(display_name=label, kind=value)
    created = sales.CreateCloseReason(
        pb.CreateCloseReasonRequest(close_reason=reason, close_reason_id=slug(label))
    )
    return f"{_reason_kind(created)} reason {created.display_name!r} ({created.name})"


def all_close_reasons(sales: SalesServiceStub) -> list[close_reason_pb2.CloseReason]:
    request = pb.ListCloseReasonsRequest(page_size=PAGE_SIZE)
    return all_pages(sales.ListCloseReasons, request, "close_reasons")


def find_close_reason(sales: SalesServiceStub, text: str, kind: str) -> str:
    """The name of the unarchived `kind` (won or lost) reason `text` names, by id,
    `closeReasons/ID` or its name in any case; CommandError listing the choices."""
    wanted = REASON_KINDS[kind]
    reasons = [r for r in all_close_reasons(sales) if r.kind == wanted and not r.archived]
    name = text if text.startswith(CLOSE_REASONS) else CLOSE_REASONS + text
    for reason in reasons:
        if name == reason.name or text.strip().casefold() == reason.display_name.casefold():
            return reason.name
    choices = ", ".join(repr(r.display_name) for r in reasons)
    hint = f"one of {choices}" if reasons else f"none yet: crm sales reasons --add {kind} NAME"
    raise CommandError(f"no {kind} reason {text!r}; {hint}")


def reasons_table(reasons: Sequence[close_reason_pb2.CloseReason]) -> str:
    if not reasons:
        return "No close reasons yet; add one with `crm sales reasons --add won|lost NAME`."
    rows = [["KIND", "REASON", "ID", "ARCHIVED"]]
    rows += [
        [_reason_kind(r), r.display_name, r.name.removeprefix(CLOSE_REASONS), "yes" * r.archived]
        for r in reasons
    ]
    return format_table(rows)


def _reason_kind(reason: close_reason_pb2.CloseReason) -> str:
    return enum_label(close_reason_pb2.CloseReasonKind, reason.kind, "CLOSE_REASON_KIND_")
