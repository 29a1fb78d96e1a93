"""The signed, single-use answer links of reminder messages: /api/v1/doses/answer?token=…"""

from __future__ import annotations

import datetime as dt
import time
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from django.core import signing
from django.utils import timezone

from records.models import MedicationDose
from records.services.doses import LINK_SALT, dose_answer_url
from records.tests.factories import MedicationFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")
ANSWER = "/api/v1/doses/answer"


@pytest.fixture(autouse=True)
def facility_in_berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


def yesterday_at(hour: int) -> dt.datetime:
    day = timezone.localdate(timezone.now(), BERLIN) - dt.timedelta(days=1)
    return dt.datetime.combine(day, dt.time(hour), tzinfo=BERLIN)


@pytest.fixture
def medication(shared_patient):
    return MedicationFactory(
        patient=shared_patient,
        medication_name="Metformin",
        dosage="500mg",
        reminder_enabled=True,
        reminder_times=["08:00", "20:00"],
    )


def token_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["token"][0]


def link(medication, user, action="taken", hour=8) -> str:
    return token_of(dose_answer_url(medication.pk, yesterday_at(hour), user.pk, action))


class TestUrl:
    def test_an_absolute_link_under_the_public_address(self, settings, medication, alice):
        settings.APP_PUBLIC_URL = "https://mk.example/"
        url = dose_answer_url(medication.pk, yesterday_at(8), alice.pk, "taken")
        assert url.startswith("https://mk.example/api/v1/doses/answer?token=")
        assert len(url) < 200  # fits a chat message without wrapping into two links

    @pytest.mark.parametrize(
        ("slot", "action"),
        [
            (dt.datetime(2025, 1, 1, 8), "taken"),
            (dt.datetime(2025, 1, 1, 8, tzinfo=dt.UTC), "took"),
        ],
    )
    def test_refuses_a_naive_slot_or_an_unknown_action(self, medication, alice, slot, action):
        with pytest.raises(ValueError):
            dose_answer_url(medication.pk, slot, alice.pk, action)


class TestUse:
    def test_get_shows_what_it_records_and_records_nothing(self, anon, medication, alice):
        response = anon.get(ANSWER, {"token": link(medication, alice)})
        assert response.status_code == 200, response.content
        body = response.json()
        assert (body["medication_name"], body["dosage"], body["action"]) == (
            "Metformin",
            "500mg",
            "taken",
        )
        assert body["patient_name"] == "Alice Owner"
        assert body["slot"] == yesterday_at(8).isoformat()
        assert body["slot_local"].endswith(f"08:00 ({yesterday_at(8).tzname()})")
        assert (body["already_recorded"], body["dose"]) == (False, None)
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == "no-referrer"
        assert body["message"].startswith("Record Metformin 500mg of ")
        assert not MedicationDose.objects.exists()

    def test_a_browser_gets_a_page_with_a_button(self, anon, medication, alice):
        response = anon.get(
            ANSWER, {"token": link(medication, alice)}, HTTP_ACCEPT="text/html,*/*;q=0.8"
        )
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        page = response.content.decode()
        assert '<form method="post">' in page and "Record as taken" in page
        assert "Metformin" in page and not MedicationDose.objects.exists()

    def test_post_records_once_then_says_it_was_recorded(self, anon, medication, carol):
        token = link(medication, carol)
        first = anon.post(f"{ANSWER}?token={token}")
        assert first.status_code == 201, first.content
        assert first.json()["dose"]["status"] == "taken"
        assert first.json()["message"].startswith("Recorded: Metformin 500mg")
        dose = MedicationDose.objects.get()
        assert (dose.slot, dose.status, dose.source, dose.recorded_by) == (
            yesterday_at(8),
            "taken",
            "link",
            carol,
        )
        second = anon.post(f"{ANSWER}?token={token}")
        assert second.status_code == 200
        assert second.json()["already_recorded"] is True
        assert "Already recorded" in second.json()["message"]
        assert MedicationDose.objects.get().recorded_at == dose.recorded_at

    def test_the_page_of_a_used_link_has_no_button(self, anon, medication, alice):
        token = link(medication, alice)
        anon.post(ANSWER, {"token": token})
        page = anon.get(ANSWER, {"token": token}, HTTP_ACCEPT="text/html")
        assert page.status_code == 200
        assert "Already recorded" in page.content.decode()
        assert "<form" not in page.content.decode()

    def test_the_other_button_of_the_same_reminder_is_spent_too(self, anon, medication, alice):
        anon.post(ANSWER, {"token": link(medication, alice, "skipped")})  # form-encoded body
        late = anon.post(ANSWER, {"token": link(medication, alice, "taken")})
        assert late.status_code == 200 and late.json()["already_recorded"]
        assert late.json()["dose"]["status"] == "skipped"
        assert MedicationDose.objects.get().status == "skipped"

    def test_an_answer_given_in_the_app_first_is_kept(self, anon, client_for, medication, alice):
        api = client_for(alice)
        body = {"slot": yesterday_at(20).isoformat(), "status": "skipped"}
        assert api.post(f"/api/v1/medications/{medication.pk}/doses", body).status_code == 201
        page = anon.get(ANSWER, {"token": link(medication, alice, hour=20)})
        assert page.json()["already_recorded"] and page.json()["dose"]["status"] == "skipped"
        used = anon.post(ANSWER, {"token": link(medication, alice, hour=20)})
        assert used.status_code == 200 and MedicationDose.objects.get().status == "skipped"
        assert "Alice Owner" in used.json()["message"]  # who answered

    def test_a_sign_in_of_someone_else_does_not_matter(
        self, client_for, mallory, medication, alice
    ):
        response = client_for(mallory).post(ANSWER, {"token": link(medication, alice)})
        assert response.status_code == 201
        assert MedicationDose.objects.get().recorded_by == alice

    def test_the_signed_slot_counts_even_after_the_schedule_changed(self, anon, medication, alice):
        token = link(medication, alice, hour=8)
        medication.reminder_times = ["09:00"]
        medication.save()
        assert anon.post(ANSWER, {"token": token}).status_code == 201


