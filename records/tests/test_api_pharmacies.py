import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.models import Pharmacy
from records.tests.factories import PharmacyFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/pharmacies"

BODY = {
    "name": "CVS Pharmacy - Main Street",
    "brand": "CVS",
    "street_address": "456 Oak St",
    "city": "Anytown",
    "state": "NC",
    "zip_code": "27514",
    "country": "United States",
    "store_number": "12345",
    "phone_number": "+1234567890",
    "fax_number": "+1234567891",
    "email": "pharmacy@example.com",
    "website": "https://www.cvs.com",
    "hours": "Mon-Fri 9AM-9PM",
    "drive_through": True,
    "twenty_four_hour": False,
    "specialty_services": "Vaccinations, Compounding, Medication Therapy Management",
}


def errors_of(response):
    assert response.status_code == 422, response.content
    return response.json()["errors"]


def test_create_with_every_field_of_the_contract(alice_api, alice):
    response = alice_api.post(URL, BODY, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert {key: data[key] for key in BODY} == BODY
    assert {"id", "created_at", "updated_at"} <= set(data)
    assert Pharmacy.objects.get(pk=data["id"]).created_by == alice
    assert alice_api.get(f"{URL}/{data['id']}").json() == data


def test_only_the_name_is_required(alice_api):
    response = alice_api.post(URL, {"name": "Corner Drugs", "brand": None}, format="json")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["brand"] == "" and data["drive_through"] is False
    assert data["twenty_four_hour"] is False


@pytest.mark.parametrize(
    "zip_code", ["27514", "27514-1234", "K1A 0B1", "SW1A 1AA", "1012 AB", "D02 X285", "75008"]
)
def test_international_postal_codes_are_accepted(alice_api, zip_code):
    response = alice_api.post(URL, {**BODY, "zip_code": zip_code}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["zip_code"] == zip_code


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"name": "Rx"}, "name"),
        ({"name": "x" * 151}, "name"),
        ({"name": None}, "name"),
        ({"brand": "C"}, "brand"),
        ({"street_address": "1 A"}, "street_address"),
        ({"city": "A"}, "city"),
        ({"state": "x" * 51}, "state"),
        ({"country": "U"}, "country"),
        ({"zip_code": "!!!"}, "zip_code"),
        ({"zip_code": "1" * 21}, "zip_code"),
        ({"zip_code": "-2751"}, "zip_code"),
        ({"store_number": "x" * 21}, "store_number"),
        ({"email": "pharmacy"}, "email"),
        ({"website": "javascript:alert(1)"}, "website"),
        ({"phone_number": "ph0ne"}, "phone_number"),
        ({"hours": "x" * 201}, "hours"),
        ({"specialty_services": "x" * 501}, "specialty_services"),
        ({"drive_through": "maybe"}, "drive_through"),
    ],
)
def test_bad_input_is_422(alice_api, fields, field):
    assert field in errors_of(alice_api.post(URL, {**BODY, **fields}, format="json"))
    assert not Pharmacy.objects.exists()


def test_a_body_that_is_not_an_object_is_refused(alice_api):
    for body in ([BODY], "CVS", 12):
        assert alice_api.post(URL, body, format="json").status_code in (400, 422)
    assert not Pharmacy.objects.exists()


def test_list_default_limit_is_100(alice_api, alice):
    PharmacyFactory.create_batch(101, created_by=alice)
    assert len(alice_api.get(URL).json()) == 100
    assert len(alice_api.get(URL, {"skip": 100}).json()) == 1
    assert len(alice_api.get(URL, {"limit": 500}).json()) == 101
    assert "limit" in errors_of(alice_api.get(URL, {"limit": "many"}))


def test_everyone_signed_in_reads(client_for, bob):
    pharmacy = PharmacyFactory()
    api = client_for(bob)
    assert [p["id"] for p in api.get(URL).json()] == [pharmacy.pk]
    assert api.get(f"{URL}/{pharmacy.pk}").status_code == 200
    assert api.get(f"{URL}/999999").status_code == 404


def test_anonymous_is_401(anon):
    pharmacy = PharmacyFactory()
    assert anon.get(URL).status_code == 401
    assert anon.get(f"{URL}/{pharmacy.pk}").status_code == 401
    assert anon.post(URL, BODY, format="json").status_code == 401
    assert anon.put(f"{URL}/{pharmacy.pk}", {"hours": "24/7"}, format="json").status_code == 401
    assert anon.delete(f"{URL}/{pharmacy.pk}").status_code == 401


def test_creator_updates_and_deletes(alice_api, alice):
    pharmacy = PharmacyFactory(created_by=alice)
    url = f"{URL}/{pharmacy.pk}"
    response = alice_api.put(url, {"hours": "24/7", "twenty_four_hour": True}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["name"] == pharmacy.name  # PUT applies what is sent
    assert response.json()["twenty_four_hour"] is True
    assert "zip_code" in errors_of(alice_api.put(url, {"zip_code": "#1"}, format="json"))
    assert alice_api.delete(url).status_code == 204
    assert not Pharmacy.objects.exists()


def test_others_cannot_change_or_delete_but_admins_may(client_for, alice, mallory, admin_user):
    pharmacy = PharmacyFactory(created_by=alice, hours="9-5")
    url = f"{URL}/{pharmacy.pk}"
    stranger = client_for(mallory)
    assert stranger.put(url, {"hours": "closed"}, format="json").status_code == 403
    assert stranger.patch(url, {"hours": "closed"}, format="json").status_code == 403
    assert stranger.delete(url).status_code == 403
    pharmacy.refresh_from_db()
    assert pharmacy.hours == "9-5"
    admin = client_for(admin_user)
    assert admin.patch(url, {"hours": "8-8"}, format="json").status_code == 200
    assert admin.delete(url).status_code == 204


def test_list_queries_do_not_grow_with_rows(alice_api):
    PharmacyFactory.create_batch(2)
    alice_api.get(URL)
    with CaptureQueriesContext(connection) as few:
        assert len(alice_api.get(URL).json()) == 2
    PharmacyFactory.create_batch(18)
    with CaptureQueriesContext(connection) as many:
        assert len(alice_api.get(URL).json()) == 20
    assert len(many) == len(few)


def test_admin_pages(client, admin_user):
    PharmacyFactory(name="Corner Drugs", drive_through=True)
    client.force_login(admin_user)
    page = client.get("/admin/records/pharmacy/", {"q": "corner", "drive_through__exact": 1})
    assert page.status_code == 200 and b"Corner Drugs" in page.content
