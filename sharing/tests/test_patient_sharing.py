"""/patient-sharing: sending invitations (both body styles), bulk, cancel, revoke, leave,
lists, stats and the expired-share cleanup."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import PatientShare
from patients.tests.factories import PatientFactory
from sharing.choices import InvitationStatus
from sharing.models import Invitation

pytestmark = pytest.mark.django_db

BASE = "/api/v1/patient-sharing"


def invite(api, patient, recipient, **extra):
    body = {
        "patient_id": patient.pk,
        "shared_with_user_identifier": recipient.username,
        "permission_level": "view",
        **extra,
    }
    return api.post(f"{BASE}/invite", body, format="json")


def accept(client_for, user, invitation_id):
    response = client_for(user).post(
        "/api/v1/invitations/respond",
        {"invitation_id": invitation_id, "response": "accepted"},
        format="json",
    )
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def shared_with_mallory(alice_api, client_for, mallory, patient):
    """Alice's patient shared with mallory at EDIT through an accepted invitation."""
    sent = invite(alice_api, patient, mallory, permission_level="edit").json()
    accept(client_for, mallory, sent["invitation_id"])
    return PatientShare.objects.get(patient=patient, grantee=mallory)


class TestInvite:
    def test_the_contracts_example(self, alice_api, patient, mallory, mailoutbox):
        response = invite(
            alice_api,
            patient,
            mallory,
            shared_with_user_identifier=mallory.email.upper(),
            expires_hours=48,
            message="Please review patient history",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        invitation = Invitation.objects.get(pk=body["invitation_id"])
        assert body["message"] == "Patient share invitation sent successfully"
        assert body["title"] == "Patient Record Share: Alice Owner" == invitation.title
        assert invitation.sent_to == mallory and invitation.status == InvitationStatus.PENDING
        lifetime = invitation.expires_at - timezone.now()
        assert timedelta(hours=47) < lifetime <= timedelta(hours=48)
        # Nothing is granted before the recipient accepts.
        assert not PatientShare.objects.filter(grantee=mallory).exists()

    def test_default_lifetime_is_a_week(self, alice_api, patient, mallory):
        body = invite(alice_api, patient, mallory).json()
        lifetime = Invitation.objects.get(pk=body["invitation_id"]).expires_at - timezone.now()
        assert timedelta(days=6, hours=23) < lifetime <= timedelta(days=7)

    def test_the_002_body_answers_201_with_the_invitation(self, alice_api, patient, mallory):
        body = {
            "patient_id": patient.pk,
            "recipient_email": mallory.email,
            "access_level": "edit",
            "expiration_date": "2099-12-31",
            "message": "Sharing medical records for consultation",
        }
        response = alice_api.post(BASE, body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["status"] == "pending" and got["sent_to_user_id"] == mallory.pk
        assert got["invitation_type"] == "patient_share" and got["permission_level"] == "edit"
        context = got["context_data"]
        assert context["patient_id"] == patient.pk and context["expires_at"].startswith(
            "2099-12-31"
        )
        assert got["message"] == "Sharing medical records for consultation"

    def test_the_recipient_is_emailed(
        self, alice_api, patient, mallory, mailoutbox, settings, django_capture_on_commit_callbacks
    ):
        settings.APP_PUBLIC_URL = "https://records.example.org/"
        with django_capture_on_commit_callbacks(execute=True):
            body = invite(alice_api, patient, mallory, message="Referral for cardiology").json()
        (mail,) = mailoutbox
        assert mail.to == [mallory.email]
        assert "Patient Record Share: Alice Owner" in mail.subject
        assert "Referral for cardiology" in mail.body
        assert (
            f"https://records.example.org/api/v1/invitations/{body['invitation_id']}" in mail.body
        )

    def test_no_email_when_the_invitation_fails(
        self, alice_api, alice, mailoutbox, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            assert invite(alice_api, PatientFactory(owner=alice), alice).status_code == 400
        assert mailoutbox == []

    def test_unknown_patient_or_recipient_is_404(self, alice_api, patient, mallory):
        stranger_patient = PatientFactory()
        assert invite(alice_api, stranger_patient, mallory).status_code == 404
        response = alice_api.post(
            f"{BASE}/invite",
            {"patient_id": patient.pk, "shared_with_user_identifier": "nobody@nowhere.test"},
            format="json",
        )
        assert response.status_code == 404
        assert "nobody@nowhere.test" in response.json()["error"]
        assert not Invitation.objects.exists()

    def test_already_shared_or_pending_is_409(self, alice_api, patient, mallory, bob):
        assert invite(alice_api, patient, mallory).status_code == 200
        again = invite(alice_api, patient, mallory)
        assert again.status_code == 409 and "pending" in again.json()["error"]
        PatientShare.objects.create(patient=patient, grantee=bob, level="view")
        assert invite(alice_api, patient, bob).status_code == 409
        assert Invitation.objects.count() == 1

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"permission_level": "admin"}, "permission_level"),
            ({"patient_id": None}, "patient_id"),
            ({"shared_with_user_identifier": ""}, "shared_with_user_identifier"),
            ({"expires_hours": 0}, "expires_hours"),
            ({"expires_hours": 8761}, "expires_hours"),
            ({"expires_at": "soon"}, "expires_at"),
        ],
    )
    def test_bad_input_is_400_naming_the_field(self, alice_api, patient, mallory, change, field):
        response = invite(alice_api, patient, mallory, **change)
        assert response.status_code == 400, response.content
        assert field in response.json()["errors"]
        assert not Invitation.objects.exists()

    def test_missing_fields_are_400(self, alice_api):
        response = alice_api.post(f"{BASE}/invite", {}, format="json")
        assert response.status_code == 400
        assert {"patient_id", "shared_with_user_identifier"} <= set(response.json()["errors"])

    def test_sharing_with_yourself_is_400(self, alice_api, alice, patient):
        assert invite(alice_api, patient, alice).status_code == 400

    def test_a_past_share_expiry_is_400(self, alice_api, patient, mallory):
        past = (timezone.now() - timedelta(hours=1)).isoformat()
        assert invite(alice_api, patient, mallory, expires_at=past).status_code == 400

    def test_anonymous_is_401(self, anon, patient, mallory):
        assert invite(anon, patient, mallory).status_code == 401


