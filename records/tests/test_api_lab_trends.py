"""The web app's per-patient component paths: …/patient/{id}/all and …/patient/{id}/trends
(web-client-api.md §5.9)."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from records.lab_trends import trend_direction
from records.tests.factories import LabResultFactory, LabTestComponentFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/lab-test-components/patient"


def all_url(patient):
    return f"{BASE}/{patient.pk}/all"


def trends_url(patient):
    return f"{BASE}/{patient.pk}/trends"


def glucose(patient, day, value, **fields):
    """A glucose component of a lab result completed on `day`."""
    lab = LabResultFactory(
        patient=patient,
        test_name="Metabolic panel",
        completed_date=day,
        ordered_date=day - dt.timedelta(days=2),
        facility="LabCorp",
    )
    values = {
        "test_name": "Glucose",
        "value": value,
        "unit": "mg/dL",
        "ref_range_min": 70,
        "ref_range_max": 99,
        "category": "chemistry",
    }
    return LabTestComponentFactory(patient=patient, lab_result=lab, **{**values, **fields})


class TestAll:
    def test_every_component_with_its_lab_results_dates(self, alice_api, patient):
        first = glucose(patient, dt.date(2025, 1, 10), 92)
        pending = glucose(patient, dt.date(2025, 2, 10), None, unit="")
        LabTestComponentFactory(patient=PatientFactory(owner=patient.owner))  # another patient
        response = alice_api.get(all_url(patient))
        assert response.status_code == 200, response.content
        rows = {row["id"]: row for row in response.json()}
        assert set(rows) == {first.pk, pending.pk}
        assert rows[first.pk]["completed_date"] == "2025-01-10"
        assert rows[first.pk]["ordered_date"] == "2025-01-08"
        assert rows[first.pk]["facility"] == "LabCorp"
        assert rows[first.pk]["test_name"] == "Glucose" and rows[first.pk]["value"] == 92
        assert rows[pending.pk]["value"] is None

    def test_query_count_does_not_grow(self, alice_api, patient):
        for day in range(2):
            glucose(patient, dt.date(2025, 1, 1 + day), 90)
        with CaptureQueriesContext(connection) as few:
            assert len(alice_api.get(all_url(patient)).json()) == 2
        for day in range(18):
            glucose(patient, dt.date(2025, 2, 1 + day), 90)
        with CaptureQueriesContext(connection) as many:
            assert len(alice_api.get(all_url(patient)).json()) == 20
        # The user, the access check, the components joined with their lab results.
        assert len(many) == len(few) == 3

    def test_more_than_a_default_page(self, alice_api, patient):
        lab = LabResultFactory(patient=patient)
        LabTestComponentFactory.create_batch(120, patient=patient, lab_result=lab)
        assert len(alice_api.get(all_url(patient)).json()) == 120

    def test_access(self, client_for, anon, bob, mallory, shared_patient):
        glucose(shared_patient, dt.date(2025, 1, 1), 90)
        assert len(client_for(bob).get(all_url(shared_patient)).json()) == 1
        assert client_for(mallory).get(all_url(shared_patient)).status_code in (403, 404)
        assert anon.get(all_url(shared_patient)).status_code == 401


class TestTrends:
    def test_history_and_statistics(self, alice_api, patient):
        for day, value in ((1, 90), (2, 100), (3, 110), (4, 120)):
            glucose(patient, dt.date(2025, 1, day), value)
        glucose(patient, dt.date(2025, 1, 5), None, unit="")  # waiting for its value
        glucose(patient, dt.date(2025, 1, 6), 80, test_name="Sodium")
        response = alice_api.get(trends_url(patient), {"test_name": "glucose"})
        assert response.status_code == 200, response.content
        got = response.json()
        assert (got["test_name"], got["unit"], got["category"]) == ("glucose", "mg/dL", "chemistry")
        assert got["result_type"] == "quantitative"
        assert got["is_aggregated"] is False and got["aggregation_period"] is None
        points = got["data_points"]
        assert [p["value"] for p in points] == [120, 110, 100, 90]  # newest first
        assert points[0]["recorded_date"] == "2025-01-04"
        assert points[0]["status"] == "high"
        assert points[0]["lab_result"]["completed_date"] == "2025-01-04"
        assert set(points[0]) >= {
            "id",
            "unit",
            "ref_range_min",
            "ref_range_max",
            "ref_range_text",
            "created_at",
            "qualitative_value",
            "textual_value",
        }
        stats = got["statistics"]
        assert stats["count"] == 4
        assert (stats["latest"], stats["average"], stats["min"], stats["max"]) == (
            120,
            105,
            90,
            120,
        )
        assert stats["std_dev"] == 11.18
        assert stats["trend_direction"] == "increasing"
        assert (stats["normal_count"], stats["abnormal_count"]) == (1, 3)
        assert stats["time_in_range_percent"] == 25.0

    def test_three_queries_whatever_the_history(self, alice_api, patient):
        for day in range(1, 21):
            glucose(patient, dt.date(2025, 2, day), 90 + day)
        with CaptureQueriesContext(connection) as queries:
            got = alice_api.get(trends_url(patient), {"test_name": "Glucose"}).json()
        assert got["statistics"]["count"] == 20
        assert len(queries) == 3  # the user, the access check, the points with lab results

    def test_filters_and_limit(self, alice_api, patient):
        for day in range(1, 8):
            glucose(patient, dt.date(2025, 3, day), 90 + day)
        glucose(patient, dt.date(2025, 3, 9), 5.4, unit="mmol/L")
        glucose(patient, dt.date(2025, 3, 10), 5.5, unit="")

        def values(**params):
            response = alice_api.get(trends_url(patient), {"test_name": "Glucose", **params})
            assert response.status_code == 200, response.content
            return [p["value"] for p in response.json()["data_points"]]

        assert values(date_from="2025-03-05", date_to="2025-03-06", unit="mg/dL") == [96, 95]
        assert values(unit="mmol/L") == [5.4]
        assert values(unit="") == [5.5]
        assert values(limit="2") == [5.5, 5.4]
        assert len(values(limit=500)) == 9  # at most 100

    def test_no_points(self, alice_api, patient):
        got = alice_api.get(trends_url(patient), {"test_name": "Ferritin"}).json()
        assert got["data_points"] == [] and got["statistics"]["count"] == 0
        assert got["statistics"]["trend_direction"] == "stable"

    def test_qualitative_summary(self, alice_api, patient):
        for day, value in ((1, "positive"), (2, "negative"), (3, "negative")):
            glucose(
                patient,
                dt.date(2025, 4, day),
                None,
                test_name="COVID-19 PCR",
                result_type="qualitative",
                qualitative_value=value,
                unit="",
                ref_range_min=None,
                ref_range_max=None,
            )
        got = alice_api.get(trends_url(patient), {"test_name": "COVID-19 PCR"}).json()
        assert got["result_type"] == "qualitative"
        stats = got["statistics"]
        assert stats["qualitative_summary"] == {"negative": 2, "positive": 1}
        assert (stats["normal_count"], stats["abnormal_count"], stats["average"]) == (2, 1, None)

    @pytest.mark.parametrize(
        "params",
        [
            {},
            {"test_name": ""},
            {"test_name": "Glucose", "date_from": "soon"},
            {"test_name": "Glucose", "date_from": "2025-02-01", "date_to": "2025-01-01"},
            {"test_name": "Glucose", "limit": "0"},
        ],
    )
    def test_bad_query_is_422(self, alice_api, patient, params):
        assert alice_api.get(trends_url(patient), params).status_code == 422

    def test_access(self, client_for, anon, bob, mallory, shared_patient):
        glucose(shared_patient, dt.date(2025, 1, 1), 90)
        params = {"test_name": "Glucose"}
        got = client_for(bob).get(trends_url(shared_patient), params)
        assert got.status_code == 200 and got.json()["statistics"]["count"] == 1
        assert client_for(mallory).get(trends_url(shared_patient), params).status_code in (
            403,
            404,
        )
        assert anon.get(trends_url(shared_patient), params).status_code == 401


@pytest.mark.parametrize(
    ("values", "direction"),
    [
        ([], "stable"),
        ([100, 200], "stable"),  # fewer than three points
        ([100, 101, 102, 103], "increasing"),
        ([103, 102, 101, 100], "decreasing"),
        ([100, 70, 130, 130, 70, 100], "stable"),  # noise, no slope
        ([100.0, 100.0, 100.05], "stable"),  # under 10 % of 1 % of the mean
    ],
)
def test_trend_direction_by_least_squares(values, direction):
    assert trend_direction(list(enumerate(values))) == direction
