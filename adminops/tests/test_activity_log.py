"""The activity log written from `record_changed`: who changed or deleted what, with the data."""

from __future__ import annotations

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from adminops import services
from adminops.models import ActivityLog
from adminops.tests.factories import ActivityLogFactory
from patients.core.serializers import model_snapshot
from patients.models import Patient
from patients.signals import record_changed
from patients.tests.factories import PatientFactory
from records.models import Medication
from records.tests.factories import MedicationFactory

pytestmark = pytest.mark.django_db

MEDICATIONS = "/api/v1/medications"


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs an API call and then its on-commit callbacks, as a real request's commit would."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def delete_patient(user, patient: Patient) -> None:
    """Deletes a patient the way the patient endpoint announces it (see patients/core/views)."""
    with transaction.atomic():
        before, patient_id = model_snapshot(patient), patient.pk
        patient.delete()
        patient.pk = patient_id
        transaction.on_commit(
            lambda: record_changed.send(
                sender=Patient,
                user=user,
                instance=patient,
                action="deleted",
                before=before,
                after=None,
                patient_id=patient_id,
            )
        )


class TestRecordChanges:
    def test_create_records_who_what_and_the_new_row(self, committed, alice_api, alice, patient):
        body = {
            "medication_name": "Aspirin",
            "dosage": "100mg",
            "effective_period_start": "2024-01-02",
        }
        response = committed(alice_api.post, MEDICATIONS, body, format="json")

        assert response.status_code == 201
        row = ActivityLog.objects.get()
        assert row.user == alice
        assert row.patient == patient and row.patient_label == "Alice Owner"
        assert (row.action, row.entity_type, row.entity_id) == (
            "created",
            "medication",
            response.json()["id"],
        )
        assert row.description == "Created Medication: Aspirin 100mg"
        assert row.model_name == "Medication"
        assert row.metadata["before"] is None and row.metadata["changed"] == []
        after = row.metadata["after"]
        assert after["medication_name"] == "Aspirin"
        assert after["patient_id"] == patient.pk
        assert after["effective_period_start"] == "2024-01-02"  # dates stored as ISO text

    def test_update_keeps_only_the_changed_fields(
        self, committed, client_for, carol, shared_patient
    ):
        medication = MedicationFactory(
            patient=shared_patient, medication_name="Aspirin", dosage="100mg"
        )
        response = committed(
            client_for(carol).patch,
            f"{MEDICATIONS}/{medication.pk}",
            {"dosage": "200mg", "medication_name": "Aspirin"},
            format="json",
        )

        assert response.status_code == 200
        row = ActivityLog.objects.get()
        assert row.user == carol  # the editor, not the owner
        assert (row.action, row.entity_id) == ("updated", medication.pk)
        assert row.description == "Updated Medication: Aspirin 200mg"
        assert row.metadata == {
            "before": {"dosage": "100mg"},
            "after": {"dosage": "200mg"},
            "changed": ["dosage"],
        }

    def test_delete_keeps_the_deleted_rows_data(self, committed, client_for, carol, shared_patient):
        medication = MedicationFactory(
            patient=shared_patient, medication_name="Ibuprofen", dosage="400mg", notes="after meals"
        )
        response = committed(client_for(carol).delete, f"{MEDICATIONS}/{medication.pk}")

        assert response.status_code == 204
        assert not Medication.objects.exists()
        row = ActivityLog.objects.get()
        assert (row.user, row.action, row.entity_type, row.entity_id) == (
            carol,
            "deleted",
            "medication",
            medication.pk,
        )
        assert row.patient == shared_patient
        assert row.description == "Deleted Medication: Ibuprofen 400mg"
        assert row.metadata["after"] is None
        assert row.metadata["before"]["id"] == medication.pk
        assert row.metadata["before"]["medication_name"] == "Ibuprofen"
        assert row.metadata["before"]["notes"] == "after meals"

    def test_other_record_types_get_their_own_entity_type(self, committed, alice_api, patient):
        response = committed(
            alice_api.post, "/api/v1/gauges", {"gauge_type": "mood", "value": 7}, format="json"
        )

        assert response.status_code == 201
        row = ActivityLog.objects.get()
        assert (row.entity_type, row.model_name, row.entity_id) == (
            "gauge",
            "Gauge",
            response.json()["id"],
        )
        assert row.description.startswith("Created Gauge: mood 7/")


