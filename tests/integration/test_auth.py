"""Authentication and authorization across the suite's four services, on SQLite
and PostgreSQL: bearer tokens checked before any handler, every role against a
representative RPC of each permission, row-level rules for tickets and
opportunities, open health and reflection, and no token or secret in any log."""

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import jwt
import pytest
from google.protobuf.field_mask_pb2 import FieldMask
from google.type.money_pb2 import Money
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm.projects.v1 import projects_service_pb2 as projects
from crm.projects.v1 import template_service_pb2 as templates
from crm.projects.v1.projects_service_pb2_grpc import ProjectsServiceStub
from crm.projects.v1.template_service_pb2_grpc import TemplateServiceStub
from crm.sales.v1 import opportunity_pb2 as op
from crm.sales.v1 import pipeline_pb2 as pp
from crm.sales.v1 import sales_service_pb2 as sales
from crm.sales.v1.sales_service_pb2_grpc import SalesServiceStub
from crm.support.v1 import agent_pb2 as ap
from crm.support.v1 import agent_service_pb2 as agents
from crm.support.v1 import comment_pb2 as cp
from crm.support.v1 import email_pb2
from crm.support.v1 import report_service_pb2 as reports
from crm.support.v1 import support_service_pb2 as support
from crm.support.v1 import ticket_pb2 as tp
from crm.support.v1.agent_service_pb2_grpc import AgentServiceStub
from crm.support.v1.report_service_pb2_grpc import ReportServiceStub
from crm.support.v1.support_service_pb2_grpc import SupportServiceStub
from crm_cli.servers import NatsServer
from crm_common.auth.roles import (
    ADMIN,
    READ_ONLY,
    SALES,
    SALES_MANAGER,
    SERVICE,
    SUPPORT_AGENT,
    SUPPORT_SUPERVISOR,
)
from tests.integration.harness import (
    ADMIN_TOKEN,
    AUDIENCE,
    DEV_SECRET,
    ISSUER,
    Databases,
    Suite,
    eventually,
    field_violations,
    rpc_error,
    running_suite,
    token,
)

SERVICES = ["contacts", "sales", "support", "projects"]
DENIED = grpc.StatusCode.PERMISSION_DENIED
MANUAL = ap.ASSIGNMENT_STRATEGY_MANUAL
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
# Every token a test sends, so the last test can look for each in the logs.
SENT: set[str] = {ADMIN_TOKEN}


@pytest.fixture(scope="module")
def auth_suite(
    suite_nats: NatsServer, databases: Databases, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Suite]:
    """All four services, logging at DEBUG: the most a log could give away."""
    logs: Path = tmp_path_factory.mktemp("auth-logs")
    with running_suite(SERVICES, suite_nats, databases, logs, CRM_LOG_LEVEL="DEBUG") as suite:
        yield suite


def token_for(subject: str, *roles: str) -> str:
    minted = token(subject, *roles)
    SENT.add(minted)
    return minted


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


# --- authentication ------------------------------------------------------------------


def raw_token(**overrides: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "mallory",
        "roles": [ADMIN],
        "iat": now,
        "exp": now + 600,
        **overrides,
    }
    minted = jwt.encode(claims, DEV_SECRET, algorithm="HS256")
    SENT.add(minted)
    return minted


def tampered() -> str:
    """A read-only token whose payload was rewritten to claim admin."""
    header, _, signature = token_for("mallory", READ_ONLY).split(".")
    forged_payload = raw_token(sub="mallory").split(".")[1]
    forged = f"{header}.{forged_payload}.{signature}"
    SENT.add(forged)
    return forged


BAD_TOKENS: dict[str, Callable[[], str]] = {
    "expired": lambda: raw_token(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "not yet valid": lambda: raw_token(nbf=int(time.time()) + 3600),
    "wrong audience": lambda: raw_token(aud="someone-else"),
    "wrong issuer": lambda: raw_token(iss="https://evil.example"),
    "no expiry": lambda: raw_token(exp=None),
    "tampered": tampered,
    "other secret": lambda: jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
        "another-secret-that-is-long-enough-for-hs256",
        algorithm="HS256",
    ),
    "unsigned": lambda: jwt.encode(
        {"iss": ISSUER, "aud": AUDIENCE, "sub": "x", "exp": int(time.time()) + 60},
        None,
        algorithm="none",
    ),
    "garbage": lambda: "not-a-jwt",
}


@pytest.mark.parametrize("kind", BAD_TOKENS)
def test_a_bad_token_is_unauthenticated_without_echoing_it(auth_suite: Suite, kind: str) -> None:
    bad = BAD_TOKENS[kind]()
    SENT.add(bad)
    people = auth_suite.stub("contacts", ContactsServiceStub, token=bad)
    error = rpc_error(lambda: people.ListPeople(contacts.ListPeopleRequest()))
    assert error.code() == UNAUTHENTICATED, (kind, error.details())
    assert "token" in error.details()
    for part in bad.split("."):
        assert not part or part not in error.details()


