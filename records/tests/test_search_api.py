"""GET /search: both response forms (spec "Search", web-client-api.md §11) over one query —
what it finds (notes, codes, accents, prefixes, inside words), whose records, the ranking,
filters, sorts, pages, errors and its query count."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from records.tests.factories import (
    AllergyFactory,
    ConditionFactory,
    EmergencyContactFactory,
    LabResultFactory,
    MedicationFactory,
    VitalsFactory,
)

pytestmark = pytest.mark.django_db

URL = "/api/v1/search/"


def spec_search(api, **params):
    """The contract's form: {results: [{type, id, name, patient_id}], total}."""
    response = api.get(URL, params)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"results", "total"}
    return body


def found(api, q, **params):
    return [(row["type"], row["id"]) for row in spec_search(api, q=q, **params)["results"]]


def app_search(api, **params):
    """The web app's form: results grouped per type, total_count, pagination."""
    response = api.get(URL, {"skip": 0, **params})
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"results", "total_count", "pagination"}
    return body


def ids(group) -> list[int]:
    return [item["id"] for item in group["items"]]


class TestWhatItFinds:
    def test_a_word_in_the_notes(self, alice_api, patient):
        medication = MedicationFactory(patient=patient, notes="Take with breakfast")
        MedicationFactory(patient=patient, notes="At bedtime")
        assert found(alice_api, "breakfast") == [("medication", medication.pk)]

    @pytest.mark.parametrize("typed", ["E11.9", "e11.9", "E11", "e1"])
    def test_a_code(self, alice_api, patient, typed):
        diabetes = ConditionFactory(patient=patient, condition_name="Diabetes", icd10_code="E11.9")
        ConditionFactory(patient=patient, condition_name="Asthma", icd10_code="J45.909")
        assert found(alice_api, typed) == [("condition", diabetes.pk)]

    def test_a_short_code(self, alice_api, patient):
        hypertension = ConditionFactory(patient=patient, icd10_code="I10")
        ConditionFactory(patient=patient, icd10_code="J45")
        assert found(alice_api, "I10") == [("condition", hypertension.pk)]
        assert found(alice_api, "i1") == [("condition", hypertension.pk)]

    @pytest.mark.parametrize("typed", ["cafe", "CAFÉ", "café au", "Cafe AU LAIT spots"])
    def test_accents_typed_or_not(self, alice_api, patient, typed):
        spots = ConditionFactory(patient=patient, condition_name="Café au lait spots")
        assert found(alice_api, typed) == [("condition", spots.pk)]

    def test_an_accent_typed_finds_the_plain_spelling(self, alice_api, patient):
        zoe = EmergencyContactFactory(patient=patient, name="Zoe")
        EmergencyContactFactory(patient=patient, name="Zola")
        assert found(alice_api, "Zoë") == [("emergency_contact", zoe.pk)]

    def test_the_start_of_a_word_and_inside_one(self, alice_api, patient):
        aspirin = MedicationFactory(patient=patient, medication_name="Aspirin")
        statin = MedicationFactory(patient=patient, medication_name="Atorvastatin")
        assert found(alice_api, "asp") == [("medication", aspirin.pk)]
        assert found(alice_api, "statin") == [("medication", statin.pk)]
        assert found(alice_api, "as") == [("medication", aspirin.pk)]  # short: starts only

    def test_every_word_must_match(self, alice_api, patient):
        both = MedicationFactory(patient=patient, medication_name="Aspirin", notes="for the heart")
        MedicationFactory(patient=patient, medication_name="Aspirin", notes="for headaches")
        assert found(alice_api, "aspirin heart") == [("medication", both.pk)]

    def test_tags(self, alice_api, patient):
        tagged = AllergyFactory(patient=patient, tags=["seasonal"])
        AllergyFactory(patient=patient)
        assert found(alice_api, "seasonal") == [("allergy", tagged.pk)]

    def test_across_types(self, alice_api, patient):
        lab = LabResultFactory(patient=patient, test_name="Lipid panel", notes="fasting")
        medication = MedicationFactory(patient=patient, medication_name="Lipitor")
        assert set(found(alice_api, "lip")) == {
            ("lab_result", lab.pk),
            ("medication", medication.pk),
        }

    def test_nothing_found(self, alice_api, patient):
        MedicationFactory(patient=patient)
        assert spec_search(alice_api, q="zzzz") == {"results": [], "total": 0}

    def test_a_query_of_punctuation_only_finds_nothing(self, alice_api, patient):
        MedicationFactory(patient=patient)
        assert spec_search(alice_api, q="%_*") == {"results": [], "total": 0}


