"""/injury-types: the global catalogue, its seed and its delete rules."""

import pytest
from django.apps import apps

from records.models import SYSTEM_INJURY_TYPES, InjuryType, seed_system_injury_types
from records.tests.factories import InjuryFactory, InjuryTypeFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/injury-types"


@pytest.fixture
def system_types(db):
    seed_system_injury_types(apps, None)
    return InjuryType.objects.filter(is_system=True)


@pytest.fixture
def alices_type(alice):
    return InjuryTypeFactory(name="Turf toe", created_by=alice)


class TestSeed:
    def test_ten_system_types(self, system_types):
        assert system_types.count() == len(SYSTEM_INJURY_TYPES) == 10
        names = set(system_types.values_list("name", flat=True))
        assert {"Sprain/Strain", "Fracture", "Concussion", "Other"} <= names
        assert all(t.description and t.created_by_id is None for t in system_types)

    def test_idempotent_and_adopts_a_same_named_type(self, alice):
        InjuryTypeFactory(name="FRACTURE", created_by=alice, description="")
        seed_system_injury_types(apps, None)
        seed_system_injury_types(apps, None)
        assert InjuryType.objects.count() == 10
        adopted = InjuryType.objects.get(name__iexact="fracture")
        assert adopted.is_system and adopted.description


class TestReading:
    def test_list_shows_every_type_by_name(self, alice_api, system_types, mallory):
        InjuryTypeFactory(name="Avulsion", created_by=mallory)  # another user's: shared
        response = alice_api.get(URL)
        assert response.status_code == 200
        body = response.json()
        assert len(body) == 11
        assert [t["name"] for t in body] == sorted(t["name"] for t in body)
        assert set(body[0]) == {
            "id",
            "name",
            "description",
            "is_system",
            "created_at",
            "updated_at",
        }
        assert alice_api.get(f"{URL}/", {"limit": 1}).status_code == 200  # never paged

    def test_dropdown(self, alice_api, system_types):
        body = alice_api.get(f"{URL}/dropdown").json()
        assert len(body) == 10
        assert set(body[0]) == {"id", "name", "is_system"}

    def test_one_type(self, alice_api, system_types):
        fracture = system_types.get(name="Fracture")
        response = alice_api.get(f"{URL}/{fracture.pk}")
        assert response.status_code == 200
        assert response.json()["name"] == "Fracture" and response.json()["is_system"] is True
        assert alice_api.get(f"{URL}/999999").status_code == 404

    def test_anonymous_is_401(self, anon, system_types):
        assert anon.get(URL).status_code == 401
        assert anon.get(f"{URL}/dropdown").status_code == 401
        assert anon.post(URL, {"name": "Bite"}, format="json").status_code == 401


class TestCreating:
    def test_any_user_creates_a_user_type(self, client_for, mallory):
        response = client_for(mallory).post(
            URL,
            {"name": "  Custom Injury Type ", "description": None, "is_system": True},
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["name"] == "Custom Injury Type"
        assert body["description"] == "" and body["is_system"] is False
        created = InjuryType.objects.get(pk=body["id"])
        assert created.created_by == mallory and not created.is_system

    @pytest.mark.parametrize("name", ["Fracture", "fracture", " FRACTURE "])
    def test_duplicate_name_is_400(self, alice_api, system_types, name):
        response = alice_api.post(URL, {"name": name}, format="json")
        assert response.status_code == 400
        assert "already exists" in response.json()["error"]
        assert InjuryType.objects.count() == 10

    def test_duplicate_of_another_users_type_is_400(self, client_for, alices_type, mallory):
        response = client_for(mallory).post(URL, {"name": "turf toe"}, format="json")
        assert response.status_code == 400

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({}, "name"),
            ({"name": "x"}, "name"),
            ({"name": "  x  "}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"name": None}, "name"),
            ({"name": ["Bite"]}, "name"),
            ({"name": "Bite", "description": "x" * 301}, "description"),
        ],
    )
    def test_bad_input_is_422(self, alice_api, body, field):
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not InjuryType.objects.exists()

    def test_no_update(self, alice_api, alices_type):
        assert alice_api.put(f"{URL}/{alices_type.pk}", {"name": "Other"}).status_code == 405


class TestDeleting:
    def test_creator_deletes_an_unused_type(self, alice_api, alices_type):
        response = alice_api.delete(f"{URL}/{alices_type.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Injury type deleted successfully"}
        assert not InjuryType.objects.filter(pk=alices_type.pk).exists()

    def test_admin_deletes_anyones_unused_type(self, client_for, admin_user, alices_type):
        assert client_for(admin_user).delete(f"{URL}/{alices_type.pk}").status_code == 200
        assert not InjuryType.objects.exists()

    def test_other_users_type_is_403(self, client_for, mallory, alices_type):
        response = client_for(mallory).delete(f"{URL}/{alices_type.pk}")
        assert response.status_code == 403
        assert InjuryType.objects.filter(pk=alices_type.pk).exists()

    def test_orphaned_type_only_admin(self, client_for, alice, mallory, admin_user):
        orphan = InjuryTypeFactory(name="Frostbite", created_by=mallory)
        mallory.delete()
        orphan.refresh_from_db()
        assert orphan.created_by_id is None
        assert client_for(alice).delete(f"{URL}/{orphan.pk}").status_code == 403
        assert client_for(admin_user).delete(f"{URL}/{orphan.pk}").status_code == 200

    @pytest.mark.parametrize("persona", ["alice", "admin_user"])
    def test_system_type_is_400(self, client_for, system_types, persona, request):
        fracture = system_types.get(name="Fracture")
        response = client_for(request.getfixturevalue(persona)).delete(f"{URL}/{fracture.pk}")
        assert response.status_code == 400
        assert "System injury types" in response.json()["error"]
        assert InjuryType.objects.filter(pk=fracture.pk).exists()

    @pytest.mark.parametrize("persona", ["alice", "admin_user"])
    def test_type_in_use_is_400(self, client_for, alices_type, persona, request):
        InjuryFactory(injury_type=alices_type)  # any patient's injury counts
        response = client_for(request.getfixturevalue(persona)).delete(f"{URL}/{alices_type.pk}")
        assert response.status_code == 400
        assert "used by injuries" in response.json()["error"]
        assert InjuryType.objects.filter(pk=alices_type.pk).exists()

    def test_missing_is_404(self, alice_api):
        assert alice_api.delete(f"{URL}/999999").status_code == 404


class TestAdmin:
    def test_pages_render(self, client, admin_user, system_types, alices_type, patient):
        injury = InjuryFactory(patient=patient, injury_type=alices_type)
        client.force_login(admin_user)
        for path in (
            "/admin/records/injurytype/",
            f"/admin/records/injurytype/{alices_type.pk}/change/",
            "/admin/records/injury/",
            f"/admin/records/injury/{injury.pk}/change/",
        ):
            assert client.get(path).status_code == 200, path

    def test_system_types_cannot_be_deleted_there(self, client, admin_user, system_types):
        client.force_login(admin_user)
        fracture = system_types.get(name="Fracture")
        assert client.get(f"/admin/records/injurytype/{fracture.pk}/delete/").status_code == 403
