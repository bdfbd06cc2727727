"""Relationships: types, links between people and organizations, listing from
either end, validation, and clean-up when a record goes away."""

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

import grpc
from google.protobuf.field_mask_pb2 import FieldMask
from google.type import date_pb2
from sqlalchemy import true

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import custom_field_pb2, organization_pb2, person_pb2, relationship_pb2
from crm_common.storage.db import create_engine, session_factory
from crm_contacts.storage.relationships import list_query, repoint_relationships
from tests.integration.harness import Suite, field_violations, rpc_error

PERSON = custom_field_pb2.CONTACT_KIND_PERSON
ORGANIZATION = custom_field_pb2.CONTACT_KIND_ORGANIZATION
EMPLOYMENT = "relationshipTypes/employment"


def day(value: date) -> date_pb2.Date:
    return date_pb2.Date(year=value.year, month=value.month, day=value.day)


def person(suite: Suite, given_name: str = "Ada") -> str:
    request = contacts.CreatePersonRequest(person=person_pb2.Person(given_name=given_name))
    return suite.contacts.CreatePerson(request).name


def organization(suite: Suite, display_name: str = "Analytical Engines") -> str:
    request = contacts.CreateOrganizationRequest(
        organization=organization_pb2.Organization(display_name=display_name)
    )
    return suite.contacts.CreateOrganization(request).name


def relationship_type(
    suite: Suite, label: str, inverse: str, from_kind: int, to_kind: int
) -> relationship_pb2.RelationshipType:
    request = contacts.CreateRelationshipTypeRequest(
        relationship_type=relationship_pb2.RelationshipType(
            display_name=label,
            inverse_display_name=inverse,
            from_kind=from_kind,
            to_kind=to_kind,
        ),
        relationship_type_id=f"{label.replace(' ', '-')}-{uuid.uuid4().hex[:8]}",
    )
    return suite.contacts.CreateRelationshipType(request)


def link_request(
    type_name: str, from_: str, to: str, **fields: object
) -> relationship_pb2.Relationship:
    return relationship_pb2.Relationship(type=type_name, to=to, **{"from": from_}, **fields)


def link(
    suite: Suite, type_name: str, from_: str, to: str, **fields: object
) -> relationship_pb2.Relationship:
    request = contacts.CreateRelationshipRequest(
        relationship=link_request(type_name, from_, to, **fields)
    )
    return suite.contacts.CreateRelationship(request)


def listed(suite: Suite, resource: str, filter: str = "", page_size: int = 0) -> list[str]:
    names: list[str] = []
    token = ""
    while True:
        page = suite.contacts.ListRelationships(
            contacts.ListRelationshipsRequest(
                resource=resource, filter=filter, page_size=page_size, page_token=token
            )
        )
        names += [r.name for r in page.relationships]
        token = page.next_page_token
        if not token:
            return names


def violations_of(call: Callable[[], object]) -> dict[str, str]:
    error = rpc_error(call)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    return field_violations(error)


def status_of(call: Callable[[], object]) -> tuple[grpc.StatusCode, str]:
    error = rpc_error(call)
    return error.code(), error.details() or ""


# --- Happy paths ----------------------------------------------------------------


def test_types_are_created_and_listed_by_id_with_the_builtin(suite: Suite) -> None:
    created = relationship_type(suite, "reports to", "manages", PERSON, PERSON)
    assert created.name.startswith("relationshipTypes/reports-to-")
    assert (created.display_name, created.inverse_display_name) == ("reports to", "manages")
    assert (created.from_kind, created.to_kind) == (PERSON, PERSON)
    assert created.etag and created.create_time.seconds

    seen: list[relationship_pb2.RelationshipType] = []
    token = ""
    while True:
        page = suite.contacts.ListRelationshipTypes(
            contacts.ListRelationshipTypesRequest(page_size=1, page_token=token)
        )
        seen += page.relationship_types
        token = page.next_page_token
        if not token:
            break
    names = [t.name for t in seen]
    assert names == sorted(names) and created.name in names
    employment = next(t for t in seen if t.name == EMPLOYMENT)
    assert (employment.display_name, employment.inverse_display_name) == ("works at", "employs")
    assert (employment.from_kind, employment.to_kind) == (PERSON, ORGANIZATION)


