import pytest
from google.protobuf.field_mask_pb2 import FieldMask

from crm.contacts.v1.person_pb2 import Person
from crm_common.errors import Aborted, InvalidArgument
from crm_common.etags import check_etag, etag_for
from crm_common.fieldmask import resolve_update_mask

UPDATABLE = ("given_name", "family_name", "tags")


def test_empty_mask_means_the_populated_fields() -> None:
    person = Person(name="people/1", given_name="Ada", tags=["x"])
    assert resolve_update_mask(FieldMask(), person, UPDATABLE) == {"given_name", "tags"}


def test_star_means_every_updatable_field() -> None:
    assert resolve_update_mask(FieldMask(paths=["*"]), Person(), UPDATABLE) == set(UPDATABLE)


def test_unknown_and_read_only_paths_are_named() -> None:
    with pytest.raises(InvalidArgument) as error:
        resolve_update_mask(FieldMask(paths=["shoe_size", "create_time"]), Person(), UPDATABLE)
    descriptions = [v.description for v in error.value.violations]
    assert descriptions == [
        "'shoe_size' is not a field of the resource",
        "'create_time' cannot be updated",
    ]


def test_etag_check() -> None:
    check_etag("", 3, "people/1")
    check_etag(etag_for(3), 3, "people/1")
    with pytest.raises(Aborted):
        check_etag(etag_for(2), 3, "people/1")