class TestWhoseRecords:
    def test_never_another_users_records(self, client_for, alice, mallory, patient):
        MedicationFactory(patient=patient, medication_name="Aspirin")
        own = MedicationFactory(patient=PatientFactory(owner=mallory), medication_name="Aspirin")
        assert found(client_for(mallory), "aspirin") == [("medication", own.pk)]
        body = app_search(client_for(mallory), q="aspirin")
        assert ids(body["results"]["medications"]) == [own.pk]

    def test_a_strangers_patient_is_403(self, client_for, mallory, patient):
        MedicationFactory(patient=patient, medication_name="Aspirin")
        response = client_for(mallory).get(URL, {"q": "aspirin", "patient_id": patient.pk})
        assert response.status_code == 403
        assert response.json()["status"] == "error"
        response = client_for(mallory).get(URL, {"patient_id": patient.pk, "skip": 0})
        assert response.status_code == 403

    def test_an_unknown_patient_is_404(self, alice_api, patient):
        assert alice_api.get(URL, {"q": "x", "patient_id": 999_999}).status_code == 404

    def test_without_patient_id_every_visible_patient(self, alice_api, alice, patient):
        other = PatientFactory(owner=alice)
        mine = [
            MedicationFactory(patient=patient, medication_name="Aspirin"),
            MedicationFactory(patient=other, medication_name="Aspirin"),
        ]
        MedicationFactory(patient=PatientFactory(), medication_name="Aspirin")
        assert {pk for _, pk in found(alice_api, "aspirin")} == {m.pk for m in mine}
        narrowed = found(alice_api, "aspirin", patient_id=other.pk)
        assert narrowed == [("medication", mine[1].pk)]

    def test_a_view_share_sees_the_shared_patients_records(self, client_for, bob, shared_patient):
        medication = MedicationFactory(patient=shared_patient, medication_name="Aspirin")
        bob_api = client_for(bob)
        assert found(bob_api, "aspirin") == [("medication", medication.pk)]
        body = app_search(bob_api, q="aspirin", patient_id=shared_patient.pk)
        assert ids(body["results"]["medications"]) == [medication.pk]

    def test_anonymous_is_401(self, anon):
        assert anon.get(URL, {"q": "aspirin"}).status_code == 401


class TestRanking:
    def test_the_name_first_then_its_start_then_the_rest(self, alice_api, patient):
        in_notes = MedicationFactory(
            patient=patient,
            medication_name="Ibuprofen",
            notes="instead of aspirin",
            effective_period_start=dt.date(2025, 3, 1),
        )
        prefix = MedicationFactory(
            patient=patient,
            medication_name="Aspirin 100mg",
            effective_period_start=dt.date(2024, 1, 1),
        )
        exact = MedicationFactory(
            patient=patient, medication_name="Aspirin", effective_period_start=dt.date(2020, 1, 1)
        )
        expected = [exact.pk, prefix.pk, in_notes.pk]
        assert [pk for _, pk in found(alice_api, "aspirin")] == expected
        group = app_search(alice_api, q="Aspirin", sort="relevance")["results"]["medications"]
        assert ids(group) == expected
        scores = [item["score"] for item in group["items"]]
        assert scores == sorted(scores, reverse=True) and scores[0] > scores[2]

    def test_the_rest_newest_first(self, alice_api, patient):
        old = ConditionFactory(patient=patient, notes="knee", diagnosed_date=dt.date(2020, 1, 1))
        new = ConditionFactory(patient=patient, notes="knee", diagnosed_date=dt.date(2024, 1, 1))
        assert [pk for _, pk in found(alice_api, "knee")] == [new.pk, old.pk]


def dated(patient):
    """Three conditions with dates and one without."""
    return [
        ConditionFactory(
            patient=patient, condition_name="Beta", diagnosed_date=dt.date(2021, 5, 1)
        ),
        ConditionFactory(
            patient=patient, condition_name="alpha", diagnosed_date=dt.date(2023, 5, 1)
        ),
        ConditionFactory(
            patient=patient, condition_name="Gamma", diagnosed_date=dt.date(2022, 5, 1)
        ),
        ConditionFactory(patient=patient, condition_name="Delta", diagnosed_date=None),
    ]


