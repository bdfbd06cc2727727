"""ImportContacts and ExportContacts on SQLite and PostgreSQL, and the
`crm contacts import/export` commands around them."""

import io
import os
import subprocess
import sys
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path

import grpc
import pytest

from crm.contacts.v1 import contacts_service_pb2 as contacts
from crm.contacts.v1 import custom_field_pb2 as cf
from crm.contacts.v1 import person_pb2
from crm.support.v1 import support_service_pb2 as support
from crm_cli.contacts import write_csv
from crm_contacts.domain.custom_fields import ContactKind
from tests.integration.harness import Suite, eventually, field_violations, rpc_error

PERSON = cf.CONTACT_KIND_PERSON
ORGANIZATION = cf.CONTACT_KIND_ORGANIZATION
CRM = Path(sys.executable).with_name("crm")


def unique(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def requests(
    data: bytes, kind: int = PERSON, mappings: Mapping[str, str] | None = None, chunk: int = 65536
) -> list[contacts.ImportContactsRequest]:
    header = contacts.ImportHeader(kind=kind, column_mappings=mappings or {})
    return [contacts.ImportContactsRequest(header=header)] + [
        contacts.ImportContactsRequest(csv_data=data[i : i + chunk])
        for i in range(0, len(data), chunk)
    ]


def import_csv(
    suite: Suite,
    text: str,
    kind: int = PERSON,
    mappings: Mapping[str, str] | None = None,
    chunk: int = 65536,
) -> contacts.ImportContactsResponse:
    return suite.contacts.ImportContacts(iter(requests(text.encode(), kind, mappings, chunk)))


def counts(response: contacts.ImportContactsResponse) -> tuple[int, int, int, int]:
    return (
        response.created_count,
        response.updated_count,
        response.unchanged_count,
        response.failed_count,
    )


def define(suite: Suite, stem: str, field_type: int, *options: str) -> str:
    field_id = f"{stem}_{uuid.uuid4().hex[:8]}"
    suite.contacts.CreateCustomFieldDefinition(
        contacts.CreateCustomFieldDefinitionRequest(
            custom_field_definition=cf.CustomFieldDefinition(
                display_name=stem.title(),
                type=field_type,
                options=options,
                applies_to=[PERSON, ORGANIZATION],
            ),
            custom_field_definition_id=field_id,
        )
    )
    return field_id


def people_tagged(suite: Suite, tag: str) -> dict[str, person_pb2.Person]:
    """By display name."""
    found = suite.contacts.ListPeople(
        contacts.ListPeopleRequest(filter=f'tags:"{tag}"', page_size=1000)
    ).people
    return {person.display_name: person for person in found}


def export(suite: Suite, kind: int, filter_: str) -> list[contacts.ExportContactsResponse]:
    return list(
        suite.contacts.ExportContacts(contacts.ExportContactsRequest(kind=kind, filter=filter_))
    )


# --- Import ------------------------------------------------------------------------


def test_import_creates_then_changes_nothing_then_updates_what_changed(suite: Suite) -> None:
    region = define(suite, "region", cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, "EMEA", "APAC")
    score = define(suite, "score", cf.CUSTOM_FIELD_TYPE_NUMBER)
    tag, u = unique("t"), uuid.uuid4().hex[:8]
    csv_text = (
        f"given_name,family_name,email_addresses,tags,custom_fields.{region},custom_fields.{score}\n"
        f"Ada,Lovelace,ada-{u}@example.com (work),{tag};vip,emea,1.5\n"
        f"Bad,Row,not-an-email,{tag},Mars,\n"
        f"Grace,Hopper,grace-{u}@example.com,{tag},APAC,3\n"
    )

    first = import_csv(suite, csv_text)
    assert counts(first) == (2, 0, 0, 1)
    assert {(e.row, e.column) for e in first.errors} == {
        (2, "email_addresses"),
        (2, f"custom_fields.{region}"),
    }
    people = people_tagged(suite, tag)
    ada = people["Ada Lovelace"]
    assert ada.email_addresses[0].type == person_pb2.CONTACT_POINT_TYPE_WORK
    assert list(ada.tags) == [tag, "vip"]
    assert ada.custom_fields[region].option_value == "EMEA"
    assert ada.custom_fields[score].number_value == 1.5

    again = import_csv(suite, csv_text)
    assert counts(again) == (0, 0, 2, 1), again.errors
    assert people_tagged(suite, tag)["Ada Lovelace"].etag == ada.etag

    changed = import_csv(suite, csv_text.replace("APAC,3", "APAC,4"))
    assert counts(changed) == (0, 1, 1, 1)
    assert people_tagged(suite, tag)["Grace Hopper"].custom_fields[score].number_value == 4

    # Created and updated records are announced like any other change.
    customer = support.GetCustomerRequest(name=ada.name.replace("people/", "customers/"))
    assert eventually(lambda: suite.support.GetCustomer(customer)).display_name == "Ada Lovelace"


def test_rows_may_split_anywhere_across_chunks(suite: Suite) -> None:
    tag = unique("t")
    csv_text = (
        "given_name,family_name,background,tags\n"
        f'Zoë,Ó Briain,"first line\nsecond, with ""quotes"" 🙂",{tag}\n'
        f"Łukasz,Żółć,plain,{tag}\n"
    )
    assert counts(import_csv(suite, csv_text, chunk=5)) == (2, 0, 0, 0)
    people = people_tagged(suite, tag)
    assert people["Zoë Ó Briain"].background == 'first line\nsecond, with "quotes" 🙂'
    for chunk in (1, 2, 3, 7):
        assert counts(import_csv(suite, csv_text, chunk=chunk)) == (0, 0, 2, 0)


def test_a_person_twice_in_a_file_is_one_person(suite: Suite) -> None:
    tag, email = unique("t"), f"{unique('twice')}@example.com"
    csv_text = (
        "given_name,email_addresses,job_title,tags\n"
        f"Ada,{email},Analyst,{tag}\n"
        f"Ada,{email.upper()},Countess,{tag}\n"
    )
    assert counts(import_csv(suite, csv_text)) == (1, 1, 0, 0)
    (ada,) = people_tagged(suite, tag).values()
    assert ada.job_title == "Countess"


def test_rows_see_what_earlier_rows_of_the_file_did(suite: Suite) -> None:
    old, new = (f"{unique(stem)}@example.com" for stem in ("old", "new"))
    ada = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(
                given_name="Ada", email_addresses=[person_pb2.EmailAddress(address=old)]
            )
        )
    )
    # The first row moves Ada to a new address; the second takes up her old one.
    csv_text = f"name,given_name,email_addresses\n{ada.name},Ada,{new}\n,{unique('B')},{old}\n"
    assert counts(import_csv(suite, csv_text)) == (1, 1, 0, 0)
    owner = suite.contacts.ListPeople(
        contacts.ListPeopleRequest(filter=f'email_addresses:"{old}"')
    ).people
    assert [person.name for person in owner] != [ada.name] and len(owner) == 1


