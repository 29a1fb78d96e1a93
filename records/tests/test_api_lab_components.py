import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from records.models import LabTestComponent
from records.tests.factories import LabResultFactory, LabTestComponentFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/lab-test-components"


def components_url(lab_result):
    return f"{BASE}/lab-result/{lab_result.pk}/components"


def component_url(component):
    return f"{BASE}/components/{component.pk}"


@pytest.fixture
def lab(patient):
    return LabResultFactory(patient=patient, test_name="Complete Blood Count")


def wbc(**fields):
    return {
        "test_name": "White Blood Cell Count",
        "abbreviation": "wbc",
        "value": 7.5,
        "unit": "x10*9/L",
        "ref_range_min": 4.5,
        "ref_range_max": 11.0,
        "category": "hematology",
        **fields,
    }


class TestCreate:
    def test_the_contracts_example_body(self, alice_api, lab):
        body = wbc(
            lab_result_id=lab.pk,
            canonical_test_name="White Blood Cell Count",
            ref_range_text="4.5 - 11.0",
            status="normal",
            result_type="quantitative",
            display_order=1,
            notes="Optional notes",
        )
        response = alice_api.post(components_url(lab), body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["lab_result_id"] == lab.pk and got["patient_id"] == lab.patient_id
        assert got["abbreviation"] == "WBC" and got["value"] == 7.5
        assert got["canonical_test_name"] == ""  # set by the test catalogue (later)
        assert got["lab_result"]["test_name"] == "Complete Blood Count"

    @pytest.mark.parametrize(
        ("fields", "status"),
        [
            ({"value": 3.0}, "low"),
            ({"value": 12.0}, "high"),
            ({"value": 4.5}, "normal"),
            ({"value": 12.0, "ref_range_min": None}, "high"),
            ({"value": 3.0, "ref_range_max": None}, "low"),
            ({"value": 3.0, "ref_range_min": None, "ref_range_max": None}, ""),
            ({"value": 3.0, "status": "critical"}, "critical"),
            (
                {"result_type": "qualitative", "qualitative_value": "positive", "value": None},
                "abnormal",
            ),
            (
                {"result_type": "qualitative", "qualitative_value": "undetected", "value": None},
                "normal",
            ),
        ],
    )
    def test_status_is_derived_when_not_given(self, alice_api, lab, fields, status):
        body = wbc(**fields)
        if body.get("result_type") == "qualitative":
            body = {k: v for k, v in body.items() if not k.startswith(("ref_range", "unit"))}
        body = {k: v for k, v in body.items() if v is not None}
        response = alice_api.post(components_url(lab), body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["status"] == status

    def test_the_path_names_the_lab_result(self, alice_api, lab, patient, alice):
        other = LabResultFactory(patient=patient)
        body = wbc(lab_result_id=other.pk, patient_id=PatientFactory(owner=alice).pk)
        response = alice_api.post(components_url(lab), body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["lab_result_id"] == lab.pk
        assert response.json()["patient_id"] == patient.pk

    @pytest.mark.parametrize(
        ("fields", "fields_named"),
        [
            ({"unit": ""}, {"unit"}),
            ({"result_type": "qualitative"}, {"qualitative_value", "value", "ref_range_min"}),
            ({"qualitative_value": "positive"}, {"qualitative_value"}),
            ({"qualitative_value": "maybe"}, {"qualitative_value"}),
            ({"result_type": "narrative"}, {"result_type"}),
            ({"result_type": "textual"}, {"textual_value", "value"}),
            ({"textual_value": "Clear, straw-coloured"}, {"textual_value"}),
            ({"value": "NaN"}, {"value"}),
            ({"value": 1e16}, {"value"}),
            ({"value": "x" * 2000}, {"value"}),
            ({"ref_range_max": 4.5}, {"ref_range_max"}),
            ({"ref_range_min": -1e300}, {"ref_range_min"}),
            ({"status": "fine"}, {"status"}),
            ({"category": "astrology"}, {"category"}),
            ({"display_order": -1}, {"display_order"}),
            ({"display_order": 10**30}, {"display_order"}),
            ({"abbreviation": "x" * 21}, {"abbreviation"}),
            ({"test_name": ""}, {"test_name"}),
            ({"notes": "x" * 501}, {"notes"}),
        ],
    )
    def test_bad_input_is_422(self, alice_api, lab, fields, fields_named):
        body = {k: v for k, v in wbc(**fields).items() if v is not None}
        response = alice_api.post(components_url(lab), body, format="json")
        assert response.status_code == 422, response.content
        assert fields_named <= set(response.json()["errors"])
        assert not LabTestComponent.objects.exists()

    # 1e999 parses as infinity (422); the non-standard constants are malformed JSON (400).
    @pytest.mark.parametrize(("number", "code"), [("1e999", 422), ("-Infinity", 400), ("NaN", 400)])
    def test_numbers_json_cannot_hold_are_refused(self, alice_api, lab, number, code):
        raw = f'{{"test_name": "WBC", "unit": "g/L", "value": {number}}}'
        response = alice_api.post(components_url(lab), raw, content_type="application/json")
        assert response.status_code == code, response.content
        assert not LabTestComponent.objects.exists()

    def test_a_list_body_is_422(self, alice_api, lab):
        response = alice_api.post(components_url(lab), [wbc()], format="json")
        assert response.status_code == 422


class TestListAndStatistics:
    def test_list_one_lab_results_components_with_filters(self, alice_api, lab, patient):
        high = LabTestComponentFactory(patient=patient, lab_result=lab, value=20, display_order=2)
        low = LabTestComponentFactory(
            patient=patient, lab_result=lab, value=1, category="chemistry", display_order=1
        )
        LabTestComponentFactory(patient=patient)  # another lab result

        def ids(**params):
            response = alice_api.get(components_url(lab), params)
            assert response.status_code == 200, response.content
            return [c["id"] for c in response.json()]

        assert ids() == [low.pk, high.pk]  # in display order
        assert ids(status="high") == [high.pk]
        assert ids(category="chemistry") == [low.pk]
        assert ids(limit=1, skip=1) == [high.pk]

    def test_statistics(self, alice_api, lab, patient):
        for value, category in ((20, "hematology"), (1, "hematology"), (5, "")):
            LabTestComponentFactory(patient=patient, lab_result=lab, value=value, category=category)
        LabTestComponentFactory(patient=patient, lab_result=lab, status="critical")
        LabTestComponentFactory(patient=patient)  # another lab result
        response = alice_api.get(f"{BASE}/lab-result/{lab.pk}/statistics")
        assert response.status_code == 200
        assert response.json() == {
            "lab_result_id": lab.pk,
            "total_components": 4,
            "status_breakdown": {"high": 1, "low": 1, "normal": 1, "critical": 1},
            "category_breakdown": {"hematology": 2, "other": 2},
            "abnormal_count": 3,
            "critical_count": 1,
            "normal_count": 1,
            "pending_count": 0,
        }

    def test_a_shared_lab_result_is_listed_whatever_the_active_patient(
        self, client_for, carol, shared_patient
    ):
        lab = LabResultFactory(patient=shared_patient)
        component = LabTestComponentFactory(patient=shared_patient, lab_result=lab)
        carol.active_patient = PatientFactory(owner=carol)
        carol.save(update_fields=["active_patient"])
        api = client_for(carol)
        assert [c["id"] for c in api.get(components_url(lab)).json()] == [component.pk]
        assert api.get(component_url(component)).json()["id"] == component.pk


class TestOneComponent:
    def test_get_update_delete(self, alice_api, lab, patient):
        component = LabTestComponentFactory(patient=patient, lab_result=lab)
        got = alice_api.get(component_url(component))
        assert got.status_code == 200
        assert got.json()["lab_result"]["id"] == lab.pk
        assert got.json()["status"] == "normal"
        # A derived status follows the new value …
        updated = alice_api.put(component_url(component), {"value": 30}, format="json")
        assert updated.status_code == 200, updated.content
        assert updated.json()["status"] == "high"
        # … a status set by hand stays.
        alice_api.patch(component_url(component), {"status": "critical"}, format="json")
        updated = alice_api.put(component_url(component), {"value": 5}, format="json")
        assert updated.json()["status"] == "critical"
        cleared = alice_api.put(component_url(component), {"status": None}, format="json")
        assert cleared.json()["status"] == "critical"
        rederived = alice_api.put(component_url(component), {"status": ""}, format="json")
        assert rederived.json()["status"] == "normal"
        deleted = alice_api.delete(component_url(component))
        assert deleted.status_code == 204 and not deleted.content
        assert not LabTestComponent.objects.exists()

    def test_update_is_validated_against_the_stored_fields(self, alice_api, lab, patient):
        component = LabTestComponentFactory(patient=patient, lab_result=lab)
        response = alice_api.put(component_url(component), {"ref_range_min": 20}, format="json")
        assert response.status_code == 422 and "ref_range_max" in response.json()["errors"]

    def test_moving_to_another_patients_lab_result_is_400(self, alice_api, lab, patient, alice):
        component = LabTestComponentFactory(patient=patient, lab_result=lab)
        elsewhere = LabResultFactory(patient=PatientFactory(owner=alice))
        response = alice_api.put(
            component_url(component), {"lab_result_id": elsewhere.pk}, format="json"
        )
        assert response.status_code == 400
        component.refresh_from_db()
        assert component.lab_result_id == lab.pk

    def test_missing_is_404(self, alice_api, patient):
        assert alice_api.get(f"{BASE}/components/999999").status_code == 404


class TestBulk:
    def test_valid_rows_are_created_and_invalid_ones_reported(self, alice_api, lab, patient):
        rows = [
            wbc(display_order=1),
            wbc(test_name="Hemoglobin", value="high"),
            wbc(test_name="Platelets", value=300, ref_range_min=150, ref_range_max=400),
            "junk",
        ]
        response = alice_api.post(
            f"{components_url(lab)}/bulk",
            {"lab_result_id": 999, "components": rows},
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["created_count"] == 2
        assert [c["test_name"] for c in body["components"]] == [
            "White Blood Cell Count",
            "Platelets",
        ]
        assert {c["lab_result_id"] for c in body["components"]} == {lab.pk}
        assert [e["index"] for e in body["errors"]] == [1, 3]
        assert body["errors"][0]["test_name"] == "Hemoglobin"
        assert "value" in body["errors"][0]["errors"]
        assert LabTestComponent.objects.filter(lab_result=lab, patient=patient).count() == 2

    def test_no_valid_row_is_422(self, alice_api, lab):
        response = alice_api.post(
            f"{components_url(lab)}/bulk",
            {"components": [wbc(unit=""), wbc(value="x")]},
            format="json",
        )
        assert response.status_code == 422
        assert set(response.json()["errors"]) == {"components[0].unit", "components[1].value"}
        assert not LabTestComponent.objects.exists()

    @pytest.mark.parametrize("components", [[], None, "x", [wbc()] * 101])
    def test_empty_junk_or_too_many_is_422(self, alice_api, lab, components):
        response = alice_api.post(
            f"{components_url(lab)}/bulk", {"components": components}, format="json"
        )
        assert response.status_code == 422
        assert not LabTestComponent.objects.exists()


class TestAccess:
    def test_view_share_reads_but_cannot_write(self, client_for, bob, shared_patient):
        lab = LabResultFactory(patient=shared_patient)
        component = LabTestComponentFactory(patient=shared_patient, lab_result=lab)
        api = client_for(bob)
        assert api.get(components_url(lab)).status_code == 200
        assert api.get(f"{BASE}/lab-result/{lab.pk}/statistics").status_code == 200
        assert api.get(component_url(component)).status_code == 200
        assert api.post(components_url(lab), wbc(), format="json").status_code == 403
        assert api.post(components_url(lab), {}, format="json").status_code == 403
        bulk = api.post(f"{components_url(lab)}/bulk", {"components": [wbc()]}, format="json")
        assert bulk.status_code == 403
        assert api.put(component_url(component), {"value": 1}, format="json").status_code == 403
        assert api.delete(component_url(component)).status_code == 403
        assert LabTestComponent.objects.get().value == 7.5

    def test_edit_share_writes(self, client_for, carol, shared_patient):
        lab = LabResultFactory(patient=shared_patient)
        api = client_for(carol)
        assert api.post(components_url(lab), wbc(), format="json").status_code == 201
        bulk = api.post(f"{components_url(lab)}/bulk", {"components": [wbc()]}, format="json")
        assert bulk.status_code == 201

    def test_stranger_gets_404(self, client_for, mallory, lab, patient):
        component = LabTestComponentFactory(patient=patient, lab_result=lab)
        api = client_for(mallory)
        assert api.get(components_url(lab)).status_code == 404
        assert api.post(components_url(lab), wbc(), format="json").status_code == 404
        bulk = api.post(f"{components_url(lab)}/bulk", {"components": [wbc()]}, format="json")
        assert bulk.status_code == 404
        assert api.get(f"{BASE}/lab-result/{lab.pk}/statistics").status_code == 404
        for method in ("get", "put", "delete"):
            assert getattr(api, method)(component_url(component)).status_code == 404
        assert LabTestComponent.objects.count() == 1

    def test_anonymous_is_401(self, anon, lab):
        assert anon.get(components_url(lab)).status_code == 401


def test_list_queries_do_not_grow(alice_api, lab, patient):
    LabTestComponentFactory.create_batch(2, patient=patient, lab_result=lab)
    alice_api.get(components_url(lab))
    with CaptureQueriesContext(connection) as few:
        alice_api.get(components_url(lab))
    LabTestComponentFactory.create_batch(10, patient=patient, lab_result=lab)
    with CaptureQueriesContext(connection) as many:
        assert len(alice_api.get(components_url(lab)).json()) == 12
    assert len(many) == len(few)


def test_textual_result_as_the_app_sends_it(alice_api, lab):
    body = {
        "test_name": "Urine appearance",
        "result_type": "textual",
        "textual_value": "Clear, straw-coloured",
        "value": None,
        "unit": None,
        "qualitative_value": None,
        "ref_range_min": None,
        "ref_range_max": None,
        "status": None,
    }
    response = alice_api.post(components_url(lab), body, format="json")
    assert response.status_code == 201, response.content
    got = response.json()
    assert (got["result_type"], got["textual_value"], got["status"]) == (
        "textual",
        "Clear, straw-coloured",
        "",
    )
