"""/admin/user-management: creating accounts (with a new self-record or a handed-over
patient), a user's sign-in history and the patient picker."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from adminops.models import ActivityLog
from adminops.tests.factories import ActivityLogFactory
from medikeep.accounts.models import SystemSetting, User
from notifications.models import SignInAddress
from patients.access import Level, can_access
from patients.models import Patient, PatientShare
from patients.tests.factories import PatientFactory, PatientShareFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/admin/user-management"
CREATE = f"{BASE}/users/create"
SEARCH = f"{BASE}/patients/search"
PASSWORD = "Sturdy-Passphrase-42"


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs a call and then its on-commit callbacks, as a real request's commit would."""

    def run(call, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return call(*args, **kwargs)

    return run


def new_user(**fields) -> dict:
    return {
        "username": "Newbie",
        "password": PASSWORD,
        "email": "newbie@example.test",
        "full_name": "New Person",
        "first_name": "New",
        "last_name": "Person",
        "role": "user",
        **fields,
    }


def history_of(user_id):
    return f"{BASE}/users/{user_id}/login-history"


# --- rights ------------------------------------------------------------------------------------


def test_admin_only(admin_api, alice_api, anon, alice):
    for client, expected in ((alice_api, 403), (anon, 401)):
        assert client.post(CREATE, new_user(), format="json").status_code == expected
        assert client.get(history_of(alice.pk)).status_code == expected
        assert client.get(SEARCH).status_code == expected
    assert admin_api.get(history_of(alice.pk)).status_code == 200
    assert admin_api.get(SEARCH).status_code == 200
    assert not User.objects.filter(username="newbie").exists()


# --- create ------------------------------------------------------------------------------------


def test_create_a_user_with_a_new_self_record(committed, admin_api, admin_user):
    SystemSetting.objects.create(key="allow_user_registration", value=False)  # not for admins

    response = committed(admin_api.post, CREATE, new_user(), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "success"
    assert "newbie" in body["message"]
    user = User.objects.get(username="newbie")
    assert user.check_password(PASSWORD)
    assert (user.role, user.auth_method, user.full_name) == ("user", "local", "New Person")
    record = Patient.objects.get(owner=user)
    assert record.is_self_record and user.active_patient_id == record.pk
    assert (record.first_name, record.last_name) == ("New", "Person")
    assert body["data"] == {
        "user_id": user.pk,
        "username": "newbie",
        "email": "newbie@example.test",
        "role": "user",
        "patient_id": record.pk,
        "linked_patient_id": None,
        "transfer_details": None,
    }
    audit = ActivityLog.objects.get(entity_type="user")
    assert (audit.user, audit.action, audit.entity_id) == (admin_user, "created", user.pk)
    assert "password" not in audit.metadata["after"]
    assert audit.metadata["after"]["username"] == "newbie"


def test_create_an_admin(admin_api):
    response = admin_api.post(CREATE, new_user(role="Admin"), format="json")
    assert response.status_code == 201
    assert User.objects.get(username="newbie").is_admin


def test_link_a_patient_hands_it_over(committed, admin_api, admin_user, alice, carol):
    child = PatientFactory(owner=alice, first_name="Kid", last_name="Owner")
    PatientShareFactory(patient=child, grantee=carol, level="view")

    response = committed(admin_api.post, CREATE, new_user(link_patient_id=child.pk), format="json")

    assert response.status_code == 201, response.content
    body = response.json()
    user = User.objects.get(username="newbie")
    child.refresh_from_db()
    assert child.owner == user and child.is_self_record
    assert user.active_patient_id == child.pk
    assert Patient.objects.filter(owner=user).count() == 1  # no second self-record
    # The previous owner keeps edit access; the other share stays.
    share = PatientShare.objects.get(patient=child, grantee=alice)
    assert (share.level, share.is_active, share.granted_by) == ("edit", True, admin_user)
    assert can_access(alice, child.pk, Level.EDIT)
    assert can_access(carol, child.pk, Level.VIEW)
    assert body["data"]["linked_patient_id"] == child.pk
    assert body["data"]["transfer_details"] == {
        "patient_id": child.pk,
        "previous_owner_id": alice.pk,
        "previous_owner_username": "alice",
        "previous_owner_share": "edit",
        "other_shares_kept": 1,
    }
    audit = ActivityLog.objects.filter(user=admin_user).order_by("id")
    assert [(row.entity_type, row.action) for row in audit] == [
        ("user", "created"),
        ("patient", "updated"),
        ("patient_share", "created"),
    ]
    owner_change = audit[1].metadata
    assert owner_change["before"]["owner_id"] == alice.pk
    assert owner_change["after"]["owner_id"] == user.pk


def test_a_self_record_cannot_be_handed_over(admin_api, alice, patient):
    response = admin_api.post(CREATE, new_user(link_patient_id=patient.pk), format="json")
    assert response.status_code == 400
    assert "own record of alice" in response.json()["message"]
    assert not User.objects.filter(username="newbie").exists()
    patient.refresh_from_db()
    assert patient.owner == alice


def test_an_unknown_patient_is_refused_before_anything_is_made(admin_api):
    response = admin_api.post(CREATE, new_user(link_patient_id=10**9), format="json")
    assert response.status_code == 422
    assert "link_patient_id" in response.json()["errors"]
    assert not User.objects.filter(username="newbie").exists()


def test_empty_link_means_none(admin_api):
    response = admin_api.post(CREATE, new_user(link_patient_id=""), format="json")
    assert response.status_code == 201
    assert response.json()["data"]["linked_patient_id"] is None


@pytest.mark.parametrize(
    ("fields", "status", "field"),
    [
        ({"username": "ALICE"}, 409, None),
        ({"email": "Alice@Example.test"}, 409, None),
        ({"password": "short"}, 422, "password"),
        ({"password": "password123"}, 422, "password"),
        ({"role": "superuser"}, 422, "role"),
        ({"email": "not-an-address"}, 422, "email"),
        ({"username": "bad name!"}, 422, "username"),
        ({"username": ""}, 422, "username"),
        ({"link_patient_id": "x"}, 422, "link_patient_id"),
        ({"link_patient_id": 2**70}, 422, "link_patient_id"),
    ],
)
def test_bad_accounts_are_refused(admin_api, alice, fields, status, field):
    alice.email = "alice@example.test"
    alice.save()
    before = User.objects.count()
    response = admin_api.post(CREATE, new_user(**fields), format="json")
    assert response.status_code == status, response.content
    if field:
        assert field in response.json()["errors"]
    assert User.objects.count() == before


@pytest.mark.parametrize("body", [[], "text", {"username": {"a": 1}}, {}])
def test_junk_bodies_are_4xx(admin_api, body):
    assert admin_api.post(CREATE, body, format="json").status_code == 422


# --- login history -----------------------------------------------------------------------------


def test_login_history_merges_log_rows_and_sign_in_addresses(admin_api, bob):
    now = timezone.now().replace(microsecond=0)
    ActivityLogFactory(
        user=bob,
        patient=None,
        action="login",
        entity_type="user",
        description="Signed in",
        ip_address="192.0.2.1",
        timestamp=now - timedelta(hours=3),
    )
    ActivityLogFactory(user=bob, action="created", timestamp=now)  # not a sign-in
    address = SignInAddress.objects.create(user=bob, ip_address="198.51.100.9", last_seen_at=now)
    SignInAddress.objects.filter(pk=address.pk).update(
        first_seen_at=datetime(2025, 1, 2, 10, 30, tzinfo=UTC)
    )
    SignInAddress.objects.create(
        user=bob, ip_address="203.0.113.5", last_seen_at=now - timedelta(days=2)
    )
    SignInAddress.objects.create(
        user=User.objects.create_user("other", "o@example.test", PASSWORD),
        ip_address="203.0.113.99",
        last_seen_at=now,
    )

    body = admin_api.get(history_of(bob.pk)).json()

    assert (body["total"], body["page"], body["per_page"]) == (3, 1, 20)
    assert body["username"] == "bob"
    items = body["items"]
    assert [item["ip_address"] for item in items] == ["198.51.100.9", "192.0.2.1", "203.0.113.5"]
    assert items[0]["description"] == (
        "Last sign-in from 198.51.100.9 (first seen 2025-01-02 10:30 UTC)"
    )
    assert items[1]["description"] == "Signed in"
    assert datetime.fromisoformat(items[0]["timestamp"]) == now

    second = admin_api.get(history_of(bob.pk), {"per_page": 2, "page": 2}).json()
    assert [item["ip_address"] for item in second["items"]] == ["203.0.113.5"]


def test_login_history_of_a_user_who_never_signed_in(admin_api, alice):
    body = admin_api.get(history_of(alice.pk)).json()
    assert (body["items"], body["total"], body["last_login"]) == ([], 0, None)


@pytest.mark.parametrize("user_id", [10**6, 2**64])
def test_login_history_of_an_unknown_user_is_404(admin_api, user_id):
    assert admin_api.get(history_of(user_id)).status_code == 404


@pytest.mark.parametrize("query", [{"page": 0}, {"per_page": 101}, {"per_page": "x"}])
def test_login_history_refuses_bad_pages(admin_api, alice, query):
    assert admin_api.get(history_of(alice.pk), query).status_code == 422


# --- patient search ------------------------------------------------------------------------------


@pytest.fixture
def patients(alice, bob):
    alice.first_name, alice.last_name = "Alice", "Owner"
    alice.save()
    return {
        "alice": PatientFactory(
            owner=alice, first_name="Alice", last_name="Owner", is_self_record=True
        ),
        "kid": PatientFactory(owner=alice, first_name="Kid", last_name="Owner"),
        "bob": PatientFactory(owner=bob, first_name="Robert", last_name="Brown"),
    }


def test_search_without_a_query_lists_patients_by_name(admin_api, patients):
    body = admin_api.get(SEARCH).json()
    assert [p["id"] for p in body["patients"]] == [
        patients["bob"].pk,
        patients["alice"].pk,
        patients["kid"].pk,
    ]
    assert body["total"] == 3
    kid = body["patients"][2]
    assert kid == {
        "id": patients["kid"].pk,
        "first_name": "Kid",
        "last_name": "Owner",
        "birth_date": "1985-06-15",
        "is_self_record": False,
        "owner_id": patients["kid"].owner_id,
        "owner_username": "alice",
        "owner_full_name": "Alice Owner",
    }


def test_search_by_name_words_and_id(admin_api, patients):
    def found(q, **extra):
        return [p["id"] for p in admin_api.get(SEARCH, {"q": q, **extra}).json()["patients"]]

    assert found("owner") == [patients["alice"].pk, patients["kid"].pk]
    assert found("kid OWN") == [patients["kid"].pk]
    assert found(str(patients["bob"].pk)) == [patients["bob"].pk]
    assert found("nobody") == []
    assert found("owner", limit=1) == [patients["alice"].pk]
    assert admin_api.get(SEARCH, {"q": "owner", "limit": 1}).json()["total"] == 2


@pytest.mark.parametrize(
    "query", [{"limit": 0}, {"limit": 501}, {"limit": "all"}, {"q": "x" * 201}]
)
def test_search_refuses_bad_queries(admin_api, query):
    assert admin_api.get(SEARCH, query).status_code == 422
