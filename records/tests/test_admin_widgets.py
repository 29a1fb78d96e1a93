"""Reminder times are typed as "08:00, 20:00" in the medication's admin page, checked like the
API checks them, and stored as the model's sorted list."""

import pytest

from records.models import Medication
from records.tests.factories import MedicationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def reminder_field():
    from django.contrib import admin

    model_admin = admin.site._registry[Medication]
    return model_admin.formfield_for_dbfield(Medication._meta.get_field("reminder_times"), None)


def test_the_page_shows_times_as_text(admin_client, patient):
    medication = MedicationFactory(patient=patient, reminder_times=["08:00", "20:30"])
    page = admin_client.get(f"/admin/records/medication/{medication.pk}/change/").content
    assert b'name="reminder_times" value="08:00, 20:30"' in page


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("20:30, 08:00", ["08:00", "20:30"]), ("07:15 12:00", ["07:15", "12:00"]), ("", [])],
)
def test_typed_times_round_trip(typed, stored):
    field = reminder_field()
    assert field.clean(typed) == stored
    assert field.clean(field.prepare_value(stored)) == stored


@pytest.mark.parametrize("typed", ["8 o'clock", "25:00", "08:00, 08:00"])
def test_bad_times_are_refused(typed):
    from django.core.exceptions import ValidationError

    field = reminder_field()
    with pytest.raises(ValidationError):
        field.clean(typed)


def test_saving_the_page_stores_the_list(admin_client, patient):
    medication = MedicationFactory(patient=patient, reminder_times=["08:00"], tags=["a"])
    url = f"/admin/records/medication/{medication.pk}/change/"
    form = admin_client.get(url).context["adminform"].form
    data = {
        name: value
        for name, value in form.initial.items()
        if value is not None and not isinstance(value, list)
    }
    for name, field in form.fields.items():
        if hasattr(field, "normalise") or name not in data:
            data.setdefault(name, field.prepare_value(form.initial.get(name)) or "")
    data.update({"reminder_times": "21:00, 09:00", "tags": "Blood pressure, Daily"})
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data = {k: v for k, v in data.items() if v is not False}
    response = admin_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    medication.refresh_from_db()
    assert medication.reminder_times == ["09:00", "21:00"]
    assert medication.tags == ["blood-pressure", "daily"]


def text_list(model, name):
    from django.contrib import admin

    return admin.site._registry[model].formfield_for_dbfield(model._meta.get_field(name), None)


def test_free_text_lists_are_one_per_line():
    from records.models import SymptomOccurrence

    field = text_list(SymptomOccurrence, "triggers")
    typed = "cold, wet weather\n  stress \n\nstress\n"
    assert field.clean(typed) == ["cold, wet weather", "stress"]
    assert field.prepare_value(["cold, wet weather", "stress"]) == "cold, wet weather\nstress"


def test_symptom_pages_show_lists_as_lines(admin_client, patient):
    from records.tests.factories import SymptomFactory, SymptomOccurrenceFactory

    symptom = SymptomFactory(patient=patient, typical_triggers=["heat", "dust, pollen"])
    occurrence = SymptomOccurrenceFactory(symptom=symptom, relief_methods=["rest"])
    page = admin_client.get(f"/admin/records/symptom/{symptom.pk}/change/").content.decode()
    assert ">\nheat\ndust, pollen</textarea>" in page
    url = f"/admin/records/symptomoccurrence/{occurrence.pk}/change/"
    assert ">\nrest</textarea>" in admin_client.get(url).content.decode()