def test_a_call_without_a_token_is_unauthenticated_on_every_service(auth_suite: Suite) -> None:
    calls = [
        lambda: auth_suite.stub("contacts", ContactsServiceStub, token="").ListPeople(
            contacts.ListPeopleRequest()
        ),
        lambda: auth_suite.stub("sales", SalesServiceStub, token="").ListPipelines(
            sales.ListPipelinesRequest()
        ),
        lambda: auth_suite.stub("support", SupportServiceStub, token="").ListTickets(
            support.ListTicketsRequest()
        ),
        lambda: auth_suite.stub("projects", ProjectsServiceStub, token="").ListProjects(
            projects.ListProjectsRequest()
        ),
    ]
    for call in calls:
        error = rpc_error(call)
        assert error.code() == UNAUTHENTICATED
        assert "authorization" in error.details()


def test_a_malformed_authorization_header_is_unauthenticated(auth_suite: Suite) -> None:
    people = auth_suite.stub("contacts", ContactsServiceStub, token="")
    for value in ("Basic dXNlcjpwYXNz", "Bearer", f"Token {ADMIN_TOKEN}"):
        error = rpc_error(
            lambda value=value: people.ListPeople(
                contacts.ListPeopleRequest(), metadata=[("authorization", value)]
            )
        )
        assert error.code() == UNAUTHENTICATED, value


def test_health_and_reflection_need_no_token(auth_suite: Suite) -> None:
    for service in SERVICES:
        channel = auth_suite.channel(service, token="")
        health = health_pb2_grpc.HealthStub(channel)
        reply = health.Check(health_pb2.HealthCheckRequest(service=""))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        (answer,) = list(reflection.ServerReflectionInfo(iter([request])))
        assert any(
            s.name.startswith(f"crm.{service}.v1.") for s in answer.list_services_response.service
        )


# --- every role against a representative RPC of every permission ------------------------

# (service, stub, method, request): an empty write request is INVALID_ARGUMENT once the
# caller is let through, so no call here changes anything.
CALLS: dict[str, tuple[str, Any, str, Any]] = {
    "contacts.read": ("contacts", ContactsServiceStub, "ListPeople", contacts.ListPeopleRequest()),
    "contacts.write": (
        "contacts",
        ContactsServiceStub,
        "CreatePerson",
        contacts.CreatePersonRequest(),
    ),
    "contacts.manage": (
        "contacts",
        ContactsServiceStub,
        "ErasePerson",
        contacts.ErasePersonRequest(),
    ),
    "sales.read": ("sales", SalesServiceStub, "ListPipelines", sales.ListPipelinesRequest()),
    "sales.write": (
        "sales",
        SalesServiceStub,
        "CreateOpportunity",
        sales.CreateOpportunityRequest(),
    ),
    "sales.manage": ("sales", SalesServiceStub, "CreatePipeline", sales.CreatePipelineRequest()),
    "projects.read": (
        "projects",
        ProjectsServiceStub,
        "ListProjects",
        projects.ListProjectsRequest(),
    ),
    "projects.write": (
        "projects",
        ProjectsServiceStub,
        "CreateProject",
        projects.CreateProjectRequest(),
    ),
    "projects.manage": (
        "projects",
        TemplateServiceStub,
        "CreateProjectTemplate",
        templates.CreateProjectTemplateRequest(),
    ),
    "support.read": ("support", SupportServiceStub, "ListTickets", support.ListTicketsRequest()),
    "support.write": (
        "support",
        SupportServiceStub,
        "CreateTicket",
        support.CreateTicketRequest(),
    ),
    "support.all_tickets": (
        "support",
        ReportServiceStub,
        "GetTicketReport",
        reports.GetTicketReportRequest(),
    ),
    "support.manage": ("support", AgentServiceStub, "CreateGroup", agents.CreateGroupRequest()),
    "support.intake": (
        "support",
        SupportServiceStub,
        "ReceiveEmail",
        email_pb2.ReceiveEmailRequest(),
    ),
}

SALES_CALLS = {
    "contacts.read",
    "contacts.write",
    "sales.read",
    "sales.write",
    "projects.read",
    "projects.write",
}
AGENT_CALLS = {"contacts.read", "projects.read", "support.read", "support.write"}
ALLOWED: dict[str, set[str]] = {
    ADMIN: set(CALLS),
    SALES: SALES_CALLS,
    SALES_MANAGER: SALES_CALLS | {"sales.manage", "projects.manage"},
    SUPPORT_AGENT: AGENT_CALLS,
    SUPPORT_SUPERVISOR: AGENT_CALLS | {"support.all_tickets", "support.manage"},
    READ_ONLY: {
        "contacts.read",
        "sales.read",
        "projects.read",
        "support.read",
        "support.all_tickets",
    },
    SERVICE: {"contacts.read", "contacts.write", "support.intake"},
    "no-such-role": set(),
}