def test_a_row_whose_emails_belong_to_two_people_fails(suite: Suite) -> None:
    emails = [f"{unique('owner')}@example.com" for _ in range(2)]
    for email in emails:
        suite.contacts.CreatePerson(
            contacts.CreatePersonRequest(
                person=person_pb2.Person(
                    given_name="Owner", email_addresses=[person_pb2.EmailAddress(address=email)]
                )
            )
        )
    response = import_csv(suite, f"given_name,email_addresses\nBoth,{';'.join(emails)}\n")
    assert counts(response) == (0, 0, 0, 1)
    (error,) = response.errors
    assert (error.row, error.column) == (1, "email_addresses")
    assert "belongs to people/" in error.description


def test_organizations_by_mapped_columns_match_by_domain(suite: Suite) -> None:
    domain, sector = f"{unique('ae')}.example", unique("sector")
    mappings = {"Company": "display_name", "Web": "domains", "Sector": "industry"}
    csv_text = f"Company,Web,Sector,Ignored\nAnalytical Engines,{domain},{sector},x\n"
    assert counts(import_csv(suite, csv_text, ORGANIZATION, mappings)) == (1, 0, 0, 0)
    assert counts(import_csv(suite, csv_text, ORGANIZATION, mappings)) == (0, 0, 1, 0)
    renamed = csv_text.replace("Analytical Engines", "Analytical Engines Ltd")
    assert counts(import_csv(suite, renamed, ORGANIZATION, mappings)) == (0, 1, 0, 0)
    (found,) = export(suite, ORGANIZATION, f'industry = "{sector}"')
    assert found.organization.display_name == "Analytical Engines Ltd"
    assert list(found.organization.domains) == [domain]


