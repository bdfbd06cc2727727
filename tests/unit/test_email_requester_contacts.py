"""The contacts side of requesters known by email: the person made of an address
and a display name, and one durable consumer per source for several concerns."""

import asyncio

import pytest

from crm.events.v1.event_pb2 import Event
from crm_common.messaging.consumer import EventHandler, Subscription
from crm_common.messaging.uow import UnitOfWork
from crm_contacts.domain.contact_points import NAME_MAX, EmailAddress
from crm_contacts.domain.requesters import requester_details, split_name
from crm_contacts.events.subscriptions import one_per_source


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("Ada Lovelace", ("Ada", "Lovelace")),
        ("Grace Brewster  Hopper", ("Grace Brewster", "Hopper")),
        ("Lovelace, Ada", ("Ada", "Lovelace")),
        ('"Lovelace, Ada"', ("Ada", "Lovelace")),
        ("Ada", ("Ada", "")),
        ("王小明", ("王小明", "")),
        ("", ("", "")),
        ("  ", ("", "")),
        ("Smith, Jones, Ann", ("Smith Jones", "Ann")),
    ],
)
def test_display_names_split_into_given_and_family(name: str, expected: tuple[str, str]) -> None:
    assert split_name(name) == expected


def test_a_requester_gets_the_name_the_sender_gave() -> None:
    details = requester_details("Ada@Example.COM", "Ada Lovelace")
    assert (details.given_name, details.family_name) == ("Ada", "Lovelace")
    assert details.email_addresses == (EmailAddress("ada@example.com"),)


def test_without_a_name_the_local_part_is_the_given_name() -> None:
    details = requester_details("ada.l@example.com", "")
    assert (details.given_name, details.family_name) == ("ada.l", "")


def test_names_are_cut_to_what_a_person_holds() -> None:
    details = requester_details("a@example.com", "G" * 500 + " " + "F" * 500)
    assert (len(details.given_name), len(details.family_name)) == (NAME_MAX, NAME_MAX)


def test_subscriptions_to_one_source_share_one_consumer() -> None:
    calls: list[str] = []

    def handler(label: str) -> EventHandler:
        async def handle(event: Event, uow: UnitOfWork) -> None:
            calls.append(f"{label}:{event.type}")

        return handle

    merged = one_per_source(
        Subscription("support", {"ticket.created": handler("a"), "ticket.solved": handler("a")}),
        Subscription("sales", {"opportunity.won": handler("s")}),
        Subscription("support", {"ticket.created": handler("b"), "ticket.updated": handler("b")}),
    )
    assert [(s.source, sorted(s.handlers)) for s in merged] == [
        ("support", ["ticket.created", "ticket.solved", "ticket.updated"]),
        ("sales", ["opportunity.won"]),
    ]
    uow = UnitOfWork(None, "contacts")  # type: ignore[arg-type]
    asyncio.run(merged[0].handlers["ticket.created"](Event(type="ticket.created"), uow))
    assert calls == ["a:ticket.created", "b:ticket.created"]
