import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.models import Practice, Practitioner
from records.tests.factories import PracticeFactory, PractitionerFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/practices"

LOCATION = {
    "label": "Main Office",
    "address": "123 Medical Dr",
    "city": "Chapel Hill",
    "state": "NC",
    "zip": "27514",
    "phone": "+1234567890",
}
BODY = {
    "name": "City General Hospital",
    "phone_number": "+1234567890",
    "fax_number": "+1234567891",
    "website": "https://www.citygeneral.com",
    "patient_portal_url": "https://portal.citygeneral.com",
    "notes": "Main campus location",
    "locations": [LOCATION],
}


def errors_of(response):
    assert response.status_code == 422, response.content
    return response.json()["errors"]


def test_create_and_read(alice_api, alice):
    response = alice_api.post(URL, BODY, format="json")
    assert response.status_code == 200, response.content  # the contract's status
    data = response.json()
    assert {key: data[key] for key in BODY} == BODY
    assert data["practitioner_count"] == 0
    assert {"id", "created_at", "updated_at"} <= set(data)
    practice = Practice.objects.get(pk=data["id"])
    assert practice.created_by == alice
    PractitionerFactory.create_batch(2, practice=practice)
    detail = alice_api.get(f"{URL}/{practice.pk}").json()
    assert detail["practitioner_count"] == 2 and detail["locations"] == [LOCATION]


def test_everyone_signed_in_reads(client_for, bob):
    practice = PracticeFactory()
    assert [p["id"] for p in client_for(bob).get(URL).json()] == [practice.pk]


def test_anonymous_is_401(anon):
    practice = PracticeFactory()
    for path in (URL, f"{URL}/{practice.pk}", f"{URL}/summary", f"{URL}/search/by-name?name=a"):
        assert anon.get(path).status_code == 401, path
    assert anon.post(URL, BODY, format="json").status_code == 401
    assert anon.delete(f"{URL}/{practice.pk}").status_code == 401


def test_unknown_id_is_404(alice_api):
    assert alice_api.get(f"{URL}/999999").status_code == 404


def test_locations_are_cleaned(alice_api):
    locations = [{"label": " Annex ", "zip": "", "phone": None}, {}]
    response = alice_api.post(URL, {**BODY, "locations": locations}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["locations"] == [{"label": "Annex", "zip": None, "phone": None}, {}]
    empty = alice_api.post(URL, {"name": "No Offices", "locations": None}, format="json")
    assert empty.status_code == 200 and empty.json()["locations"] == []


@pytest.mark.parametrize(
    "locations",
    [
        "123 Medical Dr",
        {"label": "Main"},
        ["Main Office"],
        [LOCATION] * 21,
        [{**LOCATION, "fax": "+123"}],
        [{**LOCATION, "zip": "1" * 21}],
        [{**LOCATION, "label": "x" * 101}],
        [{**LOCATION, "address": "x" * 201}],
        [{**LOCATION, "city": 27514}],
        [{**LOCATION, "phone": "ring ring"}],
    ],
)
def test_bad_locations_are_422(alice_api, locations):
    assert "locations" in errors_of(
        alice_api.post(URL, {**BODY, "locations": locations}, format="json")
    )
    assert not Practice.objects.exists()


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": "A"}, "name"),
        ({"name": "x" * 151}, "name"),
        ({"name": None}, "name"),
        ({"notes": "x" * 2001}, "notes"),
        ({"website": "not a web address"}, "website"),
        ({"patient_portal_url": "ftp://portal.example.com"}, "patient_portal_url"),
        ({"phone_number": "phone"}, "phone_number"),
    ],
)
def test_bad_input_is_422(alice_api, fields, field):
    assert field in errors_of(alice_api.post(URL, {**BODY, **fields}, format="json"))
    assert not Practice.objects.exists()


def test_names_are_unique_ignoring_case(alice_api, alice):
    PracticeFactory(name="City General Hospital")
    response = alice_api.post(URL, {**BODY, "name": " city general HOSPITAL "}, format="json")
    assert response.status_code == 409
    assert Practice.objects.count() == 1
    mine = PracticeFactory(name="Downtown", created_by=alice)
    url = f"{URL}/{mine.pk}"
    assert alice_api.put(url, {"name": "CITY GENERAL HOSPITAL"}, format="json").status_code == 409
    assert alice_api.put(url, {"name": "DOWNTOWN"}, format="json").status_code == 200