class TestWhoMayInvite:
    def test_full_may_invite_at_view_or_edit_only(self, client_for, dave, shared_patient, mallory):
        api = client_for(dave)
        assert invite(api, shared_patient, mallory, permission_level="full").status_code == 403
        response = invite(api, shared_patient, mallory, permission_level="edit")
        assert response.status_code == 200, response.content

    @pytest.mark.parametrize("persona", ["bob", "carol"])
    def test_view_and_edit_may_not_invite(
        self, client_for, shared_patient, mallory, persona, request
    ):
        api = client_for(request.getfixturevalue(persona))
        assert invite(api, shared_patient, mallory).status_code == 404
        assert not Invitation.objects.exists()

    def test_a_strangers_patient_is_404(self, client_for, mallory, patient, bob):
        assert invite(client_for(mallory), patient, bob).status_code == 404


class TestBulk:
    def test_one_invitation_carries_every_patient(self, alice_api, alice, client_for, mallory):
        patients = PatientFactory.create_batch(3, owner=alice)
        ids = [p.pk for p in patients]
        response = alice_api.post(
            f"{BASE}/bulk-invite",
            {
                "patient_ids": ids,
                "shared_with_user_identifier": mallory.email,
                "permission_level": "edit",
                "expires_hours": 720,
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["patient_count"] == 3
        invitation = Invitation.objects.get()
        assert invitation.is_bulk and sorted(p.pk for p in invitation.patients.all()) == ids
        # Partial acceptance: only the patients named.
        answer = client_for(mallory).post(
            "/api/v1/invitations/respond",
            {"invitation_id": invitation.pk, "response": "accepted", "patient_ids": ids[::2]},
            format="json",
        )
        assert answer.status_code == 200, answer.content
        assert answer.json()["share_count"] == 2
        shared = PatientShare.objects.filter(grantee=mallory).values_list("patient_id", flat=True)
        assert sorted(shared) == ids[::2]

    def test_all_or_nothing(self, alice_api, alice, patient, mallory, bob):
        mine = PatientFactory(owner=alice)
        not_mine = PatientFactory(owner=bob)
        body = {
            "patient_ids": [mine.pk, not_mine.pk],
            "shared_with_user_identifier": mallory.username,
            "permission_level": "view",
        }
        response = alice_api.post(f"{BASE}/bulk-invite", body, format="json")
        assert response.status_code == 404 and str(not_mine.pk) in response.json()["error"]
        PatientShare.objects.create(patient=mine, grantee=mallory, level="view")
        body["patient_ids"] = [patient.pk, mine.pk]
        assert alice_api.post(f"{BASE}/bulk-invite", body, format="json").status_code == 409
        assert not Invitation.objects.exists()

    def test_only_owned_patients(self, client_for, dave, shared_patient, mallory):
        body = {
            "patient_ids": [shared_patient.pk],
            "shared_with_user_identifier": mallory.username,
            "permission_level": "view",
        }
        assert client_for(dave).post(f"{BASE}/bulk-invite", body, format="json").status_code == 404

    @pytest.mark.parametrize("ids", [[], list(range(1, 52)), [1, 1]])
    def test_patient_ids_bounds_are_400(self, alice_api, mallory, ids):
        body = {"patient_ids": ids, "shared_with_user_identifier": mallory.username}
        response = alice_api.post(f"{BASE}/bulk-invite", body, format="json")
        assert response.status_code == 400 and "patient_ids" in response.json()["errors"]

    def test_the_002_body_invites_each_recipient(self, alice_api, patient, mallory, bob):
        PatientShare.objects.create(patient=patient, grantee=bob, level="view")
        body = {
            "patient_id": patient.pk,
            "recipient_emails": [mallory.email, bob.email, "nobody@nowhere.test"],
            "access_level": "view",
            "expiration_date": "2099-12-31",
            "message": "Sharing medical records for consultation",
        }
        response = alice_api.post(f"{BASE}/bulk-invite", body, format="json")
        assert response.status_code == 200, response.content
        got = response.json()
        assert (got["successful_invites"], got["failed_invites"]) == (1, 2)
        assert [r["success"] for r in got["results"]] == [True, False, False]
        assert Invitation.objects.get().sent_to == mallory


class TestCancel:
    def test_the_sender_cancels_a_pending_invitation(self, alice_api, client_for, patient, mallory):
        invitation_id = invite(alice_api, patient, mallory).json()["invitation_id"]
        other = client_for(mallory).post(
            f"{BASE}/cancel-invitation", {"invitation_id": invitation_id}, format="json"
        )
        assert other.status_code == 404
        response = alice_api.post(
            f"{BASE}/cancel-invitation", {"invitation_id": invitation_id}, format="json"
        )
        assert response.status_code == 200
        assert Invitation.objects.get().status == InvitationStatus.CANCELLED
        # A cancelled invitation cannot be accepted, and cancelling twice is a 404.
        answer = client_for(mallory).post(
            f"/api/v1/invitations/{invitation_id}/respond", {"action": "accept"}, format="json"
        )
        assert answer.status_code == 404
        again = alice_api.post(
            f"{BASE}/cancel-invitation", {"invitation_id": invitation_id}, format="json"
        )
        assert again.status_code == 404
        assert alice_api.post(f"{BASE}/cancel-invitation", {}, format="json").status_code == 400


class TestRevokeAndLeave:
    def test_the_owner_revokes_and_access_ends_at_once(
        self, alice_api, client_for, mallory, patient, shared_with_mallory
    ):
        api = client_for(mallory)
        assert api.get("/api/v1/medications", {"patient_id": patient.pk}).status_code == 200
        response = alice_api.delete(f"{BASE}/{shared_with_mallory.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Access revoked successfully"}
        assert api.get("/api/v1/medications", {"patient_id": patient.pk}).status_code == 403
        assert Invitation.objects.get().status == InvitationStatus.REVOKED

    def test_only_the_owner_revokes(self, client_for, mallory, dave, shared_with_mallory):
        assert client_for(dave).delete(f"{BASE}/{shared_with_mallory.pk}").status_code == 404
        assert client_for(mallory).delete(f"{BASE}/{shared_with_mallory.pk}").status_code == 403
        shared_with_mallory.refresh_from_db()
        assert shared_with_mallory.is_active

    def test_re_sharing_after_a_revoke_works(
        self, alice_api, client_for, mallory, patient, shared_with_mallory
    ):
        alice_api.delete(f"{BASE}/{shared_with_mallory.pk}")
        sent = invite(alice_api, patient, mallory, permission_level="view").json()
        result = accept(client_for, mallory, sent["invitation_id"])
        assert result["share_ids"] == [shared_with_mallory.pk]  # the same row, re-activated
        share = PatientShare.objects.get(patient=patient, grantee=mallory)
        assert share.is_active and share.level == "view"
        assert (
            client_for(mallory).get(f"/api/v1/patient-management/{patient.pk}").status_code == 200
        )

    def test_the_recipient_leaves(
        self, client_for, alice_api, mallory, patient, shared_with_mallory
    ):
        api = client_for(mallory)
        response = api.delete(f"{BASE}/remove-my-access/{patient.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Access removed successfully"}
        assert api.get("/api/v1/medications", {"patient_id": patient.pk}).status_code == 403
        assert api.delete(f"{BASE}/remove-my-access/{patient.pk}").status_code == 404
        assert alice_api.delete(f"{BASE}/remove-my-access/{patient.pk}").status_code == 400


class TestLists:
    def test_shared_with_me_and_by_me(
        self, alice_api, client_for, alice, mallory, patient, shared_with_mallory
    ):
        with_me = client_for(mallory).get(f"{BASE}/shared-with-me").json()
        assert [s["id"] for s in with_me] == [shared_with_mallory.pk]
        assert with_me[0]["patient"]["first_name"] == "Alice"
        assert with_me[0]["shared_by"]["username"] == "alice"
        assert with_me[0]["permission_level"] == "edit"
        by_me = alice_api.get(f"{BASE}/shared-by-me").json()
        assert [s["shared_with"]["username"] for s in by_me] == ["mallory"]
        assert alice_api.get(f"{BASE}/shared-with-me").json() == []
        owner_view = alice_api.get(f"{BASE}/{patient.pk}").json()["shares"]
        assert [s["shared_with_user_id"] for s in owner_view] == [mallory.pk]
        # Only the owner sees whom the patient is shared with (access.py).
        assert client_for(mallory).get(f"{BASE}/{patient.pk}").status_code == 403

    def test_expired_shares_are_not_listed(self, client_for, mallory, shared_with_mallory):
        shared_with_mallory.expires_at = timezone.now() - timedelta(seconds=1)
        shared_with_mallory.save()
        assert client_for(mallory).get(f"{BASE}/shared-with-me").json() == []

    def test_stats(self, alice_api, client_for, alice, mallory, bob, patient, shared_with_mallory):
        invite(alice_api, PatientFactory(owner=alice), bob)
        stats = alice_api.get(f"{BASE}/stats/user").json()
        assert stats["total_shared_by_me"] == 1 and stats["total_shared_with_me"] == 0
        assert stats["pending_invitations"] == 0 and stats["pending_sent_invitations"] == 1
        theirs = client_for(bob).get(f"{BASE}/stats/user").json()
        assert theirs["pending_invitations"] == 1

    def test_lists_do_not_grow_queries_with_rows(self, client_for, mallory, make_user):
        def share(count):
            for _ in range(count):
                PatientShare.objects.create(
                    patient=PatientFactory(), grantee=mallory, level="view", granted_by=make_user()
                )

        api = client_for(mallory)
        share(2)
        api.get(f"{BASE}/shared-with-me")
        with CaptureQueriesContext(connection) as few:
            assert len(api.get(f"{BASE}/shared-with-me").json()) == 2
        share(18)
        with CaptureQueriesContext(connection) as many:
            assert len(api.get(f"{BASE}/shared-with-me").json()) == 20
        assert len(many) == len(few)


class TestCleanup:
    def test_admins_deactivate_expired_shares(self, client_for, admin_user, mallory, patient):
        expired = PatientShare.objects.create(
            patient=patient,
            grantee=mallory,
            level="view",
            expires_at=timezone.now() - timedelta(minutes=1),
        )
        assert client_for(mallory).post(f"{BASE}/cleanup-expired").status_code == 403
        response = client_for(admin_user).post(f"{BASE}/cleanup-expired")
        assert response.status_code == 200
        assert response.json()["expired_shares_removed"] == 1
        expired.refresh_from_db()
        assert not expired.is_active


def test_grants_and_their_end_are_in_the_activity_log(
    alice_api, client_for, alice, mallory, patient, django_capture_on_commit_callbacks
):
    from adminops.models import ActivityLog

    with django_capture_on_commit_callbacks(execute=True):
        sent = invite(alice_api, patient, mallory, permission_level="edit").json()
        accept(client_for, mallory, sent["invitation_id"])
    share = PatientShare.objects.get(patient=patient, grantee=mallory)
    granted = ActivityLog.objects.get(entity_type="patient_share", action="created")
    assert (granted.user, granted.patient_id, granted.entity_id) == (mallory, patient.pk, share.pk)
    with django_capture_on_commit_callbacks(execute=True):
        alice_api.delete(f"{BASE}/{share.pk}")
    ended = ActivityLog.objects.get(entity_type="patient_share", action="updated")
    assert ended.user == alice and ended.entity_id == share.pk
