"""Family conditions: the contract's nested path /family-members/{id}/conditions[/{id}] (the
top-level /family-conditions is covered by the contract test) and their fields."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from patients.models import PatientShare
from patients.tests.factories import PatientFactory
from records.models import FamilyCondition
from records.tests.factories import FamilyConditionFactory, FamilyMemberFactory

pytestmark = pytest.mark.django_db

BODY = {"condition_name": "Hypertension", "diagnosis_age": 45, "notes": "Started medication at 50"}


@pytest.fixture
def member(patient):
    return FamilyMemberFactory(patient=patient, name="John Doe Sr.")


def conditions_url(member, condition=None):
    return f"/api/v1/family-members/{member.pk}/conditions" + (
        f"/{condition.pk}" if condition else ""
    )


class TestNestedPath:
    def test_lists_only_the_members_conditions(self, alice_api, patient, member):
        mine = FamilyConditionFactory.create_batch(2, patient=patient, family_member=member)
        FamilyConditionFactory(patient=patient)  # another member of the same patient
        response = alice_api.get(conditions_url(member))
        assert response.status_code == 200
        body = response.json()
        assert sorted(c["id"] for c in body) == sorted(c.pk for c in mine)
        assert {c["family_member_id"] for c in body} == {member.pk}
        assert alice_api.get(f"{conditions_url(member)}/").status_code == 200

    def test_create_takes_the_member_from_the_path(self, alice_api, patient, member):
        other = FamilyMemberFactory(patient=patient)
        response = alice_api.post(
            conditions_url(member), {**BODY, "family_member_id": other.pk}, format="json"
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["family_member_id"] == member.pk and body["patient_id"] == patient.pk
        assert body["condition_name"] == "Hypertension" and body["diagnosis_age"] == 45
        created = FamilyCondition.objects.get(pk=body["id"])
        assert created.family_member == member and created.patient == patient

    def test_create_for_a_member_of_another_own_patient(self, alice_api, alice, patient):
        second = PatientFactory(owner=alice)
        member = FamilyMemberFactory(patient=second)
        response = alice_api.post(conditions_url(member), BODY, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["patient_id"] == second.pk
        clash = alice_api.post(
            conditions_url(member), {**BODY, "patient_id": patient.pk}, format="json"
        )
        assert clash.status_code == 400  # the member is not that patient's

    def test_read_update_delete(self, alice_api, patient, member):
        condition = FamilyConditionFactory(patient=patient, family_member=member)
        other = FamilyMemberFactory(patient=patient)
        assert alice_api.get(conditions_url(member, condition)).json()["id"] == condition.pk
        response = alice_api.put(
            conditions_url(member, condition),
            {"status": "Chronic", "severity": "severe", "family_member_id": other.pk},
            format="json",
        )
        assert response.status_code == 200, response.content
        condition.refresh_from_db()
        assert (condition.status, condition.severity) == ("chronic", "severe")
        assert condition.family_member == member  # the path fixes the member
        deleted = alice_api.delete(conditions_url(member, condition))
        assert deleted.status_code == 200
        assert deleted.json() == {"message": "Family Condition deleted successfully"}
        assert not FamilyCondition.objects.exists()

    def test_another_members_condition_is_404(self, alice_api, patient, member):
        elsewhere = FamilyConditionFactory(patient=patient)
        url = conditions_url(member, elsewhere)
        assert alice_api.get(url).status_code == 404
        assert alice_api.put(url, {"status": "resolved"}, format="json").status_code == 404
        assert alice_api.delete(url).status_code == 404
        elsewhere.refresh_from_db()
        assert elsewhere.status == ""

    def test_unknown_member_is_404(self, alice_api, patient):
        assert alice_api.get("/api/v1/family-members/999999/conditions").status_code == 404
        response = alice_api.post("/api/v1/family-members/999999/conditions", BODY, format="json")
        assert response.status_code == 404
        # A bad body under a missing parent is still "not found", not a validation error.
        bad = alice_api.post(
            "/api/v1/family-members/999999/conditions", {"condition_name": ""}, format="json"
        )
        assert bad.status_code == 404

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"condition_name": "x"}, "condition_name"),
            ({"condition_name": None}, "condition_name"),
            ({"condition_name": "x" * 201}, "condition_name"),
            ({"diagnosis_age": 121}, "diagnosis_age"),
            ({"diagnosis_age": -1}, "diagnosis_age"),
            ({"diagnosis_age": 10**30}, "diagnosis_age"),
            ({"diagnosis_age": "young"}, "diagnosis_age"),
            ({"condition_type": "rare"}, "condition_type"),
            ({"severity": "critical"}, "severity"),
            ({"status": "inactive"}, "status"),
            ({"icd10_code": "x" * 11}, "icd10_code"),
            ({"notes": "x" * 1001}, "notes"),
        ],
    )
    def test_bad_input_is_422(self, alice_api, patient, member, fields, field):
        response = alice_api.post(conditions_url(member), {**BODY, **fields}, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]
        assert not FamilyCondition.objects.exists()

    def test_choices_in_any_letter_case(self, alice_api, patient, member):
        response = alice_api.post(
            conditions_url(member),
            {
                **BODY,
                "condition_type": "Mental Health",
                "severity": "Life-Threatening",
                "status": "ACTIVE",
                "icd10_code": " i10 ",
            },
            format="json",
        )
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["condition_type"] == "mental_health"
        assert (body["severity"], body["status"], body["icd10_code"]) == (
            "life-threatening",
            "active",
            "I10",
        )

    def test_list_queries_do_not_grow_with_rows(self, alice_api, patient, member):
        FamilyConditionFactory.create_batch(2, patient=patient, family_member=member)
        alice_api.get(conditions_url(member))
        with CaptureQueriesContext(connection) as few:
            assert len(alice_api.get(conditions_url(member)).json()) == 2
        FamilyConditionFactory.create_batch(10, patient=patient, family_member=member)
        with CaptureQueriesContext(connection) as many:
            assert len(alice_api.get(conditions_url(member)).json()) == 12
        assert len(many) == len(few)

    def test_patient_paths_are_not_nested(self, alice_api, patient, member):
        url = f"{conditions_url(member)}/patient/{patient.pk}"
        assert alice_api.get(url).status_code == 404


class TestNestedAccess:
    def test_view_share_reads_but_cannot_write(self, client_for, bob, shared_patient):
        member = FamilyMemberFactory(patient=shared_patient)
        condition = FamilyConditionFactory(patient=shared_patient, family_member=member)
        api = client_for(bob)
        assert [c["id"] for c in api.get(conditions_url(member)).json()] == [condition.pk]
        assert api.get(conditions_url(member, condition)).status_code == 200
        assert api.post(conditions_url(member), BODY, format="json").status_code == 403
        url = conditions_url(member, condition)
        assert api.put(url, {"status": "resolved"}, format="json").status_code == 403
        assert api.delete(url).status_code == 403
        condition.refresh_from_db()
        assert FamilyCondition.objects.count() == 1 and condition.status == ""

    @pytest.mark.parametrize("persona", ["carol", "dave"])
    def test_edit_and_full_shares_write(self, client_for, shared_patient, persona, request):
        member = FamilyMemberFactory(patient=shared_patient)
        api = client_for(request.getfixturevalue(persona))
        created = api.post(conditions_url(member), BODY, format="json")
        assert created.status_code == 201, created.content
        condition = FamilyCondition.objects.get(pk=created.json()["id"])
        url = conditions_url(member, condition)
        assert api.put(url, {"status": "resolved"}, format="json").status_code == 200
        assert api.delete(url).status_code == 200

    @pytest.mark.parametrize("persona", ["mallory", "admin_user"])
    def test_strangers_and_admins_get_404(self, client_for, patient, member, persona, request):
        condition = FamilyConditionFactory(patient=patient, family_member=member)
        api = client_for(request.getfixturevalue(persona))
        assert api.get(conditions_url(member)).status_code == 404
        assert api.post(conditions_url(member), BODY, format="json").status_code == 404
        url = conditions_url(member, condition)
        for method in ("get", "put", "delete"):
            assert getattr(api, method)(url, {}, format="json").status_code == 404
        assert FamilyCondition.objects.filter(pk=condition.pk).exists()

    def test_expired_share_gives_nothing(self, client_for, bob, shared_patient):
        member = FamilyMemberFactory(patient=shared_patient)
        PatientShare.objects.filter(grantee=bob).update(
            expires_at=timezone.now() - timedelta(seconds=1)
        )
        assert client_for(bob).get(conditions_url(member)).status_code == 404

    def test_anonymous_is_401(self, anon, member):
        assert anon.get(conditions_url(member)).status_code == 401


class TestTopLevel:
    def test_family_member_id_is_required(self, alice_api, patient):
        response = alice_api.post("/api/v1/family-conditions", BODY, format="json")
        assert response.status_code == 422
        assert "family_member_id" in response.json()["errors"]

    def test_filter_by_family_member(self, alice_api, patient, member):
        mine = FamilyConditionFactory(patient=patient, family_member=member)
        FamilyConditionFactory(patient=patient)
        listed = alice_api.get("/api/v1/family-conditions", {"family_member_id": member.pk})
        assert [c["id"] for c in listed.json()] == [mine.pk]
        assert listed.json()[0]["family_member"] == {
            "id": member.pk,
            "name": "John Doe Sr.",
            "relationship": "father",
        }

    def test_update_may_not_move_to_another_patients_member(self, alice_api, patient, alice):
        condition = FamilyConditionFactory(patient=patient)
        elsewhere = FamilyMemberFactory(patient=PatientFactory(owner=alice))
        response = alice_api.put(
            f"/api/v1/family-conditions/{condition.pk}",
            {"family_member_id": elsewhere.pk},
            format="json",
        )
        assert response.status_code == 400
        condition.refresh_from_db()
        assert condition.family_member.patient_id == patient.pk


class TestAdmin:
    def test_pages_render(self, client, admin_user, patient, member):
        condition = FamilyConditionFactory(patient=patient, family_member=member)
        client.force_login(admin_user)
        for path in (
            "/admin/records/familymember/",
            f"/admin/records/familymember/{member.pk}/change/",
            "/admin/records/familycondition/",
            f"/admin/records/familycondition/{condition.pk}/change/",
        ):
            assert client.get(path).status_code == 200, path

    def test_inline_conditions_get_the_members_patient(self, client, admin_user, member):
        client.force_login(admin_user)
        prefix = "family_conditions"
        response = client.post(
            f"/admin/records/familymember/{member.pk}/change/",
            {
                "patient": member.patient_id,
                "name": member.name,
                "relationship": member.relationship,
                "birth_year": member.birth_year,
                f"{prefix}-TOTAL_FORMS": "1",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-0-condition_name": "Gout",
                f"{prefix}-0-condition_type": "other",
            },
        )
        assert response.status_code == 302, response.content[:2000]
        added = FamilyCondition.objects.get()
        assert (added.family_member, added.patient_id) == (member, member.patient_id)