def test_employment_with_role_and_dates_current_and_past(suite: Suite) -> None:
    ada, engines = person(suite), organization(suite)
    today = datetime.now(UTC).date()
    cto = link(suite, EMPLOYMENT, ada, engines, role=" CTO ", start_date=day(date(2020, 1, 6)))
    past = link(
        suite,
        EMPLOYMENT,
        ada,
        engines,
        role="Analyst",
        start_date=day(date(2010, 3, 1)),
        end_date=day(date(2015, 12, 31)),
    )
    leaving = link(
        suite, EMPLOYMENT, ada, engines, role="Advisor", end_date=day(today + timedelta(days=30))
    )
    assert cto.name.startswith("relationships/") and cto.type == EMPLOYMENT
    assert (getattr(cto, "from"), cto.to, cto.role) == (ada, engines, "CTO")
    assert cto.start_date == day(date(2020, 1, 6)) and not cto.HasField("end_date")
    assert cto.current and not past.current and leaving.current
    assert cto.etag and cto.create_time == cto.update_time

    fetched = suite.contacts.GetRelationship(contacts.GetRelationshipRequest(name=past.name))
    assert fetched == past

    everything = {cto.name, past.name, leaving.name}
    assert set(listed(suite, ada)) == everything == set(listed(suite, engines))
    assert set(listed(suite, ada, "current = true")) == {cto.name, leaving.name}
    assert listed(suite, engines, "current = false") == [past.name]
    assert listed(suite, engines, f'type = "{EMPLOYMENT}" AND role = "CTO"') == [cto.name]
    assert set(listed(suite, ada, 'NOT role = "CTO"')) == {past.name, leaving.name}
    assert listed(suite, ada, 'type = "relationshipTypes/other"') == []


def test_person_to_person_listed_from_both_ends_newest_first(suite: Suite) -> None:
    reports_to = relationship_type(suite, "reports to", "manages", PERSON, PERSON).name
    charles, ada, mary, outsider = (person(suite, n) for n in ("Charles", "Ada", "Mary", "Eve"))
    ada_to_charles = link(suite, reports_to, ada, charles)
    mary_to_ada = link(suite, reports_to, mary, ada)
    # Ada is at the `to` end of one and the `from` end of the other.
    assert listed(suite, ada) == [mary_to_ada.name, ada_to_charles.name]
    assert listed(suite, charles) == [ada_to_charles.name]
    assert listed(suite, mary) == [mary_to_ada.name]
    assert listed(suite, outsider) == []

    # Pages interleave both ends and lose or repeat nothing.
    team = [person(suite, f"Report {i}") for i in range(3)]
    made = [mary_to_ada.name, ada_to_charles.name]
    for index, member in enumerate(team):
        ends = (member, ada) if index % 2 else (ada, member)
        made.insert(0, link(suite, reports_to, *ends).name)
    assert listed(suite, ada, page_size=2) == made


def test_organization_subsidiary_of_organization(suite: Suite) -> None:
    subsidiary_of = relationship_type(
        suite, "subsidiary of", "parent of", ORGANIZATION, ORGANIZATION
    ).name
    parent, child = organization(suite, "Holdings"), organization(suite, "Engines UK")
    made = link(suite, subsidiary_of, child, parent, start_date=day(date(1843, 7, 1)))
    assert (getattr(made, "from"), made.to, made.current) == (child, parent, True)
    assert listed(suite, parent) == [made.name] == listed(suite, child)


def test_update_role_and_dates_with_etags_then_delete(suite: Suite) -> None:
    ada, engines = person(suite), organization(suite)
    made = link(suite, EMPLOYMENT, ada, engines, role="Analyst", start_date=day(date(2020, 1, 1)))

    def update(paths: list[str], **fields: object) -> relationship_pb2.Relationship:
        return suite.contacts.UpdateRelationship(
            contacts.UpdateRelationshipRequest(
                relationship=relationship_pb2.Relationship(name=made.name, **fields),
                update_mask=FieldMask(paths=paths),
            )
        )

    promoted = update(["role"], role="CTO", etag=made.etag, start_date=day(date(1999, 1, 1)))
    assert promoted.role == "CTO" and promoted.start_date == made.start_date
    assert promoted.etag != made.etag and promoted.update_time != made.update_time
    stale = status_of(lambda: update(["role"], role="CEO", etag=made.etag))
    assert stale[0] == grpc.StatusCode.ABORTED

    left = update(["end_date"], end_date=day(date(2024, 6, 30)))
    assert left.end_date == day(date(2024, 6, 30)) and not left.current
    assert listed(suite, ada, "current = true") == []
    back = update(["end_date"])  # named in the mask but unset: cleared
    assert not back.HasField("end_date") and back.current and back.role == "CTO"
    unchanged = update(["role"], role="CTO")
    assert unchanged.etag == back.etag

    delete = contacts.DeleteRelationshipRequest
    assert (
        status_of(
            lambda: suite.contacts.DeleteRelationship(delete(name=made.name, etag=made.etag))
        )[0]
        == grpc.StatusCode.ABORTED
    )
    suite.contacts.DeleteRelationship(delete(name=made.name, etag=back.etag))
    gone = status_of(
        lambda: suite.contacts.GetRelationship(contacts.GetRelationshipRequest(name=made.name))
    )
    assert gone[0] == grpc.StatusCode.NOT_FOUND
    assert listed(suite, ada) == []