def test_list_search_skip_and_limit(alice_api):
    for name in ("Alpha Clinic", "Beta Clinic", "Gamma Hospital"):
        PracticeFactory(name=name)
    names = [p["name"] for p in alice_api.get(URL).json()]
    assert names == ["Alpha Clinic", "Beta Clinic", "Gamma Hospital"]
    assert [p["name"] for p in alice_api.get(URL, {"search": "clinic"}).json()] == names[:2]
    assert [p["name"] for p in alice_api.get(URL, {"skip": 1, "limit": 1}).json()] == [names[1]]
    assert "skip" in errors_of(alice_api.get(URL, {"skip": -1}))


def test_summary_counts_practitioners(alice_api):
    busy = PracticeFactory(name="Busy")
    quiet = PracticeFactory(name="quiet")
    PractitionerFactory.create_batch(3, practice=busy)
    response = alice_api.get(f"{URL}/summary")
    assert response.status_code == 200
    assert response.json() == [
        {"id": busy.pk, "name": "Busy", "practitioner_count": 3},
        {"id": quiet.pk, "name": "quiet", "practitioner_count": 0},
    ]


def test_search_by_name(alice_api):
    wanted = PracticeFactory(name="Chapel Hill Family Medicine")
    PracticeFactory(name="Durham Clinic")
    found = alice_api.get(f"{URL}/search/by-name", {"name": "HILL"})
    assert found.status_code == 200
    assert [p["id"] for p in found.json()] == [wanted.pk]
    assert "name" in errors_of(alice_api.get(f"{URL}/search/by-name"))
    assert "name" in errors_of(alice_api.get(f"{URL}/search/by-name", {"name": "  "}))


def test_deleting_a_practice_keeps_its_practitioners(alice_api, alice):
    practice = PracticeFactory(created_by=alice)
    practitioner = PractitionerFactory(practice=practice)
    assert alice_api.delete(f"{URL}/{practice.pk}").status_code == 204
    practitioner.refresh_from_db()
    assert practitioner.practice is None
    assert Practitioner.objects.count() == 1


def test_others_cannot_change_or_delete(client_for, alice, mallory):
    practice = PracticeFactory(created_by=alice, name="Original")
    api = client_for(mallory)
    url = f"{URL}/{practice.pk}"
    assert api.put(url, {"name": "Vandalised"}, format="json").status_code == 403
    assert api.delete(url).status_code == 403
    practice.refresh_from_db()
    assert practice.name == "Original"


def test_creator_and_admin_change(client_for, alice, admin_user):
    practice = PracticeFactory(created_by=alice)
    url = f"{URL}/{practice.pk}"
    updated = client_for(alice).put(url, {"notes": "Parking behind"}, format="json")
    assert updated.status_code == 200, updated.content
    assert updated.json()["name"] == practice.name  # PUT applies what is sent
    admin = client_for(admin_user)
    assert admin.put(url, {"name": "Renamed"}, format="json").status_code == 200
    assert admin.delete(url).status_code == 204
    assert "name" in errors_of(client_for(alice).post(URL, {"name": "x"}, format="json"))


@pytest.mark.parametrize("path", ["", "/summary", "/search/by-name?name=Practice"])
def test_list_queries_do_not_grow_with_rows(alice_api, path):
    for practice in PracticeFactory.create_batch(2):
        PractitionerFactory(practice=practice)
    alice_api.get(URL + path)
    with CaptureQueriesContext(connection) as few:
        assert len(alice_api.get(URL + path).json()) == 2
    for practice in PracticeFactory.create_batch(18):
        PractitionerFactory(practice=practice)
    with CaptureQueriesContext(connection) as many:
        assert len(alice_api.get(URL + path).json()) == 20
    assert len(many) == len(few)


def test_admin_pages(client, admin_user):
    practice = PracticeFactory(name="City General Hospital")
    PractitionerFactory(practice=practice)
    client.force_login(admin_user)
    page = client.get("/admin/records/practice/", {"q": "general"})
    assert page.status_code == 200 and b"City General Hospital" in page.content
    assert client.get(f"/admin/records/practice/{practice.pk}/change/").status_code == 200
