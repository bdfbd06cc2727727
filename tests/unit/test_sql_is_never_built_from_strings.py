"""No SQL is built by pasting strings together: values travel as bound
parameters, filters become SQLAlchemy expressions (crm_common.storage.filter_sql).

The source tree is parsed, and every f-string, `+` concatenation, `%`
formatting or `.format()` call that builds SQL is reported: one passed to a
SQL sink (`text`, `execute`, `exec_driver_sql`, `literal_column`, ...), or
any whose literal parts read like SQL (so building it first in a variable
does not hide it). The few that only paste names the code itself owns, never
a caller's input, are listed below with the reason.
"""

import ast
import re
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("services", "bench", "tools")
SQL_SINKS = {"text", "execute", "exec_driver_sql", "literal_column", "executemany", "DDL"}
SQL_WORDS = re.compile(
    r"\b(SELECT|INSERT\s+INTO|UPDATE\s+\w+\s+SET|DELETE\s+FROM|DROP|CREATE|ALTER|VACUUM|"
    r"EXPLAIN|WHERE|ORDER\s+BY|setval)\b"
)

# path -> why what it pastes is not input. Keep this tiny: fix rather than list.
ALLOWED = {
    "services/contacts/storage/migrations/versions/0006_search.py": (
        "DDL for triggers and functions over the migration's own constant list of tables"
    ),
    "services/support/storage/migrations/versions/0010_ticket_number_sequence.py": (
        "starts a sequence after the highest ticket number, an integer the migration reads"
    ),
    "bench/contacts_scale.py": (
        "drops and rebuilds indexes and VACUUMs tables named by the database's own catalog"
    ),
    "bench/scale.py": "the same index and VACUUM maintenance as bench/contacts_scale.py",
    "bench/support_scale.py": "VACUUMs the support tables by their metadata names",
}


def _built_string(node: ast.expr) -> bool:
    """An f-string with placeholders, `a + b` or `a % b` with a string, or `"...".format()`."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add | ast.Mod):
        return any(_is_string(side) for side in (node.left, node.right))
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "format"
        and _is_string(node.func.value)
    )


def _is_string(node: ast.expr) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(
        node, ast.JoinedStr
    )


def _literal_text(node: ast.AST) -> str:
    return " ".join(
        part.value
        for part in ast.walk(node)
        if isinstance(part, ast.Constant) and isinstance(part.value, str)
    )


def _sink_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def findings(path: Path) -> Iterator[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    reported: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and _sink_name(node) in SQL_SINKS:
            for argument in node.args[:1]:
                if _built_string(argument):
                    reported.add(id(argument))
                    yield f"{node.lineno}: {_sink_name(node)}() of a built string"
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.expr)
            and id(node) not in reported
            and _built_string(node)
            and SQL_WORDS.search(_literal_text(node))
        ):
            yield f"{node.lineno}: SQL built as a string"


def scanned_files() -> Iterator[Path]:
    for folder in SCANNED:
        yield from sorted((REPO / folder).rglob("*.py"))


def test_no_sql_is_built_from_strings() -> None:
    found = {}
    for path in scanned_files():
        relative = path.relative_to(REPO).as_posix()
        places = list(findings(path))
        if places and relative not in ALLOWED:
            found[relative] = places
    assert not found, "SQL built from strings (bind parameters instead):\n" + "\n".join(
        f"  {path}:{place}" for path, places in found.items() for place in places
    )


def test_the_allow_list_names_only_files_that_need_it() -> None:
    stale = [path for path in ALLOWED if not list(findings(REPO / path))]
    assert not stale, f"no longer builds SQL from strings; drop from ALLOWED: {stale}"


def test_the_scanner_catches_each_way_of_pasting(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "session.execute(text(f'SELECT * FROM people WHERE id = {person_id}'))\n"
        "session.execute(text('SELECT * FROM people WHERE id = ' + person_id))\n"
        "query = 'DELETE FROM people WHERE id = %s' % person_id\n"
        "query = 'UPDATE people SET name = {}'.format(name)\n"
        "session.execute(text('SELECT 1'))\n"
        "message = f'{count} people'\n"
    )
    assert [place.split(":")[0] for place in findings(sample)] == ["1", "2", "3", "4"]