@pytest.mark.parametrize("role", ALLOWED)
def test_each_role_may_call_what_its_permissions_allow_and_nothing_else(
    auth_suite: Suite, role: str
) -> None:
    caller = token_for(f"someone-{role}", role)
    outcomes: dict[str, bool] = {}
    for permission, (service, stub_class, method, request) in CALLS.items():
        call = getattr(auth_suite.stub(service, stub_class, token=caller), method)
        try:
            call(request)
            outcomes[permission] = True
        except grpc.RpcError as error:
            assert error.code() not in (UNAUTHENTICATED, grpc.StatusCode.INTERNAL), (
                permission,
                error.details(),
            )
            outcomes[permission] = error.code() != DENIED
    assert {p for p, allowed in outcomes.items() if allowed} == ALLOWED[role]


# --- row level: an agent's tickets ---------------------------------------------------


def new_ticket(suite: Suite, group: str, subject: str) -> tp.Ticket:
    ticket = tp.Ticket(
        subject=subject,
        description="It is broken.",
        requester_email="grace@example.com",
        group=group,
    )
    return suite.support.CreateTicket(support.CreateTicketRequest(ticket=ticket))


def test_an_agent_sees_and_works_only_the_tickets_of_their_groups(auth_suite: Suite) -> None:
    admin = auth_suite.stub("support", AgentServiceStub)
    group_a, group_b = (
        admin.CreateGroup(
            agents.CreateGroupRequest(
                group=ap.Group(display_name=name, assignment_strategy=MANUAL),
                group_id=unique(name),
            )
        )
        for name in ("tier-a", "tier-b")
    )
    agent_id = unique("alice")
    admin.CreateAgent(
        agents.CreateAgentRequest(
            agent_id=agent_id,
            agent=ap.Agent(
                display_name="Alice", email=f"{agent_id}@example.com", groups=[group_a.name]
            ),
        )
    )
    marker = uuid.uuid4().hex[:8]
    mine = new_ticket(auth_suite, group_a.name, f"Printer {marker}")
    theirs = new_ticket(auth_suite, group_b.name, f"Fax {marker}")
    missing = "tickets/no-such-ticket"

    alice = auth_suite.stub("support", SupportServiceStub, token=token_for(agent_id, SUPPORT_AGENT))
    assert alice.GetTicket(support.GetTicketRequest(name=mine.name)).subject == mine.subject
    # Alice's group is new: of all the suite's tickets she sees this one only.
    listed = alice.ListTickets(support.ListTicketsRequest(page_size=1000))
    assert [t.name for t in listed.tickets] == [mine.name]

    # With two groups she must say which one a new ticket goes to.
    admin.UpdateAgent(
        agents.UpdateAgentRequest(
            agent=ap.Agent(name=f"agents/{agent_id}", groups=[group_a.name, group_b.name]),
            update_mask=FieldMask(paths=["groups"]),
        )
    )
    unplaced = rpc_error(
        lambda: alice.CreateTicket(
            support.CreateTicketRequest(
                ticket=tp.Ticket(subject="Where?", requester_email="h@example.com")
            )
        )
    )
    assert unplaced.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "ticket.group" in field_violations(unplaced)
    admin.UpdateAgent(
        agents.UpdateAgentRequest(
            agent=ap.Agent(name=f"agents/{agent_id}", groups=[group_a.name]),
            update_mask=FieldMask(paths=["groups"]),
        )
    )

    # Someone else's ticket and no ticket at all look exactly alike.
    refusals = [
        rpc_error(lambda name=name: alice.GetTicket(support.GetTicketRequest(name=name)))
        for name in (theirs.name, missing)
    ]
    assert [e.code() for e in refusals] == [DENIED, DENIED]
    assert refusals[0].details().replace(theirs.name, missing) == refusals[1].details()

    update = tp.Ticket(name=theirs.name, subject="Mine now")
    for call in (
        lambda: alice.UpdateTicket(
            support.UpdateTicketRequest(ticket=update, update_mask=FieldMask(paths=["subject"]))
        ),
        lambda: alice.CreateComment(
            support.CreateCommentRequest(
                parent=theirs.name, comment=cp.Comment(body="Hi", author=f"agents/{agent_id}")
            )
        ),
        lambda: alice.ListComments(support.ListCommentsRequest(parent=theirs.name)),
        lambda: alice.CreateTicket(
            support.CreateTicketRequest(
                ticket=tp.Ticket(
                    subject="Sneaky", requester_email="g@example.com", group=group_b.name
                )
            )
        ),
    ):
        assert rpc_error(call).code() == DENIED

    # A ticket Alice opens without a group goes to hers, where she can work it.
    opened = alice.CreateTicket(
        support.CreateTicketRequest(
            ticket=tp.Ticket(subject=f"Phone call {marker}", requester_email="h@example.com")
        )
    )
    assert opened.group == group_a.name
    assert alice.GetTicket(support.GetTicketRequest(name=opened.name)).name == opened.name

    supervisor = auth_suite.stub(
        "support", SupportServiceStub, token=token_for("sue", SUPPORT_SUPERVISOR)
    )
    assert supervisor.GetTicket(support.GetTicketRequest(name=theirs.name)).name == theirs.name
    absent = rpc_error(lambda: supervisor.GetTicket(support.GetTicketRequest(name=missing)))
    assert absent.code() == grpc.StatusCode.NOT_FOUND


