"""An agent works a ticket from creation to the requester's rating through
`crm support` alone, as a real process against the support service, on SQLite
and PostgreSQL."""

import re
import uuid
from datetime import UTC, datetime

from google.type import date_pb2

from crm.support.v1 import agent_pb2
from crm.support.v1 import agent_service_pb2 as pb
from crm.support.v1 import report_service_pb2 as reports
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from crm.support.v1.report_service_pb2_grpc import ReportServiceStub
from tests.integration.harness import Suite
from tests.integration.test_support_cli import crm


def test_an_agent_works_a_ticket_from_creation_to_csat(suite: Suite) -> None:
    suffix = uuid.uuid4().hex[:8]
    agents = suite.stub("support", AgentServiceStub)
    group = agents.CreateGroup(
        pb.CreateGroupRequest(group=agent_pb2.Group(display_name="Phones"), group_id=f"ph-{suffix}")
    )
    agents.CreateAgent(
        pb.CreateAgentRequest(
            agent=agent_pb2.Agent(
                display_name="Ada Lovelace",
                email=f"ada-{suffix}@example.com",
                groups=[group.name],
                availability=agent_pb2.AGENT_AVAILABILITY_ONLINE,
            ),
            agent_id=f"ada-{suffix}",
        )
    )
    subject = f"Invoice shows the wrong VAT {suffix}"

    created = crm(
        suite,
        "create",
        subject,
        "--email",
        f"lin-{suffix}@example.com",
        "--name",
        "Lin Okafor",
        "--priority",
        "high",
        "--tag",
        "billing",
        "--description",
        "-",
        stdin="The March invoice charges 21% instead of 19%.\n",
    )
    assert created.returncode == 0, created.stderr
    number = re.fullmatch(
        r"Created ticket #(\d+) \(tickets/\S+\) for Lin Okafor\.\n", created.stdout
    )
    assert number, created.stdout
    n = number.group(1)

    queue = crm(suite, "queue", "--limit", "1000").stdout
    row = next(line for line in queue.splitlines() if subject in line)
    assert row.split()[:3] == [f"#{n}", "NEW", "HIGH"]

    steps = [
        ("assign", n, f"agents/ada-{suffix}"),
        (
            "reply",
            n,
            "Thanks Lin, a corrected invoice is on its way.",
            "--agent",
            f"agents/ada-{suffix}",
        ),
        ("solve", n),
        ("rate", n, "good", "Fixed within the hour, thank you!"),
    ]
    for step in steps:
        done = crm(suite, *step)
        assert done.returncode == 0, (step, done.stderr)
    assert done.stdout.startswith(f"Rated ticket #{n}: GOOD, ")

    shown = crm(suite, "show", n).stdout
    assert re.search(r"Priority:\s+HIGH", shown)
    assert re.search(r"Channel:\s+PHONE", shown) and re.search(r"Tags:\s+billing", shown)
    assert "The March invoice charges 21% instead of 19%." in shown
    assert re.search(rf"Assignee:\s+agents/ada-{suffix}", shown)
    assert re.search(r"First response:\s+\d{4}-", shown)
    assert re.search(rf"Satisfaction:\s+GOOD, .*\(agents/ada-{suffix}, {group.name}\)", shown)
    assert "Fixed within the hour, thank you!" in shown

    twice = crm(suite, "rate", n, "bad")
    assert twice.returncode == 1
    assert twice.stderr.startswith("crm support: ALREADY_EXISTS:"), twice.stderr
    assert "rated once" in twice.stderr

    today = datetime.now(UTC).date()
    report = suite.stub("support", ReportServiceStub).GetTicketReport(
        reports.GetTicketReportRequest(
            start_date=date_pb2.Date(year=today.year, month=today.month, day=today.day),
            end_date=date_pb2.Date(year=today.year, month=today.month, day=today.day),
            group_by=reports.TICKET_REPORT_GROUPING_AGENT,
        )
    )
    line = next(b for b in report.breakdown if b.assignee == f"agents/ada-{suffix}")
    assert (line.figures.satisfaction.good_count, line.figures.satisfaction.bad_count) == (1, 0)


def test_create_and_rate_refuse_bad_input_in_one_line(suite: Suite) -> None:
    no_email = crm(suite, "create", "Subject only", "--email", "not-an-address")
    assert no_email.returncode == 1
    assert "INVALID_ARGUMENT" in no_email.stderr and "requester_email" in no_email.stderr
    assert len(no_email.stderr.splitlines()) == 1

    bad_priority = crm(suite, "create", "x", "--email", "a@example.com", "--priority", "asap")
    assert (
        bad_priority.returncode == 2
        and "not one of low, normal, high, urgent" in bad_priority.stderr
    )

    created = crm(suite, "create", "Still open", "--email", "b@example.com")
    n = re.search(r"#(\d+)", created.stdout).group(1)  # type: ignore[union-attr]
    unsolved = crm(suite, "rate", n, "good")
    assert unsolved.returncode == 1
    assert unsolved.stderr.startswith("crm support: FAILED_PRECONDITION:"), unsolved.stderr
