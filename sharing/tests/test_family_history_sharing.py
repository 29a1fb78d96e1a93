"""/family-history-sharing: invitations for family members, accepting (whole or part of a bulk
invitation), revoking and leaving, the lists, details, and that recipients only ever read."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.tests.factories import PatientFactory
from records.tests.factories import FamilyConditionFactory, FamilyMemberFactory
from sharing.choices import InvitationStatus, InvitationType
from sharing.models import FamilyHistoryShare, Invitation
from sharing.tests.factories import FamilyHistoryShareFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/family-history-sharing"
INVITATIONS = "/api/v1/invitations"


@pytest.fixture
def dad(patient):
    """Alice's father, with two conditions."""
    member = FamilyMemberFactory(patient=patient, name="Dad", relationship="father")
    FamilyConditionFactory(patient=patient, family_member=member, condition_name="Hypertension")
    FamilyConditionFactory(patient=patient, family_member=member, condition_name="Diabetes")
    return member


@pytest.fixture
def mum(patient):
    return FamilyMemberFactory(patient=patient, name="Mum", relationship="mother")


@pytest.fixture
def bob_api(client_for, bob):
    return client_for(bob)


def invite(api, member, **body):
    body.setdefault("permission_level", "view")
    return api.post(f"{BASE}/{member.pk}/shares", body, format="json")


def accept(api, invitation_id, **body):
    return api.post(f"{INVITATIONS}/{invitation_id}/respond", {"action": "accept", **body})


def share_through_invitation(owner_api, recipient_api, member) -> int:
    """Alice invites, the recipient accepts; returns the invitation id."""
    sent = invite(owner_api, member, shared_with_user_id=recipient_api.user.pk)
    assert sent.status_code == 201, sent.content
    invitation_id = sent.json()["invitation_id"]
    assert accept(recipient_api, invitation_id).status_code == 200
    return invitation_id


def active_shares(member, user):
    return FamilyHistoryShare.objects.filter(family_member=member, shared_with=user, is_active=True)


def lapse(invitation_id):
    Invitation.objects.filter(pk=invitation_id).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )


