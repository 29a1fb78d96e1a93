"""/tags/search: one patient's records by tags, grouped per entity type, each record as its
own list endpoint shows it (web-client-api.md §12, spec "Tags")."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from records.tests.test_tags import BASE, FACTORY_OF, TAGGED, record

pytestmark = pytest.mark.django_db

URL = f"{BASE}/search"


def ids(answer, kind):
    return sorted(item["id"] for item in answer[kind])


class TestSearch:
    def test_grouped_items_with_the_fields_the_app_reads(self, alice_api, patient):
        med = record("medication", patient, ["cardio", "daily"], medication_name="Aspirin")
        cond = record("condition", patient, ["cardio"], condition_name="Hypertension")
        lab = record("lab_result", patient, ["cardio"], test_name="Lipid panel")
        record("medication", patient, ["other"])
        response = alice_api.get(URL, {"tags": "Cardio"})
        assert response.status_code == 200, response.content
        answer = response.json()
        assert set(answer) == {model.kind.name for model in TAGGED}
        [med_item] = answer["medication"]
        assert med_item["id"] == med.pk and med_item["medication_name"] == "Aspirin"
        assert med_item["tags"] == ["cardio", "daily"] and med_item["type"] == "medication"
        assert "status" in med_item
        [cond_item] = answer["condition"]
        assert cond_item["id"] == cond.pk
        assert cond_item["condition_name"] == cond_item["diagnosis"] == "Hypertension"
        assert [item["test_name"] for item in answer["lab_result"]] == ["Lipid panel"]
        assert answer["lab_result"][0]["id"] == lab.pk
        assert answer["allergy"] == []

    def test_any_or_all(self, alice_api, patient):
        both = record("medication", patient, ["a", "b"])
        only_a = record("medication", patient, ["a"])
        record("medication", patient, ["c"])
        assert ids(alice_api.get(URL, {"tags": "a,b"}).json(), "medication") == sorted(
            [both.pk, only_a.pk]
        )
        for query in ("tags=a&tags=b&match_mode=all", "tags[]=a&tags[]=b&tag_match_all=true"):
            assert ids(alice_api.get(f"{URL}?{query}").json(), "medication") == [both.pk]

    def test_entity_types_and_limit(self, alice_api, patient):
        newest = [record("medication", patient, ["a"]) for _ in range(4)][-2:]
        record("condition", patient, ["a"])
        answer = alice_api.get(f"{URL}?tags=a&entity_types=medication&limit_per_entity=2").json()
        assert list(answer) == ["medication"]
        assert [item["id"] for item in answer["medication"]] == [newest[1].pk, newest[0].pk]
        capped = alice_api.get(URL, {"tags": "a", "limit_per_entity": 500}).json()
        assert len(capped["medication"]) == 4

    def test_the_active_patient_by_default_and_another_by_id(self, alice, alice_api, patient):
        other = PatientFactory(owner=alice)
        mine = record("medication", patient, ["a"])
        theirs = record("medication", other, ["a"])
        assert ids(alice_api.get(URL, {"tags": "a"}).json(), "medication") == [mine.pk]
        by_id = alice_api.get(URL, {"tags": "a", "patient_id": other.pk}).json()
        assert ids(by_id, "medication") == [theirs.pk]

    def test_a_view_share_reads(self, client_for, bob, shared_patient):
        shared = record("allergy", shared_patient, ["a"])
        answer = client_for(bob).get(URL, {"tags": "a", "patient_id": shared_patient.pk})
        assert answer.status_code == 200
        assert ids(answer.json(), "allergy") == [shared.pk]

    def test_a_strangers_patient_is_refused(self, client_for, mallory, patient):
        record("medication", patient, ["a"])
        response = client_for(mallory).get(URL, {"tags": "a", "patient_id": patient.pk})
        assert response.status_code == 403
        assert response.json()["status"] == "error"
        missing = client_for(mallory).get(URL, {"tags": "a", "patient_id": 10**9})
        assert missing.status_code == 404

    def test_no_patient_at_all(self, client_for, mallory):
        assert client_for(mallory).get(URL, {"tags": "a"}).status_code == 404

    @pytest.mark.parametrize(
        "query",
        [
            "",
            "tags=",
            "tags=,,",
            "tags=a&match_mode=some",
            "tags=a&entity_types=practice",
            "tags=a&patient_id=x",
            "tags=a&limit_per_entity=0",
            "tags=" + ",".join(f"t{n}" for n in range(51)),
        ],
    )
    def test_bad_input(self, alice_api, patient, query):
        response = alice_api.get(f"{URL}?{query}")
        assert response.status_code == 422, response.content

    def test_query_count_does_not_grow(self, alice_api, patient):
        record("medication", patient, ["a"])
        with CaptureQueriesContext(connection) as few:
            alice_api.get(URL, {"tags": "a"})
        for model in TAGGED:
            FACTORY_OF[model].create_batch(3, patient=patient, tags=["a"])
        with CaptureQueriesContext(connection) as many:
            answer = alice_api.get(URL, {"tags": "a"}).json()
        assert all(len(answer[model.kind.name]) >= 3 for model in TAGGED)
        # The user, the active patient's check, the ids of every type in one query, the
        # medications as their list endpoint reads them.
        assert len(few) == 4, [q["sql"] for q in few.captured_queries]
        # Each further type with hits adds its list endpoint's own fixed queries (one, or
        # two with a prefetch), never one per record.
        assert len(few) < len(many) <= len(few) + 2 * (len(TAGGED) - 1)
        for model in TAGGED:
            FACTORY_OF[model].create_batch(5, patient=patient, tags=["a"])
        with CaptureQueriesContext(connection) as again:
            alice_api.get(URL, {"tags": "a"})
        assert len(again) == len(many)
