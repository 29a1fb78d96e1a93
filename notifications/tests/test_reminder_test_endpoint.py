"""POST /medications/{id}/reminders/test: who may ask, where it goes, and the refusals."""

from __future__ import annotations

import pytest

from notifications.models import Delivery
from notifications.tests.reminder_helpers import medication, reminded_channel, webhook_channel

pytestmark = pytest.mark.django_db


def url(med_id) -> str:
    return f"/api/v1/medications/{med_id}/reminders/test"


@pytest.fixture
def med(shared_patient):
    return medication(
        shared_patient,
        ["08:00"],
        medication_name="Lisinopril",
        dosage="10 mg",
        reminder_message="With water",
    )


@pytest.mark.parametrize("persona", ["alice", "bob", "carol", "dave"])
def test_anyone_who_sees_the_medication_sends_to_the_owners_channels(
    request, client_for, alice, med, http_sink, persona, django_capture_on_commit_callbacks
):
    reminded_channel(alice, f"{http_sink.url}/alice")
    caller = request.getfixturevalue(persona)
    if caller != alice:
        reminded_channel(caller, f"{http_sink.url}/caller")  # never used: not the owner's

    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(caller).post(url(med.pk))

    assert response.status_code == 204, response.content
    assert response.content == b""
    (received,) = http_sink.wait_for(1)
    assert received.route == "/alice"
    assert "Test reminder: Lisinopril" in received.text and "With water" in received.text
    row = Delivery.objects.get()
    assert row.is_test and row.dedup_key is None and row.status == "sent"
    assert row.user_id == alice.pk and row.scheduled_for is None
    assert row.event_type == "medication_reminder_due"


def test_every_enabled_reminder_channel_of_the_owner_gets_it_and_repeats_are_not_merged(
    alice, alice_api, med, http_sink, django_capture_on_commit_callbacks
):
    reminded_channel(alice, f"{http_sink.url}/one")
    reminded_channel(alice, f"{http_sink.url}/two")
    reminded_channel(alice, f"{http_sink.url}/off", is_enabled=False)
    webhook_channel(alice, f"{http_sink.url}/unsubscribed")
    with django_capture_on_commit_callbacks(execute=True):
        assert alice_api.post(url(med.pk)).status_code == 204
        assert alice_api.post(url(med.pk)).status_code == 204
    routes = sorted(r.route for r in http_sink.wait_for(4))
    assert routes == ["/one", "/one", "/two", "/two"]
    keys = {r.headers["x-medikeep-delivery"] for r in http_sink.requests}
    assert len(keys) == 4  # each test its own key: a receiver drops none of them


def test_someone_without_access_gets_404(client_for, mallory, alice, med, http_sink):
    reminded_channel(alice, f"{http_sink.url}/alice")
    response = client_for(mallory).post(url(med.pk))
    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT-404"
    assert Delivery.objects.count() == 0


def test_an_unknown_medication_is_404_and_anonymous_is_401(alice_api, anon, med):
    assert alice_api.post(url(med.pk + 1000)).status_code == 404
    assert alice_api.post("/api/v1/medications/abc/reminders/test").status_code == 404
    assert anon.post(url(med.pk)).status_code == 401


def test_reminders_off_is_400(alice, alice_api, shared_patient, http_sink):
    reminded_channel(alice, f"{http_sink.url}/alice")
    off = medication(shared_patient, [], reminder_enabled=False)
    response = alice_api.post(url(off.pk))
    assert response.status_code == 400
    assert "not enabled" in response.json()["message"]
    assert Delivery.objects.count() == 0


@pytest.mark.parametrize("setup", ["nothing", "disabled channel", "preference off", "bob only"])
def test_no_enabled_reminder_channel_of_the_owner_is_422(
    client_for, alice, bob, med, http_sink, setup
):
    if setup == "disabled channel":
        reminded_channel(alice, f"{http_sink.url}/alice", is_enabled=False)
    elif setup == "preference off":
        reminded_channel(alice, f"{http_sink.url}/alice").preferences.update(is_enabled=False)
    elif setup == "bob only":
        reminded_channel(bob, f"{http_sink.url}/bob")
    response = client_for(bob).post(url(med.pk))
    assert response.status_code == 422
    body = response.json()
    assert body["error_code"] == "VAL-422" and "channel" in body["message"]
    assert Delivery.objects.count() == 0
    assert http_sink.requests == []


def test_the_route_is_in_the_schema(alice_api):
    schema = alice_api.get("/api/v1/openapi.json").json()
    operation = schema["paths"]["/api/v1/medications/{medication_id}/reminders/test"]["post"]
    assert set(operation["responses"]) >= {"204", "400", "404", "422"}
