"""Search queries: what is refused, and what reaches FTS5."""

import pytest

from crm_common.errors import InvalidArgument
from crm_contacts.domain.custom_fields import ContactKind
from crm_contacts.domain.search import SearchQuery
from crm_contacts.storage.search import fts5_phrases


def test_words_are_split_on_any_whitespace() -> None:
    query = SearchQuery.parse("  Ada\t lovel \n", ContactKind.PERSON)
    assert query.words == ("Ada", "lovel")
    assert query.text == "Ada lovel"
    assert query.kind is ContactKind.PERSON


@pytest.mark.parametrize(
    ("text", "description"),
    [("", "is required"), (" \t\n ", "is required"), ("a" * 201, "at most 200")],
)
def test_empty_and_long_queries_are_refused(text: str, description: str) -> None:
    with pytest.raises(InvalidArgument) as raised:
        SearchQuery.parse(text)
    [violation] = raised.value.violations
    assert violation.field == "query" and description in violation.description


@pytest.mark.parametrize(
    ("words", "phrases"),
    [
        (["Ada", "lovel"], ['"Ada"', '"lovel"']),
        (["ada@example.com"], ['"ada example com"']),
        (["Zoë", "O'Brien"], ['"Zoë"', '"O Brien"']),
        (['"', "*", "--", "^", ":", "(", ")"], []),
        (["AND", "NEAR(a", "b)"], ['"AND"', '"NEAR a"', '"b"']),
        (['x"y*'], ['"x y"']),
        (["snake_case"], ['"snake case"']),
    ],
)
def test_only_letters_and_digits_reach_fts5(words: list[str], phrases: list[str]) -> None:
    assert fts5_phrases(words) == phrases
