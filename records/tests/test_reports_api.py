"""/custom-reports: the builder's data calls, generate (both bodies), list, download, delete
(web-client-api.md §14, spec "Custom Reports")."""

import datetime as dt
import io

import pytest
from django.utils import timezone
from pypdf import PdfReader

from patients.tests.factories import PatientFactory
from records.models import GeneratedReport, Medication
from records.tests.factories import (
    ConditionFactory,
    LabTestComponentFactory,
    MedicationFactory,
    VitalsFactory,
)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/custom-reports"


@pytest.fixture(autouse=True)
def report_storage(settings, tmp_path):
    """Generated PDFs land in a throw-away folder."""
    settings.STORAGES = {
        **settings.STORAGES,
        "reports": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": tmp_path / "reports"},
        },
    }
    return tmp_path / "reports"


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def app_body(**fields):
    return {
        "report_title": "My report",
        "include_patient_info": True,
        "include_summary": True,
        "include_profile_picture": False,
        "date_range": None,
        **fields,
    }


class TestAnonymousAndStrangers:
    @pytest.mark.parametrize(
        "method,path",
        [
            ("get", ""),
            ("get", "/data-summary"),
            ("get", "/available-trend-data"),
            ("post", "/trend-chart-counts"),
            ("post", "/generate"),
            ("get", "/templates"),
            ("get", "/1/download"),
        ],
    )
    def test_anonymous_is_401(self, anon, method, path):
        response = getattr(anon, method)(f"{BASE}{path}", {}, format="json")
        assert response.status_code == 401
        assert response.json()["status"] == "error"

    @pytest.mark.parametrize(
        "method,path",
        [
            ("get", "/data-summary"),
            ("get", "/available-trend-data"),
            ("post", "/trend-chart-counts"),
            ("post", "/generate"),
        ],
    )
    def test_a_strangers_patient_is_403(self, client_for, mallory, patient, method, path):
        MedicationFactory(patient=patient)
        response = getattr(client_for(mallory), method)(
            f"{BASE}{path}?patient_id={patient.pk}", {}, format="json"
        )
        assert response.status_code == 403, response.content
        assert GeneratedReport.objects.count() == 0


class TestDataSummary:
    def test_counts_and_newest_records_per_category(self, alice_api, patient):
        old = MedicationFactory(
            patient=patient, medication_name="Metformin", effective_period_start=dt.date(2020, 1, 1)
        )
        new = MedicationFactory(
            patient=patient,
            medication_name="Lisinopril",
            dosage="10 mg",
            effective_period_start=dt.date(2024, 5, 1),
        )
        ConditionFactory(patient=patient, condition_name="Asthma")
        MedicationFactory(patient=PatientFactory())  # another patient's
        response = alice_api.get(f"{BASE}/data-summary")
        assert response.status_code == 200, response.content
        body = response.json()
        meds = body["categories"]["medications"]
        assert meds["count"] == 2 and meds["has_more"] is False
        assert [r["id"] for r in meds["records"]] == [new.pk, old.pk]
        first = meds["records"][0]
        assert first["title"] == "Lisinopril" and first["date"] == "2024-05-01"
        assert "10 mg" in first["key_info"] and first["status"] == "active"
        assert body["categories"]["conditions"]["count"] == 1
        # The app's names: scopes, one category per root type, children inside theirs.
        assert {"lab_results", "family_history", "insurance", "vitals"} <= set(body["categories"])
        assert "lab_test_components" not in body["categories"]
        assert body["total_records"] == 3

    def test_at_most_100_records_a_category(self, alice_api, patient):
        Medication.objects.bulk_create(
            Medication(patient=patient, medication_name=f"M{i}") for i in range(105)
        )
        meds = alice_api.get(f"{BASE}/data-summary").json()["categories"]["medications"]
        assert meds["count"] == 105 and len(meds["records"]) == 100 and meds["has_more"]

    def test_a_shared_patient_by_id(self, client_for, bob, shared_patient):
        MedicationFactory(patient=shared_patient)
        response = client_for(bob).get(f"{BASE}/data-summary?patient_id={shared_patient.pk}")
        assert response.status_code == 200
        assert response.json()["categories"]["medications"]["count"] == 1

    def test_query_count_does_not_grow_with_records(
        self, alice_api, patient, django_assert_num_queries
    ):
        def seed(n):
            for _ in range(n):
                MedicationFactory(patient=patient)
                VitalsFactory(patient=patient)
                ConditionFactory(patient=patient)

        seed(2)
        alice_api.get(f"{BASE}/data-summary")  # warm the per-process caches
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as small:
            alice_api.get(f"{BASE}/data-summary")
        seed(18)
        with django_assert_num_queries(len(small.captured_queries)):
            response = alice_api.get(f"{BASE}/data-summary")
        assert response.json()["categories"]["vitals"]["count"] == 20


