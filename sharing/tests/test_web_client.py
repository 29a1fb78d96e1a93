"""Patient sharing and invitations as MediKeep's web app calls them (web-client-api.md §9),
with the app's own bodies."""

from datetime import timedelta

import pytest
from django.utils import timezone

from patients.models import PatientShare
from patients.tests.factories import PatientFactory
from sharing.choices import InvitationStatus
from sharing.models import Invitation

pytestmark = pytest.mark.django_db

BASE = "/api/v1/patient-sharing"


def can_read(client, patient) -> bool:
    return client.get(f"/api/v1/patient-management/{patient.pk}").status_code == 200


def app_invite(client, patient, recipient, **extra):
    """The sharing dialog's body."""
    body = {
        "patient_id": patient.pk,
        "shared_with_user_identifier": recipient.email,
        "permission_level": "edit",
        "expires_at": None,
        "custom_permissions": {"can_export": False},
        "message": "Please have a look",
        "expires_hours": 168,
        **extra,
    }
    return client.post(f"{BASE}/", body, format="json")


class TestCurrentShares:
    def test_the_owner_reads_shares_as_an_object(self, client_for, alice, bob, shared_patient):
        response = client_for(alice).get(f"{BASE}/{shared_patient.pk}")
        assert response.status_code == 200
        shares = response.json()["shares"]
        assert [s["permission_level"] for s in shares] == ["view", "edit", "full"]
        first = shares[0]
        assert first["shared_with_user_id"] == bob.pk
        assert first["shared_with_username"] == "bob"
        assert first["shared_with_email"] == bob.email
        assert first["shared_with_full_name"] == bob.full_name
        assert {"id", "custom_permissions", "expires_at"} <= set(first)

    @pytest.mark.parametrize("persona", ["dave", "bob", "mallory"])
    def test_only_the_owner(self, request, client_for, shared_patient, persona):
        client = client_for(request.getfixturevalue(persona))
        assert client.get(f"{BASE}/{shared_patient.pk}").status_code == 403

    def test_unknown_patient_is_404_anonymous_401(self, client_for, alice, anon, shared_patient):
        assert client_for(alice).get(f"{BASE}/987654").status_code == 404
        assert anon.get(f"{BASE}/{shared_patient.pk}").status_code == 401


class TestUpdate:
    def url(self, patient, user):
        return f"{BASE}/?patient_id={patient.pk}&shared_with_user_id={user.pk}"

    def test_the_owner_raises_a_level(self, client_for, alice, bob, shared_patient):
        later = (timezone.now() + timedelta(days=30)).isoformat()
        body = {"permission_level": "edit", "expires_at": later, "custom_permissions": {"a": 1}}
        response = client_for(alice).put(self.url(shared_patient, bob), body, format="json")
        assert response.status_code == 200, response.content
        share = PatientShare.objects.get(patient=shared_patient, grantee=bob)
        assert share.level == "edit" and share.custom_permissions == {"a": 1}
        assert share.expires_at > timezone.now() + timedelta(days=29)
        # The new level works at once: bob may now change the demographics.
        changed = client_for(bob).put(
            f"/api/v1/patient-management/{shared_patient.pk}", {"address": "1 New Road"}
        )
        assert changed.status_code == 200

    def test_keys_not_sent_stay(self, client_for, alice, carol, shared_patient):
        PatientShare.objects.filter(grantee=carol).update(custom_permissions={"keep": True})
        body = {"permission_level": "view"}
        assert client_for(alice).put(self.url(shared_patient, carol), body).status_code == 200
        share = PatientShare.objects.get(grantee=carol)
        assert (share.level, share.custom_permissions) == ("view", {"keep": True})

    @pytest.mark.parametrize("persona", ["dave", "carol", "bob"])
    def test_grantees_may_not(self, request, client_for, bob, shared_patient, persona):
        client = client_for(request.getfixturevalue(persona))
        response = client.put(self.url(shared_patient, bob), {"permission_level": "full"})
        assert response.status_code == 403
        assert PatientShare.objects.get(grantee=bob).level == "view"

    def test_refusals(self, client_for, alice, mallory, bob, shared_patient):
        owner = client_for(alice)
        assert client_for(mallory).put(self.url(shared_patient, bob), {}).status_code == 403
        assert owner.put(self.url(shared_patient, mallory), {}).status_code == 404
        bad_level = owner.put(self.url(shared_patient, bob), {"permission_level": "owner"})
        assert bad_level.status_code == 400
        past = {"expires_at": (timezone.now() - timedelta(days=1)).isoformat()}
        assert owner.put(self.url(shared_patient, bob), past, format="json").status_code == 400
        no_target = owner.put(f"{BASE}/", {"permission_level": "edit"}, format="json")
        assert no_target.status_code == 400
        assert PatientShare.objects.get(grantee=bob).level == "view"