class TestNothingLoggedForFailedWrites:
    def test_refused_writes_write_nothing(
        self, committed, client_for, bob, mallory, shared_patient
    ):
        medication = MedicationFactory(patient=shared_patient)
        body = {"medication_name": "Aspirin", "dosage": "100mg", "patient_id": shared_patient.pk}

        refused = [
            committed(client_for(bob).post, MEDICATIONS, body, format="json"),  # VIEW only
            committed(client_for(bob).patch, f"{MEDICATIONS}/{medication.pk}", {"dosage": "1mg"}),
            committed(client_for(mallory).delete, f"{MEDICATIONS}/{medication.pk}"),
        ]

        assert [r.status_code for r in refused] == [403, 403, 404]
        assert not ActivityLog.objects.exists()

    def test_invalid_write_writes_nothing(self, committed, alice_api, patient):
        response = committed(alice_api.post, MEDICATIONS, {"medication_name": "A"}, format="json")

        assert response.status_code == 422
        assert not ActivityLog.objects.exists()

    def test_write_rolled_back_after_saving_writes_nothing(
        self, committed, alice_api, patient, monkeypatch
    ):
        # The viewset's post-save backstop refuses: the saved row is rolled back, and with it
        # the announcement that was waiting for the commit.
        monkeypatch.setattr("patients.core.views.can_access", lambda *args, **kwargs: False)

        response = committed(alice_api.post, MEDICATIONS, {"medication_name": "Aspirin"})

        assert response.status_code == 403
        assert not Medication.objects.exists()
        assert not ActivityLog.objects.exists()

    def test_a_logging_failure_does_not_fail_the_request(
        self, committed, alice_api, patient, monkeypatch, adminops_log
    ):
        def broken(**kwargs):
            raise RuntimeError("activity table is gone")

        monkeypatch.setattr(services, "activity_record", broken)

        response = committed(alice_api.post, MEDICATIONS, {"medication_name": "Aspirin"})

        assert response.status_code == 201
        assert Medication.objects.filter(pk=response.json()["id"]).exists()
        assert "could not record created of Medication" in adminops_log.text
        assert "activity table is gone" in adminops_log.text


class TestPatientDeletion:
    def test_erases_the_patients_rows_and_keeps_one_row_without_data(
        self, committed, alice_api, client_for, alice, carol, shared_patient
    ):
        committed(alice_api.post, MEDICATIONS, {"medication_name": "Aspirin", "dosage": "1mg"})
        medication = Medication.objects.get()
        committed(client_for(carol).patch, f"{MEDICATIONS}/{medication.pk}", {"dosage": "2mg"})
        kept = ActivityLogFactory(user=alice, patient=PatientFactory(owner=alice))
        strangers = ActivityLogFactory()
        patient_id = shared_patient.pk
        assert ActivityLog.objects.filter(patient_id=patient_id).count() == 2

        committed(delete_patient, alice, shared_patient)

        assert not ActivityLog.objects.filter(patient_id=patient_id).exists()
        deletion = ActivityLog.objects.exclude(pk__in=[kept.pk, strangers.pk]).get()
        assert (deletion.action, deletion.entity_type, deletion.entity_id) == (
            "deleted",
            "patient",
            patient_id,
        )
        assert "Aspirin" not in str(deletion.metadata)

    def test_patient_deletion_row(self, django_capture_on_commit_callbacks, alice, patient):
        ActivityLogFactory(user=alice, patient=patient)
        ActivityLogFactory(user=alice, patient=patient, entity_type="patient", entity_id=patient.pk)
        patient_id = patient.pk

        with django_capture_on_commit_callbacks(execute=True):
            delete_patient(alice, patient)

        row = ActivityLog.objects.get()
        assert row.user == alice
        assert (row.action, row.entity_type, row.entity_id) == ("deleted", "patient", patient_id)
        assert row.description == "Deleted Patient: Alice Owner"
        assert row.patient is None and row.patient_label == "Alice Owner"
        assert row.metadata == {}

    def test_deletions_nobody_announces_erase_too(self, alice, patient):
        # Alice's account goes; her patients cascade away with it, with no record_changed.
        ActivityLogFactory(user=alice, patient=patient)
        other = ActivityLogFactory()

        alice.delete()

        assert list(ActivityLog.objects.all()) == [other]
        other.refresh_from_db()
        assert other.user is not None

    def test_a_rolled_back_deletion_keeps_the_rows(self, alice, patient):
        row = ActivityLogFactory(user=alice, patient=patient)
        patient_id = patient.pk

        with pytest.raises(RuntimeError), transaction.atomic():
            patient.delete()
            raise RuntimeError("changed my mind")

        assert list(ActivityLog.objects.all()) == [row]
        row.refresh_from_db()
        assert row.patient_id == patient_id

    def test_a_late_change_of_a_deleted_patients_record_writes_nothing(self, alice, patient):
        medication = MedicationFactory(patient=patient)
        patient_id = patient.pk
        Patient.objects.filter(pk=patient_id).delete()

        row = services.activity_record(
            user=alice,
            instance=medication,
            action="updated",
            before={"dosage": "1mg"},
            after={"dosage": "2mg"},
            patient_id=patient_id,
        )

        assert row is None
        assert not ActivityLog.objects.exists()


