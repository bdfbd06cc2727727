"""The full-text search index over people and organizations, kept by the database.

Triggers on `people` and `organizations` maintain the index, so every write
path (create, update, delete, merge, import, erase, raw SQL) keeps it right
without remembering to. Emails and domains are read from the records' own JSON
columns, written in the same statement as the names, so no trigger is needed on
`person_emails` or `organization_domains`.

- SQLite: an FTS5 table (`unicode61 remove_diacritics 2`, prefix indexes for
  type-ahead) whose rowids come from `contact_search_keys`, an ordinary table
  mapping (kind, record id) to a stable integer; FTS5 cannot look rows up by an
  unindexed column, and rowids of `people` may change on VACUUM.
- PostgreSQL: `contact_search` with a weighted `tsvector` (names A, addresses B)
  under a GIN index, its text folded by `contact_search_fold` (unaccent, Unicode
  lower case, punctuation to spaces) so `ada@example.com` is the words `ada
  example com`; `contact_search_query` builds the matching tsquery from user
  words in the database, with the same folding, so no user text is ever parsed as
  tsquery syntax.

Revision ID: 0006
Revises: 0003
"""

# The DDL is assembled from the constants below (table, column and kind names,
# SQL fragments), never from input, so string-built SQL is safe here.
# ruff: noqa: S608

from dataclasses import dataclass
from string import punctuation as ASCII_PUNCTUATION

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0003"


@dataclass(frozen=True)
class Source:
    """A table whose rows are search documents; `{row}` stands for NEW, OLD or an alias."""

    kind: str
    table: str
    watched: tuple[str, ...]
    names: str
    email_column: str = "email_addresses"
    strings_column: str | None = None


SOURCES = (
    Source(
        kind="person",
        table="people",
        watched=("given_name", "family_name", "email_addresses"),
        names="{row}.given_name || ' ' || {row}.family_name",
    ),
    Source(
        kind="organization",
        table="organizations",
        watched=("display_name", "domains", "email_addresses"),
        names="{row}.display_name",
        strings_column="domains",
    ),
)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _upgrade_sqlite()
    else:
        _upgrade_postgresql()


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for source in SOURCES:
            for event in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS contact_search_{source.kind}_{event}")
        op.execute("DROP TABLE IF EXISTS contact_search")
        op.execute("DROP TABLE IF EXISTS contact_search_keys")
        return
    for source in SOURCES:
        op.execute(f"DROP TRIGGER IF EXISTS contact_search_write ON {source.table}")
        op.execute(f"DROP TRIGGER IF EXISTS contact_search_update ON {source.table}")
        op.execute(f"DROP FUNCTION IF EXISTS contact_search_{source.kind}_changed()")
    op.execute("DROP TABLE IF EXISTS contact_search")
    for function in (
        "contact_search_query(text[], boolean)",
        "contact_search_document(text, text)",
        "contact_search_fold(text)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {function}")


# --- SQLite ------------------------------------------------------------------


def _sqlite_addresses(source: Source, row: str) -> str:
    parts = [f"SELECT json_extract(value, '$.address') AS v FROM json_each({row}.email_addresses)"]
    if source.strings_column:
        parts.append(f"SELECT value FROM json_each({row}.{source.strings_column})")
    return f"(SELECT group_concat(v, ' ') FROM ({' UNION ALL '.join(parts)}))"


def _sqlite_columns(source: Source, row: str) -> str:
    return f"{source.names.format(row=row)}, {_sqlite_addresses(source, row)}"


def _sqlite_key(source: Source, row: str) -> str:
    return f"kind = '{source.kind}' AND record_id = {row}.id"


def _upgrade_sqlite() -> None:
    op.create_table(
        "contact_search_keys",
        sa.Column("doc", sa.Integer, primary_key=True),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("record_id", sa.String(63), nullable=False),
        sa.UniqueConstraint("kind", "record_id", name="uq_contact_search_keys"),
    )
    op.execute(
        "CREATE VIRTUAL TABLE contact_search USING fts5("
        "names, addresses, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3')"
    )
    for source in SOURCES:
        _sqlite_triggers(source)
        op.execute(
            f"INSERT INTO contact_search_keys (kind, record_id) "
            f"SELECT '{source.kind}', id FROM {source.table}"
        )
        op.execute(
            f"INSERT INTO contact_search (rowid, names, addresses) "
            f"SELECT k.doc, {_sqlite_columns(source, 'r')} FROM {source.table} AS r "
            f"JOIN contact_search_keys AS k ON k.kind = '{source.kind}' AND k.record_id = r.id"
        )


