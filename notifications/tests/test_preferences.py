"""/notifications/event-types, /notifications/preferences and the matrix: each user's own
preferences on their own channels only; bad input is a 4xx, never a 500."""

from __future__ import annotations

import pytest

from notifications.models import NotificationPreference
from notifications.tests.event_helpers import make_channel, subscribe

pytestmark = pytest.mark.django_db

BASE = "/api/v1/notifications"
PREFS = f"{BASE}/preferences"
MATRIX = f"{BASE}/preferences/matrix"
USER_EVENTS = [
    "medication_reminder_due",
    "lab_result_available",
    "invitation_received",
    "invitation_accepted",
    "share_revoked",
    "password_changed",
    "new_sign_in",
]


@pytest.mark.parametrize("url", [f"{BASE}/event-types", PREFS, MATRIX])
def test_anonymous_is_a_401(anon, url):
    assert anon.get(url).status_code == 401
    assert anon.post(PREFS, {}, format="json").status_code == 401


class TestEventTypes:
    def test_a_user_sees_the_events_they_can_receive(self, alice_api):
        response = alice_api.get(f"{BASE}/event-types/")
        assert response.status_code == 200
        types = response.json()["event_types"]
        assert [t["value"] for t in types] == USER_EVENTS
        assert types[1] == {
            "value": "lab_result_available",
            "label": "Lab Result Available",
            "description": "Notification when lab results are ready",
            "category": "results",
            "is_implemented": True,
        }
        assert {t["category"] for t in types} == {
            "reminders",
            "results",
            "collaboration",
            "security",
        }

    def test_administrators_also_see_the_backup_events(self, client_for, admin_user):
        types = client_for(admin_user).get(f"{BASE}/event-types").json()["event_types"]
        backups = [t for t in types if t["category"] == "system"]
        assert [(t["value"], t["is_implemented"]) for t in backups] == [
            ("backup_completed", False),
            ("backup_failed", False),
        ]


class TestList:
    def test_own_preferences_with_the_channel_name(self, alice_api, alice, bob):
        phone = make_channel(alice, "Phone")
        subscribe(alice, phone, "lab_result_available", remind_before_minutes=0)
        subscribe(alice, phone, "medication_reminder_due", remind_before_minutes=30)
        subscribe(bob, make_channel(bob, "Bob's"), "lab_result_available")
        rows = alice_api.get(PREFS).json()
        assert [(r["event_type"], r["channel_name"]) for r in rows] == [
            ("lab_result_available", "Phone"),
            ("medication_reminder_due", "Phone"),
        ]
        assert set(rows[1]) == {
            "id",
            "channel_id",
            "channel_name",
            "event_type",
            "is_enabled",
            "remind_before_minutes",
            "created_at",
            "updated_at",
        }
        assert rows[1]["channel_id"] == phone.pk and rows[1]["remind_before_minutes"] == 30

    def test_nothing_set_is_an_empty_list(self, client_for, mallory):
        assert client_for(mallory).get(PREFS).json() == []


