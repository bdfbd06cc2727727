"""SearchContacts on SQLite (FTS5) and PostgreSQL (tsvector + GIN).

The suite's data is shared by the module, so every test searches for words
only it uses (`word()`).
"""

import random
import string

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import custom_field_pb2, organization_pb2, person_pb2
from tests.integration.harness import Suite, field_violations, rpc_error

PERSON = custom_field_pb2.CONTACT_KIND_PERSON
ORGANIZATION = custom_field_pb2.CONTACT_KIND_ORGANIZATION


def word() -> str:
    """A word no other test uses; letters only, as names have."""
    return "".join(random.choices(string.ascii_lowercase, k=10))


def person(suite: Suite, given: str, family: str, *emails: str) -> person_pb2.Person:
    return suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(
                given_name=given,
                family_name=family,
                email_addresses=[person_pb2.EmailAddress(address=e) for e in emails],
            )
        )
    )


def organization(suite: Suite, display_name: str, *domains: str) -> organization_pb2.Organization:
    return suite.contacts.CreateOrganization(
        contacts.CreateOrganizationRequest(
            organization=organization_pb2.Organization(
                display_name=display_name, domains=list(domains)
            )
        )
    )


def search(suite: Suite, query: str, **request: object) -> contacts.SearchContactsResponse:
    return suite.contacts.SearchContacts(contacts.SearchContactsRequest(query=query, **request))


def found(suite: Suite, query: str, **request: object) -> list[str]:
    """The resource names hit, best first."""
    return [
        getattr(result, result.WhichOneof("result")).name
        for result in search(suite, query, **request).results
    ]


def test_finds_people_by_names_prefixes_and_emails(suite: Suite) -> None:
    given, family, local = word(), word(), word()
    ada = person(suite, given.title(), family.title(), f"{local}@{family}.example")
    other = person(suite, "Someone", "Else", f"someone@{word()}.example")

    for query in (
        given,
        family.upper(),
        f"{given} {family}",
        f"{family} {given}",
        family[:5],  # the last word matches as a prefix
        f"{given} {family[:4]}",
        f"{local}@{family}.example",
        f"{local}@{family}.exa",
        local,
    ):
        assert found(suite, query) == [ada.name], query
    result = search(suite, given).results[0]
    assert result.WhichOneof("result") == "person"
    assert result.person == ada
    assert other.name not in found(suite, given)
    # Only the last word is a prefix; the others must match whole.
    assert found(suite, f"{given[:4]} {family}") == []


def test_finds_organizations_by_name_and_domain(suite: Suite) -> None:
    name, domain = word(), word()
    engines = organization(suite, f"{name.title()} Engines Ltd", f"{domain}-engines.example")

    for query in (name, f"{name} engines", name[:6], f"{domain}-engines.example", domain):
        assert found(suite, query) == [engines.name], query
    result = search(suite, name).results[0]
    assert result.WhichOneof("result") == "organization"
    assert result.organization == engines


def test_the_index_follows_updates_and_deletes(suite: Suite) -> None:
    old, new, mail = word(), word(), word()
    ada = person(suite, "Ada", old, f"{mail}@example.com")
    renamed = suite.contacts.UpdatePerson(
        contacts.UpdatePersonRequest(
            person=person_pb2.Person(
                name=ada.name,
                family_name=new,
                email_addresses=[person_pb2.EmailAddress(address=f"{new}@example.com")],
                etag=ada.etag,
            ),
            update_mask=FieldMask(paths=["family_name", "email_addresses"]),
        )
    )
    assert found(suite, new) == [ada.name]
    assert found(suite, old) == []
    assert found(suite, mail) == []
    # A change elsewhere in the record leaves the index as it was.
    retitled = suite.contacts.UpdatePerson(
        contacts.UpdatePersonRequest(
            person=person_pb2.Person(name=ada.name, job_title="Analyst", etag=renamed.etag),
            update_mask=FieldMask(paths=["job_title"]),
        )
    )
    assert found(suite, new) == [ada.name]
    suite.contacts.DeletePerson(contacts.DeletePersonRequest(name=ada.name, etag=retitled.etag))
    assert found(suite, new) == []

    firm = word()
    org = organization(suite, firm, f"{firm}.example")
    suite.contacts.DeleteOrganization(contacts.DeleteOrganizationRequest(name=org.name))
    assert found(suite, firm) == []