class TestWebAppForm:
    def test_groups_counts_items_and_pagination(self, alice_api, patient):
        medications = MedicationFactory.create_batch(3, patient=patient, notes="daily")
        condition = ConditionFactory(patient=patient, notes="daily checks", tags=["chronic"])
        VitalsFactory(patient=patient, notes="weekly")
        body = app_search(alice_api, q="daily", limit=2)
        assert body["total_count"] == 4
        assert body["pagination"] == {"skip": 0, "limit": 2, "has_more": True}
        groups = body["results"]
        assert groups["medications"]["count"] == 3 and len(groups["medications"]["items"]) == 2
        assert groups["vitals"] == {"count": 0, "items": []}
        item = groups["conditions"]["items"][0]
        assert item["id"] == condition.pk and item["type"] == "condition"
        assert item["tags"] == ["chronic"] and item["created_at"]
        assert item["condition_name"] == condition.condition_name
        assert item["highlight"] == "daily checks" and isinstance(item["score"], float)
        rest = app_search(alice_api, q="daily", limit=2, skip=2)
        assert ids(rest["results"]["medications"]) == [
            m.pk for m in medications if m.pk not in ids(groups["medications"])
        ]
        assert rest["pagination"]["has_more"] is False

    def test_items_carry_the_names_the_web_app_reads(self, alice_api, patient):
        MedicationFactory(patient=patient, effective_period_start=dt.date(2024, 2, 3))
        AllergyFactory(patient=patient, onset_date=dt.date(2020, 1, 2))
        groups = app_search(alice_api, types="medications,allergies")["results"]
        assert groups["medications"]["items"][0]["start_date"] == "2024-02-03"
        assert groups["allergies"]["items"][0]["identified_date"] == "2020-01-02"

    def test_without_q_everything_is_listed(self, alice_api, patient):
        MedicationFactory.create_batch(2, patient=patient)
        VitalsFactory(patient=patient)
        body = app_search(alice_api, patient_id=patient.pk)
        assert body["total_count"] == 3
        assert body["results"]["vitals"]["count"] == 1

    @pytest.mark.parametrize(
        "types",
        [
            {"types": ["conditions", "vitals"]},
            {"types": "conditions,vitals"},
            {"types[]": ["conditions", "vitals"]},
        ],
    )
    def test_types(self, alice_api, patient, types):
        MedicationFactory(patient=patient)
        ConditionFactory(patient=patient)
        VitalsFactory(patient=patient)
        body = app_search(alice_api, **types)
        assert set(body["results"]) == {"conditions", "vitals"}
        assert body["total_count"] == 2

    def test_an_unknown_type_is_422(self, alice_api, patient):
        response = alice_api.get(URL, {"types": "medications,spaceships"})
        assert response.status_code == 422
        assert "spaceships" in response.json()["error"]

    def test_dates(self, alice_api, patient):
        beta, alpha, gamma, _ = dated(patient)
        body = app_search(alice_api, date_from="2022-01-01", date_to="2023-12-31")
        assert sorted(ids(body["results"]["conditions"])) == sorted([alpha.pk, gamma.pk])
        body = app_search(alice_api, date_to="2021-12-31")
        assert ids(body["results"]["conditions"]) == [beta.pk]

    @pytest.mark.parametrize(
        "params",
        [
            {"date_from": "2024-13-01"},
            {"date_to": "yesterday"},
            {"date_from": "2024-02-01", "date_to": "2024-01-01"},
        ],
    )
    def test_bad_dates_are_422(self, alice_api, patient, params):
        response = alice_api.get(URL, {"skip": 0, **params})
        assert response.status_code == 422
        assert response.json()["error_code"] == "VAL-422"

    @pytest.mark.parametrize(
        ("sort", "order"),
        [
            ("date_desc", ["alpha", "Gamma", "Beta", "Delta"]),
            ("date_asc", ["Beta", "Gamma", "alpha", "Delta"]),
            ("title", ["alpha", "Beta", "Delta", "Gamma"]),
            ("title_desc", ["Gamma", "Delta", "Beta", "alpha"]),
            ("relevance", ["alpha", "Gamma", "Beta", "Delta"]),
        ],
    )
    def test_sorts(self, alice_api, patient, sort, order):
        dated(patient)
        group = app_search(alice_api, sort=sort)["results"]["conditions"]
        assert [item["condition_name"] for item in group["items"]] == order

    def test_an_unknown_sort_is_422(self, alice_api, patient):
        assert alice_api.get(URL, {"sort": "random"}).status_code == 422

    def test_a_limit_above_the_maximum_reads_as_the_maximum(self, alice_api, patient):
        assert app_search(alice_api, limit=500)["pagination"]["limit"] == 100


