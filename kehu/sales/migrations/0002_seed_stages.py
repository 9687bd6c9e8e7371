"""The default pipeline stages (from the source documents); an administrator edits them later."""

from django.db import migrations


def seed(apps, schema_editor):
    from kehu.sales.seeds import seed_stages

    seed_stages(apps.get_model("sales", "Stage"))


class Migration(migrations.Migration):
    dependencies = [("sales", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
