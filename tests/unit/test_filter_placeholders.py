from datetime import UTC, datetime

import pytest

from crm_common.errors import InvalidArgument
from crm_support.domain.filter_placeholders import expand, has_me

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def test_now_with_and_without_offsets() -> None:
    assert expand("solve_time < @now", NOW) == 'solve_time < "2026-11-24T12:00:00+00:00"'
    assert expand("solve_time < @now-4d", NOW) == 'solve_time < "2026-11-20T12:00:00+00:00"'
    assert expand("sla_due_time <= @now+90m", NOW) == (
        'sla_due_time <= "2026-11-24T13:30:00+00:00"'
    )


def test_me_becomes_the_agent_looking() -> None:
    assert expand("assignee = @me AND status = OPEN", NOW, me="agents/7") == (
        'assignee = "agents/7" AND status = OPEN'
    )
    assert has_me("assignee = @me") and not has_me("status = OPEN")


def test_placeholders_inside_strings_are_text() -> None:
    assert expand('subject = "mail @now" AND tags:"@me"', NOW) == (
        'subject = "mail @now" AND tags:"@me"'
    )


@pytest.mark.parametrize("text", ["status = @then", "x = @", "assignee = @me"])
def test_unknown_placeholders_and_missing_agent_are_refused(text: str) -> None:
    with pytest.raises(InvalidArgument):
        expand(text, NOW)
