"""The dose log's API: POST/GET /medications/{id}/doses and adherence on medications."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from records.models import MedicationDose
from records.services.doses import check_answerable_slot
from records.tests.factories import MedicationFactory

pytestmark = pytest.mark.django_db

BERLIN = ZoneInfo("Europe/Berlin")


@pytest.fixture(autouse=True)
def facility_in_berlin(settings):
    settings.TIME_ZONE = "Europe/Berlin"


def local_day(offset: int) -> dt.date:
    return timezone.localdate(timezone.now(), BERLIN) + dt.timedelta(days=offset)


def slot(day_offset: int, hour: int, minute: int = 0) -> dt.datetime:
    """A Berlin wall-clock time `day_offset` days from today."""
    return dt.datetime.combine(local_day(day_offset), dt.time(hour, minute), tzinfo=BERLIN)


def next_slot() -> dt.datetime:
    """The next 08:00 or 20:00 after now: always within the day ahead."""
    now = timezone.now()
    return next(s for s in (slot(0, 8), slot(0, 20), slot(1, 8)) if s > now)


@pytest.fixture
def medication(patient):
    return MedicationFactory(
        patient=patient,
        medication_name="Metformin",
        dosage="500mg",
        reminder_enabled=True,
        reminder_times=["08:00", "20:00"],
    )


def doses_url(medication) -> str:
    return f"/api/v1/medications/{medication.pk}/doses"


def answer(api, medication, when, status="taken", **extra):
    body = {"slot": when.isoformat(), "status": status, **extra}
    return api.post(doses_url(medication), body, format="json")


class TestRecording:
    def test_first_answer_is_201_with_the_dose(self, alice_api, alice, medication):
        response = answer(alice_api, medication, slot(-1, 8), note="with breakfast")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["slot"] == slot(-1, 8).isoformat()  # shown in the facility's zone
        assert (body["status"], body["note"], body["source"]) == ("taken", "with breakfast", "api")
        assert body["medication_id"] == medication.pk
        assert (body["recorded_by_id"], body["recorded_by_name"]) == (alice.pk, "Alice Owner")
        dose = MedicationDose.objects.get()
        assert dose.slot == slot(-1, 8) and dose.recorded_by == alice

    def test_the_same_instant_in_another_zone_is_the_same_slot(self, alice_api, medication):
        utc = slot(-1, 20).astimezone(dt.UTC)
        assert answer(alice_api, medication, utc).status_code == 201
        again = answer(alice_api, medication, slot(-1, 20), status="skipped")
        assert again.status_code == 200
        assert MedicationDose.objects.get().status == "skipped"

    def test_a_naive_slot_is_facility_time(self, alice_api, medication):
        naive = slot(-2, 8).replace(tzinfo=None).isoformat()
        response = alice_api.post(
            doses_url(medication), {"slot": naive, "status": "taken"}, format="json"
        )
        assert response.status_code == 201, response.content
        assert MedicationDose.objects.get().slot == slot(-2, 8)

    def test_answering_again_changes_the_answer_with_200(self, client_for, carol, shared_patient):
        medication = MedicationFactory(
            patient=shared_patient, reminder_enabled=True, reminder_times=["08:00", "20:00"]
        )
        alice_api = client_for(shared_patient.owner)
        assert answer(alice_api, medication, slot(-1, 8), note="late").status_code == 201
        response = answer(client_for(carol), medication, slot(-1, 8), status="skipped")
        assert response.status_code == 200
        body = response.json()
        # A note left out stays; the answer is now carol's.
        assert (body["status"], body["note"], body["recorded_by_id"]) == (
            "skipped",
            "late",
            carol.pk,
        )
        cleared = answer(client_for(carol), medication, slot(-1, 8), status="skipped", note="")
        assert cleared.status_code == 200 and cleared.json()["note"] == ""
        assert MedicationDose.objects.count() == 1

    def test_the_same_answer_again_is_200_and_changes_nothing(self, alice_api, medication):
        first = answer(alice_api, medication, slot(-1, 8)).json()
        again = answer(alice_api, medication, slot(-1, 8))
        assert again.status_code == 200
        assert again.json()["recorded_at"] == first["recorded_at"]

    def test_a_dose_ahead_within_a_day(self, alice_api, medication):
        assert answer(alice_api, medication, next_slot()).status_code == 201

    def test_the_answer_is_in_the_activity_log(
        self, alice_api, alice, medication, django_capture_on_commit_callbacks
    ):
        from adminops.models import ActivityLog

        with django_capture_on_commit_callbacks(execute=True):
            answer(alice_api, medication, slot(-1, 8))
        row = ActivityLog.objects.get(entity_type="medication_dose")
        assert (row.user, row.patient_id, row.action) == (alice, medication.patient_id, "created")
        assert row.metadata["after"]["status"] == "taken"


class TestSlotRules:
    @pytest.mark.parametrize(
        ("when", "message"),
        [
            (lambda: slot(-1, 9), "No dose is scheduled"),
            (lambda: slot(-1, 8, 1), "No dose is scheduled"),
            (lambda: slot(-8, 8), "up to 7 days back"),
            (lambda: slot(2, 8), "one day ahead"),
        ],
        ids=["not-a-reminder-time", "a-minute-off", "too-old", "too-far-ahead"],
    )
    def test_refused_slots_are_422_on_slot(self, alice_api, medication, when, message):
        response = answer(alice_api, medication, when())
        assert response.status_code == 422, response.content
        assert message in response.json()["errors"]["slot"][0]
        assert not MedicationDose.objects.exists()

    @pytest.mark.parametrize(
        "fields",
        [
            {"reminder_enabled": False},
            {"status": "stopped"},
            {"reminder_days": [(local_day(-1).weekday() + 1) % 7]},
            {"effective_period_start": local_day(0)},
            {"effective_period_end": local_day(-2)},
        ],
        ids=["reminders-off", "stopped", "other-weekday", "not-started", "ended"],
    )
    def test_only_scheduled_days_take_doses(self, alice_api, medication, fields):
        for name, value in fields.items():
            setattr(medication, name, value)
        medication.save()
        response = answer(alice_api, medication, slot(-1, 8))
        assert response.status_code == 422
        assert "slot" in response.json()["errors"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"status": "taken"}, "slot"),
            ({"slot": "yesterday", "status": "taken"}, "slot"),
            ({"slot": "2025-02-30T08:00:00", "status": "taken"}, "slot"),
            ({"slot": "SLOT", "status": "forgotten"}, "status"),
            ({"slot": "SLOT"}, "status"),
            ({"slot": "SLOT", "status": "taken", "note": "x" * 501}, "note"),
        ],
    )
    def test_bad_bodies_are_422_with_the_field(self, alice_api, medication, body, field):
        body = {k: slot(-1, 8).isoformat() if v == "SLOT" else v for k, v in body.items()}
        response = alice_api.post(doses_url(medication), body, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]

    def test_a_body_that_is_not_an_object_is_refused(self, alice_api, medication):
        response = alice_api.post(doses_url(medication), ["taken"], format="json")
        assert response.status_code in (400, 422)

    def test_a_dose_in_the_spring_gap_is_answered_at_its_shifted_time(self, patient):
        """Berlin, 30 March 2025: 02:30 does not exist; the dose is at 03:30 CEST."""
        medication = MedicationFactory(
            patient=patient, reminder_enabled=True, reminder_times=["02:30"]
        )
        now = dt.datetime(2025, 3, 30, 12, tzinfo=BERLIN)
        check_answerable_slot(medication, dt.datetime(2025, 3, 30, 3, 30, tzinfo=BERLIN), now=now)
        check_answerable_slot(medication, dt.datetime(2025, 3, 29, 2, 30, tzinfo=BERLIN), now=now)
        from rest_framework.exceptions import ValidationError

        with pytest.raises(ValidationError):  # 02:30 CET that day is 01:30 UTC: no dose then
            check_answerable_slot(
                medication, dt.datetime(2025, 3, 30, 0, 30, tzinfo=dt.UTC), now=now
            )


class TestAccess:
    def test_personas(self, client_for, anon, bob, carol, dave, mallory, shared_patient):
        medication = MedicationFactory(
            patient=shared_patient, reminder_enabled=True, reminder_times=["08:00", "20:00"]
        )
        owner = client_for(shared_patient.owner)
        assert answer(owner, medication, slot(-1, 8)).status_code == 201
        assert answer(client_for(carol), medication, slot(-1, 20)).status_code == 201
        assert answer(client_for(dave), medication, slot(-2, 8)).status_code == 201
        refused = answer(client_for(bob), medication, slot(-2, 20))
        assert refused.status_code == 403
        assert client_for(bob).get(doses_url(medication)).status_code == 200
        assert answer(client_for(mallory), medication, slot(-2, 20)).status_code == 404
        assert client_for(mallory).get(doses_url(medication)).status_code == 404
        assert answer(anon, medication, slot(-2, 20)).status_code == 401
        assert anon.get(doses_url(medication)).status_code == 401
        assert MedicationDose.objects.count() == 3

    def test_a_view_share_is_refused_before_the_body_is_read(self, client_for, bob, shared_patient):
        medication = MedicationFactory(patient=shared_patient)
        response = client_for(bob).post(doses_url(medication), {"slot": "junk"}, format="json")
        assert response.status_code == 403

    def test_unknown_medication_is_404(self, alice_api, patient):
        assert alice_api.get("/api/v1/medications/999999/doses").status_code == 404


class TestList:
    @pytest.fixture
    def logged(self, medication, alice):
        for day in range(-6, 0):
            for hour in (8, 20):
                status = "skipped" if (day, hour) == (-3, 20) else "taken"
                MedicationDose.objects.create(
                    medication=medication, slot=slot(day, hour), status=status, recorded_by=alice
                )
        other = MedicationFactory(patient=medication.patient)
        MedicationDose.objects.create(medication=other, slot=slot(-1, 8), status="taken")
        return medication

    def test_newest_first_only_this_medications(self, alice_api, logged):
        rows = alice_api.get(doses_url(logged)).json()
        assert [r["slot"] for r in rows][:3] == [
            slot(-1, 20).isoformat(),
            slot(-1, 8).isoformat(),
            slot(-2, 20).isoformat(),
        ]
        assert len(rows) == 12 and {r["medication_id"] for r in rows} == {logged.pk}

    def test_skip_and_limit(self, alice_api, logged):
        page = alice_api.get(doses_url(logged), {"skip": 2, "limit": 3}).json()
        assert [r["slot"] for r in page] == [
            slot(-2, 20).isoformat(),
            slot(-2, 8).isoformat(),
            slot(-3, 20).isoformat(),
        ]
        assert alice_api.get(doses_url(logged), {"limit": "all"}).status_code == 422

    def test_from_and_to_as_dates_take_whole_days(self, alice_api, logged):
        query = {"from": local_day(-3).isoformat(), "to": local_day(-2).isoformat()}
        rows = alice_api.get(doses_url(logged), query).json()
        assert [r["slot"] for r in rows] == [
            s.isoformat() for s in (slot(-2, 20), slot(-2, 8), slot(-3, 20), slot(-3, 8))
        ]

    def test_from_and_to_as_date_times_are_inclusive(self, alice_api, logged):
        query = {"from": slot(-3, 20).isoformat(), "to": slot(-2, 8).isoformat()}
        rows = alice_api.get(doses_url(logged), query).json()
        assert [r["status"] for r in rows] == ["taken", "skipped"]

    def test_an_offset_sent_without_url_encoding_is_read(self, alice_api, logged):
        raw = slot(-1, 20).isoformat()  # "+01:00": a bare "+" in a query string is a space
        rows = alice_api.get(f"{doses_url(logged)}?from={raw}").json()
        assert [r["slot"] for r in rows] == [raw]

    @pytest.mark.parametrize(
        ("query", "field"),
        [
            ({"from": "last week"}, "from"),
            ({"to": "2025-13-01"}, "to"),
            ({"from": "2025-03-05", "to": "2025-03-01"}, "to"),
        ],
    )
    def test_bad_ranges_are_422(self, alice_api, logged, query, field):
        response = alice_api.get(doses_url(logged), query)
        assert response.status_code == 422
        assert field in response.json()["errors"]


class TestAdherence:
    @pytest.fixture
    def five_days(self, patient, alice):
        """Reminders at 08:00 and 20:00 on the five days before yesterday's end: 10 due."""
        medication = MedicationFactory(
            patient=patient,
            reminder_enabled=True,
            reminder_times=["08:00", "20:00"],
            effective_period_start=local_day(-5),
            effective_period_end=local_day(-1),
        )
        for day, hour, status in [
            *[(d, h, "taken") for d in (-5, -4, -3, -2) for h in (8, 20)][:7],
            (-1, 8, "skipped"),
            (-1, 20, "skipped"),
            (-40, 8, "taken"),  # before the window
        ]:
            MedicationDose.objects.create(
                medication=medication, slot=slot(day, hour), status=status
            )
        return medication

    def test_numbers_on_detail_and_list(self, alice_api, five_days):
        expected = {"days": 30, "due": 10, "taken": 7, "skipped": 2}
        assert alice_api.get(f"/api/v1/medications/{five_days.pk}").json()["adherence"] == expected
        listed = {m["id"]: m for m in alice_api.get("/api/v1/medications").json()}
        assert listed[five_days.pk]["adherence"] == expected
        by_patient = alice_api.get(f"/api/v1/medications/patient/{five_days.patient_id}").json()
        assert by_patient[0]["adherence"] == expected

    def test_the_answers_of_a_new_dose_count_on_the_next_read(self, alice_api, medication):
        before = alice_api.get(f"/api/v1/medications/{medication.pk}").json()["adherence"]
        answer(alice_api, medication, slot(-1, 8))
        after = alice_api.get(f"/api/v1/medications/{medication.pk}").json()["adherence"]
        assert after["taken"] == before["taken"] + 1 == 1
        assert after["due"] == before["due"] >= 2  # yesterday's two at least

    def test_without_reminders_nothing_is_due(self, alice_api, patient):
        created = alice_api.post(
            "/api/v1/medications", {"medication_name": "Ibuprofen"}, format="json"
        )
        assert created.json()["adherence"] == {"days": 30, "due": 0, "taken": 0, "skipped": 0}

    def test_update_answers_with_adherence(self, alice_api, five_days):
        response = alice_api.put(
            f"/api/v1/medications/{five_days.pk}", {"dosage": "1g"}, format="json"
        )
        assert response.json()["adherence"]["taken"] == 7

    @pytest.mark.parametrize("path", ["/api/v1/medications", "/api/v1/medications/patient/{pk}"])
    def test_list_queries_do_not_grow_with_rows(self, alice_api, patient, alice, path):
        def add(count):
            for _ in range(count):
                medication = MedicationFactory(
                    patient=patient, reminder_enabled=True, reminder_times=["08:00", "20:00"]
                )
                for day in (-2, -1):
                    MedicationDose.objects.create(
                        medication=medication, slot=slot(day, 8), status="taken"
                    )

        url = path.format(pk=patient.pk)
        add(2)
        alice_api.get(url)  # warm the per-process caches
        with CaptureQueriesContext(connection) as two:
            rows = alice_api.get(url).json()
        assert len(rows) == 2 and rows[0]["adherence"]["taken"] == 2
        add(18)
        with CaptureQueriesContext(connection) as twenty:
            rows = alice_api.get(url).json()
        assert len(rows) == 20 and all(r["adherence"]["taken"] == 2 for r in rows)
        assert len(twenty) == len(two), [q["sql"] for q in twenty]
