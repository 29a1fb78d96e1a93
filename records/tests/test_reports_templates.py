"""/custom-reports/templates: a user's saved report choices (web-client-api.md §14)."""

import pytest

from records.models import ReportTemplate

pytestmark = pytest.mark.django_db

BASE = "/api/v1/custom-reports/templates"


def template_body(**fields):
    return {
        "name": "Cardiology visit",
        "description": "For Dr. Müller",
        "is_public": False,
        "shared_with_family": True,
        "selected_records": [{"category": "medications", "record_ids": [3, 1, 3]}],
        "trend_charts": {
            "vital_charts": [
                {"vital_type": "blood_pressure", "date_from": "2024-01-01", "date_to": "2024-12-31"}
            ],
            "lab_test_charts": [
                {"test_name": "LDL", "unit": "mg/dL", "date_from": None, "date_to": None}
            ],
        },
        "report_settings": {
            "report_title": "Heart",
            "include_patient_info": True,
            "include_profile_picture": False,
            "include_summary": True,
            "date_range": {"start_date": "2024-01-01", "end_date": None},
        },
        **fields,
    }


class TestTemplates:
    def test_create_read_list_update_delete(self, alice_api, alice):
        response = alice_api.post(BASE, template_body(), format="json")
        assert response.status_code in (200, 201), response.content
        body = response.json()
        assert body["success"] is True and body["message"]
        template_id = body["template_id"]

        one = alice_api.get(f"{BASE}/{template_id}").json()
        assert one["name"] == "Cardiology visit" and one["shared_with_family"] is True
        assert one["selected_records"] == [{"category": "medications", "record_ids": [3, 1]}]
        assert one["trend_charts"]["vital_charts"][0]["vital_type"] == "blood_pressure"
        assert one["trend_charts"]["lab_test_charts"][0]["unit"] == "mg/dL"
        assert one["report_settings"]["date_range"] == {
            "start_date": "2024-01-01",
            "end_date": None,
        }
        # Stored as JSON values, not as JSON text inside JSON (inventory §10 #34).
        stored = ReportTemplate.objects.get(pk=template_id)
        assert isinstance(stored.selected_records, list)
        assert isinstance(stored.report_settings, dict)

        assert [t["id"] for t in alice_api.get(BASE).json()] == [template_id]

        response = alice_api.put(
            f"{BASE}/{template_id}", template_body(name="Renamed", trend_charts=None), format="json"
        )
        assert response.status_code == 200 and response.json()["success"] is True
        stored.refresh_from_db()
        assert stored.name == "Renamed" and stored.trend_charts is None

        response = alice_api.delete(f"{BASE}/{template_id}")
        assert response.status_code == 200 and response.json()["success"] is True
        assert not ReportTemplate.objects.filter(pk=template_id).exists()

    def test_a_name_is_unique_per_user_and_free_again_after_delete(
        self, alice_api, client_for, bob
    ):
        first = alice_api.post(BASE, template_body(), format="json").json()["template_id"]
        response = alice_api.post(BASE, template_body(), format="json")
        assert response.status_code == 409
        assert "Cardiology visit" in response.json()["error"]
        # Another user may use the same name.
        assert client_for(bob).post(BASE, template_body(), format="json").status_code in (200, 201)
        assert alice_api.delete(f"{BASE}/{first}").status_code == 200
        assert alice_api.post(BASE, template_body(), format="json").status_code in (200, 201)

    def test_renaming_onto_another_template_is_409(self, alice_api):
        alice_api.post(BASE, template_body(name="A"), format="json")
        second = alice_api.post(BASE, template_body(name="B"), format="json").json()["template_id"]
        response = alice_api.put(f"{BASE}/{second}", {"name": "A"}, format="json")
        assert response.status_code == 409
        assert ReportTemplate.objects.get(pk=second).name == "B"

    def test_another_users_template_is_404(self, alice_api, client_for, bob):
        template_id = alice_api.post(BASE, template_body(), format="json").json()["template_id"]
        bob_api = client_for(bob)
        assert bob_api.get(f"{BASE}/{template_id}").status_code == 404
        assert bob_api.put(f"{BASE}/{template_id}", {"name": "x"}, format="json").status_code == 404
        assert bob_api.delete(f"{BASE}/{template_id}").status_code == 404
        assert bob_api.get(BASE).json() == []
        assert ReportTemplate.objects.filter(pk=template_id, name="Cardiology visit").exists()

    def test_anonymous_is_401(self, anon):
        assert anon.get(BASE).status_code == 401
        assert anon.post(BASE, template_body(), format="json").status_code == 401
        assert anon.delete(f"{BASE}/1").status_code == 401

    @pytest.mark.parametrize(
        "fields",
        [
            {"name": ""},
            {"name": "x" * 256},
            {"selected_records": "medications"},
            {"selected_records": [{"category": "spells", "record_ids": [1]}]},
            {"selected_records": [{"category": "medications", "record_ids": [0]}]},
            {"trend_charts": {"vital_charts": [{"vital_type": "mood"}]}},
            {"trend_charts": {"vital_charts": [{"vital_type": "weight"}] * 11}},
            {"report_settings": {"include_summary": "perhaps"}},
            {"report_settings": {"date_range": {"start_date": "not a date"}}},
            {"report_settings": []},
        ],
    )
    def test_bad_shapes_are_422(self, alice_api, fields):
        response = alice_api.post(BASE, template_body(**fields), format="json")
        assert response.status_code == 422, response.content
        assert ReportTemplate.objects.count() == 0