# --- row level: a salesperson's opportunities ----------------------------------------


def test_a_salesperson_changes_only_their_own_opportunities_unless_a_manager(
    auth_suite: Suite,
) -> None:
    admin = auth_suite.stub("sales", SalesServiceStub)
    pipeline = admin.CreatePipeline(
        sales.CreatePipelineRequest(
            pipeline=pp.Pipeline(
                display_name="Auth", stages=[pp.Stage(id="lead", display_name="Lead")]
            ),
            pipeline_id=unique("p"),
        )
    )
    alice_id, bob_id = unique("alice"), unique("bob")
    alice = auth_suite.stub("sales", SalesServiceStub, token=token_for(alice_id, SALES))
    bob = auth_suite.stub("sales", SalesServiceStub, token=token_for(bob_id, SALES))
    manager = auth_suite.stub("sales", SalesServiceStub, token=token_for("max", SALES_MANAGER))

    draft = op.Opportunity(
        display_name="Engine", value=Money(currency_code="EUR", units=100), pipeline=pipeline.name
    )
    deal = alice.CreateOpportunity(sales.CreateOpportunityRequest(opportunity=draft))
    assert deal.owner == alice_id  # a salesperson's new deal is theirs

    def rename(stub: SalesServiceStub, current: op.Opportunity, name: str) -> op.Opportunity:
        change = op.Opportunity(name=current.name, display_name=name, etag=current.etag)
        return stub.UpdateOpportunity(
            sales.UpdateOpportunityRequest(
                opportunity=change, update_mask=FieldMask(paths=["display_name"])
            )
        )

    # Everyone may read it; only its owner or a manager may change it.
    assert bob.GetOpportunity(sales.GetOpportunityRequest(name=deal.name)).owner == alice_id
    refused = rpc_error(lambda: rename(bob, deal, "Bob's now"))
    assert refused.code() == DENIED
    deleted = rpc_error(
        lambda: bob.DeleteOpportunity(sales.DeleteOpportunityRequest(name=deal.name))
    )
    assert deleted.code() == DENIED
    deal = rename(alice, deal, "Engine II")
    deal = rename(manager, deal, "Engine III")
    assert deal.display_name == "Engine III"

    for_bob = op.Opportunity(
        display_name="Gift", value=Money(currency_code="EUR", units=1), pipeline=pipeline.name
    )
    for_bob.owner = bob_id
    gift = rpc_error(
        lambda: alice.CreateOpportunity(sales.CreateOpportunityRequest(opportunity=for_bob))
    )
    assert gift.code() == DENIED
    assert manager.CreateOpportunity(sales.CreateOpportunityRequest(opportunity=for_bob)).owner == (
        bob_id
    )


# --- secrets ---------------------------------------------------------------------------


def test_no_token_or_secret_reaches_any_log(auth_suite: Suite) -> None:
    """Runs last in this module: by now every kind of call above has been logged."""
    # One more refused and one more failed call, so both paths are in the logs.
    people = auth_suite.stub("contacts", ContactsServiceStub)
    rpc_error(lambda: people.GetPerson(contacts.GetPersonRequest(name="people/none")))
    eventually(lambda: _logged(auth_suite, "rpc handled"))
    logs = {name: p.log_path.read_text() for name, p in auth_suite.processes.items()}
    for name, text in logs.items():
        assert DEV_SECRET not in text, name
        for sent in SENT:
            assert sent not in text, name
            signature = sent.split(".")[-1]
            assert len(signature) < 16 or signature not in text, name  # nor its signature


def _logged(suite: Suite, text: str) -> None:
    assert all(text in p.log_path.read_text() for p in suite.processes.values())