def test_only_one_open_link_of_a_type_between_two_records(suite: Suite) -> None:
    ada, engines = person(suite), organization(suite)
    open_link = link(suite, EMPLOYMENT, ada, engines, role="CTO")
    code, details = status_of(lambda: link(suite, EMPLOYMENT, ada, engines, role="CEO"))
    assert code == grpc.StatusCode.ALREADY_EXISTS and open_link.name in details
    # Ended links may repeat: she left twice.
    ended = {"start_date": day(date(2001, 1, 1)), "end_date": day(date(2002, 1, 1))}
    first = link(suite, EMPLOYMENT, ada, engines, **ended)
    link(suite, EMPLOYMENT, ada, engines, **ended)
    # Re-opening an ended one while another is open would duplicate it too.
    reopen = contacts.UpdateRelationshipRequest(
        relationship=relationship_pb2.Relationship(name=first.name),
        update_mask=FieldMask(paths=["end_date"]),
    )
    code, _ = status_of(lambda: suite.contacts.UpdateRelationship(reopen))
    assert code == grpc.StatusCode.ALREADY_EXISTS
    # The reverse direction is another link.
    reports_to = relationship_type(suite, "reports to", "manages", PERSON, PERSON).name
    charles = person(suite, "Charles")
    link(suite, reports_to, ada, charles)
    link(suite, reports_to, charles, ada)


def test_deleting_a_record_removes_its_relationships(suite: Suite) -> None:
    ada, charles, engines = person(suite), person(suite, "Charles"), organization(suite)
    reports_to = relationship_type(suite, "reports to", "manages", PERSON, PERSON).name
    employment = link(suite, EMPLOYMENT, ada, engines)
    charles_employment = link(suite, EMPLOYMENT, charles, engines)
    reporting = link(suite, reports_to, ada, charles)

    suite.contacts.DeleteOrganization(contacts.DeleteOrganizationRequest(name=engines))
    for name in (employment.name, charles_employment.name):
        request = contacts.GetRelationshipRequest(name=name)
        code, _ = status_of(lambda request=request: suite.contacts.GetRelationship(request))
        assert code == grpc.StatusCode.NOT_FOUND
    assert listed(suite, ada) == [reporting.name]

    suite.contacts.DeletePerson(contacts.DeletePersonRequest(name=charles))
    assert listed(suite, ada) == []


# --- Bad input --------------------------------------------------------------------


def test_create_type_bad_input(suite: Suite) -> None:
    def create(**fields: object) -> object:
        return suite.contacts.CreateRelationshipType(
            contacts.CreateRelationshipTypeRequest(**fields)
        )

    assert violations_of(create) == {"relationship_type": "is required"}
    empty = relationship_pb2.RelationshipType()
    assert set(violations_of(lambda: create(relationship_type=empty))) == {
        "relationship_type_id",
        "relationship_type.display_name",
        "relationship_type.inverse_display_name",
        "relationship_type.from_kind",
        "relationship_type.to_kind",
    }
    long = relationship_pb2.RelationshipType(
        display_name="x" * 101, inverse_display_name="  ", from_kind=PERSON, to_kind=PERSON
    )
    assert set(
        violations_of(lambda: create(relationship_type=long, relationship_type_id="Bad Id"))
    ) == {
        "relationship_type_id",
        "relationship_type.display_name",
        "relationship_type.inverse_display_name",
    }
    duplicate = relationship_pb2.RelationshipType(
        display_name="works at",
        inverse_display_name="employs",
        from_kind=PERSON,
        to_kind=ORGANIZATION,
    )
    code, details = status_of(
        lambda: create(relationship_type=duplicate, relationship_type_id="employment")
    )
    assert code == grpc.StatusCode.ALREADY_EXISTS and EMPLOYMENT in details


