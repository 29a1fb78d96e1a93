"""/patient-management: every persona on every endpoint."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from medikeep.accounts.models import User
from patients.models import Patient, PatientShare
from patients.tests.factories import PatientFactory, PatientShareFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/patient-management"
KID = {
    "first_name": "Jane",
    "last_name": "Doe",
    "birth_date": "2010-05-20",
    "gender": "female",
    "blood_type": "A+",
    "height": 60,
    "weight": 85,
    "address": "123 Main St",
    "is_self_record": False,
}
# persona -> permission_level on alice's shared patient (None: no access at all)
LEVELS = {
    "alice": "full",
    "bob": "view",
    "carol": "edit",
    "dave": "full",
    "mallory": None,
    "admin_user": None,
}
STRANGERS = ["mallory", "admin_user"]


@pytest.fixture
def api(request, client_for, shared_patient):
    """api(persona) -> a client of that persona (alice's patient is shared with the others)."""
    return lambda name: client_for(request.getfixturevalue(name))


def expire(user):
    PatientShare.objects.filter(grantee=user).update(expires_at=timezone.now() - timedelta(1))


class TestList:
    @pytest.mark.parametrize("persona", LEVELS)
    def test_each_persona_sees_what_it_may(self, api, persona, shared_patient):
        body = api(persona).get(BASE).json()
        level = LEVELS[persona]
        if level is None:
            assert body == {
                "patients": [],
                "total": 0,
                "total_count": 0,
                "owned_count": 0,
                "shared_count": 0,
            }
            return
        [item] = body["patients"]
        assert item["id"] == shared_patient.pk and item["permission_level"] == level
        assert item["is_owner"] is (persona == "alice")
        owned = int(persona == "alice")
        assert (body["total"], body["owned_count"], body["shared_count"]) == (1, owned, 1 - owned)

    def test_owned_and_shared_together(self, api, bob, alice):
        own = PatientFactory(owner=bob, first_name="Bobby")
        body = api("bob").get(BASE).json()
        assert [p["id"] for p in body["patients"]] == sorted([own.pk, alice.active_patient_id])
        assert (body["total"], body["owned_count"], body["shared_count"]) == (2, 1, 1)
        only_owned = api("bob").get(BASE, {"include_shared": "false"}).json()
        assert [p["id"] for p in only_owned["patients"]] == [own.pk]
        assert (only_owned["total"], only_owned["shared_count"]) == (1, 0)

    def test_expired_share_disappears(self, api, bob):
        expire(bob)
        assert api("bob").get(BASE).json()["total"] == 0

    def test_search_is_case_insensitive_on_names(self, api, alice):
        PatientFactory(owner=alice, first_name="Jane", last_name="Doe")
        PatientFactory(owner=alice, first_name="John", last_name="Smith")

        def names(query):
            body = api("alice").get(BASE, {"search": query}).json()
            return [p["first_name"] for p in body["patients"]]

        assert names("DOE") == ["Jane"]
        assert names("j") == ["Jane", "John"]
        assert names("alice owner") == ["Alice"]
        assert names("nobody") == []
        assert api("alice").get(BASE, {"search": "doe"}).json()["total"] == 1

    def test_skip_limit_and_pages(self, api, alice, shared_patient):
        extra = [PatientFactory(owner=alice).pk for _ in range(4)]
        ids = [shared_patient.pk, *extra]
        client = api("alice")
        page = client.get(BASE, {"skip": 1, "limit": 2}).json()
        assert [p["id"] for p in page["patients"]] == ids[1:3] and page["total"] == 5
        page = client.get(BASE, {"page": 2, "page_size": 2}).json()
        assert [p["id"] for p in page["patients"]] == ids[2:4]
        page = client.get(BASE, {"page": 3, "page_size": 2}).json()
        assert [p["id"] for p in page["patients"]] == ids[4:]
        assert len(client.get(BASE, {"limit": 5000}).json()["patients"]) == 5  # capped, not refused

    @pytest.mark.parametrize(
        "query",
        [{"skip": -1}, {"limit": 0}, {"page": 0}, {"page_size": "x"}, {"include_shared": "maybe"}],
    )
    def test_junk_parameters_are_422(self, api, query):
        response = api("alice").get(BASE, query)
        assert response.status_code == 422
        assert set(query) <= set(response.json()["errors"])

    def test_queries_do_not_grow_with_rows(self, api, alice, bob, shared_patient):
        client = api("bob")

        def count():
            with CaptureQueriesContext(connection) as queries:
                assert client.get(BASE).status_code == 200
            return len(queries)

        few = count()
        for _ in range(6):
            PatientShareFactory(patient=PatientFactory(owner=alice), grantee=bob, level="edit")
        assert count() == few

    def test_anonymous_is_401(self, anon):
        assert anon.get(BASE).status_code == 401
        assert anon.post(BASE, KID, format="json").status_code == 401


class TestCreate:
    def test_creates_an_owned_patient(self, api, alice):
        response = api("alice").post(BASE, KID, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["permission_level"] == "full" and body["is_owner"] is True
        patient = Patient.objects.get(pk=body["id"])
        assert patient.owner == alice and not patient.is_self_record
        assert (patient.first_name, patient.blood_type, patient.height) == ("Jane", "A+", 60)

    def test_second_self_record_is_400(self, api, alice):
        response = api("alice").post(BASE, {**KID, "is_self_record": True}, format="json")
        assert response.status_code == 400
        assert "self-record" in response.json()["error"]
        assert Patient.objects.filter(owner=alice).count() == 1

    def test_first_self_record_is_fine(self, api, bob):
        response = api("bob").post(BASE, {**KID, "is_self_record": True}, format="json")
        assert response.status_code == 201
        assert Patient.objects.get(owner=bob).is_self_record

    def test_bad_input_is_422(self, api, alice):
        body = {**KID, "height": 200, "gender": "?", "birth_date": "2999-01-01"}
        response = api("alice").post(BASE, body, format="json")
        assert response.status_code == 422
        assert {"height", "gender", "birth_date"} <= set(response.json()["errors"])
        assert Patient.objects.filter(owner=alice).count() == 1


class TestDetail:
    @pytest.mark.parametrize("persona", LEVELS)
    def test_get(self, api, persona, shared_patient):
        response = api(persona).get(f"{BASE}/{shared_patient.pk}")
        if LEVELS[persona] is None:
            assert response.status_code == 403
            assert response.json()["error"] == "You are not authorized to access this patient"
            return
        assert response.status_code == 200
        assert response.json()["permission_level"] == LEVELS[persona]
        assert response.json()["first_name"] == "Alice"

    def test_unknown_is_404_and_anonymous_401(self, api, anon, shared_patient):
        assert api("alice").get(f"{BASE}/987654").status_code == 404
        assert api("alice").put(f"{BASE}/987654", {}, format="json").status_code == 404
        assert api("alice").delete(f"{BASE}/987654").status_code == 404
        assert anon.get(f"{BASE}/{shared_patient.pk}").status_code == 401

    def test_expired_share_is_403(self, api, bob, shared_patient):
        expire(bob)
        assert api("bob").get(f"{BASE}/{shared_patient.pk}").status_code == 403

    @pytest.mark.parametrize(
        "persona, status",
        [
            ("alice", 200),
            ("carol", 200),
            ("dave", 200),
            ("bob", 403),
            ("mallory", 403),
            ("admin_user", 403),
        ],
    )
    def test_put_needs_edit(self, api, persona, status, shared_patient):
        response = api(persona).put(
            f"{BASE}/{shared_patient.pk}", {"last_name": "Changed"}, format="json"
        )
        assert response.status_code == status, response.content
        shared_patient.refresh_from_db()
        assert (shared_patient.last_name == "Changed") is (status == 200)
        if status == 200:
            assert response.json()["last_name"] == "Changed"
            assert response.json()["permission_level"] == LEVELS[persona]

    def test_put_bad_input_is_422(self, api, shared_patient):
        response = api("carol").put(f"{BASE}/{shared_patient.pk}", {"weight": 5000}, format="json")
        assert response.status_code == 422 and "weight" in response.json()["errors"]

    @pytest.mark.parametrize("persona", ["bob", "carol", "dave", "mallory", "admin_user"])
    def test_only_the_owner_deletes(self, api, persona, alice, shared_patient):
        PatientFactory(owner=alice)  # so that it is not the last one
        response = api(persona).delete(f"{BASE}/{shared_patient.pk}")
        assert response.status_code == 403
        assert Patient.objects.filter(pk=shared_patient.pk).exists()

    def test_owner_deletes_and_the_active_patient_moves(self, api, alice, shared_patient):
        other = PatientFactory(owner=alice)
        response = api("alice").delete(f"{BASE}/{shared_patient.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Patient deleted successfully"}
        assert not Patient.objects.filter(pk=shared_patient.pk).exists()
        assert not PatientShare.objects.exists()
        assert User.objects.get(pk=alice.pk).active_patient_id == other.pk

    def test_the_last_patient_stays(self, api, shared_patient):
        response = api("alice").delete(f"{BASE}/{shared_patient.pk}")
        assert response.status_code == 400
        assert response.json()["error_code"] == "BIZ-400"
        assert Patient.objects.filter(pk=shared_patient.pk).exists()


class TestOwnedAndSelf:
    def test_owned_list(self, api, alice, shared_patient):
        kid = PatientFactory(owner=alice)
        body = api("alice").get(f"{BASE}/owned/list").json()
        assert [p["id"] for p in body] == [shared_patient.pk, kid.pk]
        assert all(p["is_owner"] and p["permission_level"] == "full" for p in body)
        assert api("bob").get(f"{BASE}/owned/list").json() == []

    def test_self_record(self, api, shared_patient):
        assert api("alice").get(f"{BASE}/self-record").json()["id"] == shared_patient.pk
        response = api("bob").get(f"{BASE}/self-record")
        assert response.status_code == 200 and response.json() is None

    def test_stats(self, api, bob):
        assert api("alice").get(f"{BASE}/stats").json() == {
            "total_patients": 1,
            "owned_patients": 1,
            "shared_patients": 0,
            "self_record_exists": True,
        }
        PatientFactory(owner=bob, is_self_record=True)
        assert api("bob").get(f"{BASE}/stats").json() == {
            "total_patients": 2,
            "owned_patients": 1,
            "shared_patients": 1,
            "self_record_exists": True,
        }
        assert api("mallory").get(f"{BASE}/stats").json()["total_patients"] == 0
        expire(bob)
        assert api("bob").get(f"{BASE}/stats").json()["shared_patients"] == 0

    def test_anonymous_is_401(self, anon):
        for path in ("owned/list", "self-record", "stats", "active/current"):
            assert anon.get(f"{BASE}/{path}").status_code == 401
        assert anon.post(f"{BASE}/switch", {"patient_id": 1}, format="json").status_code == 401


class TestSwitching:
    @pytest.mark.parametrize("persona", LEVELS)
    def test_switch(self, api, request, persona, shared_patient):
        response = api(persona).post(
            f"{BASE}/switch", {"patient_id": shared_patient.pk}, format="json"
        )
        user = User.objects.get(username=request.getfixturevalue(persona).username)
        if LEVELS[persona] is None:
            assert response.status_code == 403
            assert user.active_patient_id is None
            return
        assert response.status_code == 200
        assert response.json()["id"] == shared_patient.pk
        assert response.json()["permission_level"] == LEVELS[persona]
        assert user.active_patient_id == shared_patient.pk

    def test_unknown_is_404_junk_is_422(self, api):
        assert (
            api("bob").post(f"{BASE}/switch", {"patient_id": 987654}, format="json").status_code
            == 404
        )
        for junk in ({}, {"patient_id": "x"}, {"patient_id": 10**30}, []):
            response = api("bob").post(f"{BASE}/switch", junk, format="json")
            assert response.status_code == 422, junk

    def test_expired_share_cannot_be_switched_to(self, api, bob, shared_patient):
        expire(bob)
        response = api("bob").post(
            f"{BASE}/switch", {"patient_id": shared_patient.pk}, format="json"
        )
        assert response.status_code == 403
        assert User.objects.get(pk=bob.pk).active_patient_id is None

    def test_active_current(self, api, alice, bob, shared_patient):
        assert api("alice").get(f"{BASE}/active/current").json()["id"] == shared_patient.pk
        assert api("bob").get(f"{BASE}/active/current").json() is None
        api("bob").post(f"{BASE}/switch", {"patient_id": shared_patient.pk}, format="json")
        current = api("bob").get(f"{BASE}/active/current").json()
        assert current["id"] == shared_patient.pk and current["permission_level"] == "view"

    def test_active_current_clears_a_pointer_no_longer_visible(self, api, bob, shared_patient):
        User.objects.filter(pk=bob.pk).update(active_patient=shared_patient)
        PatientShare.objects.filter(grantee=bob).update(is_active=False)
        response = api("bob").get(f"{BASE}/active/current")
        assert response.status_code == 200 and response.json() is None
        assert User.objects.get(pk=bob.pk).active_patient_id is None
