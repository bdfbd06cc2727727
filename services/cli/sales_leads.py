"""`crm sales lead ...` and `crm sales scoring ...`: leads from first contact
to conversion, and the rules that score them.

`lead create` records a lead and prints its score; `lead list` shows leads
highest score first; `lead show ID` prints one with its score breakdown (each
rule that gave points, and why); `lead activity ID KIND` records something the
lead did (an email opened, a meeting booked) and prints the new score;
`lead qualify` / `disqualify --reason` move its status; `lead convert` turns a
qualified lead into a person, an organization and optionally a deal.
`scoring rules` lists the rules, `scoring add` adds one.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from google.protobuf import field_mask_pb2

from crm.sales.v1 import lead_pb2
from crm.sales.v1 import lead_service_pb2 as pb
from crm.sales.v1.lead_service_pb2_grpc import LeadServiceStub
from crm_cli.arguments import enum_names, enum_value, limit, resource, user_argument
from crm_cli.money import parse_money
from crm_cli.rpc import CommandError, all_pages
from crm_cli.sales import PAGE_SIZE, SALES, pipeline_name
from crm_cli.tables import enum_label, format_table, shorten, timestamp_text

LEADS = "leads/"
RULES = "scoringRules/"
STATUS_PREFIX = "LEAD_STATUS_"
NAME_WIDTH = 30
HIGHEST_SCORE_FIRST = "score desc, create_time desc"


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    lead = commands.add_parser(
        "lead",
        help="work leads: create, list, show, activity, qualify, disqualify, convert",
        description="Lead commands. ID is a lead's id or leads/ID.",
    )
    actions = lead.add_subparsers(title="commands", metavar="COMMAND", required=True)

    create = actions.add_parser(
        "create",
        help="record a new lead and see its score",
        description="Records a NEW lead, scores it by the active rules and prints its id "
        "and score. It needs a name, a company or an email.",
    )
    for option, what in (
        ("--given-name", "first name(s)"),
        ("--family-name", "last name(s)"),
        ("--email", "email address"),
        ("--company", "the company the lead works for"),
        ("--phone", "phone number"),
        ("--title", "job title"),
        ("--source", "where the lead came from: web, referral, event, ..."),
    ):
        create.add_argument(option, default="", help=what)
    create.add_argument(
        "--owner", default="", help="the owning user's id (default: you, from --user)"
    )
    create.add_argument(
        "--tag", action="append", default=[], metavar="TAG", help="a tag (repeatable)"
    )
    user_argument(create)
    create.set_defaults(func=create_command)

    listing = actions.add_parser(
        "list",
        help="leads, highest score first",
        description="Lists leads, highest score first, newest first among equals.",
    )
    statuses = enum_names(lead_pb2.LeadStatus, STATUS_PREFIX)
    listing.add_argument(
        "--status",
        type=enum_value(lead_pb2.LeadStatus, STATUS_PREFIX),
        metavar="|".join(status.lower() for status in statuses),
        help="only leads with this status",
    )
    listing.add_argument(
        "--limit", type=limit, default=50, help="at most this many leads, 1-1000 (default 50)"
    )
    listing.set_defaults(func=list_command)

    show = actions.add_parser(
        "show",
        help="a lead with its score breakdown",
        description="Prints the lead's fields, status and score, and each rule that gave "
        "it points with how many and why.",
    )
    _lead_argument(show)
    show.set_defaults(func=show_command)

    activity = actions.add_parser(
        "activity",
        help="record what a lead did; prints the new score",
        description="Records an activity of the lead (KIND such as email_opened, "
        "page_visited, form_submitted, meeting_booked) for the activity rules to score, "
        "and prints the score before and after.",
    )
    _lead_argument(activity)
    activity.add_argument("kind", metavar="KIND", help="what the lead did, e.g. email_opened")
    activity.set_defaults(func=activity_command)

    qualify = actions.add_parser(
        "qualify",
        help="mark a lead qualified, ready to convert",
        description="Sets the lead's status to QUALIFIED.",
    )
    _lead_argument(qualify)
    qualify.set_defaults(func=status_command, status=lead_pb2.LEAD_STATUS_QUALIFIED, reason="")

    disqualify = actions.add_parser(
        "disqualify",
        help="mark a lead disqualified, with the reason",
        description="Sets the lead's status to DISQUALIFIED for --reason.",
    )
    _lead_argument(disqualify)
    disqualify.add_argument("--reason", required=True, help="why the lead is no fit")
    disqualify.set_defaults(func=status_command, status=lead_pb2.LEAD_STATUS_DISQUALIFIED)

    convert = actions.add_parser(
        "convert",
        help="convert a qualified lead into contacts and optionally a deal",
        description="Converts the QUALIFIED lead ID (or leads/ID) into a person and, when it "
        "has a company, an organization in the contacts service, and with --opportunity a "
        "deal owned by the lead's owner. Running it again after a failure creates nothing "
        "twice.",
    )
    convert.add_argument("lead", metavar="ID")
    convert.add_argument("--opportunity", metavar="NAME", help="open a deal of this name")
    convert.add_argument(
        "--value", nargs=2, metavar=("AMOUNT", "CURRENCY"), help="the deal's value, e.g. 1000 EUR"
    )
    convert.add_argument("--pipeline", default="", help="the deal's pipeline (id or pipelines/ID)")
    convert.add_argument("--stage", default="", help="its stage id; the first stage when omitted")
    convert.set_defaults(func=convert_command)

    scoring = commands.add_parser(
        "scoring",
        help="lead scoring rules: rules, add",
        description="The rules that score leads: field conditions and activities give points.",
    )
    rule_actions = scoring.add_subparsers(title="commands", metavar="COMMAND", required=True)
    rules = rule_actions.add_parser(
        "rules", help="list the scoring rules", description="Lists every scoring rule."
    )
    rules.set_defaults(func=rules_command)
    add = rule_actions.add_parser(
        "add",
        help="add a scoring rule",
        description="Adds a rule giving --points to each lead that matches --when (an "
        "AIP-160 condition over the lead's fields, e.g. 'source = \"referral\"'), or for "
        "each --activity of a kind the lead records (at most --cap points in all). Every "
        "lead is re-scored.",
    )
    add.add_argument("display_name", metavar="NAME", help="what the rule rewards")
    add.add_argument(
        "--points", type=int, required=True, help="points per match, -1000 to 1000, not 0"
    )
    trigger = add.add_mutually_exclusive_group(required=True)
    trigger.add_argument("--when", metavar="CONDITION", help="a condition over lead fields")
    trigger.add_argument("--activity", metavar="KIND", help="an activity kind, e.g. email_opened")
    add.add_argument("--cap", type=int, default=0, help="with --activity: most points in all")
    add.set_defaults(func=add_rule_command)


def _lead_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("lead", type=resource(LEADS), metavar="ID", help="leads/ID or ID")


# --- Commands ------------------------------------------------------------------------------


def create_command(args: argparse.Namespace) -> int:
    lead = lead_pb2.Lead(
        given_name=args.given_name,
        family_name=args.family_name,
        email=args.email,
        company_name=args.company,
        phone=args.phone,
        title=args.title,
        source=args.source,
        owner=args.owner or args.user.removeprefix("users/"),
        tags=args.tag,
    )
    try:
        with SALES.connect(LeadServiceStub) as leads:
            created = leads.CreateLead(pb.CreateLeadRequest(lead=lead))
    except CommandError as error:
        return SALES.fail(error)
    print(f"Created lead {created.name.removeprefix(LEADS)}: {lead_label(created)}, ", end="")
    print(f"score {created.score}.")
    return 0


def list_command(args: argparse.Namespace) -> int:
    query = f"status = {enum_label(lead_pb2.LeadStatus, args.status, STATUS_PREFIX)}"
    request = pb.ListLeadsRequest(
        page_size=args.limit, order_by=HIGHEST_SCORE_FIRST, filter=query if args.status else ""
    )
    try:
        with SALES.connect(LeadServiceStub) as leads:
            found = list(leads.ListLeads(request).leads)
    except CommandError as error:
        return SALES.fail(error)
    print(leads_table(found) if found else "No leads.")
    return 0


def show_command(args: argparse.Namespace) -> int:
    try:
        with SALES.connect(LeadServiceStub) as leads:
            lead = leads.GetLead(pb.GetLeadRequest(name=args.lead))
    except CommandError as error:
        return SALES.fail(error)
    print(lead_text(lead))
    return 0


def activity_command(args: argparse.Namespace) -> int:
    request = pb.RecordLeadActivityRequest(lead=args.lead, kind=args.kind)
    try:
        with SALES.connect(LeadServiceStub) as leads:
            before = leads.GetLead(pb.GetLeadRequest(name=args.lead)).score
            after = leads.RecordLeadActivity(request)
    except CommandError as error:
        return SALES.fail(error)
    change = after.score - before
    print(
        f"Recorded {args.kind} for {lead_label(after)}: score {after.score} "
        f"({'+' if change >= 0 else ''}{change})."
    )
    return 0


def status_command(args: argparse.Namespace) -> int:
    try:
        with SALES.connect(LeadServiceStub) as leads:
            lead = leads.GetLead(pb.GetLeadRequest(name=args.lead))
            was = _status(lead.status)
            change = lead_pb2.Lead(
                name=lead.name, status=args.status, disqualify_reason=args.reason, etag=lead.etag
            )
            mask = field_mask_pb2.FieldMask(paths=["status", "disqualify_reason"])
            updated = leads.UpdateLead(pb.UpdateLeadRequest(lead=change, update_mask=mask))
    except CommandError as error:
        return SALES.fail(error)
    now = _status(updated.status)
    if was == now:
        print(f"{lead_label(updated)} was already {now}.")
    else:
        print(f"{lead_label(updated)} is {now} (was {was}).")
    return 0


def convert_command(args: argparse.Namespace) -> int:
    try:
        request = convert_request(args)
        with SALES.connect(LeadServiceStub) as leads:
            response = leads.ConvertLead(request)
    except CommandError as error:
        return SALES.fail(error)
    print(f"converted {response.lead.name}")
    print(f"  person        {response.person}")
    print(f"  organization  {response.organization or '(none: the lead has no company)'}")
    print(f"  opportunity   {response.opportunity or '(none)'}")
    return 0


def convert_request(args: argparse.Namespace) -> pb.ConvertLeadRequest:
    """The ConvertLead request the arguments describe; CommandError when they do not fit."""
    name = args.lead if args.lead.startswith(LEADS) else f"{LEADS}{args.lead}"
    request = pb.ConvertLeadRequest(name=name)
    if args.opportunity is None:
        if args.value or args.pipeline or args.stage:
            raise CommandError("--value, --pipeline and --stage describe an --opportunity")
        return request
    if not args.pipeline:
        raise CommandError("--opportunity needs --pipeline")
    pipeline = pipeline_name(args.pipeline)
    spec = request.opportunity
    spec.display_name = args.opportunity
    spec.pipeline = pipeline
    if args.stage:
        spec.stage = f"{pipeline}/stages/{args.stage}"
    if args.value:
        spec.value.CopyFrom(parse_money(*args.value))
    return request


def rules_command(args: argparse.Namespace) -> int:
    try:
        with SALES.connect(LeadServiceStub) as leads:
            request = pb.ListScoringRulesRequest(page_size=PAGE_SIZE)
            rules = all_pages(leads.ListScoringRules, request, "scoring_rules")
    except CommandError as error:
        return SALES.fail(error)
    print(rules_table(rules))
    return 0


def add_rule_command(args: argparse.Namespace) -> int:
    if args.cap and not args.activity:
        return SALES.fail(CommandError("--cap limits an --activity rule"))
    rule = lead_pb2.ScoringRule(
        display_name=args.display_name,
        condition=args.when or "",
        activity=args.activity or "",
        points=args.points,
        cap=args.cap,
    )
    try:
        with SALES.connect(LeadServiceStub) as leads:
            created = leads.CreateScoringRule(pb.CreateScoringRuleRequest(scoring_rule=rule))
    except CommandError as error:
        return SALES.fail(error)
    print(f"Added rule {created.name.removeprefix(RULES)}: {rule_text(created)}.")
    return 0


# --- Output --------------------------------------------------------------------------------


def lead_label(lead: lead_pb2.Lead) -> str:
    """`Ada Lovelace (Analytical Engines)`, or whatever of name, company and email it has."""
    person = " ".join(part for part in (lead.given_name, lead.family_name) if part)
    person = person or lead.email or lead.name
    return f"{person} ({lead.company_name})" if lead.company_name else person


def lead_text(lead: lead_pb2.Lead) -> str:
    fields = [
        ("Status", _status(lead.status)),
        ("Disqualified for", lead.disqualify_reason),
        ("Score", str(lead.score)),
        ("Email", lead.email),
        ("Phone", lead.phone),
        ("Company", lead.company_name),
        ("Title", lead.title),
        ("Source", lead.source),
        ("Owner", lead.owner),
        ("Tags", ", ".join(lead.tags)),
        *((f"custom.{key}", value) for key, value in sorted(lead.custom_fields.items())),
        ("Person", lead.converted_person),
        ("Organization", lead.converted_organization),
        ("Opportunity", lead.converted_opportunity),
        ("Converted", timestamp_text(lead.convert_time, "")),
        ("Created", timestamp_text(lead.create_time)),
        ("Updated", timestamp_text(lead.update_time)),
        ("Name", lead.name),
    ]
    shown = [(label, value) for label, value in fields if value]
    width = max(len(label) for label, _ in shown) + 1
    lines = [f"Lead {lead.name.removeprefix(LEADS)}: {lead_label(lead)}", ""]
    lines += [f"{label + ':':<{width}} {value}" for label, value in shown]
    lines += [
        "",
        "Score breakdown:" if lead.score_breakdown else "Score breakdown: no rule applies",
    ]
    if lead.score_breakdown:
        rows = [("  RULE", "POINTS", "WHY")]
        rows += [
            (f"  {line.display_name or line.scoring_rule}", f"{line.points:+d}", line.reason)
            for line in lead.score_breakdown
        ]
        lines.append(format_table(rows))
    return "\n".join(lines)


def leads_table(leads: Sequence[lead_pb2.Lead]) -> str:
    rows = [("LEAD", "SCORE", "STATUS", "NAME", "EMAIL", "SOURCE", "OWNER")]
    rows += [
        (
            lead.name.removeprefix(LEADS),
            str(lead.score),
            _status(lead.status),
            shorten(lead_label(lead), NAME_WIDTH),
            lead.email or "-",
            lead.source or "-",
            lead.owner or "-",
        )
        for lead in leads
    ]
    return format_table(rows)


def rules_table(rules: Sequence[lead_pb2.ScoringRule]) -> str:
    if not rules:
        return "No scoring rules yet; add one with `crm sales scoring add NAME --points N ...`."
    rows = [("RULE", "NAME", "POINTS", "WHEN", "ACTIVE")]
    rows += [
        (
            rule.name.removeprefix(RULES),
            rule.display_name,
            f"{rule.points:+d}",
            _trigger(rule),
            "no" if rule.HasField("active") and not rule.active else "yes",
        )
        for rule in rules
    ]
    return format_table(rows)


def rule_text(rule: lead_pb2.ScoringRule) -> str:
    return f"{rule.display_name!r}, {rule.points:+d} {_trigger(rule)}"


def _trigger(rule: lead_pb2.ScoringRule) -> str:
    if rule.activity:
        cap = f" (at most {rule.cap})" if rule.cap else ""
        return f"per {rule.activity}{cap}"
    return f"when {rule.condition}"


def _status(value: int) -> str:
    return enum_label(lead_pb2.LeadStatus, value, STATUS_PREFIX, "-")