def test_create_bad_input_names_every_field(suite: Suite) -> None:
    def create(relationship: relationship_pb2.Relationship | None = None) -> object:
        return suite.contacts.CreateRelationship(
            contacts.CreateRelationshipRequest(relationship=relationship)
        )

    assert violations_of(create) == {"relationship": "is required"}
    assert violations_of(lambda: create(relationship_pb2.Relationship())) == {
        "relationship.type": "is required",
        "relationship.from": "is required",
        "relationship.to": "is required",
    }
    malformed = link_request("types/employment", "persons/1", "organizations/a/b")
    assert set(violations_of(lambda: create(malformed))) == {
        "relationship.type",
        "relationship.from",
        "relationship.to",
    }
    ada = person(suite)
    self_link = link_request(EMPLOYMENT, ada, ada)
    assert "relationship.to" in violations_of(lambda: create(self_link))
    bad_dates = link_request(
        EMPLOYMENT,
        ada,
        "organizations/x",
        role="r" * 201,
        start_date=date_pb2.Date(year=2023, month=2, day=30),
        end_date=date_pb2.Date(year=2024),  # a year alone is not a full date
    )
    assert set(violations_of(lambda: create(bad_dates))) == {
        "relationship.role",
        "relationship.start_date",
        "relationship.end_date",
    }
    backwards = link_request(
        EMPLOYMENT,
        ada,
        "organizations/x",
        start_date=day(date(2024, 1, 2)),
        end_date=day(date(2024, 1, 1)),
    )
    assert violations_of(lambda: create(backwards)) == {
        "relationship.end_date": "is before relationship.start_date"
    }


def test_create_checks_kinds_then_existence(suite: Suite) -> None:
    ada, engines = person(suite), organization(suite)
    backwards = link_request(EMPLOYMENT, engines, ada)
    wrong = violations_of(
        lambda: suite.contacts.CreateRelationship(
            contacts.CreateRelationshipRequest(relationship=backwards)
        )
    )
    assert set(wrong) == {"relationship.from", "relationship.to"}

    def status(type_name: str, from_: str, to: str) -> tuple[grpc.StatusCode, str]:
        request = contacts.CreateRelationshipRequest(
            relationship=link_request(type_name, from_, to)
        )
        return status_of(lambda: suite.contacts.CreateRelationship(request))

    code, details = status("relationshipTypes/no-such-type", ada, engines)
    assert code == grpc.StatusCode.NOT_FOUND and "relationship.type" in details
    code, details = status(EMPLOYMENT, "people/nobody", engines)
    assert code == grpc.StatusCode.NOT_FOUND
    assert "people/nobody (relationship.from)" in details and engines not in details
    code, details = status(EMPLOYMENT, ada, "organizations/nothing")
    assert code == grpc.StatusCode.NOT_FOUND and "(relationship.to)" in details


def test_get_update_delete_bad_input(suite: Suite) -> None:
    for name in ("", "relationship/1", "relationships/", "relationships/a/b"):
        get = contacts.GetRelationshipRequest(name=name)
        assert "name" in violations_of(lambda get=get: suite.contacts.GetRelationship(get)), name
        drop = contacts.DeleteRelationshipRequest(name=name)
        assert "name" in violations_of(lambda drop=drop: suite.contacts.DeleteRelationship(drop))
    for call in (
        lambda: suite.contacts.GetRelationship(
            contacts.GetRelationshipRequest(name="relationships/nope")
        ),
        lambda: suite.contacts.DeleteRelationship(
            contacts.DeleteRelationshipRequest(name="relationships/nope")
        ),
    ):
        assert status_of(call)[0] == grpc.StatusCode.NOT_FOUND

    made = link(
        suite, EMPLOYMENT, person(suite), organization(suite), start_date=day(date(2020, 1, 1))
    )

    def update(paths: list[str], **fields: object) -> object:
        return suite.contacts.UpdateRelationship(
            contacts.UpdateRelationshipRequest(
                relationship=relationship_pb2.Relationship(**fields),
                update_mask=FieldMask(paths=paths),
            )
        )

    assert violations_of(
        lambda: suite.contacts.UpdateRelationship(contacts.UpdateRelationshipRequest())
    ) == {"relationship": "is required"}
    assert "relationship.name" in violations_of(lambda: update(["role"], name="people/1"))
    for path in ("type", "from", "current", "bogus"):
        assert "update_mask" in violations_of(lambda path=path: update([path], name=made.name))
    earlier = day(date(2019, 12, 31))
    assert violations_of(lambda: update(["end_date"], name=made.name, end_date=earlier)) == {
        "relationship.end_date": "is before relationship.start_date"
    }
    invalid = date_pb2.Date(year=2020, month=13, day=1)
    assert "relationship.start_date" in violations_of(
        lambda: update(["start_date"], name=made.name, start_date=invalid)
    )
    missing = status_of(lambda: update(["role"], name="relationships/nope", role="x"))
    assert missing[0] == grpc.StatusCode.NOT_FOUND