class TestInvite:
    def test_sends_an_invitation_and_an_email_and_grants_nothing_yet(
        self, alice_api, bob_api, bob, dad, django_capture_on_commit_callbacks, mailoutbox
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = invite(
                alice_api, dad, shared_with_user_id=bob.pk, notes="Dad's history", expires_hours=48
            )
        assert response.status_code == 201, response.content
        body = response.json()
        invitation = Invitation.objects.get(pk=body["invitation_id"])
        assert body["title"] == "Family History Share: Dad" == invitation.title
        assert body["family_member_id"] == dad.pk
        assert body["shared_with_user_id"] == bob.pk
        assert (body["permission_level"], body["status"]) == ("view", "pending")
        assert invitation.invitation_type == InvitationType.FAMILY_HISTORY_SHARE
        assert invitation.sent_to == bob and invitation.message == "Dad's history"
        assert list(invitation.family_members.all()) == [dad]
        assert not invitation.is_bulk
        assert timedelta(hours=47) < invitation.expires_at - timezone.now() <= timedelta(hours=48)
        assert [m.to for m in mailoutbox] == [[bob.email]]
        assert "Family History Share: Dad" in mailoutbox[0].subject
        # Pending: the recipient sees the offer but not the member.
        assert not FamilyHistoryShare.objects.exists()
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 404
        pending = bob_api.get(f"{INVITATIONS}/pending").json()
        assert pending[0]["context_data"]["family_member_name"] == "Dad"

    @pytest.mark.parametrize("identifier", ["bob", "BOB@example.test"])
    def test_recipient_by_username_or_email(self, alice_api, bob, dad, identifier):
        response = invite(
            alice_api, dad, shared_with_identifier=identifier, sharing_note="from alice"
        )
        assert response.status_code == 201, response.content
        invitation = Invitation.objects.get(pk=response.json()["invitation_id"])
        assert invitation.sent_to == bob and invitation.message == "from alice"

    def test_edit_is_stored_as_offered(self, alice_api, bob, dad):
        response = invite(alice_api, dad, shared_with_user_id=bob.pk, permission_level="Edit")
        assert response.status_code == 201, response.content
        assert Invitation.objects.get().permission_level == "edit"

    def test_only_the_owner_may_share(self, client_for, shared_patient, dave, mallory, bob, dad):
        # dave holds FULL on the patient: patient access is not ownership of its family.
        for user in (mallory, dave):
            response = invite(client_for(user), dad, shared_with_user_id=bob.pk)
            assert response.status_code == 404
        assert not Invitation.objects.exists()

    def test_unknown_member_or_recipient_is_404(self, alice_api, bob, dad):
        assert invite(alice_api, dad, shared_with_user_id=10**9).status_code == 404
        assert invite(alice_api, dad, shared_with_identifier="nobody").status_code == 404
        response = alice_api.post(
            f"{BASE}/{10**9}/shares", {"shared_with_user_id": bob.pk}, format="json"
        )
        assert response.status_code == 404
        assert not Invitation.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"permission_level": "full"},
            {"permission_level": "admin"},
            {"expires_hours": 0},
            {"shared_with_user_id": "x"},
            {"shared_with_user_id": None, "shared_with_identifier": ""},
            {"shared_with_identifier": "bob", "both": True},
        ],
    )
    def test_bad_input_is_400(self, alice_api, bob, dad, body):
        body = dict(body)
        if body.pop("both", False):
            body["shared_with_user_id"] = bob.pk
        body.setdefault("shared_with_user_id", bob.pk)
        response = alice_api.post(f"{BASE}/{dad.pk}/shares", body, format="json")
        assert response.status_code == 400, response.content
        assert not Invitation.objects.exists()

    def test_sharing_with_yourself_is_400(self, alice_api, alice, dad):
        response = invite(alice_api, dad, shared_with_user_id=alice.pk)
        assert response.status_code == 400
        assert not Invitation.objects.exists()

    def test_a_pending_invitation_for_the_pair_is_409(self, alice_api, bob, carol, dad):
        first = invite(alice_api, dad, shared_with_user_id=bob.pk)
        assert first.status_code == 201
        assert invite(alice_api, dad, shared_with_identifier="bob").status_code == 409
        assert invite(alice_api, dad, shared_with_user_id=carol.pk).status_code == 201
        # Once the first lapses, it no longer stands in the way.
        lapse(first.json()["invitation_id"])
        assert invite(alice_api, dad, shared_with_user_id=bob.pk).status_code == 201

    def test_an_active_share_is_409(self, alice_api, bob_api, bob, dad):
        share_through_invitation(alice_api, bob_api, dad)
        response = invite(alice_api, dad, shared_with_user_id=bob.pk)
        assert response.status_code == 409
        assert Invitation.objects.count() == 1

    def test_anonymous_is_401(self, anon, dad):
        assert anon.post(f"{BASE}/{dad.pk}/shares", {}).status_code == 401
        for tail in ("mine", "my-own", "shared-with-me", "shared-by-me", f"{dad.pk}/details"):
            assert anon.get(f"{BASE}/{tail}").status_code == 401


