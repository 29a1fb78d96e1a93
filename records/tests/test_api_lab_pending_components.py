"""Components saved before their results arrive (a panel template): no value, no status, and
left out of statistics until a value comes (web-client-api.md §5.9 and §18)."""

import pytest

from records.models import LabTestComponent
from records.tests.factories import LabResultFactory, LabTestComponentFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/lab-test-components"


@pytest.fixture
def panel(patient):
    return LabResultFactory(patient=patient, test_name="Basic Metabolic Panel", status="ordered")


def template_row(test_name, order, **fields):
    """A row as the app's panel dialog sends it when the user left the value empty."""
    return {
        "lab_result_id": None,
        "test_name": test_name,
        "abbreviation": None,
        "test_code": None,
        "value": None,
        "unit": "mg/dL",
        "ref_range_min": 70,
        "ref_range_max": 99,
        "ref_range_text": None,
        "status": None,
        "category": "chemistry",
        "display_order": order,
        "notes": None,
        "result_type": "quantitative",
        "qualitative_value": None,
        **fields,
    }


def test_bulk_panel_with_empty_values_is_created(alice_api, panel, patient):
    body = {
        "lab_result_id": panel.pk,
        "components": [
            template_row("Glucose", 1, value=92),
            template_row("BUN", 2, unit=None, ref_range_min=None, ref_range_max=None),
            template_row("Creatinine", 3),
        ],
    }
    response = alice_api.post(
        f"{BASE}/lab-result/{panel.pk}/components/bulk?patient_id={patient.pk}",
        body,
        format="json",
    )
    assert response.status_code == 201, response.content
    got = response.json()
    assert got["created_count"] == 3 and got["errors"] == []
    rows = {row["test_name"]: row for row in got["components"]}
    assert rows["Glucose"]["status"] == "normal"
    assert rows["BUN"]["value"] is None and rows["BUN"]["unit"] == ""
    assert rows["Creatinine"]["value"] is None and rows["Creatinine"]["status"] == ""
    assert LabTestComponent.objects.filter(lab_result=panel).count() == 3


def test_single_component_without_value(alice_api, panel):
    response = alice_api.post(
        f"{BASE}/lab-result/{panel.pk}/components",
        template_row("Sodium", 1, unit=None),
        format="json",
    )
    assert response.status_code == 201, response.content
    assert response.json()["value"] is None
    assert response.json()["status"] == ""


def test_a_value_without_a_unit_is_still_refused(alice_api, panel):
    response = alice_api.post(
        f"{BASE}/lab-result/{panel.pk}/components",
        template_row("Sodium", 1, unit=None, value=140),
        format="json",
    )
    assert response.status_code == 422
    assert "unit" in response.json()["errors"]


def test_the_value_arrives_later_and_the_status_follows(alice_api, panel, patient):
    pending = LabTestComponentFactory(
        patient=patient, lab_result=panel, value=None, unit="", ref_range_max=None
    )
    assert pending.status == ""
    response = alice_api.put(
        f"{BASE}/components/{pending.pk}?patient_id={patient.pk}",
        {"value": 3.1, "unit": "mmol/L"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "low"  # below the 4.5 minimum


def test_statistics_leave_pending_rows_out(alice_api, panel, patient):
    LabTestComponentFactory(patient=patient, lab_result=panel, value=20)  # high
    LabTestComponentFactory(patient=patient, lab_result=panel, value=None, unit="")
    LabTestComponentFactory(patient=patient, lab_result=panel, value=None, unit="")
    stats = alice_api.get(f"{BASE}/lab-result/{panel.pk}/statistics").json()
    assert stats["total_components"] == 1
    assert stats["status_breakdown"] == {"high": 1}
    assert stats["abnormal_count"] == 1
    assert stats["pending_count"] == 2


def test_view_share_cannot_add_pending_rows(client_for, bob, shared_patient):
    panel = LabResultFactory(patient=shared_patient)
    response = client_for(bob).post(
        f"{BASE}/lab-result/{panel.pk}/components/bulk",
        {"lab_result_id": panel.pk, "components": [template_row("Glucose", 1)]},
        format="json",
    )
    assert response.status_code == 403
    assert not LabTestComponent.objects.exists()