def _sqlite_triggers(source: Source) -> None:
    # Record ids never change, so the key row outlives every update.
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in source.watched)
    op.execute(
        f"CREATE TRIGGER contact_search_{source.kind}_insert AFTER INSERT ON {source.table} "
        f"BEGIN "
        f"INSERT INTO contact_search_keys (kind, record_id) VALUES ('{source.kind}', NEW.id); "
        f"INSERT INTO contact_search (rowid, names, addresses) "
        f"SELECT doc, {_sqlite_columns(source, 'NEW')} FROM contact_search_keys "
        f"WHERE {_sqlite_key(source, 'NEW')}; "
        f"END"
    )
    op.execute(
        f"CREATE TRIGGER contact_search_{source.kind}_update "
        f"AFTER UPDATE OF {', '.join(source.watched)} ON {source.table} WHEN {changed} "
        f"BEGIN "
        f"DELETE FROM contact_search WHERE rowid = "
        f"(SELECT doc FROM contact_search_keys WHERE {_sqlite_key(source, 'OLD')}); "
        f"INSERT INTO contact_search (rowid, names, addresses) "
        f"SELECT doc, {_sqlite_columns(source, 'NEW')} FROM contact_search_keys "
        f"WHERE {_sqlite_key(source, 'NEW')}; "
        f"END"
    )
    op.execute(
        f"CREATE TRIGGER contact_search_{source.kind}_delete AFTER DELETE ON {source.table} "
        f"BEGIN "
        f"DELETE FROM contact_search WHERE rowid = "
        f"(SELECT doc FROM contact_search_keys WHERE {_sqlite_key(source, 'OLD')}); "
        f"DELETE FROM contact_search_keys WHERE {_sqlite_key(source, 'OLD')}; "
        f"END"
    )


# --- PostgreSQL --------------------------------------------------------------


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _postgresql_addresses(source: Source, row: str) -> str:
    parts = [f"SELECT e ->> 'address' AS v FROM json_array_elements({row}.email_addresses) AS e"]
    if source.strings_column:
        parts.append(f"SELECT json_array_elements_text({row}.{source.strings_column})")
    return f"(SELECT coalesce(string_agg(v, ' '), '') FROM ({' UNION ALL '.join(parts)}) AS a)"


def _postgresql_columns(source: Source, row: str) -> str:
    """names, document for the search table, from a row of the source."""
    names = source.names.format(row=row)
    addresses = _postgresql_addresses(source, row)
    return f"contact_search_fold({names}), contact_search_document({names}, {addresses})"


def _upgrade_postgresql() -> None:
    # Both are trusted extensions (PostgreSQL 13+): a database owner may create them.
    op.execute("CREATE EXTENSION IF NOT EXISTS unaccent")
    _postgresql_functions()
    op.execute(
        "CREATE TABLE contact_search ("
        " kind varchar(12) NOT NULL,"
        " record_id varchar(63) NOT NULL,"
        " names text NOT NULL,"
        " document tsvector NOT NULL,"
        " PRIMARY KEY (kind, record_id))"
    )
    for source in SOURCES:
        op.execute(
            f"INSERT INTO contact_search (kind, record_id, names, document) "
            f"SELECT '{source.kind}', r.id, {_postgresql_columns(source, 'r')} "
            f"FROM {source.table} AS r"
        )
        _postgresql_triggers(source)
    # Built after the backfill, which is faster than growing it row by row.
    # fastupdate off: searches never scan a pending list, so their latency stays
    # flat under writes; each write pays its few index entries at once instead.
    op.execute(
        "CREATE INDEX ix_contact_search_document ON contact_search "
        "USING gin (document) WITH (fastupdate = off)"
    )