def test_kind_restricts_the_results(suite: Suite) -> None:
    shared = word()
    someone = person(suite, shared, "Person")
    firm = organization(suite, f"{shared} Holdings")

    assert set(found(suite, shared)) == {someone.name, firm.name}
    assert found(suite, shared, kind=PERSON) == [someone.name]
    assert found(suite, shared, kind=ORGANIZATION) == [firm.name]
    unknown = rpc_error(lambda: search(suite, shared, kind=7))
    assert "kind" in field_violations(unknown)


def test_best_matches_come_first(suite: Suite) -> None:
    term = word()
    by_prefix = person(suite, f"{term}son", "Prefix")
    by_email = person(suite, "Mail", "Only", f"{term}@example.com")
    by_name = person(suite, term, "Whole")

    ranked = found(suite, term)
    assert set(ranked) == {by_prefix.name, by_email.name, by_name.name}
    # A whole word in the name beats a name that only starts with it and a
    # match in an email address alone.
    assert ranked[0] == by_name.name


def test_pages_walk_the_ranking_once(suite: Suite) -> None:
    team = word()
    whole = {person(suite, team, f"Member {i}").name for i in range(5)}
    prefixed = {person(suite, f"{team}s", f"Fan {i}").name for i in range(4)}
    seen: list[str] = []
    token = ""
    while True:
        page = search(suite, team, page_size=2, page_token=token)
        seen += [result.person.name for result in page.results]
        token = page.next_page_token
        if not token:
            break
        assert len(page.results) == 2
    assert len(seen) == 9
    # Whole-word matches first, then those found by the prefix, each once.
    assert set(seen[:5]) == whole and set(seen[5:]) == prefixed
    assert len(search(suite, team).results) == 9  # 20 by default

    first = search(suite, team, page_size=3)
    for request, field in (
        ({"query": word(), "page_token": first.next_page_token}, "page_token"),
        ({"query": team, "kind": PERSON, "page_token": first.next_page_token}, "page_token"),
        ({"query": team, "page_token": "%%%"}, "page_token"),
        ({"query": team, "page_size": 101}, "page_size"),
        ({"query": team, "page_size": -1}, "page_size"),
    ):
        error = rpc_error(
            lambda request=request: suite.contacts.SearchContacts(
                contacts.SearchContactsRequest(**request)
            )
        )
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, request
        assert field in field_violations(error), request


def test_hostile_queries_are_answered_or_refused_never_failing(suite: Suite) -> None:
    canary = person(suite, "Robert", "Tables")
    for query in (
        '"',
        '""',
        "*",
        "'",
        "\\",
        "AND OR NOT",
        "NEAR(a b)",
        "a:b ^c -d +e",
        "(unbalanced",
        "'; DROP TABLE people; --",
        "%_%",
        # Letters that unaccent turns into a quote, a slash and brackets.
        "\u02bc \u00bd \u2474 \u0149",
        "李小龙 Ελένη ЖАННА 🙂",
        "\u0301\u200b",
        "a" * 200,
        " ".join("x" * 99 + "y"),
    ):
        search(suite, query)
    assert suite.contacts.GetPerson(contacts.GetPersonRequest(name=canary.name)) == canary
    assert canary.name in found(suite, "'; tables --")

    for query, description in (
        ("", "is required"),
        (" \t\n", "is required"),
        ("a" * 201, "at most 200"),
        ("x" * 10_000, "at most 200"),
    ):
        error = rpc_error(lambda query=query: search(suite, query))
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert description in field_violations(error)["query"]


def test_accents_and_case_do_not_matter(suite: Suite) -> None:
    family = word()
    zoe = person(suite, "Zoë Élodie", f"Müller{family}")

    for query in (f"zoe muller{family}", f"ZOË ÉLODIE MÜLLER{family}", "élodie zoe mull"):
        assert zoe.name in found(suite, query), query
    # The same holds beyond Latin letters: SQLite and PostgreSQL (ICU) fold case everywhere.
    greek = person(suite, "ΕΛΈΝΗ", family)
    assert found(suite, f"ελένη {family}") == [greek.name]
