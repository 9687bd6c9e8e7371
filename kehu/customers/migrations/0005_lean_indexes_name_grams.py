"""Leaner indexes on cst_customer and cst_linkman, and the name search by two-character pieces.

- Plain indexes instead of ``db_index``/``unique=True`` on character columns (those add a second,
  ``varchar_pattern_ops`` index on PostgreSQL that no query uses); no index on the owner alone (the
  (owner, status) index serves it), on the creator or on the dictionary columns (a handful of values
  each: a scan is what the planner picks anyway).
- PostgreSQL: ``kehu_name_grams(name, short_name)``, the upper-case two-character pieces of both
  names, with a GIN index.  The list's "name contains" filter asks for rows whose pieces contain all
  the pieces of the search text, then checks them with ``LIKE``: this serves two-character Chinese
  terms (华夏) that the trigram indexes of migration 0002 could not, so those two are dropped.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

GRAMS_FUNCTION = r"""
CREATE OR REPLACE FUNCTION kehu_name_grams(a text, b text) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT coalesce(array_agg(DISTINCT substr(s, i, 2)), '{}'::text[])
  FROM unnest(ARRAY[upper(coalesce(a, '')), upper(coalesce(b, ''))]) AS s,
       generate_series(1, length(s) - 1) AS i
$$
"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute(GRAMS_FUNCTION)
        cur.execute("DROP INDEX IF EXISTS cst_customer_name_trgm")
        cur.execute("DROP INDEX IF EXISTS cst_customer_short_trgm")
        cur.execute(
            "CREATE INDEX IF NOT EXISTS cst_customer_pinyin_prefix ON cst_customer (pinyin varchar_pattern_ops)"
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS cst_customer_pinyin_short_prefix ON cst_customer "
            "(pinyin_short varchar_pattern_ops)"
        )
        cur.execute(
            "CREATE INDEX IF NOT EXISTS cst_customer_name_grams ON cst_customer "
            "USING gin (kehu_name_grams(name, short_name))"
        )


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cur:
        cur.execute("DROP INDEX IF EXISTS cst_customer_name_grams")
        cur.execute("DROP FUNCTION IF EXISTS kehu_name_grams(text, text)")


class Migration(migrations.Migration):

    dependencies = [
        ('core', '0003_setting'),
        ('customers', '0004_pinyin_short_release_reason'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterField(
            model_name='contact',
            name='mobile_key',
            field=models.CharField(blank=True, editable=False, max_length=20),
        ),
        migrations.AlterField(
            model_name='contact',
            name='phone_key',
            field=models.CharField(blank=True, editable=False, max_length=20),
        ),
        migrations.AlterField(
            model_name='customer',
            name='created_by',
            field=models.ForeignKey(db_index=False, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='+', to=settings.AUTH_USER_MODEL, verbose_name='created by'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='industry',
            field=models.ForeignKey(blank=True, db_index=False, limit_choices_to={'type': 'industry'}, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.dictentry', verbose_name='industry'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='level',
            field=models.ForeignKey(blank=True, db_index=False, limit_choices_to={'type': 'customer_level'}, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.dictentry', verbose_name='level'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='name_key',
            field=models.CharField(editable=False, max_length=120, verbose_name='normalised name'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='number',
            field=models.CharField(max_length=30, verbose_name='customer number'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='owner',
            field=models.ForeignKey(blank=True, db_index=False, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='customers', to=settings.AUTH_USER_MODEL, verbose_name='owner'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='phone_key',
            field=models.CharField(blank=True, editable=False, max_length=20, verbose_name='normalised phone'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='pinyin',
            field=models.CharField(editable=False, max_length=60, verbose_name='pinyin initials'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='pinyin_short',
            field=models.CharField(blank=True, editable=False, max_length=60),
        ),
        migrations.AlterField(
            model_name='customer',
            name='region',
            field=models.ForeignKey(blank=True, db_index=False, limit_choices_to={'type': 'region'}, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.dictentry', verbose_name='region'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='source',
            field=models.ForeignKey(blank=True, db_index=False, limit_choices_to={'type': 'customer_source'}, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='core.dictentry', verbose_name='source'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='status',
            field=models.CharField(choices=[('prospect', 'Prospect'), ('signed', 'Signed'), ('dormant', 'Dormant'), ('lost', 'Lost')], default='prospect', max_length=10, verbose_name='status'),
        ),
        migrations.AlterField(
            model_name='customer',
            name='tax_number',
            field=models.CharField(blank=True, max_length=30, verbose_name='tax number'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['mobile_key'], name='cst_linkman_mobile_key'),
        ),
        migrations.AddIndex(
            model_name='contact',
            index=models.Index(fields=['phone_key'], name='cst_linkman_phone_key'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['name_key'], name='cst_customer_name_key'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['phone_key'], name='cst_customer_phone_key'),
        ),
        migrations.AddIndex(
            model_name='customer',
            index=models.Index(fields=['tax_number'], name='cst_customer_tax_number'),
        ),
        migrations.AddConstraint(
            model_name='customer',
            constraint=models.UniqueConstraint(fields=('number',), name='cst_customer_number_uniq', violation_error_message='A customer with this number already exists.'),
        ),
        # Last: the AlterFields above drop every index on pinyin and pinyin_short, also the prefix
        # indexes of migrations 0002 and 0004, which this puts back.
            migrations.RunPython(forwards, backwards),
    ]
