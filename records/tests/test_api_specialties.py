import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.models import STANDARD_SPECIALTIES, MedicalSpecialty, seed_standard_specialties
from records.tests.factories import MedicalSpecialtyFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/medical-specialties"


@pytest.fixture
def standard_specialties(db):
    """What the data migration does (tests run without migrations)."""
    seed_standard_specialties(apps, None)
    return MedicalSpecialty.objects.all()


def errors_of(response):
    assert response.status_code == 422, response.content
    return response.json()["errors"]


# --- the seeded list ------------------------------------------------------------------------


def test_seeding_is_idempotent_and_case_insensitive(db):
    MedicalSpecialty.objects.create(name="cardiology")  # added by hand before the migration
    seed_standard_specialties(apps, None)
    seed_standard_specialties(apps, None)
    assert MedicalSpecialty.objects.count() == len(STANDARD_SPECIALTIES) >= 50
    cardiology = MedicalSpecialty.objects.get(name__iexact="cardiology")
    assert cardiology.name == "cardiology"  # kept as it was …
    assert cardiology.category == "medical" and cardiology.description  # … and completed
    categories = {category for _, category, _ in STANDARD_SPECIALTIES}
    assert categories == {"medical", "surgical", "dental", "allied_health"}
    assert not MedicalSpecialty.objects.exclude(created_by=None).exists()


def test_list_shows_active_specialties_by_name(alice_api, standard_specialties):
    MedicalSpecialty.objects.filter(name="Cardiology").update(is_active=False)
    response = alice_api.get(URL)
    assert response.status_code == 200
    body = response.json()
    names = [item["name"] for item in body]
    assert "Cardiology" not in names and "Dermatology" in names
    assert names == sorted(names, key=str.lower)
    assert len(body) == len(STANDARD_SPECIALTIES) - 1  # not paginated: it feeds a dropdown
    assert set(body[0]) == {"id", "name", "category", "description", "is_active"}


def test_only_admins_list_inactive_specialties(client_for, alice, admin_user):
    MedicalSpecialtyFactory(name="Old", is_active=False)
    MedicalSpecialtyFactory(name="New")
    assert [s["name"] for s in client_for(alice).get(URL, {"include_inactive": "true"}).json()] == [
        "New"
    ]
    listed = client_for(admin_user).get(URL, {"include_inactive": "true"}).json()
    assert [s["name"] for s in listed] == ["New", "Old"]


def test_anonymous_is_401(anon):
    specialty = MedicalSpecialtyFactory()
    assert anon.get(URL).status_code == 401
    assert anon.get(f"{URL}/{specialty.pk}").status_code == 401
    assert anon.post(URL, {"name": "Pulmonology"}, format="json").status_code == 401
    assert not MedicalSpecialty.objects.filter(name="Pulmonology").exists()


def test_retrieve_one(alice_api):
    specialty = MedicalSpecialtyFactory(name="Cardiology")
    assert alice_api.get(f"{URL}/{specialty.pk}").json()["name"] == "Cardiology"
    assert alice_api.get(f"{URL}/999999").status_code == 404


# --- quick-create ---------------------------------------------------------------------------