def expired_token(payload: dict, hours_ago: float) -> str:
    class Earlier(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time() - hours_ago * 3600))

    return Earlier(salt=LINK_SALT).sign_object(payload)


class TestBadLinks:
    def test_a_changed_token_is_400(self, anon, medication, alice):
        token = link(medication, alice)
        changed = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
        for method in (anon.get, anon.post):
            response = method(ANSWER, {"token": changed})
            assert response.status_code == 400
            assert "not valid" in response.json()["error"]
        assert not MedicationDose.objects.exists()

    def test_a_token_for_another_user_is_a_changed_token(self, anon, medication, alice, carol):
        """The payload is readable, not writable: swapping the user id breaks the seal."""
        token = link(medication, alice)
        forged_payload = signing.loads(token, salt=LINK_SALT) | {"u": carol.pk}
        forged = signing.dumps(forged_payload, salt=LINK_SALT, compress=False)
        seal = token.split(":", 1)[1]
        response = anon.post(ANSWER, {"token": forged.split(":", 1)[0] + ":" + seal})
        assert response.status_code == 400

    def test_a_token_of_another_purpose_is_refused(self, anon, medication, alice):
        payload = {"m": medication.pk, "s": int(yesterday_at(8).timestamp()), "u": alice.pk}
        other = signing.dumps({**payload, "a": "taken"}, salt="sharing.portal")
        assert anon.post(ANSWER, {"token": other}).status_code == 400

    def test_an_expired_token_is_400_and_says_so(self, anon, settings, medication, alice):
        payload = {"m": medication.pk, "s": int(yesterday_at(8).timestamp()), "u": alice.pk}
        payload["a"] = "taken"
        hours = settings.DOSE_ANSWER_LINK_HOURS
        assert anon.post(ANSWER, {"token": expired_token(payload, hours - 1)}).status_code == 201
        MedicationDose.objects.all().delete()
        response = anon.post(ANSWER, {"token": expired_token(payload, hours + 1)})
        assert response.status_code == 400
        assert "expired" in response.json()["error"]
        assert not MedicationDose.objects.exists()

    @pytest.mark.parametrize("query", ["", "?token=", "?token=%00%ff", "?token=" + "x" * 5000])
    def test_no_or_junk_token_is_400(self, anon, query):
        response = anon.post(f"{ANSWER}{query}")
        assert response.status_code == 400
        assert response.json()["status"] == "error"

    def test_a_browser_sees_the_error_on_the_page(self, anon):
        response = anon.get(ANSWER, {"token": "nonsense"}, HTTP_ACCEPT="text/html")
        assert response.status_code == 400
        assert response["Content-Type"].startswith("text/html")
        assert "not valid" in response.content.decode()


class TestAccessAtUse:
    def test_a_view_share_cannot_answer(self, anon, medication, bob):
        response = anon.post(ANSWER, {"token": link(medication, bob)})
        assert response.status_code == 403
        assert anon.get(ANSWER, {"token": link(medication, bob)}).status_code == 403
        assert not MedicationDose.objects.exists()

    def test_a_share_revoked_after_the_reminder_ends_the_link(self, anon, medication, carol):
        token = link(medication, carol)
        medication.patient.shares.filter(grantee=carol).update(is_active=False)
        assert anon.post(ANSWER, {"token": token}).status_code == 403

    def test_a_share_lowered_to_view_ends_the_link(self, anon, medication, carol):
        token = link(medication, carol)
        medication.patient.shares.filter(grantee=carol).update(level="view")
        assert anon.post(ANSWER, {"token": token}).status_code == 403

    def test_a_deactivated_account_ends_the_link(self, anon, medication, alice):
        token = link(medication, alice)
        alice.is_active = False
        alice.save()
        assert anon.post(ANSWER, {"token": token}).status_code == 403

    def test_a_deleted_medication_is_404(self, anon, medication, alice):
        token = link(medication, alice)
        medication.delete()
        response = anon.post(ANSWER, {"token": token})
        assert response.status_code == 404
        assert "no longer exists" in response.json()["error"]
