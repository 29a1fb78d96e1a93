"""Family-history sharing as MediKeep's web app calls it (web-client-api.md §10), with the app's
own bodies: invite one member, bulk-invite, accept, read what is shared, revoke and leave."""

import pytest

from records.tests.factories import FamilyConditionFactory, FamilyMemberFactory
from sharing.models import FamilyHistoryShare, Invitation

pytestmark = pytest.mark.django_db

BASE = "/api/v1/family-history-sharing"


@pytest.fixture
def dad(patient):
    member = FamilyMemberFactory(patient=patient, name="Dad", relationship="father")
    FamilyConditionFactory(patient=patient, family_member=member, condition_name="Asthma")
    return member


@pytest.fixture
def mum(patient):
    return FamilyMemberFactory(patient=patient, name="Mum", relationship="mother")


def app_body(recipient, **extra):
    """The sharing dialog's body (single and bulk differ only by family_member_ids)."""
    return {
        "shared_with_identifier": recipient.username,
        "permission_level": "view",
        "sharing_note": "Family history for you",
        "expires_hours": 168,
        **extra,
    }


def accept_all(client):
    for invitation in client.get("/api/v1/invitations/pending?").json():
        answer = client.post(
            f"/api/v1/invitations/{invitation['id']}/respond",
            {"response": "accepted", "response_note": None},
            format="json",
        )
        assert answer.status_code == 200, answer.content


class TestOneMember:
    def test_invite_accept_read_revoke(self, client_for, alice, bob, dad):
        owner, recipient = client_for(alice), client_for(bob)
        sent = owner.post(f"{BASE}/{dad.pk}/shares", app_body(bob), format="json")
        assert sent.status_code == 201, sent.content
        [pending] = recipient.get("/api/v1/invitations/pending?").json()
        assert pending["invitation_type"] == "family_history_share"
        assert pending["context_data"]["family_member_name"] == "Dad"
        assert pending["context_data"]["family_member_relationship"] == "father"
        accept_all(recipient)

        [share] = owner.get(f"{BASE}/{dad.pk}/shares").json()
        assert share["shared_with"]["id"] == bob.pk
        assert {"name", "email"} <= set(share["shared_with"])
        assert share["sharing_note"] == "Family history for you"
        assert share["permission_level"] == "view" and share["created_at"]

        body = recipient.get(f"{BASE}/shared-with-me").json()
        [entry] = body["shared_family_history"]
        member = entry["family_member"]
        assert (member["id"], member["name"], member["relationship"]) == (dad.pk, "Dad", "father")
        assert "birth_year" in member
        assert [c["condition_name"] for c in member["family_conditions"]] == ["Asthma"]
        details = entry["share_details"]
        assert details["shared_by"]["name"] == "Alice Owner"
        assert details["sharing_note"] == "Family history for you" and details["shared_at"]

        assert owner.delete(f"{BASE}/{dad.pk}/shares/{bob.pk}").status_code == 200
        assert recipient.get(f"{BASE}/shared-with-me").json() == {"shared_family_history": []}

    def test_the_recipient_leaves(self, client_for, alice, bob, dad):
        client_for(alice).post(f"{BASE}/{dad.pk}/shares", app_body(bob), format="json")
        recipient = client_for(bob)
        accept_all(recipient)
        url = f"{BASE}/shared-with-me/{dad.pk}/remove-access"
        assert recipient.delete(url).status_code == 200
        assert recipient.get(f"{BASE}/shared-with-me").json() == {"shared_family_history": []}
        assert recipient.delete(url).status_code == 404

    def test_strangers_may_not_share_or_list(self, client_for, mallory, bob, dad):
        client = client_for(mallory)
        assert (
            client.post(f"{BASE}/{dad.pk}/shares", app_body(bob), format="json").status_code == 404
        )
        assert client.get(f"{BASE}/{dad.pk}/shares").status_code == 404
        assert not Invitation.objects.exists()


class TestBulk:
    def test_the_apps_bulk_body_answers_totals(self, client_for, alice, bob, dad, mum):
        owner = client_for(alice)
        body = app_body(bob, family_member_ids=[dad.pk, mum.pk])
        response = owner.post(f"{BASE}/bulk-invite", body, format="json")
        assert response.status_code == 200, response.content
        result = response.json()
        assert (result["total_sent"], result["total_failed"]) == (1, 0)
        assert (result["successful_invites"], result["failed_invites"]) == (1, 0)
        invitation = Invitation.objects.get()
        assert invitation.message == "Family history for you"
        recipient = client_for(bob)
        [pending] = recipient.get("/api/v1/invitations/pending?").json()
        assert pending["context_data"]["is_bulk_invite"] is True
        assert pending["context_data"]["family_member_count"] == 2
        assert len(pending["context_data"]["family_members"]) == 2
        accept_all(recipient)
        shared = recipient.get(f"{BASE}/shared-with-me").json()["shared_family_history"]
        assert {e["family_member"]["id"] for e in shared} == {dad.pk, mum.pk}

    def test_an_unknown_recipient_is_counted_as_failed(self, client_for, alice, dad):
        body = {**app_body(alice, family_member_ids=[dad.pk]), "shared_with_identifier": "nobody"}
        response = client_for(alice).post(f"{BASE}/bulk-invite", body, format="json")
        assert response.status_code == 200
        assert (response.json()["total_sent"], response.json()["total_failed"]) == (0, 1)
        assert not FamilyHistoryShare.objects.exists() and not Invitation.objects.exists()

    def test_someone_elses_members_are_404(self, client_for, mallory, bob, dad):
        body = app_body(bob, family_member_ids=[dad.pk])
        assert (
            client_for(mallory).post(f"{BASE}/bulk-invite", body, format="json").status_code == 404
        )
        assert not Invitation.objects.exists()