def test_imported_people_are_found_like_created_ones(suite: Suite) -> None:
    """The bulk insert writes what a create writes: search index, duplicate keys."""
    surname, phone = unique("Babbage"), f"+44 20 {uuid.uuid4().int % 10**8:08d}"
    created = suite.contacts.CreatePerson(
        contacts.CreatePersonRequest(
            person=person_pb2.Person(
                given_name="Charles", phone_numbers=[person_pb2.PhoneNumber(number=phone)]
            )
        )
    )
    csv_text = f"given_name,family_name,phone_numbers\nC.,{surname},{phone}\n"
    assert counts(import_csv(suite, csv_text)) == (1, 0, 0, 0)
    hits = suite.contacts.SearchContacts(contacts.SearchContactsRequest(query=surname)).results
    (imported,) = [hit.person.name for hit in hits]
    assert any({created.name, imported} <= set(group.people) for group in duplicate_groups(suite))


def duplicate_groups(suite: Suite) -> list[contacts.DuplicateGroup]:
    groups: list[contacts.DuplicateGroup] = []
    token = ""
    while True:
        page = suite.contacts.FindDuplicatePeople(
            contacts.FindDuplicatePeopleRequest(page_size=100, page_token=token)
        )
        groups += page.groups
        token = page.next_page_token
        if not token:
            return groups


MALFORMED = {
    "empty stream": ([], "header"),
    "csv before the header": ([contacts.ImportContactsRequest(csv_data=b"a\n")], "header"),
    "no kind": (
        [
            contacts.ImportContactsRequest(header=contacts.ImportHeader()),
            contacts.ImportContactsRequest(csv_data=b"given_name\nAda\n"),
        ],
        "header.kind",
    ),
    "header only": (requests(b""), "csv_data"),
    "invalid UTF-8": (requests(b"given_name\nAd\xff\n"), "csv_data"),
    "a second header": (
        [
            *requests(b"given_name\n"),
            contacts.ImportContactsRequest(header=contacts.ImportHeader()),
        ],
        "csv_data",
    ),
    "an unknown field": (
        requests(b"X\n1\n", mappings={"X": "nope"}),
        'header.column_mappings["X"]',
    ),
    "no column maps": (requests(b"First,Last\nAda,L\n"), "csv_data"),
}


@pytest.mark.parametrize("case", list(MALFORMED))
def test_malformed_streams_are_invalid_arguments_naming_the_field(suite: Suite, case: str) -> None:
    messages, field = MALFORMED[case]
    error = rpc_error(lambda: suite.contacts.ImportContacts(iter(messages)))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in field_violations(error)


# --- Export ------------------------------------------------------------------------


def exported_csv(
    kind: ContactKind, custom_keys: list[str], responses: Iterable[contacts.ExportContactsResponse]
) -> str:
    out = io.StringIO()
    write_csv(out, kind, custom_keys, iter(responses))
    return out.getvalue()


def test_export_streams_what_the_filter_matches_and_reimports_unchanged(suite: Suite) -> None:
    region = define(suite, "region", cf.CUSTOM_FIELD_TYPE_SINGLE_SELECT, "EMEA", "APAC")
    when = define(suite, "since", cf.CUSTOM_FIELD_TYPE_DATE)
    tag, other = unique("t"), unique("t")
    csv_text = (
        f"given_name,family_name,email_addresses,phone_numbers,addresses,social_handles,"
        f"tags,custom_fields.{region},custom_fields.{when}\n"
        f"Ada,Lovelace,{unique('ada')}@example.com (work),+44 1 (mobile),"
        f'"[{{""city"": ""London"", ""type"": ""home""}}]",github:ada,{tag};x\\;y,EMEA,2024-05-01\n'
        f"Grace,Hopper,,,,,{tag},,\n"
        f"Alan,Turing,,,,,{other},APAC,\n"
    )
    assert counts(import_csv(suite, csv_text)) == (3, 0, 0, 0)

    found = export(suite, PERSON, f'tags:"{tag}"')
    assert sorted(r.person.given_name for r in found) == ["Ada", "Grace"]
    assert [
        r.person.given_name
        for r in export(suite, PERSON, f'custom_fields.{region} = "APAC" AND tags:"{other}"')
    ] == ["Alan"]

    again = exported_csv(ContactKind.PERSON, [region, when], found)
    assert counts(import_csv(suite, again)) == (0, 0, 2, 0)


