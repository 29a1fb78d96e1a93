import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import Patient
from records.models import Practice, Practitioner
from records.tests.factories import (
    LabResultFactory,
    MedicalSpecialtyFactory,
    MedicationFactory,
    PracticeFactory,
    PractitionerFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/practitioners"


@pytest.fixture
def cardiology(db):
    return MedicalSpecialtyFactory(name="Cardiology")


@pytest.fixture
def clinic(db):
    return PracticeFactory(name="City General Hospital")


def body(specialty, **fields):
    return {
        "name": "Dr. Sarah Smith",
        "specialty_id": specialty.pk,
        "phone_number": "+1234567890",
        "email": "dr.smith@clinic.com",
        "website": "https://drsmith.com",
        "rating": 4.5,
        **fields,
    }


def errors_of(response):
    assert response.status_code == 422, response.content
    return response.json()["errors"]


# --- create and read ------------------------------------------------------------------------


def test_create_answers_names_of_specialty_and_practice(alice_api, alice, cardiology, clinic):
    response = alice_api.post(URL, body(cardiology, practice_id=clinic.pk), format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["specialty_id"] == cardiology.pk
    assert data["specialty"] == data["specialty_name"] == "Cardiology"
    assert data["practice_id"] == clinic.pk and data["practice_name"] == "City General Hospital"
    assert data["rating"] == 4.5 and "practice" not in data
    assert {"created_at", "updated_at"} <= set(data)
    assert Practitioner.objects.get(pk=data["id"]).created_by == alice


def test_everyone_signed_in_reads_the_directory(client_for, bob, cardiology):
    practitioner = PractitionerFactory(specialty=cardiology, practice=None)
    api = client_for(bob)
    assert [p["id"] for p in api.get(URL).json()] == [practitioner.pk]
    detail = api.get(f"{URL}/{practitioner.pk}").json()
    assert detail["specialty"] == "Cardiology" and detail["practice_name"] is None


def test_anonymous_is_401(anon, cardiology):
    practitioner = PractitionerFactory()
    assert anon.get(URL).status_code == 401
    assert anon.get(f"{URL}/{practitioner.pk}").status_code == 401
    assert anon.get(f"{URL}/search/by-name", {"name": "Dr"}).status_code == 401
    assert anon.post(URL, body(cardiology), format="json").status_code == 401
    assert anon.put(f"{URL}/{practitioner.pk}", {"name": "X Y"}, format="json").status_code == 401
    assert anon.delete(f"{URL}/{practitioner.pk}").status_code == 401


def test_unknown_ids_are_404(alice_api):
    assert alice_api.get(f"{URL}/999999").status_code == 404
    assert alice_api.get(f"{URL}/abc").status_code == 404


def test_website_without_scheme_gets_https(alice_api, cardiology):
    response = alice_api.post(URL, body(cardiology, website=" drsmith.com "), format="json")
    assert response.json()["website"] == "https://drsmith.com"


def test_null_optional_fields_are_empty(alice_api, cardiology):
    response = alice_api.post(
        URL,
        body(cardiology, phone_number=None, email=None, website=None, rating=None),
        format="json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    assert (data["phone_number"], data["email"], data["website"], data["rating"]) == (
        "",
        "",
        "",
        None,
    )


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": "A"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"specialty_id": None}, "specialty_id"),
        ({"specialty_id": 999999}, "specialty_id"),
        ({"specialty_id": 10**30}, "specialty_id"),
        ({"specialty_id": "cardiology"}, "specialty_id"),
        ({"practice_id": 999999}, "practice_id"),
        ({"rating": 5.5}, "rating"),
        ({"rating": -1}, "rating"),
        ({"rating": "great"}, "rating"),
        ({"rating": 10**400}, "rating"),
        ({"email": "not-an-email"}, "email"),
        ({"website": "http://"}, "website"),
        ({"phone_number": "call me"}, "phone_number"),
        ({"practice": "X"}, "practice"),
    ],
)
def test_bad_input_is_422(alice_api, cardiology, fields, field):
    assert field in errors_of(alice_api.post(URL, body(cardiology, **fields), format="json"))
    assert not Practitioner.objects.exists()