class TestSpecForm:
    def test_shape(self, alice_api, patient):
        medication = MedicationFactory(patient=patient, medication_name="Aspirin 100mg")
        assert spec_search(alice_api, q="aspirin") == {
            "results": [
                {
                    "type": "medication",
                    "id": medication.pk,
                    "name": "Aspirin 100mg",
                    "patient_id": patient.pk,
                }
            ],
            "total": 1,
        }

    @pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "   "}, {"type": "medication"}])
    def test_q_is_required(self, alice_api, patient, params):
        response = alice_api.get(URL, params)
        assert response.status_code == 422
        assert response.json()["errors"] == {"q": ["Give the words to search for."]}

    @pytest.mark.parametrize("type_name", ["condition", "conditions"])
    def test_type_by_name_or_plural(self, alice_api, patient, type_name):
        MedicationFactory(patient=patient, notes="knee")
        condition = ConditionFactory(patient=patient, notes="knee")
        assert found(alice_api, "knee", type=type_name) == [("condition", condition.pk)]

    def test_total_counts_beyond_the_limit(self, alice_api, patient):
        MedicationFactory.create_batch(3, patient=patient, notes="knee")
        body = spec_search(alice_api, q="knee", limit=2)
        assert body["total"] == 3 and len(body["results"]) == 2

    def test_a_record_without_a_name_is_named_by_its_type_and_date(self, alice_api, patient):
        VitalsFactory(patient=patient, notes="", device_used="Omron cuff")
        [row] = spec_search(alice_api, q="omron")["results"]
        assert row["name"].startswith("Vitals")


class TestIndexFollowsTheRecords:
    def test_create_update_delete_through_the_api(self, alice_api, patient):
        response = alice_api.post(
            "/api/v1/medications/",
            {"medication_name": "Metformin", "patient_id": patient.pk},
            format="json",
        )
        assert response.status_code == 201, response.content
        pk = response.json()["id"]
        assert found(alice_api, "metformin") == [("medication", pk)]
        alice_api.patch(f"/api/v1/medications/{pk}", {"tags": ["diabetes"]}, format="json")
        assert found(alice_api, "diabetes") == [("medication", pk)]
        alice_api.patch(f"/api/v1/medications/{pk}", {"tags": []}, format="json")
        assert found(alice_api, "diabetes") == []
        alice_api.delete(f"/api/v1/medications/{pk}")
        assert found(alice_api, "metformin") == []

    def test_a_deleted_patient_is_not_found(self, alice_api, alice, patient):
        other = PatientFactory(owner=alice)
        MedicationFactory(patient=other, medication_name="Aspirin")
        other.delete()
        assert found(alice_api, "aspirin") == []


class TestQueries:
    @pytest.mark.parametrize(
        "params", [{"q": "daily"}, {"q": "daily", "skip": 0}, {"skip": 0, "patient_id": None}]
    )
    def test_the_count_does_not_grow_with_results(self, alice_api, patient, params):
        params = {k: (patient.pk if v is None else v) for k, v in params.items()}

        def make(n):
            MedicationFactory.create_batch(n, patient=patient, notes="daily")
            ConditionFactory.create_batch(n, patient=patient, notes="daily")

        make(2)
        alice_api.get(URL, params)  # warm per-process caches
        with CaptureQueriesContext(connection) as few:
            assert alice_api.get(URL, params).status_code == 200
        make(8)
        with CaptureQueriesContext(connection) as many:
            response = alice_api.get(URL, params)
        body = response.json()
        assert body.get("total", body.get("total_count")) == 20
        assert len(many) == len(few)


def test_searches_are_throttled_in_their_own_scope(alice_api, patient, settings):
    settings.API_RATES = {**settings.API_RATES, "search": "2/min"}
    for _ in range(2):
        assert alice_api.get(URL, {"q": "aspirin"}).status_code == 200
    response = alice_api.get(URL, {"q": "aspirin"})
    assert response.status_code == 429 and response.headers["Retry-After"]
    assert alice_api.get("/api/v1/medications/").status_code == 200  # other scopes unaffected
