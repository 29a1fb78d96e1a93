"""/invitations: pending, sent, summary, answering in both body styles, revoke, cancel and the
expiry cleanup."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import PatientShare
from patients.tests.factories import PatientFactory
from sharing.choices import InvitationStatus
from sharing.models import Invitation
from sharing.tasks import expire_invitations_and_shares

pytestmark = pytest.mark.django_db

BASE = "/api/v1/invitations"


@pytest.fixture
def invitation(alice_api, patient, mallory):
    """A pending invitation from alice offering mallory EDIT on alice's patient."""
    response = alice_api.post(
        "/api/v1/patient-sharing/invite",
        {
            "patient_id": patient.pk,
            "shared_with_user_identifier": "mallory",
            "permission_level": "edit",
            "message": "Please review patient history",
        },
        format="json",
    )
    assert response.status_code == 200, response.content
    return Invitation.objects.get(pk=response.json()["invitation_id"])


def lapse(invitation):
    Invitation.objects.filter(pk=invitation.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


class TestLists:
    def test_pending_is_the_recipients(self, client_for, alice_api, mallory, invitation):
        pending = client_for(mallory).get(f"{BASE}/pending").json()
        assert [i["id"] for i in pending] == [invitation.pk]
        assert pending[0]["sent_by"]["username"] == "alice"
        assert pending[0]["message"] == "Please review patient history"
        assert pending[0]["context_data"]["permission_level"] == "edit"
        assert alice_api.get(f"{BASE}/pending").json() == []

    def test_sent_is_the_senders_whatever_the_status(
        self, client_for, alice_api, mallory, invitation
    ):
        client_for(mallory).post(f"{BASE}/{invitation.pk}/respond", {"action": "reject"})
        sent = alice_api.get(f"{BASE}/sent").json()
        assert [(i["id"], i["status"]) for i in sent] == [(invitation.pk, "rejected")]
        assert sent[0]["sent_to"]["username"] == "mallory"
        assert client_for(mallory).get(f"{BASE}/sent").json() == []

    def test_lapsed_invitations_are_not_pending(self, client_for, mallory, invitation):
        lapse(invitation)
        assert client_for(mallory).get(f"{BASE}/pending").json() == []

    def test_one_invitation_is_shown_to_its_two_users_only(
        self, client_for, alice_api, mallory, bob, invitation
    ):
        assert alice_api.get(f"{BASE}/{invitation.pk}").json()["id"] == invitation.pk
        assert client_for(mallory).get(f"{BASE}/{invitation.pk}").status_code == 200
        assert client_for(bob).get(f"{BASE}/{invitation.pk}").status_code == 404

    def test_summary(self, client_for, alice_api, alice, mallory, bob, invitation):
        other = alice_api.post(
            "/api/v1/patient-sharing/invite",
            {"patient_id": PatientFactory(owner=alice).pk, "shared_with_user_identifier": "bob"},
            format="json",
        ).json()["invitation_id"]
        client_for(bob).post(f"{BASE}/{other}/respond", {"action": "accept"})
        third = alice_api.post(
            "/api/v1/patient-sharing/invite",
            {"patient_id": PatientFactory(owner=alice).pk, "shared_with_user_identifier": "bob"},
            format="json",
        ).json()["invitation_id"]
        lapse(Invitation.objects.get(pk=third))
        summary = alice_api.get(f"{BASE}/summary").json()
        assert summary == {
            "pending_received": 0,
            "pending_sent": 1,
            "accepted": 1,
            "rejected": 0,
            "expired": 1,
            "total_received": 0,
            "total_sent": 3,
        }
        assert client_for(mallory).get(f"{BASE}/summary").json()["pending_received"] == 1

    def test_lists_do_not_grow_queries_with_rows(self, client_for, alice, mallory):
        def send(count):
            for _ in range(count):
                invitation = Invitation.objects.create(
                    sent_by=alice,
                    sent_to=mallory,
                    invitation_type="patient_share",
                    title="t",
                    expires_at=timezone.now() + timedelta(days=1),
                )
                invitation.patients.set([PatientFactory(owner=alice)])

        api = client_for(mallory)
        send(2)
        api.get(f"{BASE}/pending")
        with CaptureQueriesContext(connection) as few:
            assert len(api.get(f"{BASE}/pending").json()) == 2
        send(18)
        with CaptureQueriesContext(connection) as many:
            assert len(api.get(f"{BASE}/pending").json()) == 20
        assert len(many) == len(few)

    def test_anonymous_is_401(self, anon):
        for path in ("pending", "sent", "summary"):
            assert anon.get(f"{BASE}/{path}").status_code == 401


class TestRespond:
    def test_accept_by_id_answers_the_updated_invitation(
        self, client_for, mallory, patient, invitation
    ):
        response = client_for(mallory).post(
            f"{BASE}/{invitation.pk}/respond", {"action": "accept"}, format="json"
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["id"] == invitation.pk and body["status"] == "accepted"
        assert body["responded_at"] is not None and body["share_count"] == 1
        share = PatientShare.objects.get(pk=body["share_ids"][0])
        assert (share.patient, share.grantee, share.level) == (patient, mallory, "edit")
        assert share.granted_by == invitation.sent_by

    def test_accept_with_the_000_body(self, client_for, mallory, invitation):
        response = client_for(mallory).post(
            f"{BASE}/respond",
            {
                "invitation_id": invitation.pk,
                "response": "accepted",
                "response_note": "Thank you for sharing",
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["status"] == "accepted" and body["invitation_id"] == invitation.pk
        invitation.refresh_from_db()
        assert invitation.response_note == "Thank you for sharing"

    def test_reject_grants_nothing(self, client_for, mallory, patient, invitation):
        response = client_for(mallory).post(
            f"{BASE}/respond",
            {"invitation_id": invitation.pk, "response": "rejected"},
            format="json",
        )
        assert response.status_code == 200 and response.json()["status"] == "rejected"
        assert not PatientShare.objects.filter(grantee=mallory).exists()
        again = client_for(mallory).post(
            f"{BASE}/{invitation.pk}/respond", {"action": "accept"}, format="json"
        )
        assert again.status_code == 404

    def test_only_the_recipient_answers(self, alice_api, client_for, bob, invitation):
        for api in (alice_api, client_for(bob)):
            response = api.post(
                f"{BASE}/{invitation.pk}/respond", {"action": "accept"}, format="json"
            )
            assert response.status_code == 404
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.PENDING

    def test_an_expired_invitation_is_404_and_becomes_expired(
        self, client_for, mallory, invitation
    ):
        lapse(invitation)
        response = client_for(mallory).post(
            f"{BASE}/respond",
            {"invitation_id": invitation.pk, "response": "accepted"},
            format="json",
        )
        assert response.status_code == 404
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.EXPIRED
        assert not PatientShare.objects.filter(grantee=mallory).exists()

    @pytest.mark.parametrize(
        "body",
        [{"response": "maybe"}, {}, {"action": "sure"}],
    )
    def test_bad_answers_are_400(self, client_for, mallory, invitation, body):
        response = client_for(mallory).post(f"{BASE}/{invitation.pk}/respond", body, format="json")
        assert response.status_code == 400
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.PENDING

    def test_missing_invitation_id_is_400(self, client_for, mallory):
        response = client_for(mallory).post(
            f"{BASE}/respond", {"response": "accepted"}, format="json"
        )
        assert response.status_code == 400 and "invitation_id" in response.json()["errors"]

    def test_patient_ids_not_in_the_invitation_are_400_and_grant_nothing(
        self, client_for, alice, mallory
    ):
        patients = PatientFactory.create_batch(2, owner=alice)
        invitation = Invitation.objects.create(
            sent_by=alice,
            sent_to=mallory,
            invitation_type="patient_share",
            title="t",
            is_bulk=True,
            expires_at=timezone.now() + timedelta(days=1),
        )
        invitation.patients.set(patients)
        response = client_for(mallory).post(
            f"{BASE}/respond",
            {"invitation_id": invitation.pk, "response": "accepted", "patient_ids": [999999]},
            format="json",
        )
        assert response.status_code == 400
        assert not PatientShare.objects.exists()
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.PENDING

    def test_a_patient_the_sender_no_longer_owns_is_skipped(self, client_for, alice, bob, mallory):
        kept, given_away = PatientFactory.create_batch(2, owner=alice)
        invitation = Invitation.objects.create(
            sent_by=alice,
            sent_to=mallory,
            invitation_type="patient_share",
            title="t",
            is_bulk=True,
            expires_at=timezone.now() + timedelta(days=1),
        )
        invitation.patients.set([kept, given_away])
        given_away.owner = bob
        given_away.save()
        response = client_for(mallory).post(
            f"{BASE}/{invitation.pk}/respond", {"action": "accept"}, format="json"
        )
        assert response.status_code == 200
        assert list(PatientShare.objects.values_list("patient_id", flat=True)) == [kept.pk]


class TestRevokeAndCancel:
    def test_the_sender_revokes_a_pending_invitation(
        self, alice_api, client_for, mallory, invitation
    ):
        assert client_for(mallory).post(f"{BASE}/{invitation.pk}/revoke").status_code == 403
        response = alice_api.post(f"{BASE}/{invitation.pk}/revoke")
        assert response.status_code == 200
        assert response.json() == {"message": "Invitation revoked successfully"}
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.REVOKED
        answer = client_for(mallory).post(
            f"{BASE}/{invitation.pk}/respond", {"action": "accept"}, format="json"
        )
        assert answer.status_code == 404

    def test_an_accepted_patient_invitation_is_revoked_through_its_share(
        self, alice_api, client_for, mallory, invitation
    ):
        client_for(mallory).post(f"{BASE}/{invitation.pk}/respond", {"action": "accept"})
        assert alice_api.post(f"{BASE}/{invitation.pk}/revoke").status_code == 400
        assert PatientShare.objects.get(grantee=mallory).is_active

    def test_unknown_invitation_is_404(self, alice_api):
        assert alice_api.post(f"{BASE}/999999/revoke").status_code == 404

    def test_delete_cancels(self, alice_api, client_for, mallory, invitation):
        assert client_for(mallory).delete(f"{BASE}/{invitation.pk}").status_code == 404
        assert alice_api.delete(f"{BASE}/{invitation.pk}").status_code == 200
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.CANCELLED


class TestCleanup:
    def test_admins_expire_lapsed_invitations(self, client_for, admin_user, mallory, invitation):
        lapse(invitation)
        assert client_for(mallory).post(f"{BASE}/cleanup").status_code == 403
        response = client_for(admin_user).post(f"{BASE}/cleanup")
        assert response.json() == {"message": "Expired 1 old invitations", "expired_count": 1}
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.EXPIRED

    def test_the_hourly_task_expires_invitations_and_shares(self, invitation, patient, bob):
        lapse(invitation)
        share = PatientShare.objects.create(
            patient=patient, grantee=bob, level="view", expires_at=timezone.now()
        )
        assert expire_invitations_and_shares() == {
            "expired_invitations": 1,
            "expired_shares": 1,
        }
        share.refresh_from_db()
        assert not share.is_active
        assert expire_invitations_and_shares() == {
            "expired_invitations": 0,
            "expired_shares": 0,
        }

    def test_the_beat_schedule_runs_it(self, settings):
        entry = settings.CELERY_BEAT_SCHEDULE["expire-invitations-and-shares"]
        assert entry["task"] == "sharing.tasks.expire_invitations_and_shares"


def test_accepting_never_lowers_access_held_already(client_for, alice, patient, mallory):
    """A VIEW invitation accepted by someone who meanwhile got EDIT keeps the EDIT share."""
    invitation = Invitation.objects.create(
        sent_by=alice,
        sent_to=mallory,
        invitation_type="patient_share",
        title="t",
        permission_level="view",
        expires_at=timezone.now() + timedelta(days=1),
    )
    invitation.patients.set([patient])
    share = PatientShare.objects.create(patient=patient, grantee=mallory, level="edit")
    response = client_for(mallory).post(
        f"{BASE}/{invitation.pk}/respond", {"action": "accept"}, format="json"
    )
    assert response.status_code == 200 and response.json()["share_ids"] == [share.pk]
    share.refresh_from_db()
    assert share.level == "edit" and share.expires_at is None
