"""`crm contacts ...`: people and organizations in and out as CSV.

`crm contacts import FILE.csv` streams the file to ImportContacts in 64 KiB
chunks and prints the counts and the rows that failed; importing the same
file again changes nothing. `crm contacts export` writes every record a
filter matches as CSV, in the format import reads (the cell formats are
crm_contacts.domain.transfer's), so an export re-imports unchanged.

Both talk to the contacts service at $CRM_CONTACTS_TARGET (127.0.0.1:50051).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TextIO

import grpc

from crm.contacts.v1 import contacts_service_pb2 as pb
from crm.contacts.v1 import custom_field_pb2
from crm.contacts.v1.contacts_service_pb2_grpc import ContactsServiceStub
from crm_cli.rpc import CommandError, connected_stub, field_violations
from crm_cli.tables import format_table, shorten
from crm_contacts.custom_field_proto import definition_id_from_name
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.transfer import export_cells, export_header
from crm_contacts.organization_proto import organization_details_from_proto
from crm_contacts.proto import details_from_proto

TARGET_ENV = "CRM_CONTACTS_TARGET"
DEFAULT_TARGET = "127.0.0.1:50051"
CHUNK_SIZE = 64 * 1024
DESCRIPTION_WIDTH = 80
# As the services accept: one exported record may be large.
MAX_MESSAGE_BYTES = 4 * 1024 * 1024

_KINDS = {
    "person": (ContactKind.PERSON, custom_field_pb2.CONTACT_KIND_PERSON),
    "organization": (ContactKind.ORGANIZATION, custom_field_pb2.CONTACT_KIND_ORGANIZATION),
}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    contacts = subparsers.add_parser(
        "contacts",
        help="import and export people and organizations as CSV",
        description=f"People and organizations as CSV, with the contacts service at "
        f"${TARGET_ENV} (default {DEFAULT_TARGET}).",
    )
    commands = contacts.add_subparsers(title="commands", metavar="COMMAND", required=True)

    importing = commands.add_parser(
        "import",
        help="create or update records from a CSV file; running it again changes nothing",
        description=(
            "Creates or updates one record per row. Columns named after fields "
            "(given_name, email_addresses, custom_fields.region, ...) map to them unless "
            "--map says otherwise. Exits with 1 when any row failed."
        ),
    )
    importing.add_argument("file", type=Path, metavar="FILE.csv", help="UTF-8 CSV, header first")
    _kind_argument(importing)
    importing.add_argument(
        "--map",
        action="append",
        type=column_mapping,
        default=[],
        metavar="COLUMN=FIELD",
        help="map a column to a field, e.g. 'E-mail=email_addresses' (repeatable); "
        "with any --map, unmapped columns are ignored",
    )
    importing.set_defaults(func=import_command)

    exporting = commands.add_parser(
        "export",
        help="write the records a filter matches as CSV",
        description="Writes every record matching --filter as CSV, custom fields as "
        "custom_fields.<id> columns; erased people are left out.",
    )
    _kind_argument(exporting)
    exporting.add_argument(
        "--filter", default="", help='AIP-160 filter as for List, e.g. tags:"vip"'
    )
    exporting.add_argument("--output", type=Path, metavar="FILE", help="default: stdout")
    exporting.set_defaults(func=export_command)


def _kind_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--kind", choices=list(_KINDS), default="person", help="what the rows are (default person)"
    )


def column_mapping(text: str) -> tuple[str, str]:
    # Field names hold no "=", column headers might.
    column, equals, target = text.rpartition("=")
    if not equals or not column.strip():
        raise argparse.ArgumentTypeError(f"not COLUMN=FIELD: {text!r}")
    return column.strip(), target.strip()


def import_command(args: argparse.Namespace) -> int:
    try:
        source = args.file.open("rb")
    except OSError as error:
        print(f"crm contacts: cannot read {args.file}: {error.strerror}", file=sys.stderr)
        return 1
    with source:
        header = pb.ImportHeader(kind=_KINDS[args.kind][1], column_mappings=dict(args.map))
        try:
            with _stub() as stub:
                result = stub.ImportContacts(_import_requests(header, source))
        except CommandError as error:
            print(f"crm contacts: {error}", file=sys.stderr)
            return 1
    print(import_summary(args.file.name, result))
    return 1 if result.failed_count else 0


def export_command(args: argparse.Namespace) -> int:
    kind, kind_number = _KINDS[args.kind]
    try:
        with _stub() as stub, _output(args.output) as out:
            custom_keys = _custom_field_ids(stub, kind_number)
            request = pb.ExportContactsRequest(kind=kind_number, filter=args.filter)
            count = write_csv(out, kind, custom_keys, stub.ExportContacts(request))
    except CommandError as error:
        print(f"crm contacts: {error}", file=sys.stderr)
        return 1
    plural = kind.plural if count != 1 else kind.value
    print(f"Exported {count} {plural} to {args.output or 'stdout'}.", file=sys.stderr)
    return 0


def _import_requests(
    header: pb.ImportHeader, source: IO[bytes]
) -> Iterator[pb.ImportContactsRequest]:
    yield pb.ImportContactsRequest(header=header)
    while chunk := source.read(CHUNK_SIZE):
        yield pb.ImportContactsRequest(csv_data=chunk)


def import_summary(file_name: str, result: pb.ImportContactsResponse) -> str:
    lines = [
        f"{file_name}: {result.created_count} created, {result.updated_count} updated, "
        f"{result.unchanged_count} unchanged, {result.failed_count} failed"
    ]
    if result.errors:
        rows = [("ROW", "COLUMN", "ERROR")]
        rows += [
            (str(e.row), e.column, shorten(e.description, DESCRIPTION_WIDTH)) for e in result.errors
        ]
        lines += ["", format_table(rows)]
    shown = len({e.row for e in result.errors})
    if result.failed_count > shown:
        lines.append(f"\n(the errors of {shown} of the {result.failed_count} failed rows shown)")
    return "\n".join(lines)


def write_csv(
    out: TextIO,
    kind: ContactKind,
    custom_keys: Sequence[str],
    responses: Iterator[pb.ExportContactsResponse],
) -> int:
    """Writes the header and one row per record; returns how many records were written."""
    writer = csv.writer(out)
    writer.writerow(export_header(kind, custom_keys))
    count = 0
    for response in responses:
        if response.HasField("person"):
            person = response.person
            if person.erased:  # a tombstone has nothing to export
                continue
            details = details_from_proto(person)
            record_id = person.name.removeprefix("people/")
        else:
            details = organization_details_from_proto(response.organization)
            record_id = response.organization.name.removeprefix("organizations/")
        writer.writerow(export_cells(kind, record_id, details, custom_keys))
        count += 1
    return count


def _custom_field_ids(stub: ContactsServiceStub, kind: int) -> list[str]:
    """The ids of the custom fields that apply to `kind`, in id order."""
    ids: list[str] = []
    token = ""
    while True:
        page = stub.ListCustomFieldDefinitions(
            pb.ListCustomFieldDefinitionsRequest(page_size=1000, page_token=token)
        )
        ids += [
            definition_id_from_name(d.name)
            for d in page.custom_field_definitions
            if kind in d.applies_to
        ]
        token = page.next_page_token
        if not token:
            return ids


@contextmanager
def _stub() -> Iterator[ContactsServiceStub]:
    options = [
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
    ]
    with connected_stub(
        ContactsServiceStub, "contacts", TARGET_ENV, DEFAULT_TARGET, describe_rpc_error, options
    ) as stub:
        yield stub


def describe_rpc_error(error: grpc.RpcError) -> str:
    """The status and, for INVALID_ARGUMENT, each field violation."""
    code = error.code()  # type: ignore[attr-defined]
    violations = field_violations(error)
    if not violations:
        return f"{code.name}: {error.details()}"  # type: ignore[attr-defined]
    lines = "".join(f"\n  {field}: {description}" for field, description in violations)
    return f"{code.name}: the service refused the request:{lines}"


@contextmanager
def _output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a file that appears complete or not at all (written aside, then renamed)."""
    if path is None:
        yield sys.stdout
        return
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {error.strerror}") from None
    try:
        with open(descriptor, "w", encoding="utf-8", newline="") as handle:
            yield handle
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)
