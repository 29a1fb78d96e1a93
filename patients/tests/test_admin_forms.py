"""The patient's admin page: the structured address as text boxes, links to the patient's
records of each type with their counts, and tags typed as text."""

import pytest
from django.contrib import admin

from patients.admin import PatientAdminForm, record_counts
from patients.core.admin_fields import tag_list_field
from patients.models import Patient, record_models
from records.tests.factories import AllergyFactory, MedicationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def patient_post(patient, **changes):
    data = {
        "owner": patient.owner_id,
        "first_name": patient.first_name,
        "last_name": patient.last_name,
        "birth_date": patient.birth_date.isoformat(),
        "address": patient.address,
        "shares-TOTAL_FORMS": "0",
        "shares-INITIAL_FORMS": "0",
        "_save": "Save",
    }
    data.update(changes)
    return data


class TestAddress:
    def test_parts_make_the_one_line_address(self, admin_client, patient):
        response = admin_client.post(
            f"/admin/patients/patient/{patient.pk}/change/",
            patient_post(
                patient,
                street="1 Main St",
                city="Springfield",
                state="IL",
                zip_code="62701",
                country="US",
            ),
        )
        assert response.status_code == 302, response.content.decode()[:3000]
        patient.refresh_from_db()
        assert patient.address_details == {
            "street": "1 Main St",
            "city": "Springfield",
            "state": "IL",
            "zip_code": "62701",
            "country": "US",
        }
        assert patient.address == "1 Main St, Springfield, IL 62701, US"

    def test_the_form_shows_the_stored_parts(self, patient):
        patient.address_details = {"city": "Springfield", "country": "US"}
        form = PatientAdminForm(instance=patient)
        assert form["city"].value() == "Springfield" and form["street"].value() == ""
        assert "address_details" not in form.fields

    def test_without_parts_the_text_stays_and_the_structure_goes(self, admin_client, patient):
        Patient.objects.filter(pk=patient.pk).update(
            address_details={"city": "Old town"}, address="Old town"
        )
        response = admin_client.post(
            f"/admin/patients/patient/{patient.pk}/change/",
            patient_post(patient, address="12 Elm Road, Shelbyville"),
        )
        assert response.status_code == 302
        patient.refresh_from_db()
        assert patient.address == "12 Elm Road, Shelbyville"
        assert patient.address_details is None

    def test_a_part_too_long_is_refused(self, patient):
        form = PatientAdminForm(instance=patient, data=patient_post(patient, zip_code="9" * 21))
        assert not form.is_valid() and "zip_code" in form.errors


class TestRecordLinks:
    def test_counts_every_type_in_one_query(self, patient, django_assert_num_queries):
        MedicationFactory.create_batch(2, patient=patient)
        AllergyFactory(patient=patient)
        MedicationFactory()  # someone else's
        with django_assert_num_queries(1):
            counts = {model.__name__: n for model, n in record_counts(patient.pk)}
        assert set(counts) == {model.__name__ for model in record_models()}
        assert counts["Medication"] == 2 and counts["Allergy"] == 1 and counts["Vitals"] == 0

    def test_the_page_links_each_type_filtered_to_the_patient(self, admin_client, patient):
        MedicationFactory.create_batch(2, patient=patient)
        page = admin_client.get(f"/admin/patients/patient/{patient.pk}/change/").content.decode()
        registered = [m for m in record_models() if m in admin.site._registry]
        assert registered
        for model in registered:
            opts = model._meta
            href = f"/admin/{opts.app_label}/{opts.model_name}/?patient__id__exact={patient.pk}"
            assert f'href="{href}"' in page, model
        assert "medications</a>: 2" in page

    def test_a_link_opens_the_filtered_list(self, admin_client, patient):
        mine = MedicationFactory(patient=patient, medication_name="Mine-only")
        MedicationFactory(medication_name="Somebody-else")
        page = admin_client.get(
            f"/admin/records/medication/?patient__id__exact={patient.pk}"
        ).content.decode()
        assert mine.medication_name in page and "Somebody-else" not in page


class TestTags:
    def test_text_round_trips_to_the_normalised_list(self):
        field = tag_list_field()
        assert field.clean(" Diabetes, follow up ,diabetes,, ") == ["diabetes", "follow-up"]
        assert field.prepare_value(["diabetes", "follow-up"]) == "diabetes, follow-up"
        assert field.clean("") == []

    def test_too_long_a_tag_is_refused(self):
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            tag_list_field().clean("x" * 200)

    def test_the_record_page_edits_tags_as_text(self, admin_client, patient):
        allergy = AllergyFactory(patient=patient, tags=["pollen", "spring"])
        page = admin_client.get(f"/admin/records/allergy/{allergy.pk}/change/").content.decode()
        assert 'name="tags" value="pollen, spring"' in page
