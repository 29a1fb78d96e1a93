"""Large reports: built by a Celery task (eager in tests), recorded on their row, and never
lost when a worker dies (the sweeper queues them again)."""

import datetime as dt

import pytest
from django.utils import timezone

from records.models import GeneratedReport, Medication
from records.reports import services
from records.tasks import generate_report, sweep_reports

pytestmark = pytest.mark.django_db

BASE = "/api/v1/custom-reports"


@pytest.fixture(autouse=True)
def small_threshold(settings, tmp_path):
    settings.REPORTS_SYNC_MAX_RECORDS = 3
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "reports"},
        },
    }


@pytest.fixture
def medications(patient):
    return Medication.objects.bulk_create(
        Medication(patient=patient, medication_name=f"Medication {i}") for i in range(5)
    )


def app_body(medications):
    return {
        "selected_records": [
            {"category": "medications", "record_ids": [m.pk for m in medications]}
        ],
        "report_title": "Large",
    }


def request_large(api, medications, capture):
    with capture(execute=True):
        response = api.post(
            f"{BASE}/generate",
            app_body(medications),
            format="json",
            HTTP_PREFER="respond-async",
        )
    return response


class TestQueued:
    def test_202_then_the_task_builds_it(
        self, alice_api, medications, django_capture_on_commit_callbacks
    ):
        response = request_large(alice_api, medications, django_capture_on_commit_callbacks)
        assert response.status_code == 202, response.content
        body = response.json()
        assert body["status"] == "pending" and body["report_id"] == body["id"]
        assert body["record_count"] == 5
        # The eager task ran once the request's transaction committed.
        rows = alice_api.get(f"{BASE}/").json()
        assert rows[0]["id"] == body["report_id"] and rows[0]["status"] == "done"
        assert rows[0]["attempts"] == 1 and rows[0]["finished_at"]
        download = alice_api.get(f"{BASE}/{body['report_id']}/download")
        assert download.status_code == 200
        assert b"".join(download.streaming_content).startswith(b"%PDF")

    def test_the_specs_body_is_queued_without_asking(
        self, alice_api, patient, medications, django_capture_on_commit_callbacks
    ):
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_api.post(
                f"{BASE}/generate", {"include_sections": ["medications"]}, format="json"
            )
        assert response.status_code == 202, response.content
        report = GeneratedReport.objects.get(pk=response.json()["report_id"])
        assert report.status == "done" and report.record_count == 5

    def test_the_apps_body_gets_its_pdf_whatever_the_size(self, alice_api, medications):
        # The app saves any 2xx answer of generate as the PDF: it must never get a 202.
        response = alice_api.post(f"{BASE}/generate", app_body(medications), format="json")
        assert response.status_code == 200
        assert response["Content-Type"] == "application/pdf"
        assert GeneratedReport.objects.get().status == "done"

    def test_pending_until_a_worker_takes_it(self, alice_api, medications):
        # No commit callbacks run here: the message never reached a worker.
        response = alice_api.post(
            f"{BASE}/generate",
            {"include_sections": ["medications"], "report_title": "Later"},
            format="json",
        )
        assert response.status_code == 202
        report_id = response.json()["report_id"]
        assert alice_api.get(f"{BASE}/{report_id}").json()["status"] == "pending"
        assert alice_api.get(f"{BASE}/{report_id}/download").status_code == 409


class TestSweeper:
    def make_row(self, alice, patient, medications, **fields):
        plan = {
            "patient_id": patient.pk,
            "title": "Swept",
            "report_type": "custom",
            "include_patient_info": True,
            "include_summary": True,
            "include_profile_picture": False,
            "date_from": None,
            "date_to": None,
            "sections": [{"category": "medications", "record_ids": [m.pk for m in medications]}],
            "vital_charts": [],
            "lab_test_charts": [],
            "auto_vital_charts": False,
        }
        return GeneratedReport.objects.create(
            user=alice, patient=patient, title="Swept", request=plan, **fields
        )

    def test_a_row_left_running_past_its_lease_is_built_again(
        self, alice, patient, medications, django_capture_on_commit_callbacks
    ):
        long_ago = timezone.now() - dt.timedelta(seconds=services.LEASE_SECONDS + 60)
        stalled = self.make_row(
            alice, patient, medications, status="running", started_at=long_ago, attempts=1
        )
        fresh = self.make_row(
            alice, patient, medications, status="running", started_at=timezone.now(), attempts=1
        )
        with django_capture_on_commit_callbacks(execute=True):
            outcome = sweep_reports.delay().get()
        assert outcome == {"requeued": 1, "failed": 0}
        stalled.refresh_from_db()
        fresh.refresh_from_db()
        assert stalled.status == "done" and stalled.attempts == 2 and stalled.file_size > 0
        assert fresh.status == "running"  # its worker still holds it

    def test_a_pending_row_whose_message_was_lost_is_queued(
        self, alice, patient, medications, django_capture_on_commit_callbacks
    ):
        row = self.make_row(alice, patient, medications)
        GeneratedReport.objects.filter(pk=row.pk).update(
            created_at=timezone.now() - dt.timedelta(seconds=services.SWEEP_GRACE_SECONDS + 5)
        )
        just_queued = self.make_row(alice, patient, medications)
        with django_capture_on_commit_callbacks(execute=True):
            assert services.reports_sweep()["requeued"] == 1
        row.refresh_from_db()
        just_queued.refresh_from_db()
        assert row.status == "done" and just_queued.status == "pending"

    def test_the_last_attempt_dying_marks_it_failed(self, alice, patient, medications):
        long_ago = timezone.now() - dt.timedelta(seconds=services.LEASE_SECONDS + 60)
        row = self.make_row(
            alice,
            patient,
            medications,
            status="running",
            started_at=long_ago,
            attempts=services.MAX_ATTEMPTS,
        )
        assert services.reports_sweep() == {"requeued": 0, "failed": 1}
        row.refresh_from_db()
        assert row.status == "failed" and "attempts" in row.error and row.finished_at

    def test_a_task_for_a_finished_or_held_row_does_nothing(self, alice, patient, medications):
        row = self.make_row(alice, patient, medications)
        assert generate_report.delay(row.pk).get() == "done"
        assert generate_report.delay(row.pk).get() == "skipped"
        row.refresh_from_db()
        assert row.attempts == 1

    def test_a_failing_build_is_retried_then_failed(self, alice, patient, medications, settings):
        row = self.make_row(alice, patient, medications)
        # A storage that cannot be written (a read-only bucket, a full disk).
        settings.STORAGES = {
            **settings.STORAGES,
            "reports": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": "/proc/medikeep-no-such-place"},
            },
        }
        outcomes = [services.report_build(row.pk) for _ in range(services.MAX_ATTEMPTS)]
        assert outcomes == ["retry"] * (services.MAX_ATTEMPTS - 1) + ["failed"]
        row.refresh_from_db()
        assert row.status == "failed" and row.error and row.attempts == services.MAX_ATTEMPTS