class TestService:
    def test_patient_changes_are_logged_against_the_patient(self, alice, patient):
        row = services.activity_record(
            user=alice,
            instance=patient,
            action="updated",
            before={"first_name": "Alicia", "last_name": "Owner"},
            after={"first_name": "Alice", "last_name": "Owner"},
            patient_id=patient.pk,
        )

        assert (row.patient, row.entity_type, row.entity_id) == (patient, "patient", patient.pk)
        assert row.description == "Updated Patient: Alice Owner"
        assert row.metadata["changed"] == ["first_name"]

    def test_values_json_cannot_hold_are_kept_as_text(self, alice, patient):
        medication = MedicationFactory(patient=patient)

        class Opaque:
            def __str__(self):
                return "opaque"

        row = services.activity_record(
            user=alice,
            instance=medication,
            action="created",
            after={"odd": Opaque(), "nan": float("nan")},
            patient_id=patient.pk,
        )

        row.refresh_from_db()
        assert row.metadata["after"]["odd"] == "opaque"
        assert row.metadata["after"]["nan"] == "nan"

    def test_updated_at_alone_is_not_a_change(self, alice, patient):
        medication = MedicationFactory(patient=patient)

        row = services.activity_record(
            user=alice,
            instance=medication,
            action="updated",
            before={"dosage": "1mg", "updated_at": "2024-01-01T00:00:00Z"},
            after={"dosage": "1mg", "updated_at": "2024-01-02T00:00:00Z"},
            patient_id=patient.pk,
        )

        assert row.metadata == {"before": {}, "after": {}, "changed": []}

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("Medication", "medication"),
            ("LabResult", "lab_result"),
            ("LOINCTest", "loinc_test"),
            ("EntityFile2", "entity_file2"),
        ],
    )
    def test_entity_type_is_snake_case_of_the_model_name(self, name, expected):
        assert services.entity_type_of(type(name, (), {})) == expected

    def test_anonymous_or_missing_user_is_logged_as_nobody(self, patient):
        from django.contrib.auth.models import AnonymousUser

        medication = MedicationFactory(patient=patient)
        for user in (None, AnonymousUser()):
            row = services.activity_record(
                user=user, instance=medication, action="created", patient_id=patient.pk
            )
            assert row.user is None


class TestAdmin:
    URL = "/admin/adminops/activitylog/"

    @pytest.fixture
    def admin_client(self, client, admin_user):
        client.force_login(admin_user)
        return client

    def test_changelist_searches_and_filters(self, admin_client, alice, patient):
        ActivityLogFactory(user=alice, patient=patient, description="Created Medication: Aspirin")
        ActivityLogFactory(user=alice, action="deleted", description="Deleted Medication: Zinc")

        found = admin_client.get(self.URL, {"q": "aspirin"})
        filtered = admin_client.get(self.URL, {"action__exact": "deleted"})

        assert found.status_code == 200 and filtered.status_code == 200
        assert b"Aspirin" in found.content and b"Zinc" not in found.content
        assert b"Zinc" in filtered.content and b"Aspirin" not in filtered.content

    def test_changelist_query_count_does_not_grow(
        self, admin_client, alice, patient, django_assert_num_queries
    ):
        ActivityLogFactory.create_batch(2, user=alice, patient=patient)
        with CaptureQueriesContext(connection) as few:
            assert admin_client.get(self.URL).status_code == 200
        ActivityLogFactory.create_batch(18, user=alice, patient=patient)
        with django_assert_num_queries(len(few.captured_queries)):
            assert admin_client.get(self.URL).status_code == 200

    def test_is_read_only(self, admin_client, alice, patient):
        row = ActivityLogFactory(user=alice, patient=patient, description="Created Medication: X")

        detail = admin_client.get(f"{self.URL}{row.pk}/change/")
        changed = admin_client.post(f"{self.URL}{row.pk}/change/", {"description": "forged"})

        assert detail.status_code == 200  # viewable
        assert b'name="description"' not in detail.content  # but no form field
        assert changed.status_code == 403
        assert admin_client.get(f"{self.URL}add/").status_code == 403
        assert admin_client.post(f"{self.URL}{row.pk}/delete/", {"post": "yes"}).status_code == 403
        row.refresh_from_db()
        assert row.description == "Created Medication: X"

    def test_read_only_log_does_not_block_deleting_a_user(self, admin_client, alice, patient):
        # The log's foreign keys are SET_NULL, so the admin's delete confirmation never needs
        # a delete permission on log rows that nobody has.
        own_patients_row = ActivityLogFactory(user=alice, patient=patient)
        elsewhere = ActivityLogFactory(user=alice, patient=PatientFactory())

        response = admin_client.post(f"/admin/accounts/user/{alice.pk}/delete/", {"post": "yes"})

        assert response.status_code == 302
        assert not ActivityLog.objects.filter(pk=own_patients_row.pk).exists()
        elsewhere.refresh_from_db()
        assert elsewhere.user is None and elsewhere.patient is not None


def test_the_callers_address_is_recorded(alice_api, patient, django_capture_on_commit_callbacks):
    from adminops.models import ActivityLog

    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v1/medications",
            {"medication_name": "Aspirin"},
            format="json",
            REMOTE_ADDR="10.1.2.3",
        )
    assert response.status_code == 201
    assert ActivityLog.objects.get(entity_id=response.json()["id"]).ip_address == "10.1.2.3"
