"""PostgreSQL search indexes for the customer list's "contains" filters: trigram GIN indexes on
UPPER(name) and UPPER(short_name) (what ``icontains`` compiles to) and pattern indexes for the
pinyin-initials prefix search.  pg_trgm ships with PostgreSQL; if the database user may not create
the extension, the indexes are skipped (the list still works, only slower) and a warning is shown."""

import logging

from django.db import migrations, transaction

log = logging.getLogger(__name__)

INDEXES = [
    "CREATE INDEX IF NOT EXISTS cst_customer_name_trgm ON cst_customer USING gin (UPPER(name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS cst_customer_short_trgm ON cst_customer USING gin (UPPER(short_name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS cst_customer_pinyin_prefix ON cst_customer (pinyin varchar_pattern_ops)",
    "CREATE INDEX IF NOT EXISTS cst_linkman_name_trgm ON cst_linkman USING gin (UPPER(name) gin_trgm_ops)",
]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:  # no permission: keep going without trigram indexes
            log.warning("pg_trgm is not available (%s); customer name search will not use an index", exc)
            cur.execute(INDEXES[2])
            return
        for sql in INDEXES:
            cur.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        for name in ("cst_customer_name_trgm", "cst_customer_short_trgm", "cst_customer_pinyin_prefix",
                     "cst_linkman_name_trgm"):
            cur.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("customers", "0001_initial")]
    operations = [migrations.RunPython(forwards, backwards)]
