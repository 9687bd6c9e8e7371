from django.db import migrations


def seed(apps, schema_editor):
    from kehu.core.sync import seed_dictionary

    seed_dictionary(apps.get_model("core", "DictEntry"))


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
