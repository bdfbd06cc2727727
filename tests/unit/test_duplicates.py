from datetime import UTC, datetime, timedelta
from itertools import combinations

import pytest

from crm_contacts.domain.duplicates import (
    DuplicateGroup,
    DuplicateReason,
    GroupPosition,
    MatchKey,
    NamedPerson,
    _Components,
    canonical_email,
    canonical_phone,
    match_keys,
    names_similar,
    normalise_name,
    similar_name_groups,
)

EMAIL, PHONE = DuplicateReason.SAME_EMAIL, DuplicateReason.SAME_PHONE
NAME = DuplicateReason.SIMILAR_NAME_SAME_ORGANIZATION
T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("address", "canonical"),
    [
        ("Ada@Example.com", "ada@example.com"),
        ("ada+crm@example.com", "ada@example.com"),
        ("ada+a+b@example.com", "ada@example.com"),
        # Dots matter outside Gmail.
        ("a.d.a@example.com", "a.d.a@example.com"),
        ("A.D.A+news@Gmail.com", "ada@gmail.com"),
        ("a.da@googlemail.com", "ada@gmail.com"),
        # Nothing before the tag: kept whole rather than matching "@x".
        ("+tag@example.com", "+tag@example.com"),
        ("  not-an-address ", "not-an-address"),
    ],
)
def test_canonical_email(address: str, canonical: str) -> None:
    assert canonical_email(address) == canonical


@pytest.mark.parametrize(
    ("number", "canonical"),
    [
        ("+44 20 7946 0958", "079460958"),
        ("0044 (20) 7946-0958", "079460958"),
        ("020 7946 0958", "079460958"),
        ("+1 (212) 555-0100", "125550100"),
        ("212.555.0100", "125550100"),
        # Short numbers compare in full, the 00 prefix still dropped.
        ("00 112", "112"),
        ("110", "110"),
        ("12345678", "12345678"),
        ("", ""),
    ],
)
def test_canonical_phone(number: str, canonical: str) -> None:
    assert canonical_phone(number) == canonical


def test_match_keys_are_unique_and_skip_empty_values() -> None:
    keys = match_keys(["ada@example.com", "Ada+x@example.com"], ["+44 20 7946 0958", "()"])
    assert keys == {MatchKey(EMAIL, "ada@example.com"), MatchKey(PHONE, "079460958")}


def test_normalise_name() -> None:
    assert normalise_name("  Zoë \t DU  Pré ") == "zoe du pre"
    assert normalise_name("STRAßE") == "strasse"


@pytest.mark.parametrize(
    ("first", "second", "similar"),
    [
        ("Ada Lovelace", "ada  LOVELACE", True),
        ("Ada Lovelace", "Ada Lovelaec", True),  # typo
        ("Ada Lovelace", "Adá Lovelace", True),
        ("A. Lovelace", "Ada Lovelace", True),
        ("A.Lovelace", "Augusta Lovelace", True),
        ("Ada K. Lovelace", "Ada King Lovelace", True),
        ("A. Lovelace", "B. Lovelace", False),
        ("A. Lovelace", "Ada Byron", False),
        ("Ada Lovelace", "Charles Babbage", False),
        ("Ada Lovelace", "Ada", False),
        ("Ann Lee", "Bob Lee", False),
        ("", "", False),
    ],
)
def test_names_similar(first: str, second: str, similar: bool) -> None:
    a, b = normalise_name(first), normalise_name(second)
    assert names_similar(a, b) is similar
    assert names_similar(b, a) is similar


def person(person_id: str, name: str, age: int) -> NamedPerson:
    return NamedPerson(person_id, name, T0 - timedelta(days=age))


def test_name_groups_are_components_oldest_first_without_singletons() -> None:
    people = [
        person("p1", "Ada Lovelace", age=1),
        person("p2", "Charles Babbage", age=5),
        person("p3", "A. Lovelace", age=3),
        person("p4", "Ada Lovelaec", age=2),
        person("p5", "Charles Babage", age=4),
        person("p6", "Mary Somerville", age=9),
    ]
    groups = similar_name_groups(people)
    assert [[p.id for p in group] for group in groups] == [["p2", "p5"], ["p3", "p4", "p1"]]


def test_name_groups_chain_through_a_common_neighbour() -> None:
    # "A. Lovelace" is like both, though they are not alike: one group.
    people = [
        person("x", "Ada Lovelace", 3),
        person("y", "A. Lovelace", 2),
        person("z", "Augusta Lovelace", 1),
    ]
    assert [p.id for p in similar_name_groups(people)[0]] == ["x", "y", "z"]


def test_among_many_names_every_similar_pair_is_found() -> None:
    # The candidate filters must not lose a pair the rule accepts: compare
    # with checking every pair of a crowd of alike names.
    given = ["Ada", "Adda", "Ida", "Anna", "Ann", "A.", "Hannah", "Jo", "Joe", "Bo"]
    family = ["Lovelace", "Lovelase", "Loveless", "Babbage", "Babage", "Lee", "Le", "Kingsley"]
    people = [
        person(f"p{i:03}", f"{g} {f}", i)
        for i, (g, f) in enumerate((g, f) for g in given for f in family)
    ]
    names = [normalise_name(p.full_name) for p in people]
    expected = _Components(len(people))
    for i, j in combinations(range(len(people)), 2):
        if names_similar(names[i], names[j]):
            expected.join(i, j)
    found = sorted(sorted(p.id for p in group) for group in similar_name_groups(people))
    assert found == sorted(map(sorted, _id_groups(people, expected)))
    assert len(found) > 5


def _id_groups(people: list[NamedPerson], components: _Components) -> list[list[str]]:
    return [[people[i].id for i in group] for group in components.groups() if len(group) > 1]


def test_group_position_is_reason_rank_evidence_and_first_member() -> None:
    assert DuplicateGroup(EMAIL, "a@x.io", ("q", "a")).position == GroupPosition(0, "a@x.io", "q")
    assert DuplicateGroup(PHONE, "123", ("z", "y")).position == GroupPosition(1, "123", "z")
    assert DuplicateGroup(NAME, "organizations/o", ("b", "c")).position == GroupPosition(
        2, "organizations/o", "b"
    )
