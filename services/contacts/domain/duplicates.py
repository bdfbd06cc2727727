"""Which people are likely one person: the matching rules, as pure functions.

Three reasons make people look alike, each with its own evidence:

- **Same email** (`canonical_email`): lower-cased, `+tag` dropped from the
  local part, and for Gmail (`gmail.com`, `googlemail.com`, the same
  mailboxes) the dots in the local part dropped and the domain read as
  `gmail.com`. Other providers may treat dots as significant, so only Gmail's
  are ignored.
- **Same phone** (`canonical_phone`): digits only, a leading `00` (the
  international call prefix, like `+`) dropped; numbers of 9 or more digits
  are then compared by their last 9 digits, shorter ones in full. The last 9
  digits are the subscriber number in most numbering plans, so
  `+44 20 7946 0958`, `0044 20 7946 0958` and `020 7946 0958` (country code
  vs. national trunk prefix) all match. Different countries' numbers can share
  9 trailing digits; for a *likely duplicate* hint that rarity is accepted.
- **Similar name at the same organization** (`similar_name_groups`): among the
  people currently employed by one organization, full names normalised
  (`normalise_name`) that are equal, or `difflib` ratio >= 0.88 (typos), or
  initials-compatible ("A. Lovelace" ~ "Ada Lovelace"); but never when an
  initial contradicts the other name ("A. Lovelace" vs "B. Lovelace" is 0.91
  alike, yet two people). Similarity is not transitive; groups are its
  connected components.
"""

import difflib
import math
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import combinations

# The built-in relationship type (migration 0005) that says where someone works.
EMPLOYMENT_TYPE_ID = "employment"

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
PHONE_TAIL_DIGITS = 9
NAME_RATIO = 0.88


class DuplicateReason(StrEnum):
    """Why people look alike; email and phone keys are stored under these values."""

    SAME_EMAIL = "email"
    SAME_PHONE = "phone"
    SIMILAR_NAME_SAME_ORGANIZATION = "name"


# The order in which FindDuplicatePeople lists groups: all email groups, then
# phone, then name groups; a page token says where in it a page ended.
REASON_ORDER = (
    DuplicateReason.SAME_EMAIL,
    DuplicateReason.SAME_PHONE,
    DuplicateReason.SIMILAR_NAME_SAME_ORGANIZATION,
)


@dataclass(frozen=True)
class MatchKey:
    """A canonical email or phone of a person; people sharing one look alike."""

    reason: DuplicateReason
    key: str


@dataclass(frozen=True)
class GroupPosition:
    """Where a group is listed: by reason, then evidence (in the database's
    collation), then its oldest member's id.

    Unique per group: email and phone groups are one per evidence, and the
    name groups of one organization are disjoint.
    """

    reason_rank: int
    evidence: str
    first_person_id: str


@dataclass(frozen=True)
class DuplicateGroup:
    reason: DuplicateReason
    # The canonical email or phone, or the organization's resource name.
    evidence: str
    # Ids, oldest first.
    people: tuple[str, ...]

    @property
    def position(self) -> GroupPosition:
        return GroupPosition(REASON_ORDER.index(self.reason), self.evidence, self.people[0])


# --- Emails and phones ----------------------------------------------------------


def canonical_email(address: str) -> str:
    """The mailbox an address delivers to, as far as the rules above can tell."""
    address = address.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return address
    # "+tag@x" has no mailbox before the tag: keep it whole rather than match "@x".
    local = local.split("+", 1)[0] or local
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", "") or local, "gmail.com"
    return f"{local}@{domain}"


def canonical_phone(number: str) -> str:
    """The digits a number is compared by; empty when it has none."""
    digits = "".join(c for c in number if "0" <= c <= "9").removeprefix("00")
    return digits[-PHONE_TAIL_DIGITS:]


def match_keys(emails: Iterable[str], phones: Iterable[str]) -> frozenset[MatchKey]:
    """The keys of one person, each once (two addresses may share a mailbox)."""
    keys = {MatchKey(DuplicateReason.SAME_EMAIL, canonical_email(e)) for e in emails}
    keys |= {MatchKey(DuplicateReason.SAME_PHONE, canonical_phone(p)) for p in phones}
    return frozenset(key for key in keys if key.key)


# --- Names ----------------------------------------------------------------------


@dataclass(frozen=True)
class NamedPerson:
    """A person as the name rule sees them."""

    id: str
    full_name: str
    create_time: datetime


def normalise_name(name: str) -> str:
    """Case-folded, accents stripped, whitespace collapsed: "  Zoë  DU Pré" -> "zoe du pre"."""
    decomposed = unicodedata.normalize("NFKD", name.casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.split())


def names_similar(first: str, second: str) -> bool:
    """Whether two normalised full names likely name one person."""
    if not first or not second:
        return False
    if first == second or _initials_compatible(first, second):
        return True
    if _initials_conflict(first, second):
        return False
    matcher = difflib.SequenceMatcher(None, first, second, autojunk=False)
    # The cheap upper bounds first: most pairs fail on them.
    return (
        matcher.real_quick_ratio() >= NAME_RATIO
        and matcher.quick_ratio() >= NAME_RATIO
        and matcher.ratio() >= NAME_RATIO
    )


def similar_name_groups(people: Sequence[NamedPerson]) -> list[tuple[NamedPerson, ...]]:
    """Groups of people with similar names (two or more), each oldest first,
    in order of their oldest member's id."""
    names = [normalise_name(person.full_name) for person in people]
    components = _Components(len(people))
    for i, j in _candidate_pairs(names):
        if not components.joined(i, j) and names_similar(names[i], names[j]):
            components.join(i, j)
    groups = [
        tuple(sorted((people[i] for i in members), key=lambda p: (p.create_time, p.id)))
        for members in components.groups()
        if len(members) > 1
    ]
    return sorted(groups, key=lambda group: group[0].id)


