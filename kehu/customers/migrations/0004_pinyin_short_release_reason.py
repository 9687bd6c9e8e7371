import logging

from django.db import migrations, models

log = logging.getLogger(__name__)


def pinyin_short(apps, schema_editor):
    from kehu.customers.normalize import pinyin_initials

    Customer = apps.get_model("customers", "Customer")
    for c in Customer.objects.exclude(short_name="").only("pk", "name", "short_name").iterator(chunk_size=2000):
        Customer.objects.filter(pk=c.pk).update(pinyin=pinyin_initials(c.name),
                                                pinyin_short=pinyin_initials(c.short_name))
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cur:
            cur.execute("CREATE INDEX IF NOT EXISTS cst_customer_pinyin_short_prefix "
                        "ON cst_customer (pinyin_short varchar_pattern_ops)")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        with schema_editor.connection.cursor() as cur:
            cur.execute("DROP INDEX IF EXISTS cst_customer_pinyin_short_prefix")


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_birthday_month_day")]

    operations = [
        migrations.AddField(
            model_name="customer",
            name="pinyin_short",
            field=models.CharField(blank=True, db_index=True, editable=False, max_length=60, default=""),
            preserve_default=False,
        ),
        migrations.AddField(
            model_name="customer",
            name="release_reason",
            field=models.CharField(blank=True, max_length=200, verbose_name="why it was released", default=""),
            preserve_default=False,
        ),
        migrations.RunPython(pinyin_short, drop_index),
    ]