class TestSet:
    def test_creates_then_updates_what_is_sent(self, alice_api, alice):
        phone = make_channel(alice)
        body = {"channel_id": phone.pk, "event_type": "medication_reminder_due"}
        created = alice_api.post(PREFS, {**body, "remind_before_minutes": 15}, format="json")
        assert created.status_code == 200, created.content
        got = created.json()
        assert got["is_enabled"] is True and got["remind_before_minutes"] == 15
        assert got["channel_name"] == "Phone"
        updated = alice_api.post(PREFS, {**body, "is_enabled": False}, format="json").json()
        assert updated["id"] == got["id"]
        assert updated["is_enabled"] is False and updated["remind_before_minutes"] == 15
        assert NotificationPreference.objects.count() == 1

    def test_the_web_apps_toggle(self, alice_api, alice):
        phone = make_channel(alice)
        body = {"channel_id": phone.pk, "event_type": "share_revoked", "is_enabled": False}
        assert alice_api.post(f"{PREFS}/", body, format="json").status_code == 200
        assert NotificationPreference.objects.get().is_enabled is False

    def test_someone_elses_channel_is_a_404(self, alice_api, bob):
        theirs = make_channel(bob)
        for channel_id in (theirs.pk, theirs.pk + 1000):
            response = alice_api.post(
                PREFS,
                {"channel_id": channel_id, "event_type": "lab_result_available"},
                format="json",
            )
            assert response.status_code == 404
            assert response.json()["error"] == "Notification channel not found."
        assert not NotificationPreference.objects.exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"event_type": "appointment_reminder"}, "event_type"),
            ({"event_type": "backup_failed"}, "event_type"),  # administrators only
            ({"event_type": ""}, "event_type"),
            ({"event_type": None}, "event_type"),
            ({"remind_before_minutes": -1}, "remind_before_minutes"),
            ({"remind_before_minutes": 1441}, "remind_before_minutes"),
            ({"remind_before_minutes": "soon"}, "remind_before_minutes"),
            ({"is_enabled": "perhaps"}, "is_enabled"),
            ({"channel_id": "one"}, "channel_id"),
            ({"channel_id": 10**30}, "channel_id"),
            ({"channel_id": None}, "channel_id"),
        ],
    )
    def test_bad_input_is_a_422_naming_the_field(self, alice_api, alice, body, field):
        phone = make_channel(alice)
        sent = {"channel_id": phone.pk, "event_type": "lab_result_available", **body}
        response = alice_api.post(PREFS, sent, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not NotificationPreference.objects.exists()

    def test_the_limits_are_accepted(self, alice_api, alice):
        phone = make_channel(alice)
        for minutes in (0, 1440):
            response = alice_api.post(
                PREFS,
                {
                    "channel_id": phone.pk,
                    "event_type": "medication_reminder_due",
                    "remind_before_minutes": minutes,
                },
                format="json",
            )
            assert response.json()["remind_before_minutes"] == minutes

    def test_administrators_may_subscribe_to_backups(self, client_for, admin_user):
        channel = make_channel(admin_user)
        response = client_for(admin_user).post(
            PREFS, {"channel_id": channel.pk, "event_type": "backup_failed"}, format="json"
        )
        assert response.status_code == 200

    @pytest.mark.parametrize("body", [[], "text", {"channel_id": {"a": 1}}, [{"x": 1}]])
    def test_junk_bodies_are_refused(self, alice_api, body):
        assert 400 <= alice_api.post(PREFS, body, format="json").status_code < 500

    def test_a_form_body_works_too(self, alice_api, alice):
        phone = make_channel(alice)
        response = alice_api.post(
            PREFS, {"channel_id": str(phone.pk), "event_type": "new_sign_in", "is_enabled": "true"}
        )
        assert response.status_code == 200, response.content


class TestMatrix:
    def test_every_event_against_every_own_channel(self, alice_api, alice, bob):
        phone, mail = make_channel(alice, "Phone"), make_channel(alice, "Mail", is_enabled=False)
        subscribe(alice, phone, "medication_reminder_due")
        subscribe(alice, mail, "lab_result_available", is_enabled=False)
        subscribe(alice, mail, "share_revoked")
        subscribe(bob, make_channel(bob, "Bob's"), "medication_reminder_due")
        got = alice_api.get(MATRIX).json()
        assert [c["name"] for c in got["channels"]] == ["Mail", "Phone"]
        assert got["channels"][0] == {
            "id": mail.pk,
            "name": "Mail",
            "channel_type": "webhook",
            "is_enabled": False,
            "is_verified": False,
        }
        assert got["events"] == USER_EVENTS
        p, m = str(phone.pk), str(mail.pk)
        expected = {event: {m: False, p: False} for event in USER_EVENTS}
        expected["medication_reminder_due"][p] = True
        expected["share_revoked"][m] = True
        assert got["preferences"] == expected

    def test_without_channels_every_event_is_empty(self, client_for, mallory):
        got = client_for(mallory).get(MATRIX).json()
        assert got["channels"] == []
        assert got["preferences"] == {event: {} for event in USER_EVENTS}

    def test_a_set_preference_shows_in_the_matrix(self, alice_api, alice):
        phone = make_channel(alice)
        alice_api.post(PREFS, {"channel_id": phone.pk, "event_type": "new_sign_in"}, format="json")
        got = alice_api.get(MATRIX).json()
        assert got["preferences"]["new_sign_in"] == {str(phone.pk): True}
        assert got["preferences"]["password_changed"] == {str(phone.pk): False}
