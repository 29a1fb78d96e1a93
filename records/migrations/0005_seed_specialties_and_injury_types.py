from django.db import migrations

from records.models.directory import seed_standard_specialties
from records.models.injuries import seed_system_injury_types


def seed(apps, schema_editor):
    seed_standard_specialties(apps, schema_editor)
    seed_system_injury_types(apps, schema_editor)


class Migration(migrations.Migration):
    dependencies = [("records", "0004_clinical_records_part_two_and_reference_libraries")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