def test_export_pages_through_every_record(suite: Suite) -> None:
    tag = unique("t")
    rows = "".join(f"P{i:04d},{tag}\n" for i in range(1234))
    assert counts(import_csv(suite, "given_name,tags\n" + rows)) == (1234, 0, 0, 0)
    names = [r.person.name for r in export(suite, PERSON, f'tags:"{tag}"')]
    assert len(names) == len(set(names)) == 1234
    assert names == sorted(names)


def test_export_refuses_a_bad_filter_and_a_missing_kind(suite: Suite) -> None:
    bad_filter = rpc_error(lambda: export(suite, PERSON, "nope = 1"))
    assert bad_filter.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "filter" in field_violations(bad_filter)
    no_kind = rpc_error(lambda: export(suite, cf.CONTACT_KIND_UNSPECIFIED, ""))
    assert "kind" in field_violations(no_kind)


# --- The command line ------------------------------------------------------------------


def crm(suite: Suite | None, *args: str) -> subprocess.CompletedProcess[str]:
    target = suite.processes["contacts"].address if suite else "127.0.0.1:1"
    return subprocess.run(
        [str(CRM), "contacts", *args],
        env={**os.environ, "CRM_CONTACTS_TARGET": target},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_crm_command_imports_and_exports_a_round_trip(suite: Suite, tmp_path: Path) -> None:
    tag = unique("t")
    source = tmp_path / "people.csv"
    source.write_text(
        f"First,Last,E-mail,Labels\nAda,Lovelace,{unique('ada')}@example.com,{tag}\n"
        f"Grace,{unique('Hopper')},,{tag}\n,,,{tag}\n",
        encoding="utf-8",
    )
    maps = ["--map", "First=given_name", "--map", "Last=family_name"]
    maps += ["--map", "E-mail=email_addresses", "--map", "Labels=tags"]

    imported = crm(suite, "import", str(source), *maps)
    assert imported.returncode == 1, imported.stderr  # one row failed
    assert "people.csv: 2 created, 0 updated, 0 unchanged, 1 failed" in imported.stdout
    assert "ROW  COLUMN  ERROR" in imported.stdout
    assert "a person needs a given or a family name" in imported.stdout

    exported = tmp_path / "out.csv"
    result = crm(suite, "export", "--filter", f'tags:"{tag}"', "--output", str(exported))
    assert result.returncode == 0, result.stderr
    assert "Exported 2 people" in result.stderr
    assert exported.read_text(encoding="utf-8").startswith("name,given_name,family_name,")

    again = crm(suite, "import", str(exported))
    assert again.returncode == 0, again.stdout + again.stderr
    assert "out.csv: 0 created, 0 updated, 2 unchanged, 0 failed" in again.stdout


def test_the_crm_command_reports_refusals_and_unreachable_services(
    suite: Suite, tmp_path: Path
) -> None:
    source = tmp_path / "bad.csv"
    source.write_text("given_name\nAda\n", encoding="utf-8")
    refused = crm(suite, "import", str(source), "--map", "given_name=nope")
    assert refused.returncode == 1
    assert 'header.column_mappings["given_name"]' in refused.stderr

    unreachable = crm(None, "export")
    assert unreachable.returncode == 1
    assert "cannot reach the contacts service at 127.0.0.1:1" in unreachable.stderr
    missing = crm(None, "import", str(tmp_path / "missing.csv"))
    assert missing.returncode == 1
    assert "cannot read" in missing.stderr