def _postgresql_functions() -> None:
    bind = op.get_bind()
    schema = bind.execute(
        sa.text(
            "SELECT n.nspname FROM pg_extension AS e "
            "JOIN pg_namespace AS n ON n.oid = e.extnamespace WHERE e.extname = 'unaccent'"
        )
    ).scalar_one()
    # The database's own lower() folds only ASCII under the C locale; ICU's
    # root collation folds all of Unicode when the server was built with it.
    icu = bind.execute(sa.text("SELECT 1 FROM pg_collation WHERE collname = 'und-x-icu'")).first()
    collate = ' COLLATE "und-x-icu"' if icu else ""
    unaccent = f'"{schema}".unaccent(\'"{schema}".unaccent\'::regdictionary, value)'
    # IMMUTABLE although unaccent is only STABLE (its rules file could change):
    # the planner then folds a query's words into a constant tsquery, so it
    # sees how common they are and picks a plan to match. Documents are
    # computed at write time, so no index depends on the promise.
    # ASCII punctuation is listed rather than matched by [[:punct:]], which
    # misses symbols such as `+` and follows the locale.
    op.execute(
        f"CREATE FUNCTION contact_search_fold(value text) RETURNS text "
        f"LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN btrim(regexp_replace(translate("
        f"lower({unaccent}{collate}), {_literal(ASCII_PUNCTUATION)}, "
        f"{_literal(' ' * len(ASCII_PUNCTUATION))}), '[[:punct:][:space:]]+', ' ', 'g'))"
    )
    op.execute(
        "CREATE FUNCTION contact_search_document(names text, addresses text) RETURNS tsvector "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE RETURN "
        "setweight(to_tsvector('simple', contact_search_fold(names)), 'A') || "
        "setweight(to_tsvector('simple', contact_search_fold(addresses)), 'B')"
    )
    # Each word is a phrase of its folded parts (`ada@example.com` ->
    # 'ada' <-> 'example' <-> 'com'), all required; with `prefix` the last
    # matches as a prefix. A tsquery's text form is its canonical, quoted
    # output, so appending `:*` to it is safe. Words that fold to nothing are
    # dropped first, as phraseto_tsquery would log a notice for each. NULL (no
    # words) matches nothing.
    op.execute(
        """
        CREATE FUNCTION contact_search_query(words text[], prefix boolean) RETURNS tsquery
        LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
        DECLARE
            phrases tsquery[] := ARRAY(
                SELECT p FROM unnest(words) WITH ORDINALITY AS w(word, n),
                LATERAL contact_search_fold(w.word) AS f(folded),
                LATERAL phraseto_tsquery('simple', f.folded) AS p
                WHERE f.folded <> '' AND numnode(p) > 0 ORDER BY w.n);
            last integer := coalesce(array_length(phrases, 1), 0);
            result tsquery;
        BEGIN
            IF last = 0 THEN
                RETURN NULL;
            END IF;
            IF prefix THEN
                phrases[last] := (phrases[last]::text || ':*')::tsquery;
            END IF;
            result := phrases[1];
            FOR i IN 2 .. last LOOP
                result := result && phrases[i];
            END LOOP;
            RETURN result;
        END $$
        """
    )


def _postgresql_triggers(source: Source) -> None:
    function = f"contact_search_{source.kind}_changed"
    op.execute(
        f"""
        CREATE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                DELETE FROM contact_search
                WHERE kind = '{source.kind}' AND record_id = OLD.id;
            ELSE
                INSERT INTO contact_search (kind, record_id, names, document)
                SELECT '{source.kind}', NEW.id, {_postgresql_columns(source, "NEW")}
                ON CONFLICT (kind, record_id) DO UPDATE
                SET names = excluded.names, document = excluded.document;
            END IF;
            RETURN NULL;
        END $$
        """
    )
    # json has no equality, so changes are compared on the text form.
    changed = " OR ".join(
        f"OLD.{column}::text IS DISTINCT FROM NEW.{column}::text" for column in source.watched
    )
    op.execute(
        f"CREATE TRIGGER contact_search_write AFTER INSERT OR DELETE ON {source.table} "
        f"FOR EACH ROW EXECUTE FUNCTION {function}()"
    )
    op.execute(
        f"CREATE TRIGGER contact_search_update AFTER UPDATE ON {source.table} "
        f"FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {function}()"
    )