class TestTrendData:
    def test_available_vital_types_and_lab_tests(self, alice_api, patient):
        VitalsFactory(patient=patient, weight=150, systolic_bp=120, diastolic_bp=80)
        VitalsFactory(patient=patient, weight=151, systolic_bp=None, diastolic_bp=None)
        LabTestComponentFactory(patient=patient, test_name="Glucose", unit="mg/dL", value=90)
        LabTestComponentFactory(patient=patient, test_name="glucose ", unit="MG/DL", value=95)
        LabTestComponentFactory(patient=patient, test_name="Glucose", unit="mmol/L", value=5)
        LabTestComponentFactory(patient=PatientFactory(), test_name="Sodium", value=140)
        body = alice_api.get(f"{BASE}/available-trend-data").json()
        vitals = {v["vital_type"]: v for v in body["vital_types"]}
        assert vitals["weight"]["count"] == 2 and vitals["weight"]["unit"] == "lb"
        assert vitals["blood_pressure"]["count"] == 1
        assert vitals["blood_pressure"]["display_name"] == "Blood pressure"
        assert vitals["heart_rate"]["count"] == 2  # the factory's pulse
        assert "a1c" not in vitals
        labs = {
            (t["test_name"].lower(), t["unit"].lower()): t["count"] for t in body["lab_test_names"]
        }
        assert labs == {("glucose", "mg/dl"): 2, ("glucose", "mmol/l"): 1}

    def test_chart_counts_in_their_dates(self, alice_api, patient):
        for day in (dt.datetime(2024, 1, 5, 9), dt.datetime(2024, 3, 5, 9)):
            VitalsFactory(patient=patient, recorded_date=timezone.make_aware(day), weight=150)
        component = LabTestComponentFactory(patient=patient, test_name="Glucose", unit="mg/dL")
        component.lab_result.completed_date = dt.date(2024, 2, 1)
        component.lab_result.save()
        body = {
            "vital_charts": [
                {"vital_type": "weight", "date_from": "2024-01-01", "date_to": "2024-01-31"},
                {"vital_type": "blood_pressure", "date_from": None, "date_to": None},
            ],
            "lab_test_charts": [
                {
                    "test_name": "glucose",
                    "unit": "mg/dL",
                    "date_from": "2024-01-01",
                    "date_to": "2024-12-31",
                },
                {"test_name": "Glucose", "date_from": "2025-01-01", "date_to": "2025-12-31"},
            ],
        }
        response = alice_api.post(f"{BASE}/trend-chart-counts", body, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == {
            "vital_counts": {"weight": 1, "blood_pressure": 2},
            "lab_test_counts": {"glucose::mg/dL": 1, "Glucose::": 0},
        }

    @pytest.mark.parametrize(
        "body",
        [
            {"vital_charts": [{"vital_type": "mood"}]},
            {
                "vital_charts": [
                    {"vital_type": "weight", "date_from": "2024-02-01", "date_to": "2024-01-01"}
                ]
            },
            {
                "vital_charts": [{"vital_type": "weight"}] * 6,
                "lab_test_charts": [{"test_name": "Glucose"}] * 5,
            },
            {"lab_test_charts": [{"test_name": ""}]},
            {"vital_charts": "weight"},
        ],
    )
    def test_bad_charts_are_422(self, alice_api, patient, body):
        response = alice_api.post(f"{BASE}/trend-chart-counts", body, format="json")
        assert response.status_code == 422, response.content
        assert response.json()["error_code"] == "VAL-422"


class TestGenerate:
    def test_the_apps_body_answers_the_pdf_and_stores_it(self, alice_api, patient):
        med = MedicationFactory(patient=patient, medication_name="Lisinopril")
        MedicationFactory(patient=patient, medication_name="Not chosen")
        response = alice_api.post(
            f"{BASE}/generate",
            app_body(selected_records=[{"category": "medications", "record_ids": [med.pk]}]),
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/pdf"
        assert response["Content-Disposition"].startswith('attachment; filename="my-report.pdf"')
        content = body_of(response)
        text = pdf_text(content)
        assert "Lisinopril" in text and "Not chosen" not in text
        report = GeneratedReport.objects.get()
        assert str(report.pk) == response["X-Report-Id"]
        assert report.status == "done" and report.record_count == 1
        assert report.file_size == len(content) and report.user == patient.owner

    def test_the_specs_body_takes_every_record_of_the_sections_in_the_range(
        self, alice_api, patient
    ):
        MedicationFactory(
            patient=patient, medication_name="In range", effective_period_start=dt.date(2024, 6, 1)
        )
        MedicationFactory(
            patient=patient, medication_name="Too early", effective_period_start=dt.date(2019, 1, 1)
        )
        ConditionFactory(patient=patient, condition_name="Left out")
        response = alice_api.post(
            f"{BASE}/generate",
            {
                "patient_id": patient.pk,
                "report_type": "medical_summary",
                "date_range": {"start": "2024-01-01", "end": "2024-12-31"},
                "include_sections": ["medications"],
            },
            format="json",
        )
        assert response.status_code == 200, response.content
        text = pdf_text(body_of(response))
        assert "In range" in text and "Too early" not in text and "Left out" not in text
        assert "Medical Summary" in text
        report = GeneratedReport.objects.get()
        assert report.report_type == "medical_summary" and report.record_count == 1

    def test_another_patients_record_id_is_refused_by_name(self, alice_api, patient):
        mine = MedicationFactory(patient=patient)
        foreign = MedicationFactory(patient=PatientFactory(), medication_name="Secret")
        response = alice_api.post(
            f"{BASE}/generate",
            app_body(
                selected_records=[{"category": "medications", "record_ids": [mine.pk, foreign.pk]}]
            ),
            format="json",
        )
        assert response.status_code == 422, response.content
        body = response.json()
        assert str(foreign.pk) in str(body["errors"]) and str(mine.pk) not in str(body["errors"])
        assert GeneratedReport.objects.count() == 0

    def test_a_viewer_may_report(self, client_for, bob, shared_patient):
        med = MedicationFactory(patient=shared_patient)
        response = client_for(bob).post(
            f"{BASE}/generate?patient_id={shared_patient.pk}",
            app_body(selected_records=[{"category": "medications", "record_ids": [med.pk]}]),
            format="json",
        )
        assert response.status_code == 200, response.content

    @pytest.mark.parametrize(
        "fields",
        [
            {"selected_records": []},
            {"selected_records": [{"category": "spells", "record_ids": [1]}]},
            {"selected_records": [{"category": "medications", "record_ids": []}]},
            {"selected_records": [{"category": "medications", "record_ids": list(range(1, 1002))}]},
            {
                "selected_records": [
                    {"category": "medications", "record_ids": [1]},
                    {"category": "medications", "record_ids": [2]},
                ]
            },
            {
                "selected_records": [
                    {"category": c, "record_ids": list(range(1, 1001))}
                    for c in (
                        "medications",
                        "conditions",
                        "allergies",
                        "vitals",
                        "procedures",
                        "immunizations",
                    )
                ]
            },
            {"selected_records": [{"category": "medications", "record_ids": ["x"]}]},
            {
                "selected_records": [{"category": "medications", "record_ids": [1]}],
                "report_title": "x" * 256,
            },
            {
                "selected_records": [{"category": "medications", "record_ids": [1]}],
                "date_range": {"start_date": "2024-05-01", "end_date": "2024-01-01"},
            },
        ],
    )
    def test_bad_app_bodies_are_422(self, alice_api, patient, fields):
        response = alice_api.post(f"{BASE}/generate", app_body(**fields), format="json")
        assert response.status_code == 422, response.content

    @pytest.mark.parametrize(
        "body",
        [
            {"include_sections": ["spells"]},
            {"date_range": {"start": "soon"}},
            {"report_type": "Bad Type!"},
        ],
    )
    def test_bad_spec_bodies_are_422(self, alice_api, patient, body):
        response = alice_api.post(f"{BASE}/generate", body, format="json")
        assert response.status_code == 422, response.content

    @pytest.mark.parametrize("body", [[], "medications", [{"category": "medications"}]])
    def test_bodies_that_are_not_objects_are_refused(self, alice_api, patient, body):
        response = alice_api.post(f"{BASE}/generate", body, format="json")
        assert response.status_code in (400, 422), response.content
        assert response.json()["status"] == "error"

    def test_no_patient_at_all_is_404(self, client_for, mallory):
        response = client_for(mallory).get(f"{BASE}/data-summary")
        assert response.status_code == 404


class TestListDownloadDelete:
    def make_report(self, api, patient):
        med = MedicationFactory(patient=patient)
        response = api.post(
            f"{BASE}/generate?patient_id={patient.pk}",
            app_body(selected_records=[{"category": "medications", "record_ids": [med.pk]}]),
            format="json",
        )
        assert response.status_code == 200
        return GeneratedReport.objects.get(pk=response["X-Report-Id"])

    def test_list_newest_first_with_skip_and_limit(self, alice_api, patient):
        first = self.make_report(alice_api, patient)
        second = self.make_report(alice_api, patient)
        rows = alice_api.get(f"{BASE}/").json()
        assert [r["id"] for r in rows] == [second.pk, first.pk]
        assert rows[0]["status"] == "done" and rows[0]["patient_id"] == patient.pk
        assert rows[0]["record_count"] == 1 and rows[0]["file_size"] > 0
        assert [r["id"] for r in alice_api.get(f"{BASE}?skip=1&limit=1").json()] == [first.pk]

    def test_download_and_delete(self, alice_api, patient, report_storage):
        report = self.make_report(alice_api, patient)
        response = alice_api.get(f"{BASE}/{report.pk}/download")
        assert response.status_code == 200
        assert body_of(response).startswith(b"%PDF")
        assert (report_storage / report.storage_key).exists()
        response = alice_api.delete(f"{BASE}/{report.pk}")
        assert response.status_code == 200 and response.json()["success"] is True
        assert not GeneratedReport.objects.filter(pk=report.pk).exists()
        assert alice_api.get(f"{BASE}/{report.pk}/download").status_code == 404

    def test_the_bytes_go_with_the_row(
        self, alice_api, patient, report_storage, django_capture_on_commit_callbacks
    ):
        report = self.make_report(alice_api, patient)
        with django_capture_on_commit_callbacks(execute=True):
            alice_api.delete(f"{BASE}/{report.pk}")
        assert not (report_storage / report.storage_key).exists()

    def test_the_bytes_go_with_the_patient(
        self, alice_api, patient, report_storage, django_capture_on_commit_callbacks
    ):
        report = self.make_report(alice_api, patient)
        assert (report_storage / report.storage_key).exists()
        with django_capture_on_commit_callbacks(execute=True):
            patient.delete()
        assert not GeneratedReport.objects.exists()
        assert not (report_storage / report.storage_key).exists()

    def test_another_users_report_is_404(self, alice_api, client_for, bob, shared_patient):
        report = self.make_report(alice_api, shared_patient)
        bob_api = client_for(bob)
        assert bob_api.get(f"{BASE}/{report.pk}/download").status_code == 404
        assert bob_api.get(f"{BASE}/{report.pk}").status_code == 404
        assert bob_api.delete(f"{BASE}/{report.pk}").status_code == 404
        assert bob_api.get(f"{BASE}/").json() == []
        assert GeneratedReport.objects.filter(pk=report.pk).exists()

    def test_no_download_once_the_share_has_ended(self, client_for, bob, shared_patient):
        bob_api = client_for(bob)
        report = self.make_report(bob_api, shared_patient)
        assert bob_api.get(f"{BASE}/{report.pk}/download").status_code == 200
        shared_patient.shares.filter(grantee=bob).delete()
        assert bob_api.get(f"{BASE}/{report.pk}/download").status_code == 403
        # Still listed, and bob may still delete it.
        assert [r["id"] for r in bob_api.get(f"{BASE}/").json()] == [report.pk]
        assert bob_api.delete(f"{BASE}/{report.pk}").status_code == 200

    def test_pending_and_failed_reports_answer_409(self, alice_api, alice, patient):
        pending = GeneratedReport.objects.create(user=alice, patient=patient, title="Later")
        failed = GeneratedReport.objects.create(
            user=alice, patient=patient, title="Broken", status="failed", error="disk full"
        )
        response = alice_api.get(f"{BASE}/{pending.pk}/download")
        assert response.status_code == 409 and "not ready" in response.json()["error"]
        response = alice_api.get(f"{BASE}/{failed.pk}/download")
        assert response.status_code == 409 and "disk full" in response.json()["error"]