class TestAccept:
    def test_accepting_shows_the_member_to_the_recipient(self, alice_api, bob_api, bob, dad):
        sent = invite(alice_api, dad, shared_with_user_id=bob.pk, notes="For you")
        response = accept(bob_api, sent.json()["invitation_id"])
        assert response.status_code == 200, response.content
        body = response.json()
        share = FamilyHistoryShare.objects.get()
        assert body["status"] == "accepted"
        assert (body["share_ids"], body["share_count"]) == ([share.pk], 1)
        assert (share.family_member, share.shared_by_id, share.shared_with) == (
            dad,
            dad.patient.owner_id,
            bob,
        )
        assert share.invitation_id == sent.json()["invitation_id"]
        assert share.sharing_note == "For you" and share.is_active
        details = bob_api.get(f"{BASE}/{dad.pk}/details")
        assert details.status_code == 200
        assert details.json()["name"] == "Dad"
        assert sorted(c["condition_name"] for c in details.json()["family_conditions"]) == [
            "Diabetes",
            "Hypertension",
        ]

    def test_recipients_stay_read_only_through_the_record_endpoints(
        self, alice_api, bob_api, bob, dad
    ):
        # Even an "edit" share gives no access to the patient, so the record API refuses.
        sent = invite(alice_api, dad, shared_with_user_id=bob.pk, permission_level="edit")
        accept(bob_api, sent.json()["invitation_id"])
        condition = dad.family_conditions.first()
        assert bob_api.get(f"/api/v1/family-members/{dad.pk}").status_code == 404
        assert (
            bob_api.patch(f"/api/v1/family-members/{dad.pk}", {"name": "X"}, format="json")
        ).status_code == 404
        assert bob_api.delete(f"/api/v1/family-members/{dad.pk}").status_code == 404
        assert (
            bob_api.patch(
                f"/api/v1/family-conditions/{condition.pk}", {"notes": "x"}, format="json"
            )
        ).status_code == 404
        listed = bob_api.get("/api/v1/family-members", {"patient_id": dad.patient_id})
        assert listed.status_code == 403
        created = bob_api.post(
            f"/api/v1/family-members/{dad.pk}/conditions",
            {"condition_name": "Asthma", "patient_id": dad.patient_id},
            format="json",
        )
        assert created.status_code in (403, 404)
        dad.refresh_from_db()
        assert dad.name == "Dad" and dad.family_conditions.count() == 2

    def test_a_rejected_invitation_grants_nothing(self, alice_api, bob_api, bob, dad):
        sent = invite(alice_api, dad, shared_with_user_id=bob.pk)
        bob_api.post(f"{INVITATIONS}/{sent.json()['invitation_id']}/respond", {"action": "reject"})
        assert not FamilyHistoryShare.objects.exists()
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 404

    def test_an_expired_invitation_grants_nothing(self, alice_api, bob_api, bob, dad):
        invitation_id = invite(alice_api, dad, shared_with_user_id=bob.pk).json()["invitation_id"]
        lapse(invitation_id)
        assert accept(bob_api, invitation_id).status_code == 404
        assert Invitation.objects.get(pk=invitation_id).status == InvitationStatus.EXPIRED
        assert not FamilyHistoryShare.objects.exists()
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 404

    def test_only_the_recipient_accepts(self, alice_api, client_for, mallory, bob, dad):
        invitation_id = invite(alice_api, dad, shared_with_user_id=bob.pk).json()["invitation_id"]
        assert accept(client_for(mallory), invitation_id).status_code == 404
        assert accept(alice_api, invitation_id).status_code == 404
        assert not FamilyHistoryShare.objects.exists()

    def test_a_member_no_longer_the_senders_is_not_shared(
        self, alice_api, bob_api, bob, dad, carol
    ):
        invitation_id = invite(alice_api, dad, shared_with_user_id=bob.pk).json()["invitation_id"]
        dad.patient.owner = carol
        dad.patient.save(update_fields=["owner"])
        assert accept(bob_api, invitation_id).status_code == 400
        assert Invitation.objects.get(pk=invitation_id).status == InvitationStatus.PENDING
        assert not FamilyHistoryShare.objects.exists()


