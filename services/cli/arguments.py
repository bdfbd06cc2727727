"""Argument types the `crm` command groups share."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from typing import Any


def enum_names(enum: Any, prefix: str) -> list[str]:
    return [v.name.removeprefix(prefix) for v in enum.DESCRIPTOR.values if v.number]


def enum_value(enum: Any, prefix: str) -> Callable[[str], int]:
    """Parses a value of `enum` by its short name, any case."""

    def parse(text: str) -> int:
        names = enum_names(enum, prefix)
        if text.upper() not in names:
            choices = ", ".join(name.lower() for name in names)
            raise argparse.ArgumentTypeError(f"not one of {choices}: {text!r}")
        return int(enum.Value(prefix + text.upper()))

    return parse


def limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError(f"not a number from 1 to 1000: {text!r}")
    return value


def resource(prefix: str) -> Callable[[str], str]:
    """Parses `prefix` + id, or a bare id."""

    def parse(text: str) -> str:
        name = text if "/" in text else prefix + text
        if not name.startswith(prefix) or not name.removeprefix(prefix):
            raise argparse.ArgumentTypeError(f"not like {prefix}ID: {text!r}")
        return name

    return parse


def slug(text: str) -> str:
    """An id from a label, as the services accept ids: "Closed won!" -> "closed-won"."""
    words = "".join(c if c.isascii() and c.isalnum() else " " for c in text.lower()).split()
    return "-".join(words)[:63].strip("-")


USER_ENV = "CRM_USER"
DEFAULT_USER = "users/me"


def user_argument(parser: argparse.ArgumentParser, what: str = "who you are") -> None:
    """--user, `users/ID` or ID, by default $CRM_USER: the suite has no
    authentication yet, so the identity is taken on trust."""
    parser.add_argument(
        "--user",
        type=resource("users/"),
        default=os.environ.get(USER_ENV, DEFAULT_USER),
        help=f"{what}, users/ID or ID (default ${USER_ENV} or {DEFAULT_USER})",
    )