def test_list_bad_input(suite: Suite) -> None:
    def list_(**fields: object) -> object:
        return suite.contacts.ListRelationships(contacts.ListRelationshipsRequest(**fields))

    assert violations_of(list_) == {"resource": "is required"}
    for resource in ("people", "people/", "relationships/1", "organizations/a/b"):
        assert "resource" in violations_of(lambda resource=resource: list_(resource=resource))
    ada = person(suite)
    for size in (-1, 1001):
        assert "page_size" in violations_of(lambda size=size: list_(resource=ada, page_size=size))
    assert "page_token" in violations_of(lambda: list_(resource=ada, page_token="garbage"))
    for bad_filter in ("colour = 1", "current = maybe", "role:", "type = "):
        assert "filter" in violations_of(
            lambda bad_filter=bad_filter: list_(resource=ada, filter=bad_filter)
        ), bad_filter
    code, details = status_of(lambda: list_(resource="organizations/nothing"))
    assert code == grpc.StatusCode.NOT_FOUND and "organizations/nothing" in details

    # A token belongs to its record and filter.
    engines = organization(suite)
    for _ in range(2):
        link(suite, EMPLOYMENT, person(suite), engines)
    first = suite.contacts.ListRelationships(
        contacts.ListRelationshipsRequest(resource=engines, page_size=1)
    )
    assert first.next_page_token
    other = {"filter": "current = true", "page_token": first.next_page_token}
    assert "page_token" in violations_of(lambda: list_(resource=engines, **other))

    types = suite.contacts.ListRelationshipTypes
    assert "page_size" in violations_of(
        lambda: types(contacts.ListRelationshipTypesRequest(page_size=5000))
    )
    assert "page_token" in violations_of(
        lambda: types(contacts.ListRelationshipTypesRequest(page_token="%%%"))
    )


# --- Storage ---------------------------------------------------------------------


async def test_repointing_moves_both_ends_and_drops_self_links_and_duplicates(
    suite: Suite,
) -> None:
    reports_to = relationship_type(suite, "reports to", "manages", PERSON, PERSON).name
    ada_old, ada_new = person(suite, "Ada"), person(suite, "Ada L.")
    charles = person(suite, "Charles")
    engines, museum = organization(suite), organization(suite, "Science Museum")
    kept = link(suite, EMPLOYMENT, ada_new, engines, role="CTO")
    duplicate_open = link(suite, EMPLOYMENT, ada_old, engines, role="Analyst")
    past = link(suite, EMPLOYMENT, ada_old, museum, end_date=day(date(2001, 1, 1)))
    reports = link(suite, reports_to, ada_old, charles)
    manages = link(suite, reports_to, charles, ada_old)
    self_link = link(suite, reports_to, ada_old, ada_new)

    engine = create_engine(suite.database_urls["contacts"])
    try:
        async with session_factory(engine)() as session, session.begin():
            await repoint_relationships(session, ada_old, ada_new)
    finally:
        await engine.dispose()

    assert listed(suite, ada_old) == []
    survivors = {
        r.name: r
        for r in suite.contacts.ListRelationships(
            contacts.ListRelationshipsRequest(resource=ada_new)
        ).relationships
    }
    assert set(survivors) == {kept.name, past.name, reports.name, manages.name}
    assert survivors[kept.name] == kept  # what the survivor had is untouched
    assert getattr(survivors[reports.name], "from") == ada_new
    assert survivors[manages.name].to == ada_new
    assert survivors[past.name].etag != past.etag
    for dropped in (duplicate_open, self_link):
        request = contacts.GetRelationshipRequest(name=dropped.name)
        assert status_of(lambda request=request: suite.contacts.GetRelationship(request))[0] == (
            grpc.StatusCode.NOT_FOUND
        )


async def test_listing_reads_an_index_at_each_end(suite: Suite) -> None:
    query = list_query("people/someone", true(), None, 50)
    engine = create_engine(suite.database_urls["contacts"])
    try:
        async with engine.connect() as connection:
            sql = str(query.compile(connection, compile_kwargs={"literal_binds": True}))
            if connection.dialect.name == "sqlite":
                rows = await connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}")
            else:
                # Tiny test tables are cheapest to scan; ask whether an index can serve.
                await connection.exec_driver_sql("SET enable_seqscan = off")
                rows = await connection.exec_driver_sql(f"EXPLAIN {sql}")
            plan = "\n".join(str(row[-1]) for row in rows)
    finally:
        await engine.dispose()
    assert "ix_relationships_from" in plan and "ix_relationships_to" in plan, plan
