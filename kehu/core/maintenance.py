"""Upkeep of the database that PostgreSQL's autovacuum does late for a CRM's way of writing.

The text searches (customer names, contacts, products) run on GIN indexes.  PostgreSQL adds new rows
to such an index through a *pending list* that every search reads in full until it is merged into
the index: by a later insert once the list passes ``gin_pending_list_limit`` (4 MB), or by a vacuum.
A company that adds a few dozen customers a day, or has just imported a file of them, can search
through megabytes of pending entries for weeks (measured on a million customers: a name search's
statement 5–10 ms slower with half a list, several times slower right after a 100,000-row import).
:func:`flush_search_indexes` merges the lists: after each import and every night."""

from __future__ import annotations

from django.db import DatabaseError, connection, transaction


def _gin_indexes(tables) -> list[str]:
    with connection.cursor() as cur:
        cur.execute(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
            "JOIN pg_class t ON t.oid = i.indrelid JOIN pg_am am ON am.oid = c.relam "
            "WHERE am.amname = 'gin' AND t.relname = ANY(%s) "
            "AND t.relnamespace = current_schema()::regnamespace ORDER BY c.relname",
            [list(tables)],
        )
        return [name for (name,) in cur.fetchall()]


def flush_search_indexes(*tables: str) -> int:
    """Merge the pending entries of the GIN indexes on ``tables`` (every table of Kehu's when none
    is named) into the indexes; returns the pages merged.  Nothing to do on SQLite."""
    if connection.vendor != "postgresql":
        return 0
    if not tables:
        tables = tuple(connection.introspection.django_table_names(only_existing=True))
    merged = 0
    for name in _gin_indexes(tables):
        try:
            with transaction.atomic(), connection.cursor() as cur:
                cur.execute("SELECT gin_clean_pending_list(%s::regclass)", [connection.ops.quote_name(name)])
                merged += cur.fetchone()[0] or 0
        except DatabaseError:  # pragma: no cover - an index dropped meanwhile, or not ours to clean
            continue
    return merged
