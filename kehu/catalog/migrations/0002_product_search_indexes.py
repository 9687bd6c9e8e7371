"""Search indexes of the product list: pinyin, category and brand; codes unique whatever their case;
on PostgreSQL trigram GIN indexes on UPPER(code/name/spec) (what ``icontains`` compiles to) and a
pattern index for the pinyin prefix search.  If pg_trgm cannot be created the trigram indexes are
skipped (the list still works, only slower)."""

import logging

import django.db.models.functions.text
from django.db import migrations, models, transaction

log = logging.getLogger(__name__)

TRGM = [
    "CREATE INDEX IF NOT EXISTS catalog_product_code_trgm ON catalog_product USING gin (UPPER(code) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS catalog_product_name_trgm ON catalog_product USING gin (UPPER(name) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS catalog_product_spec_trgm ON catalog_product USING gin (UPPER(spec) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS catalog_product_brand_trgm ON catalog_product USING gin (UPPER(brand) gin_trgm_ops)",
    "CREATE INDEX IF NOT EXISTS catalog_product_pinyin_trgm ON catalog_product USING gin (pinyin gin_trgm_ops)",
]
PREFIX = "CREATE INDEX IF NOT EXISTS catalog_product_pinyin_prefix ON catalog_product (pinyin varchar_pattern_ops)"
NAMES = ["catalog_product_code_trgm", "catalog_product_name_trgm", "catalog_product_spec_trgm",
         "catalog_product_brand_trgm", "catalog_product_pinyin_trgm", "catalog_product_pinyin_prefix"]


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute(PREFIX)
        try:
            with transaction.atomic(using=schema_editor.connection.alias):
                cur.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        except Exception as exc:  # no permission: keep going without trigram indexes
            log.warning("pg_trgm is not available (%s); product search will not use an index", exc)
            return
        for sql in TRGM:
            cur.execute(sql)


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        for name in NAMES:
            cur.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["pinyin"], name="catalog_product_pinyin_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["category", "code"], name="catalog_product_cat_idx"),
        ),
        migrations.AddIndex(
            model_name="product",
            index=models.Index(fields=["brand"], name="catalog_product_brand_idx"),
        ),
        migrations.AddConstraint(
            model_name="product",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Upper("code"), name="catalog_product_code_ci_uniq"
            ),
        ),
        migrations.RunPython(forwards, backwards),
    ]
