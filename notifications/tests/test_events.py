"""Events: the registry's texts, notify(), and each event reaching exactly the right people's
enabled channels (a stranger, a revoked or expired share, a disabled channel or preference,
and whoever made the change get nothing)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from medikeep.accounts import services as accounts
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD
from notifications import events
from notifications.models import Delivery, DeliveryStatus, SignInAddress
from notifications.services import notify, patient_audience
from notifications.tests.event_helpers import make_channel, received, subscribe
from patients.models import PatientShare
from patients.tests.factories import PatientShareFactory
from records.tests.factories import LabResultFactory
from sharing.models import Invitation
from sharing.services import invitations as sharing
from sharing.services import portal

pytestmark = pytest.mark.django_db

LAB = "lab_result_available"


@pytest.fixture
def enqueued(monkeypatch):
    """The id lists handed to the delivery tasks (nothing is sent in these tests)."""
    from notifications import delivery

    calls: list[list[int]] = []
    monkeypatch.setattr(delivery, "enqueue", lambda ids: calls.append(list(ids)))
    return calls


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Runs the block, then what it deferred to the commit (as a real commit would)."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


# --- the registry ---------------------------------------------------------------------------


class TestRegistry:
    def test_the_issues_event_types_are_registered(self):
        assert list(events.EVENT_TYPES) == [
            "medication_reminder_due",
            "lab_result_available",
            "invitation_received",
            "invitation_accepted",
            "share_revoked",
            "password_changed",
            "new_sign_in",
            "backup_completed",
            "backup_failed",
        ]
        not_yet = [e.value for e in events.EVENT_TYPES.values() if not e.is_implemented]
        assert not_yet == ["backup_completed", "backup_failed"]

    def test_the_contracts_examples(self):
        assert events.get("medication_reminder_due").as_dict() == {
            "value": "medication_reminder_due",
            "label": "Medication Reminder",
            "description": "Reminders for taking medications",
            "category": "reminders",
            "is_implemented": True,
        }
        assert events.get(LAB).category == "results"

    def test_backups_are_for_administrators(self, alice, admin_user):
        assert "backup_failed" not in [e.value for e in events.available_to(alice)]
        assert "backup_failed" in [e.value for e in events.available_to(admin_user)]

    def test_unknown_types_are_refused(self):
        with pytest.raises(events.UnknownEventType):
            events.render("appointment_reminder", {})

    @pytest.mark.parametrize("event_type", list(events.EVENT_TYPES))
    def test_every_type_renders_without_data(self, event_type):
        title, body = events.render(event_type, {})
        assert title and body
        assert "None" not in title + body and "{" not in title + body

    def test_reminder_text(self):
        title, body = events.render(
            "medication_reminder_due",
            {
                "medication_name": "Aspirin",
                "dosage": "100 mg",
                "scheduled_time": "08:00",
                "patient_name": "Alice Owner",
                "answer_taken_url": "https://medikeep.example/d/taken",
                "answer_skipped_url": "https://medikeep.example/d/skipped",
            },
        )
        assert title == "Medication reminder: Aspirin"
        assert body.splitlines() == [
            "Time to take Aspirin (100 mg) at 08:00.",
            "For Alice Owner.",
            "Taken: https://medikeep.example/d/taken",
            "Skipped: https://medikeep.example/d/skipped",
        ]
        assert events.render("medication_reminder_due", {"is_test": True})[0].startswith("Test")

    def test_times_are_shown_in_utc(self):
        moment = datetime(2026, 5, 1, 16, 3, tzinfo=UTC) + timedelta(hours=0)
        _, body = events.render("password_changed", {"username": "alice", "changed_at": moment})
        assert "alice" in body and "2026-05-01 16:03 UTC" in body
        _, body = events.render("new_sign_in", {"signed_in_at": "not a time"})
        assert "UTC" not in body

    def test_long_texts_are_cut_to_the_columns(self):
        title, body = events.render("medication_reminder_due", {"medication_name": "x" * 9000})
        assert len(title) == events.TITLE_MAX and len(body) == events.BODY_MAX


# --- notify() -------------------------------------------------------------------------------


class TestNotify:
    def test_one_row_per_enabled_preference_on_an_enabled_channel(
        self, alice, bob, carol, mallory, enqueued, committed
    ):
        phone, mail = make_channel(alice, "Phone"), make_channel(alice, "Mail")
        off = make_channel(alice, "Off", is_enabled=False)
        subscribe(alice, phone, LAB)
        subscribe(alice, mail, LAB, "share_revoked")
        subscribe(alice, off, LAB)
        subscribe(bob, make_channel(bob), LAB, is_enabled=False)
        subscribe(carol, make_channel(carol), "share_revoked")  # another event
        subscribe(mallory, make_channel(mallory), LAB)  # not a recipient
        with committed():
            rows = notify(
                event_type=LAB,
                user_ids=[alice.pk, bob.pk, carol.pk, alice.pk],
                data={"test_name": "CBC", "patient_name": "Alice Owner"},
            )
            assert enqueued == []  # not before the commit
        assert sorted(r.channel_name for r in rows) == ["Mail", "Phone"]
        assert received(LAB) == {"alice": {"Mail", "Phone"}}
        assert enqueued == [[r.pk for r in rows]]
        row = Delivery.objects.get(channel=phone)
        assert row.status == DeliveryStatus.PENDING and row.user_id == alice.pk
        assert row.channel_type == "webhook" and not row.is_test and row.dedup_key is None
        assert row.title == "Lab result available"
        assert row.body.startswith("The result of CBC for Alice Owner is in.")
        assert row.event_data == {"test_name": "CBC", "patient_name": "Alice Owner"}

    def test_a_rolled_back_change_leaves_no_message(self, alice, enqueued, committed):
        subscribe(alice, make_channel(alice), LAB)
        with committed(), pytest.raises(RuntimeError), transaction.atomic():
            notify(event_type=LAB, user_ids=[alice.pk], data={})
            raise RuntimeError("the change failed")
        assert not Delivery.objects.exists() and enqueued == []

    def test_the_same_event_twice_makes_one_message_per_channel(self, alice, enqueued, committed):
        subscribe(alice, make_channel(alice), LAB)
        with committed():
            first = notify(event_type=LAB, user_ids=[alice.pk], data={}, dedup_key_prefix="k:1")
            again = notify(event_type=LAB, user_ids=[alice.pk], data={}, dedup_key_prefix="k:1")
        assert len(first) == 1 and again == []
        assert first[0].dedup_key == f"k:1:{first[0].channel_id}"
        assert Delivery.objects.count() == 1 and enqueued == [[first[0].pk]]

    def test_a_broker_that_is_down_leaves_the_rows_to_the_sweeper(
        self, alice_api, bob, patient, monkeypatch, committed
    ):
        from notifications import delivery

        def broker_down(ids):
            raise ConnectionError("broker unreachable")

        monkeypatch.setattr(delivery, "enqueue", broker_down)
        share = PatientShareFactory(patient=patient, grantee=bob)
        subscribe(bob, make_channel(bob), "share_revoked")
        with committed():
            response = alice_api.delete(f"/api/v1/patient-sharing/{share.pk}")
        assert response.status_code == 200  # the revocation stands
        assert list(Delivery.objects.values_list("status", flat=True)) == ["pending"]

    def test_nobody_subscribed_queues_nothing(self, alice, enqueued, committed):
        with committed():
            assert notify(event_type=LAB, user_ids=[alice.pk], data={}) == []
            assert notify(event_type=LAB, user_ids=[], data={}) == []
        assert enqueued == []

    def test_inactive_accounts_get_nothing(self, alice, enqueued):
        subscribe(alice, make_channel(alice), LAB)
        alice.is_active = False
        alice.save()
        assert notify(event_type=LAB, user_ids=[alice.pk], data={}) == []

    def test_a_preference_naming_someone_elses_channel_sends_nothing(self, alice, mallory):
        subscribe(mallory, make_channel(alice), LAB)  # only possible by hand (the admin)
        assert notify(event_type=LAB, user_ids=[mallory.pk], data={}) == []

    def test_system_events_reach_administrators_only(self, alice, admin_user, enqueued):
        subscribe(alice, make_channel(alice), "backup_failed")
        subscribe(admin_user, make_channel(admin_user), "backup_failed")
        rows = notify(
            event_type="backup_failed",
            user_ids=[alice.pk, admin_user.pk],
            data={"backup_type": "scheduled", "error": "disk full"},
        )
        assert [r.user_id for r in rows] == [admin_user.pk]
        assert "Reason: disk full" in rows[0].body

    def test_data_with_datetimes_is_stored_as_json(self, alice):
        subscribe(alice, make_channel(alice), "password_changed")
        moment = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        (row,) = notify(event_type="password_changed", user_ids=[alice.pk], data={"at": moment})
        row.refresh_from_db()
        assert row.event_data == {"at": "2026-01-02T03:04:05Z"}

    def test_unknown_event_types_are_a_programming_error(self, alice):
        with pytest.raises(events.UnknownEventType):
            notify(event_type="appointment_reminder", user_ids=[alice.pk], data={})


# --- lab results ----------------------------------------------------------------------------


@pytest.fixture
def lab_audience(shared_patient, alice, bob, carol, dave, mallory, make_user):
    """Everyone subscribed to lab results: alice owns the patient; bob (VIEW) also has a
    disabled channel; carol (EDIT) edits; dave (FULL) has switched the event off; mallory is a
    stranger; erin's share was revoked and frank's has expired."""
    for user in (alice, bob, carol, mallory):
        subscribe(user, make_channel(user, f"{user.username}-phone"), LAB)
    subscribe(bob, make_channel(bob, "bob-off", is_enabled=False), LAB)
    subscribe(dave, make_channel(dave, "dave-phone"), LAB, is_enabled=False)
    erin, frank = make_user(username="erin"), make_user(username="frank")
    PatientShareFactory(patient=shared_patient, grantee=erin, is_active=False)
    PatientShareFactory(
        patient=shared_patient, grantee=frank, expires_at=timezone.now() - timedelta(minutes=1)
    )
    for user in (erin, frank):
        subscribe(user, make_channel(user, f"{user.username}-phone"), LAB)
    return shared_patient


class TestLabResultAvailable:
    def test_a_result_created_completed_reaches_the_others_with_access(
        self, client_for, carol, lab_audience, enqueued, committed
    ):
        with committed():
            response = client_for(carol).post(
                "/api/v1/lab-results",
                {
                    "patient_id": lab_audience.pk,
                    "test_name": "Lipid panel",
                    "status": "completed",
                    "notes": "LDL 190, see Dr. Who",
                },
                format="json",
            )
        assert response.status_code == 201, response.content
        assert received(LAB) == {"alice": {"alice-phone"}, "bob": {"bob-phone"}}
        row = Delivery.objects.filter(event_type=LAB).first()
        assert row.body.startswith("The result of Lipid panel for Alice Owner is in.")
        assert "LDL" not in row.body  # notes and values stay in MediKeep
        assert row.event_data["patient_id"] == lab_audience.pk
        assert len(enqueued) == 1 and len(enqueued[0]) == 2

    def test_a_result_becoming_completed(self, alice_api, lab_audience, enqueued, committed):
        result = LabResultFactory(patient=lab_audience, status="in-progress")
        with committed():
            response = alice_api.put(
                f"/api/v1/lab-results/{result.pk}", {"status": "completed"}, format="json"
            )
        assert response.status_code == 200, response.content
        assert received(LAB) == {"bob": {"bob-phone"}, "carol": {"carol-phone"}}

    def test_no_news_without_a_change_to_completed(
        self, alice_api, lab_audience, enqueued, committed
    ):
        done = LabResultFactory(patient=lab_audience, status="completed")
        with committed():
            alice_api.put(f"/api/v1/lab-results/{done.pk}", {"notes": "seen"}, format="json")
            alice_api.post(
                "/api/v1/lab-results",
                {"patient_id": lab_audience.pk, "test_name": "TSH", "status": "ordered"},
                format="json",
            )
            alice_api.delete(f"/api/v1/lab-results/{done.pk}")
        assert not Delivery.objects.exists() and enqueued == []

    def test_completed_again_is_not_news_twice(self, alice_api, lab_audience, enqueued, committed):
        result = LabResultFactory(patient=lab_audience, status="in-progress")
        url = f"/api/v1/lab-results/{result.pk}"
        with committed():
            for status in ("completed", "in-progress", "completed"):
                assert alice_api.put(url, {"status": status}, format="json").status_code == 200
        assert Delivery.objects.filter(event_type=LAB).count() == 2  # bob and carol, once

    def test_the_audience(self, lab_audience, alice, bob, carol, dave):
        assert patient_audience(lab_audience.pk) == sorted([alice.pk, bob.pk, carol.pk, dave.pk])
        assert alice.pk not in patient_audience(lab_audience.pk, exclude_user_id=alice.pk)


# --- sharing --------------------------------------------------------------------------------


@pytest.fixture
def sharing_audience(patient, alice, bob, mallory):
    for user in (alice, bob, mallory):
        subscribe(
            user,
            make_channel(user, f"{user.username}-phone"),
            "invitation_received",
            "invitation_accepted",
            "share_revoked",
        )
    return patient


def invite(client, patient, username: str) -> Invitation:
    response = client.post(
        "/api/v1/patient-sharing/invite",
        {"patient_id": patient.pk, "shared_with_user_identifier": username},
        format="json",
    )
    assert response.status_code == 200, response.content
    return Invitation.objects.get(pk=response.json()["invitation_id"])


class TestInvitations:
    def test_received_goes_to_the_invitee(self, alice_api, sharing_audience, enqueued, committed):
        with committed():
            invite(alice_api, sharing_audience, "mallory")
        assert received("invitation_received") == {"mallory": {"mallory-phone"}}
        (row,) = Delivery.objects.all()
        assert row.title == "New sharing invitation"
        assert "Alice Owner has sent you a patient record invitation" in row.body
        assert not received("invitation_accepted")

    def test_accepted_goes_to_the_inviter(
        self, alice_api, client_for, mallory, sharing_audience, enqueued, committed
    ):
        invitation = invite(alice_api, sharing_audience, "mallory")
        with committed():
            answer = client_for(mallory).post(
                f"/api/v1/invitations/{invitation.pk}/respond", {"action": "accept"}
            )
        assert answer.status_code == 200, answer.content
        assert received("invitation_accepted") == {"alice": {"alice-phone"}}
        # Saving the accepted invitation again (the admin …) is not a second acceptance.
        with committed():
            Invitation.objects.get(pk=invitation.pk).save()
        assert Delivery.objects.filter(event_type="invitation_accepted").count() == 1

    def test_a_rejection_tells_nobody(
        self, alice_api, client_for, mallory, sharing_audience, enqueued, committed
    ):
        invitation = invite(alice_api, sharing_audience, "mallory")
        with committed():
            client_for(mallory).post(
                f"/api/v1/invitations/{invitation.pk}/respond", {"action": "reject"}
            )
        assert not received("invitation_accepted")

    def test_family_history_invitations_too(
        self, alice, bob, sharing_audience, enqueued, committed
    ):
        from records.tests.factories import FamilyMemberFactory
        from sharing.services import family

        member = FamilyMemberFactory(patient=sharing_audience, name="Grandpa Joe")
        with committed():
            sent = family.invite_family_members(sender=alice, members=[member], recipient=bob)
        assert received("invitation_received") == {"bob": {"bob-phone"}}
        body = Delivery.objects.get().body
        assert "a family history invitation: Family History Share: Grandpa Joe." in body
        with committed():
            sharing.respond(invitation_id=sent.pk, user=bob, accept=True)
        assert received("invitation_accepted") == {"alice": {"alice-phone"}}

    def test_portal_invitation_to_an_account(
        self, alice, mallory, sharing_audience, enqueued, committed
    ):
        with committed():
            portal.portal_invite(
                inviter=alice, patient_id=sharing_audience.pk, email="nobody@example.test"
            )
            # (A newer portal invitation replaces the patient's pending one.)
            sent = portal.portal_invite(
                inviter=alice, patient_id=sharing_audience.pk, email=mallory.email.upper()
            )
        assert received("invitation_received") == {"mallory": {"mallory-phone"}}
        body = Delivery.objects.get(event_type="invitation_received").body
        assert "patient portal invitation: access to the record of Alice Owner" in body
        assert sent.token() not in body  # the link stays in the email
        with committed():
            portal.portal_accept(token=sent.token(), user=mallory)
        assert received("invitation_accepted") == {"alice": {"alice-phone"}}


class TestShareRevoked:
    def test_the_former_grantee_hears_of_it(
        self, alice_api, bob, sharing_audience, enqueued, committed
    ):
        share = PatientShareFactory(patient=sharing_audience, grantee=bob)
        with committed():
            response = alice_api.delete(f"/api/v1/patient-sharing/{share.pk}")
        assert response.status_code == 200, response.content
        assert received("share_revoked") == {"bob": {"bob-phone"}}
        body = Delivery.objects.get().body
        assert "Your access to the record of Alice Owner has ended; Alice Owner revoked it." in body

    def test_leaving_by_oneself_tells_nobody(self, bob, sharing_audience, enqueued, committed):
        PatientShareFactory(patient=sharing_audience, grantee=bob)
        with committed():
            sharing.leave(patient_id=sharing_audience.pk, user=bob)
        assert not PatientShare.objects.in_force().exists()
        assert not Delivery.objects.exists()

    def test_a_changed_level_is_not_a_revocation(
        self, alice, bob, sharing_audience, enqueued, committed
    ):
        share = PatientShareFactory(patient=sharing_audience, grantee=bob, level="view")
        with committed():
            sharing.update_share(share=share, user=alice, permission_level="edit")
        assert not Delivery.objects.exists()


# --- the account ----------------------------------------------------------------------------


@pytest.fixture
def security_audience(alice, bob):
    for user in (alice, bob):
        subscribe(user, make_channel(user, f"{user.username}-phone"), "password_changed")
        subscribe(user, make_channel(user, f"{user.username}-mail"), "new_sign_in")


class TestPasswordChanged:
    def test_a_change_tells_the_user(self, alice_api, security_audience, enqueued, committed):
        with committed():
            response = alice_api.post(
                "/api/v1/auth/change-password",
                {"current_password": DEFAULT_PASSWORD, "new_password": "Another-horse-43"},
                format="json",
            )
        assert response.status_code == 200, response.content
        assert received("password_changed") == {"alice": {"alice-phone"}}
        assert "The password of alice was changed on" in Delivery.objects.get().body

    def test_a_refused_change_tells_nobody(self, alice_api, security_audience, enqueued, committed):
        with committed():
            alice_api.post(
                "/api/v1/auth/change-password",
                {"current_password": "wrong", "new_password": "Another-horse-43"},
                format="json",
            )
        assert not Delivery.objects.exists()

    def test_a_reset_link_tells_the_user(self, alice, security_audience, enqueued, committed):
        from django.contrib.auth.tokens import default_token_generator
        from django.utils.encoding import force_bytes
        from django.utils.http import urlsafe_base64_encode

        with committed():
            accounts.password_reset_confirm(
                uid=urlsafe_base64_encode(force_bytes(alice.pk)),
                token=default_token_generator.make_token(alice),
                new_password="Another-horse-43",
            )
        assert received("password_changed") == {"alice": {"alice-phone"}}
        assert Delivery.objects.get().event_data["via"] == "reset"


def sign_in(anon, username: str, address: str, password: str = DEFAULT_PASSWORD):
    return anon.post(
        "/api/v1/auth/login", {"username": username, "password": password}, REMOTE_ADDR=address
    )


class TestNewSignIn:
    def test_only_an_address_not_seen_before_is_news(
        self, anon, alice, bob, security_audience, enqueued, committed
    ):
        with committed():
            assert sign_in(anon, "alice", "10.0.0.1").status_code == 200  # the baseline
            sign_in(anon, "alice", "10.0.0.1")
            sign_in(anon, "bob", "10.0.0.2")  # new for bob, but his first
        assert not Delivery.objects.exists()
        with committed():
            assert sign_in(anon, "alice", "10.0.0.2").status_code == 200
            sign_in(anon, "alice", "10.0.0.2")
            sign_in(anon, "alice", "10.0.0.1")
        assert received("new_sign_in") == {"alice": {"alice-mail"}}
        (row,) = Delivery.objects.all()
        assert "alice signed in from 10.0.0.2, an address not seen before" in row.body
        addresses = SignInAddress.objects.filter(user=alice).values_list("ip_address", flat=True)
        assert sorted(addresses) == ["10.0.0.1", "10.0.0.2"]
        alice.refresh_from_db()
        assert alice.last_login is not None  # still stamped (by Django's own receiver)

    def test_a_failed_sign_in_is_not_recorded(self, anon, alice, security_audience, committed):
        with committed():
            sign_in(anon, "alice", "10.0.0.1")
            assert sign_in(anon, "alice", "10.9.9.9", password="wrong").status_code == 401
        assert list(SignInAddress.objects.values_list("ip_address", flat=True)) == ["10.0.0.1"]

    def test_ipv4_in_ipv6_is_the_same_address(self, anon, alice, security_audience, committed):
        with committed():
            sign_in(anon, "alice", "10.0.0.1")
            sign_in(anon, "alice", "::ffff:10.0.0.1")
        assert SignInAddress.objects.count() == 1 and not Delivery.objects.exists()

    def test_a_sign_in_to_the_django_admin_counts_too(
        self, anon, client, admin_user, enqueued, committed
    ):
        subscribe(admin_user, make_channel(admin_user), "new_sign_in")
        with committed():
            sign_in(anon, "root", "10.0.0.1")
            page = client.post(
                "/admin/login/",
                {"username": "root", "password": DEFAULT_PASSWORD},
                REMOTE_ADDR="10.0.0.7",
            )
        assert page.status_code == 302  # signed in
        assert received("new_sign_in") == {"root": {"Phone"}}


# --- end to end -----------------------------------------------------------------------------


def test_an_event_arrives_at_the_channel(
    client_for, carol, shared_patient, alice, http_sink, committed
):
    """The whole path, nothing replaced: a lab result completed by carol reaches alice's
    webhook (a real HTTP server on loopback) through the outbox and the delivery task."""
    subscribe(alice, make_channel(alice, url=f"{http_sink.url}/alice"), LAB)
    with committed():
        response = client_for(carol).post(
            "/api/v1/lab-results",
            {"patient_id": shared_patient.pk, "test_name": "HbA1c", "status": "completed"},
            format="json",
        )
    assert response.status_code == 201
    (request,) = http_sink.wait_for(1)
    assert request.route == "/alice"
    assert "The result of HbA1c for Alice Owner is in." in request.text
    row = Delivery.objects.get()
    assert (row.status, row.attempt_count) == ("sent", 1)
    assert request.headers.get("x-medikeep-delivery")
