"""Symptom ⇄ condition, medication and treatment links at the contract's paths:
POST /symptoms/{id}/link-<x>, GET /symptoms/{id}/<x>s, DELETE /symptoms/{id}/unlink-<x>/{x_id}."""

import pytest

from patients.tests.factories import PatientFactory
from records.models import SymptomCondition, SymptomMedication, SymptomTreatment
from records.tests.factories import (
    ConditionFactory,
    MedicationFactory,
    SymptomFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db

API = "/api/v1/symptoms"

# child, factory, link model, a field of the child's summary
FAMILIES = [
    ("condition", ConditionFactory, SymptomCondition, "condition_name"),
    ("medication", MedicationFactory, SymptomMedication, "medication_name"),
    ("treatment", TreatmentFactory, SymptomTreatment, "treatment_name"),
]


@pytest.fixture(params=FAMILIES, ids=lambda family: family[0])
def family(request):
    return request.param


@pytest.fixture
def symptom(patient):
    return SymptomFactory(patient=patient, symptom_name="Headache")


def link_url(symptom, child):
    return f"{API}/{symptom.pk}/link-{child}"


def unlink_url(symptom, child, record):
    return f"{API}/{symptom.pk}/unlink-{child}/{record.pk}"


def list_url(symptom, child):
    return f"{API}/{symptom.pk}/{child}s"


class TestEveryFamily:
    def test_link_list_unlink(self, alice_api, symptom, patient, family):
        child, factory, model, name_field = family
        record = factory(patient=patient)
        created = alice_api.post(
            link_url(symptom, child),
            {f"{child}_id": record.pk, "symptom_id": symptom.pk, "notes": "Primary symptom"},
            format="json",
        )
        assert created.status_code == 201, created.content
        link = created.json()
        assert link["symptom_id"] == symptom.pk and link[f"{child}_id"] == record.pk
        assert link["notes"] == link["relevance_note"] == "Primary symptom"
        assert link[child][name_field] == getattr(record, name_field)
        listed = alice_api.get(list_url(symptom, child))
        assert listed.status_code == 200
        assert [item["id"] for item in listed.json()] == [link["id"]]
        deleted = alice_api.delete(unlink_url(symptom, child, record))
        assert deleted.status_code == 200, deleted.content
        assert deleted.json() == {
            "status": "success",
            "message": f"Symptom {child} relationship deleted successfully",
        }
        assert not model.objects.exists()
        again = alice_api.delete(unlink_url(symptom, child, record))
        assert again.status_code == 404
        assert again.json()["error"] == f"The {child} {record.pk} is not linked to this symptom"
        beyond = alice_api.delete(f"{API}/{symptom.pk}/unlink-{child}/{2**70}")
        assert beyond.status_code == 404

    def test_twice_is_400(self, alice_api, symptom, patient, family):
        child, factory, model, _ = family
        body = {f"{child}_id": factory(patient=patient).pk}
        assert alice_api.post(link_url(symptom, child), body, format="json").status_code == 201
        assert alice_api.post(link_url(symptom, child), body, format="json").status_code == 400
        assert model.objects.count() == 1

    def test_another_patients_record_is_400(self, alice_api, symptom, alice, family):
        child, factory, model, _ = family
        elsewhere = factory(patient=PatientFactory(owner=alice))
        response = alice_api.post(
            link_url(symptom, child), {f"{child}_id": elsewhere.pk}, format="json"
        )
        assert response.status_code == 400
        assert "different patient" in response.json()["error"]
        assert not model.objects.exists()

    def test_invisible_or_missing_records_are_404(self, alice_api, symptom, family):
        child, factory, model, _ = family
        for record_id in (factory().pk, 999999):
            response = alice_api.post(
                link_url(symptom, child), {f"{child}_id": record_id}, format="json"
            )
            assert response.status_code == 404
        missing = alice_api.post(f"{API}/999999/link-{child}", {f"{child}_id": 1}, format="json")
        assert missing.status_code == 404
        assert alice_api.get(f"{API}/999999/{child}s").status_code == 404

    @pytest.mark.parametrize(
        "extra", [{"notes": "x" * 501}, {"relevance_note": "x" * 501}, {"_id": "x"}, {"_id": None}]
    )
    def test_bad_input_is_422(self, alice_api, symptom, patient, family, extra):
        child, factory, model, _ = family
        body = {f"{child}_id": factory(patient=patient).pk}
        body |= {f"{child}{k}" if k == "_id" else k: v for k, v in extra.items()}
        response = alice_api.post(link_url(symptom, child), body, format="json")
        assert response.status_code == 422, response.content
        assert not model.objects.exists()

    def test_null_note_is_empty(self, alice_api, symptom, patient, family):
        child, factory, _, _ = family
        response = alice_api.post(
            link_url(symptom, child),
            {f"{child}_id": factory(patient=patient).pk, "notes": None},
            format="json",
        )
        assert response.status_code == 201 and response.json()["relevance_note"] == ""

    def test_view_share_reads_but_cannot_link_or_unlink(
        self, client_for, bob, shared_patient, family
    ):
        child, factory, model, _ = family
        symptom = SymptomFactory(patient=shared_patient)
        linked, other = factory.create_batch(2, patient=shared_patient)
        model.objects.create(symptom=symptom, **{child: linked})
        api = client_for(bob)
        assert len(api.get(list_url(symptom, child)).json()) == 1
        body = {f"{child}_id": other.pk}
        assert api.post(link_url(symptom, child), body, format="json").status_code == 403
        assert api.delete(unlink_url(symptom, child, linked)).status_code == 403
        # Refused before looking for the link: no hint whether it exists.
        assert api.delete(unlink_url(symptom, child, other)).status_code == 403
        assert model.objects.count() == 1

    def test_edit_share_links_and_unlinks(self, client_for, carol, shared_patient, family):
        child, factory, model, _ = family
        symptom = SymptomFactory(patient=shared_patient)
        record = factory(patient=shared_patient)
        api = client_for(carol)
        body = {f"{child}_id": record.pk}
        assert api.post(link_url(symptom, child), body, format="json").status_code == 201
        assert api.delete(unlink_url(symptom, child, record)).status_code == 200
        assert not model.objects.exists()

    def test_stranger_gets_404(self, client_for, mallory, symptom, patient, family):
        child, factory, model, _ = family
        record = factory(patient=patient)
        model.objects.create(symptom=symptom, **{child: record})
        api = client_for(mallory)
        assert api.get(list_url(symptom, child)).status_code == 404
        body = {f"{child}_id": record.pk}
        assert api.post(link_url(symptom, child), body, format="json").status_code == 404
        assert api.delete(unlink_url(symptom, child, record)).status_code == 404
        assert model.objects.count() == 1

    def test_unlink_only_touches_this_symptoms_link(self, alice_api, patient, family):
        child, factory, model, _ = family
        first, second = SymptomFactory.create_batch(2, patient=patient)
        record = factory(patient=patient)
        model.objects.create(symptom=first, **{child: record})
        assert alice_api.delete(unlink_url(second, child, record)).status_code == 404
        assert model.objects.filter(symptom=first).exists()

    def test_deleting_the_symptom_removes_its_links(self, alice_api, symptom, patient, family):
        child, factory, model, _ = family
        record = factory(patient=patient)
        model.objects.create(symptom=symptom, **{child: record})
        assert alice_api.delete(f"{API}/{symptom.pk}").status_code == 200
        assert not model.objects.exists()
        assert type(record).objects.filter(pk=record.pk).exists()


class TestMedicationRelationship:
    def test_default_and_given_relationship(self, alice_api, symptom, patient):
        first, second = MedicationFactory.create_batch(2, patient=patient)
        default = alice_api.post(
            link_url(symptom, "medication"), {"medication_id": first.pk}, format="json"
        )
        assert default.json()["relationship_type"] == "related_to"
        given = alice_api.post(
            link_url(symptom, "medication"),
            {
                "medication_id": second.pk,
                "symptom_id": symptom.pk,
                "relationship_type": "side_effect",
                "notes": "Occurs 2 hours after taking medication",
            },
            format="json",
        )
        assert given.status_code == 201, given.content
        assert given.json()["relationship_type"] == "side_effect"
        listed = alice_api.get(list_url(symptom, "medication")).json()
        assert {item["relationship_type"] for item in listed} == {"related_to", "side_effect"}

    @pytest.mark.parametrize("value", ["Helped By", "helped-by"])
    def test_spellings_are_lenient(self, alice_api, symptom, patient, value):
        response = alice_api.post(
            link_url(symptom, "medication"),
            {"medication_id": MedicationFactory(patient=patient).pk, "relationship_type": value},
            format="json",
        )
        assert response.status_code == 201 and response.json()["relationship_type"] == ("helped_by")

    @pytest.mark.parametrize("value", ["treatment", "causes", 3])
    def test_unknown_relationship_is_422(self, alice_api, symptom, patient, value):
        response = alice_api.post(
            link_url(symptom, "medication"),
            {"medication_id": MedicationFactory(patient=patient).pk, "relationship_type": value},
            format="json",
        )
        assert response.status_code == 422
        assert "relationship_type" in response.json()["errors"]
        assert not SymptomMedication.objects.exists()