def test_specialty_is_required(alice_api, cardiology):
    data = body(cardiology)
    del data["specialty_id"]
    assert "specialty_id" in errors_of(alice_api.post(URL, data, format="json"))


# --- the legacy free-text practice ----------------------------------------------------------


def test_legacy_practice_text_finds_the_practice_ignoring_case(alice_api, cardiology, clinic):
    response = alice_api.post(
        URL, body(cardiology, practice=" city general HOSPITAL "), format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["practice_id"] == clinic.pk
    assert Practice.objects.count() == 1


def test_legacy_practice_text_creates_a_missing_practice(alice_api, alice, cardiology):
    response = alice_api.post(URL, body(cardiology, practice="Downtown Medical"), format="json")
    assert response.status_code == 201, response.content
    practice = Practice.objects.get(name="Downtown Medical")
    assert practice.created_by == alice
    assert response.json()["practice_id"] == practice.pk
    assert response.json()["practice_name"] == "Downtown Medical"


def test_practice_id_wins_over_the_legacy_text(alice_api, cardiology, clinic):
    response = alice_api.post(
        URL, body(cardiology, practice_id=clinic.pk, practice="Elsewhere"), format="json"
    )
    assert response.json()["practice_id"] == clinic.pk
    assert not Practice.objects.filter(name="Elsewhere").exists()


def test_legacy_practice_on_update_and_blank_text_changes_nothing(alice_api, alice, clinic):
    practitioner = PractitionerFactory(created_by=alice, practice=None)
    url = f"{URL}/{practitioner.pk}"
    assert (
        alice_api.put(url, {"practice": "city general hospital"}, format="json").json()[
            "practice_id"
        ]
        == clinic.pk
    )
    assert alice_api.put(url, {"practice": ""}, format="json").json()["practice_id"] == clinic.pk
    assert alice_api.put(url, {"practice_id": None}, format="json").json()["practice_id"] is None


def test_no_practice_is_created_when_the_rest_is_invalid(alice_api, cardiology):
    response = alice_api.post(URL, body(cardiology, practice="New Clinic", rating=9), format="json")
    assert "rating" in errors_of(response)
    assert not Practice.objects.exists()


# --- filters and search ---------------------------------------------------------------------


def test_filters_by_specialty_and_practice(alice_api, cardiology, clinic):
    wanted = PractitionerFactory(specialty=cardiology, practice=clinic)
    PractitionerFactory(specialty=cardiology, practice=None)
    PractitionerFactory(practice=clinic)
    listed = alice_api.get(URL, {"specialty_id": cardiology.pk, "practice_id": clinic.pk}).json()
    assert [p["id"] for p in listed] == [wanted.pk]
    assert len(alice_api.get(URL, {"specialty_id": cardiology.pk}).json()) == 2


@pytest.mark.parametrize("value", ["abc", "9" * 30, "1.5", "-1", "1e400", "nan"])
def test_junk_filter_ids_are_422(alice_api, value):
    PractitionerFactory()
    assert "specialty_id" in errors_of(alice_api.get(URL, {"specialty_id": value}))
    assert "practice_id" in errors_of(alice_api.get(URL, {"practice_id": value}))


def test_list_is_paged_with_skip_and_limit(alice_api):
    PractitionerFactory.create_batch(3)
    assert len(alice_api.get(URL, {"skip": 1, "limit": 1}).json()) == 1
    assert len(alice_api.get(URL, {"limit": 1000}).json()) == 3
    assert "limit" in errors_of(alice_api.get(URL, {"limit": 0}))


def test_search_by_name(alice_api):
    smith = PractitionerFactory(name="Dr. Sarah Smith")
    PractitionerFactory(name="Dr. John Doe")
    found = alice_api.get(f"{URL}/search/by-name", {"name": "smi"})
    assert found.status_code == 200
    assert [p["id"] for p in found.json()] == [smith.pk]
    assert found.json()[0]["specialty_name"] == smith.specialty.name
    assert alice_api.get(f"{URL}/search/by-name/", {"name": "nobody"}).json() == []


@pytest.mark.parametrize("params", [{}, {"name": "s"}, {"name": " s "}, {"name": "x" * 201}])
def test_search_needs_two_characters(alice_api, params):
    assert "name" in errors_of(alice_api.get(f"{URL}/search/by-name", params))


# --- who may change what --------------------------------------------------------------------


def test_creator_updates_and_deletes(alice_api, alice, cardiology):
    practitioner = PractitionerFactory(created_by=alice)
    url = f"{URL}/{practitioner.pk}"
    response = alice_api.put(url, {"specialty_id": cardiology.pk, "rating": 3}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["specialty"] == "Cardiology"
    practitioner.refresh_from_db()
    assert practitioner.name.startswith("Dr. Test")  # PUT applies what is sent
    assert practitioner.rating == 3
    assert alice_api.delete(url).status_code == 204
    assert not Practitioner.objects.filter(pk=practitioner.pk).exists()


def test_deleting_one_that_records_name_keeps_the_records(alice_api, alice, patient):
    practitioner = PractitionerFactory(created_by=alice)
    medication = MedicationFactory(patient=patient, practitioner=practitioner)
    lab_result = LabResultFactory(patient=patient, practitioner=practitioner)
    Patient.objects.filter(pk=patient.pk).update(physician=practitioner)
    assert alice_api.delete(f"{URL}/{practitioner.pk}").status_code == 204
    for row in (medication, lab_result, patient):
        row.refresh_from_db()
    assert medication.practitioner_id is None and lab_result.practitioner_id is None
    assert patient.physician_id is None
    shown = alice_api.get(f"/api/v1/medications/{medication.pk}").json()
    assert shown["practitioner"] is None


def test_others_cannot_change_or_delete(client_for, alice, mallory):
    practitioner = PractitionerFactory(created_by=alice, name="Dr. Original")
    api = client_for(mallory)
    url = f"{URL}/{practitioner.pk}"
    assert api.put(url, {"name": "Dr. Vandal"}, format="json").status_code == 403
    assert api.patch(url, {"name": "Dr. Vandal"}, format="json").status_code == 403
    assert api.delete(url).status_code == 403
    practitioner.refresh_from_db()
    assert practitioner.name == "Dr. Original"


def test_admin_changes_and_deletes_anyones_entry(client_for, admin_user, alice):
    practitioner = PractitionerFactory(created_by=alice)
    api = client_for(admin_user)
    url = f"{URL}/{practitioner.pk}"
    assert api.put(url, {"name": "Dr. Fixed"}, format="json").status_code == 200
    assert api.delete(url).status_code == 204
    assert not Practitioner.objects.exists()


def test_entries_of_a_deleted_account_are_left_to_admins(client_for, alice, make_user):
    practitioner = PractitionerFactory(created_by=None)
    assert client_for(alice).delete(f"{URL}/{practitioner.pk}").status_code == 403


def test_bad_update_is_422(alice_api, alice):
    practitioner = PractitionerFactory(created_by=alice)
    url = f"{URL}/{practitioner.pk}"
    assert "rating" in errors_of(alice_api.put(url, {"rating": 7}, format="json"))
    assert "specialty_id" in errors_of(alice_api.put(url, {"specialty_id": None}, format="json"))


def test_list_and_search_queries_do_not_grow_with_rows(alice_api):
    PractitionerFactory.create_batch(2)
    alice_api.get(URL)
    for path, params in ((URL, {}), (f"{URL}/search/by-name", {"name": "Dr"})):
        with CaptureQueriesContext(connection) as few:
            assert len(alice_api.get(path, params).json()) >= 2
        counts = len(few)
        PractitionerFactory.create_batch(3)
        with CaptureQueriesContext(connection) as many:
            alice_api.get(path, params)
        assert len(many) == counts, path


def test_admin_pages(client, admin_user):
    practitioner = PractitionerFactory(name="Dr. Sarah Smith")
    client.force_login(admin_user)
    page = client.get("/admin/records/practitioner/", {"q": "smith"})
    assert page.status_code == 200 and b"Dr. Sarah Smith" in page.content
    assert client.get(f"/admin/records/practitioner/{practitioner.pk}/change/").status_code == 200
    response = client.post(
        "/admin/records/practitioner/add/",
        {"name": "Dr. Admin Added", "specialty": practitioner.specialty_id},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert Practitioner.objects.get(name="Dr. Admin Added").created_by == admin_user
