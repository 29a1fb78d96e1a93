"""The generic link mechanism, exercised through condition ⇄ medication."""

import pytest

from patients.tests.factories import PatientFactory
from records.models import ConditionMedication
from records.tests.factories import ConditionFactory, MedicationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def condition(patient):
    return ConditionFactory(patient=patient, condition_name="Hypertension")


def links_url(condition):
    return f"/api/v1/conditions/{condition.pk}/medications"


class TestLinkOne:
    def test_link_list_update_unlink(self, alice_api, condition, patient):
        medication = MedicationFactory(patient=patient, medication_name="Lisinopril")
        created = alice_api.post(
            links_url(condition),
            {"medication_id": medication.pk, "relevance_note": "First line"},
            format="json",
        )
        assert created.status_code == 201, created.content
        link = created.json()
        assert link["condition_id"] == condition.pk and link["medication_id"] == medication.pk
        assert link["medication"]["medication_name"] == "Lisinopril"
        listed = alice_api.get(f"/api/v1/conditions/condition-medications/{condition.pk}").json()
        assert [item["id"] for item in listed] == [link["id"]]
        reverse = alice_api.get(f"/api/v1/conditions/medication/{medication.pk}/conditions").json()
        assert reverse[0]["condition"]["diagnosis"] == "Hypertension"
        updated = alice_api.put(
            f"{links_url(condition)}/{link['id']}",
            {"relevance_note": "Second line", "medication_id": 999},
            format="json",
        )
        assert updated.status_code == 200
        assert updated.json()["relevance_note"] == "Second line"
        assert updated.json()["medication_id"] == medication.pk
        deleted = alice_api.delete(f"{links_url(condition)}/{link['id']}")
        assert deleted.status_code == 200
        assert deleted.json()["message"] == "Condition medication relationship deleted successfully"
        assert not ConditionMedication.objects.exists()

    def test_twice_is_400(self, alice_api, condition, patient):
        medication = MedicationFactory(patient=patient)
        body = {"medication_id": medication.pk}
        assert alice_api.post(links_url(condition), body, format="json").status_code == 201
        assert alice_api.post(links_url(condition), body, format="json").status_code == 400
        assert ConditionMedication.objects.count() == 1

    def test_another_patients_medication_is_400(self, alice_api, condition, alice):
        elsewhere = MedicationFactory(patient=PatientFactory(owner=alice))
        response = alice_api.post(
            links_url(condition), {"medication_id": elsewhere.pk}, format="json"
        )
        assert response.status_code == 400
        assert "different patient" in response.json()["error"]

    def test_missing_or_invisible_records_are_404(self, alice_api, condition):
        strangers = MedicationFactory()
        for medication_id in (strangers.pk, 999999):
            response = alice_api.post(
                links_url(condition), {"medication_id": medication_id}, format="json"
            )
            assert response.status_code == 404
        missing = alice_api.post(
            "/api/v1/conditions/999999/medications", {"medication_id": 1}, format="json"
        )
        assert missing.status_code == 404

    def test_bad_note_is_422(self, alice_api, condition, patient):
        medication = MedicationFactory(patient=patient)
        response = alice_api.post(
            links_url(condition),
            {"medication_id": medication.pk, "relevance_note": "x" * 501},
            format="json",
        )
        assert response.status_code == 422


class TestBulk:
    def test_bulk_skips_existing_links(self, alice_api, condition, patient):
        meds = MedicationFactory.create_batch(3, patient=patient)
        ConditionMedication.objects.create(condition=condition, medication=meds[2])
        response = alice_api.post(
            f"{links_url(condition)}/bulk",
            {"medication_ids": [m.pk for m in meds], "relevance_note": "Managing it"},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert sorted(item["medication_id"] for item in response.json()) == sorted(
            m.pk for m in meds[:2]
        )
        assert ConditionMedication.objects.filter(relevance_note="Managing it").count() == 2

    @pytest.mark.parametrize("ids", [[], "x", None])
    def test_empty_or_junk_is_422(self, alice_api, condition, ids):
        response = alice_api.post(
            f"{links_url(condition)}/bulk", {"medication_ids": ids}, format="json"
        )
        assert response.status_code == 422

    def test_duplicates_are_422(self, alice_api, condition, patient):
        med = MedicationFactory(patient=patient)
        response = alice_api.post(
            f"{links_url(condition)}/bulk", {"medication_ids": [med.pk, med.pk]}, format="json"
        )
        assert response.status_code == 422

    def test_one_foreign_medication_refuses_all(self, alice_api, condition, patient, alice):
        mine = MedicationFactory(patient=patient)
        elsewhere = MedicationFactory(patient=PatientFactory(owner=alice))
        response = alice_api.post(
            f"{links_url(condition)}/bulk",
            {"medication_ids": [mine.pk, elsewhere.pk]},
            format="json",
        )
        assert response.status_code == 400
        assert not ConditionMedication.objects.exists()


class TestAccess:
    def test_view_share_reads_but_cannot_link(self, client_for, bob, shared_patient):
        condition = ConditionFactory(patient=shared_patient)
        medication = MedicationFactory(patient=shared_patient)
        link = ConditionMedication.objects.create(condition=condition, medication=medication)
        api = client_for(bob)
        assert len(api.get(links_url(condition)).json()) == 1
        assert api.post(links_url(condition), {"medication_id": medication.pk}).status_code == 403
        assert api.delete(f"{links_url(condition)}/{link.pk}").status_code == 403
        assert api.post(f"{links_url(condition)}/bulk", {"medication_ids": [1]}).status_code == 403

    def test_edit_share_links(self, client_for, carol, shared_patient):
        condition = ConditionFactory(patient=shared_patient)
        medication = MedicationFactory(patient=shared_patient)
        response = client_for(carol).post(
            links_url(condition), {"medication_id": medication.pk}, format="json"
        )
        assert response.status_code == 201

    def test_stranger_sees_nothing(self, client_for, mallory, patient):
        condition = ConditionFactory(patient=patient)
        api = client_for(mallory)
        assert api.get(links_url(condition)).status_code == 404
        assert (
            api.get(f"/api/v1/conditions/condition-medications/{condition.pk}").status_code == 404
        )

    def test_link_ids_of_another_condition_are_404(self, alice_api, patient):
        first, second = ConditionFactory.create_batch(2, patient=patient)
        link = ConditionMedication.objects.create(
            condition=first, medication=MedicationFactory(patient=patient)
        )
        assert alice_api.delete(f"{links_url(second)}/{link.pk}").status_code == 404
        assert ConditionMedication.objects.filter(pk=link.pk).exists()


def test_a_link_names_both_records(patient):

    condition, medication = ConditionFactory(patient=patient), MedicationFactory(patient=patient)
    link = ConditionMedication.objects.create(condition=condition, medication=medication)
    assert str(link) == f"condition {condition.pk} ⇄ medication {medication.pk}"
