"""The search index: folding, one entry per record kept in step with saves, deletes (database
triggers), cascades and bulk writes (reindex), and records_items (records as their own list
endpoint shows them)."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from patients.tests.factories import PatientFactory
from records.models import Condition, LabTestComponent, Medication, SearchEntry, Symptom, Vitals
from records.search.index import entry_values, fold, indexed_models, rebuild, reindex, terms
from records.search.items import record_items
from records.tests.factories import (
    ConditionFactory,
    LabResultFactory,
    LabTestComponentFactory,
    MedicationFactory,
    SymptomFactory,
    SymptomOccurrenceFactory,
    VitalsFactory,
)
from records.tests.test_contract import CONTRACT

pytestmark = pytest.mark.django_db


def entry_of(record):
    return SearchEntry.objects.get(record_type=type(record).kind.name, record_id=record.pk)


def entries_of(model):
    return SearchEntry.objects.filter(record_type=model.kind.name)


class TestFold:
    @pytest.mark.parametrize(
        ("text", "folded"),
        [
            ("Café au LAIT", "cafe au lait"),
            ("  Zoë \t Ångström\n", "zoe angstrom"),
            ("Straße", "strasse"),
            ("Ｅ１１．９", "e11.9"),  # full-width forms fold to their plain letters
            ("Пётр", "петр"),  # other scripts keep their letters, lose their marks
            (None, ""),
        ],
    )
    def test_fold(self, text, folded):
        assert fold(text) == folded

    def test_terms_are_runs_of_letters_and_digits(self):
        assert terms("E11.9 (Type-2) diabète_sucré") == [
            "e11",
            "9",
            "type",
            "2",
            "diabete",
            "sucre",
        ]


class TestEntries:
    def test_a_new_record_gets_its_entry(self, patient):
        condition = ConditionFactory(
            patient=patient,
            condition_name="Café au lait spots",
            icd10_code="Q82.9",
            notes="Seen by Dr Müller",
            diagnosed_date=dt.date(2024, 3, 1),
        )
        entry = entry_of(condition)
        assert entry.patient_id == patient.pk
        assert entry.title == "Café au lait spots"
        assert entry.folded_title == "cafe au lait spots"
        assert entry.body == "cafe au lait spots q82 9 seen by dr muller"
        assert entry.record_date == dt.date(2024, 3, 1)

    def test_an_update_rewrites_the_entry(self, patient):
        medication = MedicationFactory(patient=patient, medication_name="Aspirin", notes="")
        medication.medication_name = "Ibuprofen"
        medication.notes = "after meals"
        medication.save()
        entry = entry_of(medication)
        assert entry.title == "Ibuprofen" and "after meals" in entry.body
        assert entries_of(Medication).count() == 1

    def test_tags_are_searched_and_follow_changes(self, patient):
        medication = MedicationFactory(patient=patient, tags=["Cardiology"])
        assert entry_of(medication).tags == ",cardiology,"
        assert "cardiology" in entry_of(medication).body.split()
        medication.tags = ["daily"]
        medication.save(update_fields=["tags"])
        assert entry_of(medication).tags == ",daily,"
        assert "cardiology" not in entry_of(medication).body.split()

    def test_a_save_of_other_columns_leaves_the_entry(self, patient):
        medication = MedicationFactory(patient=patient, medication_name="Aspirin")
        with CaptureQueriesContext(connection) as queries:
            medication.save(update_fields=["reminder_enabled"])
        assert not any("records_searchentry" in q["sql"] for q in queries)

    def test_a_datetime_date_is_the_local_day(self, patient, settings):
        vitals = VitalsFactory(
            patient=patient, recorded_date=dt.datetime(2025, 1, 1, 23, 30, tzinfo=dt.UTC)
        )
        local = vitals.recorded_date.astimezone(dt.timezone(dt.timedelta(0)))
        assert entry_of(vitals).record_date == entry_values(Vitals.kind, vitals)["record_date"]
        assert entry_of(vitals).record_date in {local.date(), local.date() + dt.timedelta(1)}

    def test_json_list_fields_are_searched_by_their_strings(self, patient):
        occurrence = SymptomOccurrenceFactory(
            patient=patient, symptom=SymptomFactory(patient=patient), triggers=["Pollen", "dust"]
        )
        assert {"pollen", "dust"} <= set(entry_of(occurrence).body.split())

    def test_every_kind_gets_entries(self, patient):
        for model in indexed_models():
            record = CONTRACT[model].factory(patient=patient)
            assert entries_of(model).filter(record_id=record.pk).exists(), model.__name__


class TestDeletes:
    def test_a_deleted_record_loses_its_entry(self, patient):
        medication = MedicationFactory(patient=patient)
        kept = MedicationFactory(patient=patient)
        medication.delete()
        assert list(entries_of(Medication).values_list("record_id", flat=True)) == [kept.pk]

    def test_a_queryset_delete_and_a_cascade_drop_entries(self, patient):
        lab = LabResultFactory(patient=patient)
        LabTestComponentFactory.create_batch(3, patient=patient, lab_result=lab)
        VitalsFactory.create_batch(2, patient=patient)
        Vitals.objects.filter(patient=patient).delete()
        lab.delete()  # its components go with it, in the database
        assert not entries_of(LabTestComponent).exists()
        assert not entries_of(Vitals).exists()

    def test_deleting_a_patient_drops_its_entries_only(self, patient, alice):
        other = PatientFactory(owner=alice)
        ConditionFactory(patient=patient)
        MedicationFactory(patient=patient)
        kept = MedicationFactory(patient=other)
        patient.delete()
        assert list(SearchEntry.objects.values_list("record_id", flat=True)) == [kept.pk]


class TestReindex:
    def test_bulk_writes_are_indexed_by_reindex(self, patient):
        made = Medication.objects.bulk_create(
            [Medication(patient=patient, medication_name=f"Drug {n}") for n in range(3)]
        )
        assert not entries_of(Medication).exists()  # bulk_create sends no signal
        Medication.objects.filter(pk=made[0].pk).update(medication_name="Metformin")
        assert reindex(Medication, [m.pk for m in made]) == 3
        titles = set(entries_of(Medication).values_list("title", flat=True))
        assert titles == {"Metformin", "Drug 1", "Drug 2"}

    def test_reindex_drops_entries_of_records_gone(self, patient):
        medication = MedicationFactory(patient=patient)
        SearchEntry.objects.create(
            patient=patient, record_type="medication", record_id=medication.pk + 1000
        )
        reindex(Medication, [medication.pk, medication.pk + 1000])
        assert list(entries_of(Medication).values_list("record_id", flat=True)) == [medication.pk]

    def test_symptom_dates_refreshed_in_bulk_follow(self, patient):
        symptom = SymptomFactory(patient=patient, first_occurrence_date=None)
        SymptomOccurrenceFactory(
            patient=patient, symptom=symptom, occurrence_date=dt.date(2025, 5, 2)
        )
        Symptom.refresh_occurrence_dates([symptom.pk])
        assert entry_of(symptom).record_date == dt.date(2025, 5, 2)

    def test_rebuild_writes_every_entry_again(self, patient):
        conditions = ConditionFactory.create_batch(2, patient=patient)
        SearchEntry.objects.all().delete()
        SearchEntry.objects.create(patient=patient, record_type="retired_type", record_id=1)
        counts = rebuild()
        assert counts["condition"] == 2
        assert set(SearchEntry.objects.values_list("record_type", "record_id")) == {
            ("condition", c.pk) for c in conditions
        }

    def test_rebuild_command(self, patient, capsys):
        ConditionFactory(patient=patient)
        SearchEntry.objects.all().delete()
        call_command("rebuild_search_index")
        assert entries_of(Condition).count() == 1
        assert "1 condition" in capsys.readouterr().out


def api_request(user):
    request = Request(APIRequestFactory().get("/api/v1/search"))
    request.user = user
    return request


class TestRecordItems:
    def test_items_are_the_list_endpoints_rows_plus_type(self, alice_api, alice, patient):
        condition = ConditionFactory(patient=patient, condition_name="Asthma", tags=["lungs"])
        listed = alice_api.get("/api/v1/conditions/").json()
        items = record_items(api_request(alice), Condition, [condition.pk])
        assert items[condition.pk] == {**listed[0], "type": "condition"}
        assert items[condition.pk]["diagnosis"] == "Asthma"  # the alias the web app reads

    def test_only_records_the_user_may_see(self, alice, mallory, patient):
        condition = ConditionFactory(patient=patient)
        assert record_items(api_request(mallory), Condition, [condition.pk]) == {}
        other = ConditionFactory(patient=PatientFactory(owner=alice))  # not the active patient
        assert set(record_items(api_request(alice), Condition, [condition.pk, other.pk])) == {
            condition.pk,
            other.pk,
        }

    @pytest.mark.parametrize("model", indexed_models(), ids=lambda m: m.__name__)
    def test_queries_do_not_grow_with_records(self, model, alice, patient):
        factory = CONTRACT[model].factory
        few = [factory(patient=patient).pk for _ in range(2)]
        record_items(api_request(alice), model, few)  # warm per-process caches
        with CaptureQueriesContext(connection) as two:
            assert len(record_items(api_request(alice), model, few)) == 2
        many = few + [factory(patient=patient).pk for _ in range(8)]
        with CaptureQueriesContext(connection) as ten:
            assert len(record_items(api_request(alice), model, many)) == 10
        assert len(ten) == len(two)


class TestAdmin:
    def test_the_list_opens_and_the_action_rebuilds_the_chosen_entries(self, admin_client, patient):
        condition = ConditionFactory(patient=patient, condition_name="Asthma")
        entry = entry_of(condition)
        SearchEntry.objects.filter(pk=entry.pk).update(title="stale", body="stale")
        page = admin_client.get("/admin/records/searchentry/", {"q": "stale"})
        assert page.status_code == 200
        response = admin_client.post(
            "/admin/records/searchentry/",
            {"action": "rebuild_entries", "_selected_action": [entry.pk]},
        )
        assert response.status_code == 302
        assert entry_of(condition).title == "Asthma"
