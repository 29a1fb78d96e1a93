"""/family-members: fields, birth and death rules, dropdown and search."""

from datetime import date

import pytest

from records.models import FamilyCondition, FamilyMember
from records.tests.factories import FamilyConditionFactory, FamilyMemberFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/family-members"

SPEC_BODY = {
    "name": "John Doe Sr.",
    "relationship": "Father",
    "birth_date": "1960-05-20",
    "is_deceased": False,
    "medical_history": "Diabetes, Hypertension",
}


def create(api, **fields):
    return api.post(URL, {**SPEC_BODY, **fields}, format="json")


class TestFields:
    def test_the_contracts_example(self, alice_api, patient):
        response = create(alice_api, patient_id=patient.pk)
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["relationship"] == "father"
        assert body["birth_date"] == "1960-05-20" and body["birth_year"] == 1960
        assert body["medical_history"] == "Diabetes, Hypertension"
        assert body["is_deceased"] is False and body["death_age"] is None
        assert body["family_conditions"] == []

    @pytest.mark.parametrize(
        ("sent", "stored"),
        [
            ("Paternal Grandfather", "paternal_grandfather"),
            ("maternal-grandmother", "maternal_grandmother"),
            ("AUNT", "aunt"),
            ("other", "other"),
        ],
    )
    def test_relationship_in_any_spelling(self, alice_api, patient, sent, stored):
        response = create(alice_api, relationship=sent)
        assert response.status_code == 201, response.content
        assert response.json()["relationship"] == stored

    @pytest.mark.parametrize(
        ("sent", "stored"), [("M", "male"), ("Female", "female"), ("u", "unknown"), (None, "")]
    )
    def test_gender(self, alice_api, patient, sent, stored):
        response = create(alice_api, gender=sent)
        assert response.status_code == 201, response.content
        assert response.json()["gender"] == stored

    def test_death_year_marks_deceased(self, alice_api, patient):
        body = {"name": "Grandpa", "relationship": "paternal_grandfather", "birth_year": 1920}
        response = alice_api.post(URL, {**body, "death_year": 1990}, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["is_deceased"] is True
        assert response.json()["death_age"] == 70

    def test_death_age_from_dates(self, alice_api, patient):
        response = create(
            alice_api, birth_date="1930-06-10", death_date="2000-06-09", is_deceased=True
        )
        assert response.status_code == 201, response.content
        assert response.json()["death_year"] == 2000 and response.json()["death_age"] == 69

    def test_put_applies_only_the_fields_sent(self, alice_api, patient):
        member = FamilyMemberFactory(patient=patient, name="Ann", relationship="mother")
        response = alice_api.put(
            f"{URL}/{member.pk}", {"notes": "Lives abroad", "relationship": "Aunt"}, format="json"
        )
        assert response.status_code == 200, response.content
        member.refresh_from_db()
        assert (member.name, member.relationship, member.notes) == ("Ann", "aunt", "Lives abroad")

    def test_a_new_year_replaces_the_date_it_contradicts(self, alice_api, patient):
        member = FamilyMemberFactory(patient=patient, birth_date=date(1960, 5, 20))
        response = alice_api.put(f"{URL}/{member.pk}", {"birth_year": 1961}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["birth_date"] is None and response.json()["birth_year"] == 1961

    def test_detail_and_list_carry_the_conditions(self, alice_api, patient):
        member = FamilyMemberFactory(patient=patient)
        condition = FamilyConditionFactory(patient=patient, family_member=member)
        detail = alice_api.get(f"{URL}/{member.pk}").json()
        assert [c["id"] for c in detail["family_conditions"]] == [condition.pk]
        assert detail["family_conditions"][0]["family_member_id"] == member.pk
        assert detail["family_conditions"][0]["condition_name"] == condition.condition_name
        listed = alice_api.get(URL).json()
        assert [c["id"] for c in listed[0]["family_conditions"]] == [condition.pk]

    def test_delete_answers_with_a_message_and_takes_the_conditions(self, alice_api, patient):
        member = FamilyMemberFactory(patient=patient)
        FamilyConditionFactory.create_batch(2, patient=patient, family_member=member)
        response = alice_api.delete(f"{URL}/{member.pk}")
        assert response.status_code == 200
        assert response.json() == {"message": "Family Member deleted successfully"}
        assert not FamilyMember.objects.exists() and not FamilyCondition.objects.exists()


class TestValidation:
    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"name": ""}, "name"),
            ({"name": None}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"relationship": "neighbour"}, "relationship"),
            ({"relationship": None}, "relationship"),
            ({"gender": "robot"}, "gender"),
            ({"birth_date": "2999-01-01"}, "birth_date"),
            ({"birth_date": "1960-02-30"}, "birth_date"),
            ({"birth_year": 1899}, "birth_year"),
            ({"birth_year": 2999, "birth_date": None}, "birth_year"),
            ({"birth_year": 10**30}, "birth_year"),
            ({"birth_year": "old"}, "birth_year"),
            ({"birth_year": 1961}, "birth_year"),  # the date says 1960
            ({"death_year": 1950, "is_deceased": True}, "death_year"),  # before birth
            ({"death_date": "1950-01-01", "is_deceased": True}, "death_date"),
            ({"death_year": 2000, "is_deceased": False}, "is_deceased"),
            ({"medical_history": "x" * 2001}, "medical_history"),
            ({"notes": "x" * 1001}, "notes"),
            ({"is_deceased": "perhaps"}, "is_deceased"),
        ],
    )
    def test_bad_values_are_422_with_the_field(self, alice_api, patient, fields, field):
        response = create(alice_api, **fields)
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not FamilyMember.objects.exists()

    @pytest.mark.parametrize("missing", ["name", "relationship"])
    def test_required_fields(self, alice_api, patient, missing):
        body = {k: v for k, v in SPEC_BODY.items() if k != missing}
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 422 and missing in response.json()["errors"]

    def test_undeceased_with_death_data_is_422(self, alice_api, patient):
        member = FamilyMemberFactory(
            patient=patient, birth_year=1930, is_deceased=True, death_year=1999
        )
        response = alice_api.put(f"{URL}/{member.pk}", {"is_deceased": False}, format="json")
        assert response.status_code == 422 and "is_deceased" in response.json()["errors"]