class TestRevokeByBody:
    URL = f"{BASE}/revoke"

    def test_the_grantee_loses_access(self, client_for, alice, bob, shared_patient):
        grantee = client_for(bob)
        assert can_read(grantee, shared_patient)
        body = {"patient_id": shared_patient.pk, "shared_with_user_id": bob.pk}
        response = client_for(alice).delete(self.URL, body, format="json")
        assert response.status_code == 200
        assert response.json()["message"] == "Access revoked successfully"
        assert not can_read(grantee, shared_patient)
        assert not PatientShare.objects.in_force().filter(grantee=bob).exists()
        # Nothing is left to revoke.
        assert client_for(alice).delete(self.URL, body, format="json").status_code == 404

    def test_query_string_works_too(self, client_for, alice, bob, shared_patient):
        query = f"?patient_id={shared_patient.pk}&shared_with_user_id={bob.pk}"
        assert client_for(alice).delete(self.URL + query).status_code == 200
        assert not can_read(client_for(bob), shared_patient)

    @pytest.mark.parametrize("persona", ["dave", "bob", "mallory"])
    def test_only_the_owner(self, request, client_for, bob, shared_patient, persona):
        body = {"patient_id": shared_patient.pk, "shared_with_user_id": bob.pk}
        client = client_for(request.getfixturevalue(persona))
        assert client.delete(self.URL, body, format="json").status_code == 403
        assert can_read(client_for(bob), shared_patient)

    @pytest.mark.parametrize(
        "body", [{}, {"patient_id": "x", "shared_with_user_id": 1}, [1, 2], {"patient_id": 1}]
    )
    def test_bad_bodies_are_400(self, client_for, alice, shared_patient, body):
        assert client_for(alice).delete(self.URL, body, format="json").status_code == 400

    def test_anonymous_is_401(self, anon, bob, shared_patient):
        body = {"patient_id": shared_patient.pk, "shared_with_user_id": bob.pk}
        assert anon.delete(self.URL, body, format="json").status_code == 401


class TestFlow:
    def test_invite_list_accept_and_lists(self, client_for, alice, mallory, patient):
        owner, recipient = client_for(alice), client_for(mallory)
        assert app_invite(owner, patient, mallory).status_code == 201
        # The dashboard's call ends in a bare "?".
        [pending] = recipient.get("/api/v1/invitations/pending?").json()
        assert pending["invitation_type"] == "patient_share" and pending["status"] == "pending"
        assert pending["sent_by"]["name"] == "Alice Owner"
        assert pending["sent_by"]["email"] == alice.email
        assert pending["context_data"]["patient_id"] == patient.pk
        assert pending["context_data"]["permission_level"] == "edit"
        assert {"title", "message", "created_at", "expires_at"} <= set(pending)
        [sent] = owner.get("/api/v1/invitations/sent?invitation_type=patient_share").json()
        assert sent["id"] == pending["id"]
        assert {"name", "username", "email"} <= set(sent["sent_to"])
        assert (
            owner.get("/api/v1/invitations/sent?invitation_type=family_history_share").json() == []
        )
        answer = recipient.post(
            f"/api/v1/invitations/{pending['id']}/respond",
            {"response": "accepted", "response_note": None},
            format="json",
        )
        assert answer.status_code == 200, answer.content
        share = PatientShare.objects.get(grantee=mallory)
        assert share.custom_permissions == {"can_export": False}

        [with_me] = recipient.get(f"{BASE}/shared-with-me").json()
        assert with_me["patient"] == {
            "id": patient.pk,
            "first_name": patient.first_name,
            "last_name": patient.last_name,
            "birth_date": patient.birth_date.isoformat(),
        }
        assert with_me["shared_by_user"]["name"] == "Alice Owner"
        assert with_me["shared_by_user"]["username"] == "alice"
        assert with_me["custom_permissions"] == {"can_export": False}
        assert {"permission_level", "expires_at", "created_at"} <= set(with_me)
        [by_me] = owner.get(f"{BASE}/shared-by-me").json()
        assert by_me["shared_with_user"]["id"] == by_me["shared_with_user_id"] == mallory.pk
        assert "name" in by_me["shared_with_user"]

    def test_reject_with_the_apps_body(self, client_for, alice, mallory, patient):
        app_invite(client_for(alice), patient, mallory)
        invitation = Invitation.objects.get()
        response = client_for(mallory).post(
            f"/api/v1/invitations/{invitation.pk}/respond",
            {"response": "rejected", "response_note": None},
            format="json",
        )
        assert response.status_code == 200
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.REJECTED
        assert not PatientShare.objects.filter(grantee=mallory).exists()

    def test_revoke_and_delete_pending_invitations(self, client_for, alice, mallory, bob):
        owner = client_for(alice)
        first, second = PatientFactory(owner=alice), PatientFactory(owner=alice)
        app_invite(owner, first, mallory)
        app_invite(owner, second, bob)
        one, two = Invitation.objects.order_by("id")
        assert client_for(mallory).post(f"/api/v1/invitations/{one.pk}/revoke").status_code == 403
        assert owner.post(f"/api/v1/invitations/{one.pk}/revoke").status_code == 200
        assert client_for(bob).delete(f"/api/v1/invitations/{two.pk}").status_code == 404
        assert owner.delete(f"/api/v1/invitations/{two.pk}").status_code == 200
        one.refresh_from_db()
        two.refresh_from_db()
        assert (one.status, two.status) == (InvitationStatus.REVOKED, InvitationStatus.CANCELLED)
        assert client_for(mallory).get("/api/v1/invitations/pending?").json() == []

    def test_unknown_invitation_type_is_400(self, client_for, alice):
        response = client_for(alice).get("/api/v1/invitations/sent?invitation_type=other")
        assert response.status_code == 400