def _tokens(name: str) -> list[str]:
    # Dots only mark initials: "a.lovelace" and "a. lovelace" are both ["a", "lovelace"].
    return name.replace(".", " ").split()


def _initials_compatible(first: str, second: str) -> bool:
    """Same family name (the last word), and each other word equal or an initial of it."""
    left, right = _tokens(first), _tokens(second)
    if len(left) != len(right) or len(left) < 2:
        return False
    if left[-1] != right[-1] or len(left[-1]) < 2:
        return False
    return all(_same_or_initial(a, b) for a, b in zip(left[:-1], right[:-1], strict=True))


def _same_or_initial(a: str, b: str) -> bool:
    return a == b or (len(a) == 1 and b.startswith(a)) or (len(b) == 1 and a.startswith(b))


def _initials_conflict(first: str, second: str) -> bool:
    """An initial against a word it does not start: "A. Lovelace" and "B. Lovelace"
    differ on purpose, however alike the rest of the two names is."""
    left, right = _tokens(first), _tokens(second)
    return len(left) == len(right) and any(
        (len(a) == 1 or len(b) == 1) and not _same_or_initial(a, b)
        for a, b in zip(left, right, strict=True)
    )


def _candidate_pairs(names: Sequence[str]) -> Iterator[tuple[int, int]]:
    """Every pair `names_similar` could accept, without comparing all pairs:
    equal names, names sharing their last word (initials), and names sharing
    enough letter pairs for the ratio (`_ratio_candidates`)."""
    for block in (_blocks(names, lambda name: name), _blocks(names, _family_word)):
        for members in block:
            yield from combinations(members, 2)
    yield from _ratio_candidates(names)


def _family_word(name: str) -> str | None:
    tokens = _tokens(name)
    return tokens[-1] if len(tokens) >= 2 else None


def _blocks(names: Sequence[str], key: Callable[[str], str | None]) -> list[list[int]]:
    blocks: dict[str, list[int]] = defaultdict(list)
    for index, name in enumerate(names):
        value = key(name)
        if value is not None:
            blocks[value].append(index)
    return [members for members in blocks.values() if len(members) > 1]


# Why letter pairs find every pair with ratio >= R (R = NAME_RATIO): ratio is
# 2M/T, M the characters in the k matching blocks, T both lengths. A block of
# size s holds s-1 letter pairs of one name found in the other, so the names
# share at least M-k pairs; between two blocks at least one character is
# unmatched, so k-1 <= T-2M <= (1-R)T. Hence they share at least
# (1/2 - 3(1-R)/2)T - 1 pairs.
_SHARED_PAIRS_PER_CHARACTER = (1 - 3 * (1 - NAME_RATIO)) / 2


def _shared_pairs_needed(total_length: int) -> int:
    return math.ceil(_SHARED_PAIRS_PER_CHARACTER * total_length - 1)


def _ratio_candidates(names: Sequence[str]) -> Iterator[tuple[int, int]]:
    """Pairs that may reach NAME_RATIO, by prefix filtering on letter pairs.

    A name needing `needed` of its pairs in any name at least as long (T is
    then at least twice its length) finds every such name through its
    `len(pairs) - needed + 1` rarest pairs, each looked up in an index: short
    lists instead of every other name. The exact bound for each pair's T then
    discards most of them before difflib runs.
    """
    pairs = [_letter_pairs(name) for name in names]
    pair_sets = [set(held) for held in pairs]
    holders: dict[tuple[str, int], list[int]] = defaultdict(list)
    for index, held in enumerate(pairs):
        for pair in held:
            holders[pair].append(index)
    for index, name in enumerate(names):
        needed = _shared_pairs_needed(2 * len(name))
        if needed < 1:  # a single letter is only ever equal to another
            continue
        rarest = sorted(pairs[index], key=lambda pair: (len(holders[pair]), pair))
        found: set[int] = set()
        for pair in rarest[: len(rarest) - needed + 1]:
            found.update(holders[pair])
        for other in found:
            total = len(name) + len(names[other])
            if (
                other != index
                and _lengths_allow(len(name), len(names[other]))
                and len(pair_sets[index] & pair_sets[other]) >= _shared_pairs_needed(total)
            ):
                yield index, other


def _letter_pairs(name: str) -> list[tuple[str, int]]:
    """The name's two-character substrings, repeats numbered so they count as a multiset."""
    seen: dict[str, int] = defaultdict(int)
    result = []
    for start in range(len(name) - 1):
        pair = name[start : start + 2]
        seen[pair] += 1
        result.append((pair, seen[pair]))
    return result


def _lengths_allow(shorter: int, other: int) -> bool:
    """`other` is at least as long, and the lengths alone allow NAME_RATIO."""
    return other >= shorter and 2 * shorter >= NAME_RATIO * (shorter + other)


class _Components:
    """Union-find over 0..n-1: which items similarity has joined."""

    def __init__(self, size: int) -> None:
        self._parent = list(range(size))

    def _root(self, item: int) -> int:
        while self._parent[item] != item:
            self._parent[item] = self._parent[self._parent[item]]
            item = self._parent[item]
        return item

    def joined(self, a: int, b: int) -> bool:
        return self._root(a) == self._root(b)

    def join(self, a: int, b: int) -> None:
        self._parent[self._root(a)] = self._root(b)

    def groups(self) -> list[list[int]]:
        members: dict[int, list[int]] = defaultdict(list)
        for item in range(len(self._parent)):
            members[self._root(item)].append(item)
        return list(members.values())