class TestListing:
    def test_relationship_filter(self, alice_api, patient):
        father = FamilyMemberFactory(patient=patient, relationship="father")
        FamilyMemberFactory(patient=patient, relationship="mother")
        for value in ("father", "Father"):
            listed = alice_api.get(URL, {"relationship": value}).json()
            assert [m["id"] for m in listed] == [father.pk]

    def test_dropdown(self, alice_api, patient):
        zed = FamilyMemberFactory(patient=patient, name="Zed", relationship="uncle")
        amy = FamilyMemberFactory(patient=patient, name="Amy", relationship="aunt")
        FamilyMemberFactory(name="Someone else's")
        response = alice_api.get(f"{URL}/dropdown")
        assert response.status_code == 200
        assert response.json() == [
            {"id": amy.pk, "name": "Amy", "relationship": "aunt"},
            {"id": zed.pk, "name": "Zed", "relationship": "uncle"},
        ]
        only = alice_api.get(f"{URL}/dropdown", {"relationship": "Uncle"}).json()
        assert [m["id"] for m in only] == [zed.pk]

    def test_search_by_name(self, alice_api, patient, alice):
        john = FamilyMemberFactory(patient=patient, name="John Doe Sr.")
        FamilyMemberFactory(patient=patient, name="Mary Major")
        FamilyMemberFactory(name="John Stranger")  # another user's patient
        for path in (f"{URL}/search/", f"{URL}/search"):
            response = alice_api.get(path, {"name": "joh"})
            assert response.status_code == 200, response.content
            assert [m["id"] for m in response.json()] == [john.pk]
            assert "family_conditions" in response.json()[0]

    @pytest.mark.parametrize("params", [{}, {"name": "J"}, {"name": " "}, {"name": "x" * 101}])
    def test_search_needs_two_characters(self, alice_api, patient, params):
        response = alice_api.get(f"{URL}/search/", params)
        assert response.status_code == 422
        assert "name" in response.json()["errors"]

    def test_extra_paths_access(self, client_for, bob, mallory, shared_patient):
        FamilyMemberFactory(patient=shared_patient, name="John")
        params = {"patient_id": shared_patient.pk}
        viewer = client_for(bob)
        assert len(viewer.get(f"{URL}/dropdown", params).json()) == 1
        assert len(viewer.get(f"{URL}/search/", {**params, "name": "jo"}).json()) == 1
        stranger = client_for(mallory)
        assert stranger.get(f"{URL}/dropdown", params).status_code == 403
        assert stranger.get(f"{URL}/search/", {**params, "name": "jo"}).status_code == 403
