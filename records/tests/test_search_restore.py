"""A restore replaces the records and their search entries together (the entries are rows of
the backup like any other): afterwards search finds what the backup held and nothing added
since, and on SQLite the text indexes agree with the restored entries."""

import pytest
from django.db import connection

from adminops.backups import restore
from adminops.backups.services import backup_create
from adminops.tests.restore_helpers import use_storage_dirs
from records.models import SearchEntry
from records.search import backends
from records.search.query import Search, search
from records.tests.factories import ConditionFactory, MedicationFactory

pytestmark = pytest.mark.django_db(transaction=True)


def found(user, q):
    return search(Search(user=user, q=q), 0, 20, per_type=False).total


def test_search_after_a_restore(settings, tmp_path, alice, patient):
    use_storage_dirs(settings, tmp_path)
    kept = MedicationFactory(patient=patient, medication_name="Metformin")
    backup = backup_create(backup_type="full")
    ConditionFactory(patient=patient, condition_name="Asthma")  # added after the backup
    kept.medication_name = "Ibuprofen"
    kept.save()
    assert found(alice, "asthma") == 1 and found(alice, "metformin") == 0

    restore.restore_backup(backup)

    assert found(alice, "metformin") == 1
    assert found(alice, "asthma") == 0 and found(alice, "ibuprofen") == 0
    assert SearchEntry.objects.count() == 1
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            for table in (backends.WORDS, backends.TRIGRAMS):
                cursor.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
