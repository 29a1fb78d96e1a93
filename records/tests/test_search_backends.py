"""The database's own text search under the index: what install() builds on each database,
and on PostgreSQL, that search still works (and says why it is slower) where the pg_trgm
extension cannot be created."""

import logging

import pytest
from django.db import connection

from records.models import SearchEntry
from records.search import backends
from records.search.index import indexed_models
from records.search.query import Search, search
from records.tests.factories import ConditionFactory, MedicationFactory

pytestmark = pytest.mark.django_db

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite's FTS5 tables")
postgresql_only = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's indexes and extension"
)


def matches(user, q):
    return search(Search(user=user, q=q), 0, 20, per_type=True).total


@sqlite_only
class TestSQLite:
    def test_the_text_indexes_follow_the_entries(self, alice, patient):
        medication = MedicationFactory(patient=patient, medication_name="Aspirin")
        with connection.cursor() as cursor:
            for table in (backends.WORDS, backends.TRIGRAMS):
                # 'integrity-check' fails when an external-content index and its table differ.
                cursor.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")
        medication.medication_name = "Ibuprofen"
        medication.save()
        assert matches(alice, "aspirin") == 0 and matches(alice, "ibu") == 1
        medication.delete()
        assert matches(alice, "ibu") == 0
        with connection.cursor() as cursor:
            for table in (backends.WORDS, backends.TRIGRAMS):
                cursor.execute(f"INSERT INTO {table}({table}) VALUES ('integrity-check')")

    def test_every_record_type_has_its_delete_trigger(self):
        with connection.cursor() as cursor:
            cursor.execute("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger'")
            tables = {row[0] for row in cursor.fetchall()}
        assert {model._meta.db_table for model in indexed_models()} <= tables


@postgresql_only
class TestPostgreSQL:
    def test_indexes_and_triggers(self):
        with connection.cursor() as cursor:
            assert {
                "records_search_words",
                "records_search_trigrams",
                "records_search_newest",
            } <= backends._indexes(cursor)
            cursor.execute(
                "SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                "WHERE t.tgname = %s",
                [backends.FORGET],
            )
            tables = {row[0] for row in cursor.fetchall()}
        assert {model._meta.db_table for model in indexed_models()} <= tables

    def test_without_pg_trgm_install_warns_and_search_still_works(self, alice, patient, caplog):
        # All of this is undone with the test's transaction.
        with connection.cursor() as cursor:
            cursor.execute("DROP EXTENSION pg_trgm CASCADE")  # takes the trigram index along
            cursor.execute("CREATE ROLE search_test_no_privileges")
            cursor.execute("GRANT USAGE, CREATE ON SCHEMA public TO search_test_no_privileges")
            # As a deployment's own role would: owner of what it made, no right to extensions.
            cursor.execute(f"ALTER TABLE {backends.TABLE} OWNER TO search_test_no_privileges")
            cursor.execute(f"ALTER FUNCTION {backends.FORGET}() OWNER TO search_test_no_privileges")
            cursor.execute("SET ROLE search_test_no_privileges")
            with caplog.at_level(logging.WARNING, logger="records.search"):
                backends.install()  # what migration 0015 runs: it must not fail
            cursor.execute("RESET ROLE")
            assert not backends.has_trigrams(connection)
            assert "records_search_trigrams" not in backends._indexes(cursor)
        assert "pg_trgm" in caplog.text
        ConditionFactory(patient=patient, condition_name="Diabetes", icd10_code="E11.9")
        MedicationFactory(patient=patient, medication_name="Atorvastatin")
        assert matches(alice, "statin") == 1
        assert matches(alice, "E11.9") == 1 and matches(alice, "e1") == 1
        assert SearchEntry.objects.count() == 2