def test_create_then_the_same_name_answers_the_existing_row(alice_api, alice):
    created = alice_api.post(
        URL, {"name": "Pulmonology", "description": "Lung & respiratory care"}, format="json"
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "Pulmonology" and body["is_active"] is True
    assert MedicalSpecialty.objects.get(pk=body["id"]).created_by == alice
    again = alice_api.post(URL, {"name": "  PULMONOLOGY "}, format="json")
    assert again.status_code == 200
    assert again.json() == body
    assert MedicalSpecialty.objects.count() == 1


def test_users_create_active_specialties(alice_api):
    response = alice_api.post(
        URL, {"name": "Hepatology", "is_active": False, "category": "Medical"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["is_active"] is True
    assert response.json()["category"] == "medical"


@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "name"),
        ({"name": "a"}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": True}, "name"),
        ({"name": ["Cardiology"]}, "name"),
        ({"name": "Hepatology", "category": "astrology"}, "category"),
        ({"name": "Hepatology", "description": "x" * 1001}, "description"),
    ],
)
def test_bad_input_is_422(alice_api, body, field):
    assert field in errors_of(alice_api.post(URL, body, format="json"))
    assert not MedicalSpecialty.objects.exists()


def test_the_21st_create_within_an_hour_is_429(client_for, alice, bob):
    api = client_for(alice)
    statuses = [
        api.post(URL, {"name": f"Specialty number {n}"}, format="json").status_code
        for n in range(20)
    ]
    assert statuses == [201] * 20
    refused = api.post(URL, {"name": "One too many"}, format="json")
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "RATE-429"
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert refused["X-RateLimit-Limit"] == "20" and refused["X-RateLimit-Remaining"] == "0"
    assert not MedicalSpecialty.objects.filter(name="One too many").exists()
    assert api.get(URL).status_code == 200  # reading is not limited by it
    assert client_for(bob).post(URL, {"name": "One too many"}, format="json").status_code == 201


def test_every_post_counts_against_the_limit(alice_api):
    # Documented choice: POSTs that find an existing specialty (200) count too.
    assert alice_api.post(URL, {"name": "Hepatology"}, format="json").status_code == 201
    for _ in range(19):
        assert alice_api.post(URL, {"name": "hepatology"}, format="json").status_code == 200
    assert alice_api.post(URL, {"name": "Toxicology"}, format="json").status_code == 429


# --- admin-only changes ---------------------------------------------------------------------


def test_admin_renames_and_deactivates(client_for, admin_user, alice_api):
    specialty = MedicalSpecialtyFactory(name="Cardio")
    api = client_for(admin_user)
    renamed = api.put(f"{URL}/{specialty.pk}", {"name": "Cardiology"}, format="json")
    assert renamed.status_code == 200, renamed.content
    assert renamed.json()["description"] == "A test specialty"  # PUT applies what is sent
    assert (
        api.patch(f"{URL}/{specialty.pk}", {"is_active": False}, format="json").status_code == 200
    )
    specialty.refresh_from_db()
    assert specialty.name == "Cardiology" and specialty.is_active is False
    assert alice_api.get(URL).json() == []


def test_admin_rename_to_a_taken_name_is_409(client_for, admin_user):
    MedicalSpecialtyFactory(name="Cardiology")
    other = MedicalSpecialtyFactory(name="Cardio")
    response = client_for(admin_user).put(
        f"{URL}/{other.pk}", {"name": "CARDIOLOGY"}, format="json"
    )
    assert response.status_code == 409
    other.refresh_from_db()
    assert other.name == "Cardio"


def test_admin_deletes_unused_but_not_used_specialties(client_for, admin_user):
    api = client_for(admin_user)
    unused = MedicalSpecialtyFactory()
    assert api.delete(f"{URL}/{unused.pk}").status_code == 204
    assert not MedicalSpecialty.objects.filter(pk=unused.pk).exists()
    used = PractitionerFactory().specialty
    response = api.delete(f"{URL}/{used.pk}")
    assert response.status_code == 409
    assert "deactivate" in response.json()["error"]
    assert MedicalSpecialty.objects.filter(pk=used.pk).exists()


def test_users_cannot_change_or_delete_specialties_even_their_own(client_for, alice):
    specialty = MedicalSpecialtyFactory(name="Mine", created_by=alice)
    api = client_for(alice)
    assert api.put(f"{URL}/{specialty.pk}", {"name": "Renamed"}, format="json").status_code == 403
    assert (
        api.patch(f"{URL}/{specialty.pk}", {"is_active": False}, format="json").status_code == 403
    )
    assert api.delete(f"{URL}/{specialty.pk}").status_code == 403
    specialty.refresh_from_db()
    assert specialty.name == "Mine" and specialty.is_active


def test_admin_bad_update_is_422(client_for, admin_user):
    specialty = MedicalSpecialtyFactory()
    response = client_for(admin_user).put(f"{URL}/{specialty.pk}", {"name": ""}, format="json")
    assert "name" in errors_of(response)


def test_list_queries_do_not_grow_with_rows(alice_api):
    MedicalSpecialtyFactory.create_batch(2)
    alice_api.get(URL)
    with CaptureQueriesContext(connection) as few:
        assert len(alice_api.get(URL).json()) == 2
    MedicalSpecialtyFactory.create_batch(18)
    with CaptureQueriesContext(connection) as many:
        assert len(alice_api.get(URL).json()) == 20
    assert len(many) == len(few)


def test_admin_pages(client, admin_user):
    MedicalSpecialtyFactory(name="Cardiology")
    client.force_login(admin_user)
    page = client.get("/admin/records/medicalspecialty/", {"q": "cardio", "is_active__exact": 1})
    assert page.status_code == 200 and b"Cardiology" in page.content
    added = client.post(
        "/admin/records/medicalspecialty/add/",
        {"name": "cardiology", "category": "medical", "is_active": "on"},
    )
    assert added.status_code == 200  # the form shows the case-insensitive clash
    assert MedicalSpecialty.objects.count() == 1