class TestBulkInvite:
    def test_one_invitation_per_recipient_and_failures_reported(
        self, alice_api, bob, carol, dad, mum, django_capture_on_commit_callbacks, mailoutbox
    ):
        FamilyHistoryShareFactory(family_member=dad, shared_with=carol)  # already shared
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_api.post(
                f"{BASE}/bulk-invite",
                {
                    "family_member_ids": [dad.pk, mum.pk],
                    "recipient_emails": [bob.email, "nobody@example.test", "alice"],
                    "shared_with_identifier": "carol",
                    "permission_level": "view",
                    "message": "Our family history",
                },
                format="json",
            )
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["successful_invites"], body["failed_invites"]) == (1, 3)
        outcome = {r["recipient"]: r["success"] for r in body["results"]}
        assert outcome == {
            bob.email: True,
            "nobody@example.test": False,
            "alice": False,
            "carol": False,
        }
        assert all(r["error"] for r in body["results"] if not r["success"])
        invitation = Invitation.objects.get()
        assert body["results"][0]["invitation_id"] == invitation.pk
        assert invitation.sent_to == bob and invitation.is_bulk
        assert invitation.message == "Our family history"
        assert {m.pk for m in invitation.family_members.all()} == {dad.pk, mum.pk}
        assert invitation.title == "Family History Share: Dad, Mum"
        assert [m.to for m in mailoutbox] == [[bob.email]]

    def test_a_member_not_yours_refuses_everything(self, alice_api, bob, dad):
        stranger = FamilyMemberFactory()
        response = alice_api.post(
            f"{BASE}/bulk-invite",
            {"family_member_ids": [dad.pk, stranger.pk], "recipient_emails": [bob.email]},
            format="json",
        )
        assert response.status_code == 404
        assert str(stranger.pk) in response.json()["error"]
        assert not Invitation.objects.exists()

    @pytest.mark.parametrize(
        "change",
        [
            {"family_member_ids": []},
            {"family_member_ids": list(range(1, 52))},
            {"family_member_ids": "twice"},
            {"recipient_emails": []},
            {"recipient_emails": ["  "]},
            {"permission_level": "full"},
        ],
    )
    def test_bad_input_is_400(self, alice_api, bob, dad, change):
        body = {"family_member_ids": [dad.pk], "recipient_emails": ["bob"], **change}
        if body["family_member_ids"] == "twice":
            body["family_member_ids"] = [dad.pk, dad.pk]
        response = alice_api.post(f"{BASE}/bulk-invite", body, format="json")
        assert response.status_code == 400, response.content
        assert not Invitation.objects.exists()

    def test_partial_acceptance(self, alice_api, bob_api, bob, dad, mum, patient):
        uncle = FamilyMemberFactory(patient=patient, name="Uncle")
        alice_api.post(
            f"{BASE}/bulk-invite",
            {"family_member_ids": [dad.pk, mum.pk, uncle.pk], "shared_with_identifier": ["bob"]},
            format="json",
        )
        invitation = Invitation.objects.get()
        # Ids outside the invitation refuse the whole answer.
        refused = bob_api.post(
            f"{INVITATIONS}/respond",
            {
                "invitation_id": invitation.pk,
                "response": "accepted",
                "patient_ids": [dad.pk, 10**9],
            },
            format="json",
        )
        assert refused.status_code == 400
        assert not FamilyHistoryShare.objects.exists()
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.PENDING
        response = bob_api.post(
            f"{INVITATIONS}/respond",
            {
                "invitation_id": invitation.pk,
                "response": "accepted",
                "patient_ids": [dad.pk, uncle.pk],
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["share_count"] == 2
        assert {s.family_member_id for s in FamilyHistoryShare.objects.all()} == {dad.pk, uncle.pk}
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 200
        assert bob_api.get(f"{BASE}/{mum.pk}/details").status_code == 404

    def test_a_deleted_member_is_skipped(self, alice_api, bob_api, dad, mum):
        alice_api.post(
            f"{BASE}/bulk-invite",
            {"family_member_ids": [dad.pk, mum.pk], "recipient_emails": ["bob"]},
            format="json",
        )
        mum.delete()
        response = accept(bob_api, Invitation.objects.get().pk)
        assert response.status_code == 200
        assert response.json()["share_count"] == 1
        assert FamilyHistoryShare.objects.get().family_member == dad

    def test_choosing_members_of_a_single_invitation_is_400(self, alice_api, bob_api, bob, dad):
        invitation_id = invite(alice_api, dad, shared_with_user_id=bob.pk).json()["invitation_id"]
        response = accept(bob_api, invitation_id, patient_ids=[dad.pk])
        assert response.status_code == 400
        assert not FamilyHistoryShare.objects.exists()


class TestRevokeAndLeave:
    def test_owner_revokes(self, alice_api, bob_api, bob, dad):
        invitation_id = share_through_invitation(alice_api, bob_api, dad)
        response = alice_api.delete(f"{BASE}/{dad.pk}/shares/{bob.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Access revoked successfully"}
        assert not active_shares(dad, bob).exists()
        assert FamilyHistoryShare.objects.count() == 1  # kept, inactive
        assert Invitation.objects.get(pk=invitation_id).status == InvitationStatus.REVOKED
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 404
        assert bob_api.get(f"{BASE}/shared-with-me").json() == {"shared_family_history": []}
        assert alice_api.delete(f"{BASE}/{dad.pk}/shares/{bob.pk}").status_code == 404

    def test_nobody_else_revokes(self, alice_api, bob_api, client_for, bob, carol, mallory, dad):
        share_through_invitation(alice_api, bob_api, dad)
        share_through_invitation(alice_api, client_for(carol), dad)
        for api in (client_for(mallory), bob_api):
            assert api.delete(f"{BASE}/{dad.pk}/shares/{carol.pk}").status_code == 404
            assert api.delete(f"{BASE}/{dad.pk}/shares/{bob.pk}").status_code == 404
        assert active_shares(dad, bob).exists() and active_shares(dad, carol).exists()

    def test_reshare_after_revoke(self, alice_api, bob_api, bob, dad):
        share_through_invitation(alice_api, bob_api, dad)
        alice_api.delete(f"{BASE}/{dad.pk}/shares/{bob.pk}")
        second = share_through_invitation(alice_api, bob_api, dad)
        assert active_shares(dad, bob).get().invitation_id == second
        assert FamilyHistoryShare.objects.filter(family_member=dad, shared_with=bob).count() == 2
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 200

    def test_revoking_the_invitation_ends_its_shares(self, alice_api, bob_api, bob, dad):
        invitation_id = share_through_invitation(alice_api, bob_api, dad)
        assert bob_api.post(f"{INVITATIONS}/{invitation_id}/revoke").status_code == 403
        response = alice_api.post(f"{INVITATIONS}/{invitation_id}/revoke")
        assert response.status_code == 200
        assert Invitation.objects.get(pk=invitation_id).status == InvitationStatus.REVOKED
        assert not active_shares(dad, bob).exists()
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 404

    def test_a_bulk_invitation_is_revoked_with_its_last_share(
        self, alice_api, bob_api, bob, dad, mum
    ):
        alice_api.post(
            f"{BASE}/bulk-invite",
            {"family_member_ids": [dad.pk, mum.pk], "recipient_emails": ["bob"]},
            format="json",
        )
        invitation = Invitation.objects.get()
        accept(bob_api, invitation.pk)
        alice_api.delete(f"{BASE}/{dad.pk}/shares/{bob.pk}")
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.ACCEPTED
        assert bob_api.get(f"{BASE}/{mum.pk}/details").status_code == 200
        alice_api.delete(f"{BASE}/{mum.pk}/shares/{bob.pk}")
        invitation.refresh_from_db()
        assert invitation.status == InvitationStatus.REVOKED

    def test_recipient_removes_own_access(self, alice_api, bob_api, client_for, bob, mallory, dad):
        invitation_id = share_through_invitation(alice_api, bob_api, dad)
        url = f"{BASE}/shared-with-me/{dad.pk}/remove-access"
        assert client_for(mallory).delete(url).status_code == 404
        assert alice_api.delete(url).status_code == 404
        assert active_shares(dad, bob).exists()
        response = bob_api.delete(url)
        assert response.status_code == 200
        assert response.json() == {"message": "Access removed successfully"}
        assert not active_shares(dad, bob).exists()
        assert Invitation.objects.get(pk=invitation_id).status == InvitationStatus.REVOKED
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 404
        assert bob_api.delete(url).status_code == 404


class TestLists:
    def test_member_shares_for_the_owner_only(
        self, alice_api, bob_api, client_for, bob, carol, mallory, dad
    ):
        invitation_id = share_through_invitation(alice_api, bob_api, dad)
        FamilyHistoryShareFactory(family_member=dad, shared_with=carol, is_active=False)
        response = alice_api.get(f"{BASE}/{dad.pk}/shares")
        assert response.status_code == 200
        [share] = response.json()
        assert share["shared_with"]["username"] == "bob"
        assert share["shared_with_user_id"] == bob.pk and share["permission_level"] == "view"
        assert share["invitation"]["id"] == invitation_id
        for api in (bob_api, client_for(mallory)):
            assert api.get(f"{BASE}/{dad.pk}/shares").status_code == 404
        assert alice_api.get(f"{BASE}/{10**9}/shares").status_code == 404

    def test_shared_with_me(self, alice, bob_api, bob, dad, mum):
        FamilyHistoryShareFactory(
            family_member=dad, shared_with=bob, sharing_note="note", permission_level="edit"
        )
        FamilyHistoryShareFactory(family_member=mum, shared_with=bob, is_active=False)
        FamilyHistoryShareFactory(shared_with=PatientFactory().owner)  # someone else's
        # The web app's shape (the spec's is a bare array): {family_member, share_details}.
        [entry] = bob_api.get(f"{BASE}/shared-with-me").json()["shared_family_history"]
        item, share = entry["family_member"], entry["share_details"]
        assert item["id"] == dad.pk and item["name"] == "Dad"
        assert {"relationship", "birth_year"} <= set(item)
        assert len(item["family_conditions"]) == 2
        assert share["shared_by"]["id"] == alice.pk
        assert {"id", "username", "name", "email"} <= set(share["shared_by"])
        assert share["shared_by"]["name"] == "Alice Owner"
        assert (share["permission_level"], share["sharing_note"]) == ("edit", "note")
        assert share["shared_at"]

    def test_a_transferred_patient_ends_the_old_owners_shares(self, bob_api, bob, carol, dad):
        FamilyHistoryShareFactory(family_member=dad, shared_with=bob)
        dad.patient.owner = carol
        dad.patient.save(update_fields=["owner"])
        assert bob_api.get(f"{BASE}/shared-with-me").json() == {"shared_family_history": []}
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 404

    def test_the_new_owner_may_share_again_after_a_transfer(
        self, client_for, bob_api, bob, carol, dad
    ):
        stale = FamilyHistoryShareFactory(family_member=dad, shared_with=bob)
        dad.patient.owner = carol
        dad.patient.save(update_fields=["owner"])
        invitation_id = share_through_invitation(client_for(carol), bob_api, dad)
        stale.refresh_from_db()
        assert not stale.is_active
        share = active_shares(dad, bob).get()
        assert (share.shared_by, share.invitation_id) == (carol, invitation_id)
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 200

    def test_my_own_lists_every_owned_patients_members(self, alice_api, alice, bob_api, dad, mum):
        other_patient = PatientFactory(owner=alice)
        cousin = FamilyMemberFactory(patient=other_patient, name="Cousin")
        FamilyMemberFactory()  # someone else's
        members = alice_api.get(f"{BASE}/my-own").json()
        assert {m["id"] for m in members} == {dad.pk, mum.pk, cousin.pk}
        by_name = {m["name"]: m for m in members}
        assert len(by_name["Dad"]["family_conditions"]) == 2
        assert by_name["Mum"]["family_conditions"] == []
        assert bob_api.get(f"{BASE}/my-own").json() == []

    def test_shared_by_me(self, alice_api, bob_api, bob, carol, dad, mum):
        FamilyHistoryShareFactory(family_member=dad, shared_with=bob)
        FamilyHistoryShareFactory(family_member=dad, shared_with=carol, permission_level="edit")
        FamilyHistoryShareFactory(family_member=mum, shared_with=bob, is_active=False)
        [item] = alice_api.get(f"{BASE}/shared-by-me").json()
        assert item["id"] == dad.pk
        assert [(s["shared_with"]["username"], s["permission_level"]) for s in item["shares"]] == [
            ("bob", "view"),
            ("carol", "edit"),
        ]
        assert all(s["created_at"] for s in item["shares"])
        assert bob_api.get(f"{BASE}/shared-by-me").json() == []

    def test_mine(self, alice_api, bob_api, bob, dad, mum):
        bobs_patient = PatientFactory(owner=bob)
        bobs_uncle = FamilyMemberFactory(patient=bobs_patient, name="Bob's uncle")
        FamilyHistoryShareFactory(family_member=dad, shared_with=bob)
        body = bob_api.get(f"{BASE}/mine").json()
        assert [m["id"] for m in body["owned_family_members"]] == [bobs_uncle.pk]
        assert [m["id"] for m in body["shared_family_members"]] == [dad.pk]
        assert body["shared_family_members"][0]["share"]["shared_by"]["username"] == "alice"
        assert (body["total_owned"], body["total_shared"]) == (1, 1)
        # The same lists under the web app's names.
        assert [m["id"] for m in body["owned_family_history"]] == [bobs_uncle.pk]
        [shared] = body["shared_family_history"]
        assert shared["family_member"]["id"] == dad.pk
        assert shared["share_details"]["shared_by"]["username"] == "alice"
        mine = alice_api.get(f"{BASE}/mine").json()
        assert (mine["total_owned"], mine["total_shared"]) == (2, 0)

    def test_stranger_sees_nothing(self, client_for, mallory, bob, dad):
        FamilyHistoryShareFactory(family_member=dad, shared_with=bob)
        api = client_for(mallory)
        assert api.get(f"{BASE}/mine").json() == {
            "owned_family_members": [],
            "shared_family_members": [],
            "total_owned": 0,
            "total_shared": 0,
            "owned_family_history": [],
            "shared_family_history": [],
        }
        assert api.get(f"{BASE}/shared-with-me").json() == {"shared_family_history": []}
        for tail in ("my-own", "shared-by-me"):
            assert api.get(f"{BASE}/{tail}").json() == []
        assert api.get(f"{BASE}/{dad.pk}/details").status_code == 404


def _members_with_shares(owner_patient, recipient, count):
    for _ in range(count):
        member = FamilyMemberFactory(patient=owner_patient)
        FamilyConditionFactory(patient=owner_patient, family_member=member)
        FamilyHistoryShareFactory(family_member=member, shared_with=recipient)


@pytest.mark.parametrize("tail", ["shared-with-me", "my-own", "shared-by-me", "mine"])
def test_list_queries_do_not_grow_with_rows(client_for, alice, bob, tail):
    # Bob reads what alice shares, alice reads her own: both sides are listed.
    alice_patient = PatientFactory(owner=alice)
    api = client_for(bob if tail in ("shared-with-me", "mine") else alice)
    _members_with_shares(alice_patient, bob, 2)
    with CaptureQueriesContext(connection) as few:
        assert api.get(f"{BASE}/{tail}").status_code == 200
    _members_with_shares(alice_patient, bob, 18)
    with CaptureQueriesContext(connection) as many:
        response = api.get(f"{BASE}/{tail}")
    body = response.json()
    rows = {
        "mine": lambda: body["shared_family_members"],
        "shared-with-me": lambda: body["shared_family_history"],
    }.get(tail, lambda: body)()
    assert len(rows) == 20
    assert len(many) == len(few)


class TestDetails:
    def test_owner_reads_the_full_history(self, alice_api, dad):
        response = alice_api.get(f"{BASE}/{dad.pk}/details")
        assert response.status_code == 200
        body = response.json()
        assert (body["id"], body["relationship"]) == (dad.pk, "father")
        assert {c["family_member_id"] for c in body["family_conditions"]} == {dad.pk}
        assert len(body["family_conditions"]) == 2

    def test_others_get_404(self, client_for, shared_patient, bob, dave, mallory, dad):
        # Patient shares do not reach family history sharing's details either way round.
        for user in (bob, dave, mallory):
            assert client_for(user).get(f"{BASE}/{dad.pk}/details").status_code == 404
        assert client_for(bob).get(f"{BASE}/{10**9}/details").status_code == 404

    def test_recipient_reads_but_not_others_shares(self, bob_api, bob, carol, dad, mum):
        FamilyHistoryShareFactory(family_member=dad, shared_with=bob)
        FamilyHistoryShareFactory(family_member=mum, shared_with=carol)
        assert bob_api.get(f"{BASE}/{dad.pk}/details").status_code == 200
        assert bob_api.get(f"{BASE}/{mum.pk}/details").status_code == 404
        assert bob_api.get(f"{BASE}/{dad.pk}/shares").status_code == 404


class TestModelAndAdmin:
    def test_one_active_share_per_pair(self, bob, dad):
        FamilyHistoryShareFactory(family_member=dad, shared_with=bob, is_active=False)
        FamilyHistoryShareFactory(family_member=dad, shared_with=bob, is_active=False)
        FamilyHistoryShareFactory(family_member=dad, shared_with=bob)
        with pytest.raises(IntegrityError):
            FamilyHistoryShareFactory(family_member=dad, shared_with=bob)

    def test_admin_lists_filters_and_searches(self, admin_client, bob, dad):
        FamilyHistoryShareFactory(family_member=dad, shared_with=bob)
        url = "/admin/sharing/familyhistoryshare/"
        page = admin_client.get(url, {"q": "Dad", "is_active__exact": "1"})
        assert page.status_code == 200
        assert "Dad" in page.content.decode()
        assert "Dad" not in admin_client.get(url, {"q": "nobody"}).content.decode()
        assert admin_client.get(f"{url}?permission_level__exact=edit").status_code == 200
        assert admin_client.get(f"{url}add/").status_code == 200
