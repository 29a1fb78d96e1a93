from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from patients.tests.factories import PatientFactory
from records.models import Insurance
from records.tests.factories import InsuranceFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/insurances"
BODY = {"company_name": "Aetna", "insurance_type": "medical", "effective_date": "2025-01-01"}


def primaries(patient, insurance_type="medical"):
    return list(
        Insurance.objects.filter(
            patient=patient, insurance_type=insurance_type, is_primary=True
        ).values_list("pk", flat=True)
    )


def errors_of(response) -> dict:
    assert response.status_code == 422, response.content
    return response.json()["errors"]


class TestShape:
    def test_the_contract_example_is_accepted(self, alice_api, patient):
        body = {
            "patient_id": patient.pk,
            "provider_name": "Blue Cross Blue Shield",
            "policy_number": "ABC123456",
            "group_number": "GRP789",
            "insurance_type": "primary",
            "effective_date": "2025-01-01",
            "expiration_date": "2025-12-31",
            "notes": "PPO plan",
        }
        response = alice_api.post(f"{URL}/", body, format="json")
        assert response.status_code == 201, response.content
        created = response.json()
        assert created["company_name"] == created["provider_name"] == "Blue Cross Blue Shield"
        # The rank in insurance_type means a medical plan of that rank.
        assert created["insurance_type"] == "medical" and created["is_primary"] is True
        assert (created["policy_number"], created["group_number"]) == ("ABC123456", "GRP789")
        assert created["status"] == "active" and created["notes"] == "PPO plan"
        assert created["expiration_date"] == "2025-12-31"

    def test_secondary_rank_and_explicit_is_primary(self, alice_api, patient):
        secondary = alice_api.post(URL, {**BODY, "insurance_type": "Secondary"}, format="json")
        assert secondary.json()["is_primary"] is False
        explicit = alice_api.post(
            URL, {**BODY, "insurance_type": "primary", "is_primary": False}, format="json"
        )
        assert explicit.json()["is_primary"] is False

    def test_form_encoded_bodies_work_too(self, alice_api, patient):
        response = alice_api.post(URL, {**BODY, "insurance_type": "primary"})
        assert response.status_code == 201, response.content
        assert response.json()["is_primary"] is True

    def test_company_name_and_provider_name_are_one_field(self, alice_api, patient):
        created = alice_api.post(URL, BODY, format="json").json()
        assert created["provider_name"] == "Aetna"
        updated = alice_api.put(
            f"{URL}/{created['id']}", {"provider_name": "Cigna"}, format="json"
        ).json()
        assert updated["company_name"] == updated["provider_name"] == "Cigna"

    def test_every_field_round_trips(self, alice_api, patient):
        body = {
            **BODY,
            "employer_group": "ACME",
            "member_name": "Alice Owner",
            "member_id": "M-1",
            "group_number": "G-2",
            "policy_number": "P-3",
            "plan_name": "Gold PPO",
            "policy_holder_name": "Alice Owner",
            "relationship_to_holder": "Self",
            "expiration_date": "2025-01-01",  # the same day is allowed
            "status": " Pending ",
            "coverage_details": {"copay_pcp": "25", "deductible": 500, "network": ["a", "b"]},
            "contact_info": {"phone": "+1 800 555 0100", "website": "https://example.org"},
        }
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        created = response.json()
        for name in ("employer_group", "member_id", "plan_name", "coverage_details"):
            assert created[name] == body[name]
        assert created["relationship_to_holder"] == "self"
        assert created["status"] == "pending"
        assert created["contact_info"]["website"] == "https://example.org"

    def test_nulls_and_empty_strings_of_optional_fields(self, alice_api, patient):
        body = {**BODY, "plan_name": None, "notes": None, "expiration_date": ""}
        body |= {"coverage_details": None, "relationship_to_holder": None}
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        created = response.json()
        assert created["plan_name"] == "" and created["expiration_date"] is None
        assert created["coverage_details"] is None

    def test_delete_answers_with_a_message(self, alice_api, patient):
        record = InsuranceFactory(patient=patient)
        response = alice_api.delete(f"{URL}/{record.pk}")
        assert response.json() == {"message": "Insurance deleted successfully"}
        assert not Insurance.objects.exists()


class TestValidation:
    @pytest.mark.parametrize("name", ["insurance_type", "effective_date"])
    def test_required_fields(self, alice_api, patient, name):
        body = {key: value for key, value in BODY.items() if key != name}
        assert name in errors_of(alice_api.post(URL, body, format="json"))

    def test_company_is_required_under_either_name(self, alice_api, patient):
        body = {key: value for key, value in BODY.items() if key != "company_name"}
        assert "company_name" in errors_of(alice_api.post(URL, body, format="json"))
        blank = alice_api.post(URL, {**BODY, "company_name": "   "}, format="json")
        assert "company_name" in errors_of(blank)
        assert not Insurance.objects.exists()

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"insurance_type": "life"}, "insurance_type"),
            ({"insurance_type": 7}, "insurance_type"),
            ({"status": "lapsed"}, "status"),
            ({"relationship_to_holder": "landlord"}, "relationship_to_holder"),
            ({"effective_date": "01/02/2025"}, "effective_date"),
            ({"effective_date": 20250101}, "effective_date"),
            ({"expiration_date": "2024-12-31"}, "expiration_date"),
            ({"expiration_date": "2025-02-30"}, "expiration_date"),
            ({"is_primary": "maybe"}, "is_primary"),
            ({"company_name": "x" * 256}, "company_name"),
            ({"provider_name": "x" * 256}, "provider_name"),
            ({"member_id": "9" * 101}, "member_id"),
            ({"policy_number": "9" * 101}, "policy_number"),
            ({"notes": "n" * 5001}, "notes"),
            ({"notes": {"a": 1}}, "notes"),
            ({"coverage_details": [1, 2]}, "coverage_details"),
            ({"coverage_details": "gold"}, "coverage_details"),
            ({"contact_info": 12}, "contact_info"),
            ({"contact_info": {f"k{i}": i for i in range(51)}}, "contact_info"),
            ({"contact_info": {"k" * 101: 1}}, "contact_info"),
            ({"contact_info": {"blob": "x" * 5001}}, "contact_info"),
            ({"contact_info": {"a": {"b": {"c": {"d": 1}}}}}, "contact_info"),
            ({"coverage_details": {"copay_pcp": "twenty"}}, "coverage_details"),
            ({"coverage_details": {"copay_er": -5}}, "coverage_details"),
            ({"coverage_details": {"copay_er": "1e400"}}, "coverage_details"),
        ],
    )
    def test_bad_input_is_422_naming_the_field(self, alice_api, patient, fields, field):
        response = alice_api.post(URL, {**BODY, **fields}, format="json")
        assert field in errors_of(response)
        assert not Insurance.objects.exists()

    def test_coverage_rules_depend_on_the_type(self, alice_api, patient):
        dental = {**BODY, "insurance_type": "dental"}
        bad = alice_api.post(
            URL, {**dental, "coverage_details": {"major_coverage": 150}}, format="json"
        )
        assert "coverage_details" in errors_of(bad)
        ok = alice_api.post(
            URL, {**dental, "coverage_details": {"major_coverage": "50"}}, format="json"
        )
        assert ok.status_code == 201
        rx = {**BODY, "insurance_type": "prescription"}
        long_bin = alice_api.post(
            URL, {**rx, "coverage_details": {"bin_number": "12345678901"}}, format="json"
        )
        assert "coverage_details" in errors_of(long_bin)
        # A medical plan's copay rules do not apply to other types.
        vision = alice_api.post(
            URL,
            {**BODY, "insurance_type": "vision", "coverage_details": {"copay_pcp": "n/a"}},
            format="json",
        )
        assert vision.status_code == 201

    def test_updates_are_validated_against_the_stored_record(self, alice_api, patient):
        record = InsuranceFactory(patient=patient, effective_date="2025-06-01")
        response = alice_api.put(
            f"{URL}/{record.pk}", {"expiration_date": "2025-05-31"}, format="json"
        )
        assert "expiration_date" in errors_of(response)
        record.refresh_from_db()
        assert record.expiration_date is None

    def test_the_database_refuses_an_inverted_period(self, patient):
        with pytest.raises(IntegrityError), transaction.atomic():
            InsuranceFactory(
                patient=patient, effective_date="2025-06-01", expiration_date="2025-01-01"
            )


class TestPrimary:
    def test_a_new_primary_demotes_the_previous_one_of_its_type(self, alice_api, patient):
        first = alice_api.post(URL, {**BODY, "is_primary": True}, format="json").json()
        dental = alice_api.post(
            URL, {**BODY, "insurance_type": "dental", "is_primary": True}, format="json"
        ).json()
        second = alice_api.post(URL, {**BODY, "is_primary": True}, format="json").json()
        assert primaries(patient) == [second["id"]]
        assert primaries(patient, "dental") == [dental["id"]]
        listed = {item["id"]: item["is_primary"] for item in alice_api.get(URL).json()}
        assert listed == {first["id"]: False, second["id"]: True, dental["id"]: True}

    def test_the_demotion_is_in_the_activity_log(
        self, alice_api, patient, django_capture_on_commit_callbacks
    ):
        from adminops.models import ActivityLog

        old = InsuranceFactory(patient=patient, is_primary=True)
        new = InsuranceFactory(patient=patient)
        with django_capture_on_commit_callbacks(execute=True):
            alice_api.patch(f"{URL}/{new.pk}/set-primary")
        logged = ActivityLog.objects.filter(entity_type="insurance", action="updated")
        assert sorted(logged.values_list("entity_id", flat=True)) == sorted([old.pk, new.pk])
        demotion = logged.get(entity_id=old.pk)
        assert demotion.user.username == "alice"

    def test_a_non_primary_create_or_edit_demotes_nothing(self, alice_api, patient):
        primary = InsuranceFactory(patient=patient, is_primary=True)
        alice_api.post(URL, BODY, format="json")
        alice_api.put(f"{URL}/{primary.pk}", {"plan_name": "Silver"}, format="json")
        assert primaries(patient) == [primary.pk]

    def test_put_is_primary_demotes_the_others(self, alice_api, patient):
        old = InsuranceFactory(patient=patient, is_primary=True)
        new = InsuranceFactory(patient=patient)
        response = alice_api.put(f"{URL}/{new.pk}", {"is_primary": True}, format="json")
        assert response.status_code == 200 and response.json()["is_primary"] is True
        assert primaries(patient) == [new.pk]
        old.refresh_from_db()
        assert old.is_primary is False and old.updated_at >= old.created_at

    def test_moving_a_primary_to_another_type_demotes_that_types_primary(self, alice_api, patient):
        dental = InsuranceFactory(patient=patient, insurance_type="dental", is_primary=True)
        medical = InsuranceFactory(patient=patient, is_primary=True)
        alice_api.put(f"{URL}/{medical.pk}", {"insurance_type": "dental"}, format="json")
        assert primaries(patient, "dental") == [medical.pk]
        assert primaries(patient) == []
        dental.refresh_from_db()
        assert dental.is_primary is False

    def test_other_patients_primaries_are_untouched(self, alice_api, patient, alice):
        elsewhere = InsuranceFactory(patient=PatientFactory(owner=alice), is_primary=True)
        alice_api.post(URL, {**BODY, "is_primary": True}, format="json")
        elsewhere.refresh_from_db()
        assert elsewhere.is_primary is True

    def test_stale_copies_promoted_one_after_the_other(self, patient):
        a, b = InsuranceFactory.create_batch(2, patient=patient)
        stale_a = Insurance.objects.get(pk=a.pk)
        stale_b = Insurance.objects.get(pk=b.pk)
        stale_a.is_primary = True
        stale_a.save()
        stale_b.is_primary = True
        stale_b.save()  # its copy of a still says "not primary": save() looks again
        assert primaries(patient) == [b.pk]
        stale_a.is_primary = True
        stale_a.save()
        assert primaries(patient) == [a.pk]

    def test_model_validation_accepts_a_second_primary(self, patient):
        InsuranceFactory(patient=patient, is_primary=True)
        candidate = InsuranceFactory.build(patient=patient, is_primary=True)
        candidate.full_clean()  # the admin path: no error, save() demotes
        candidate.save()
        assert primaries(patient) == [candidate.pk]

    def test_the_database_backs_the_rule(self, patient):
        a, b = InsuranceFactory.create_batch(2, patient=patient)
        with pytest.raises(IntegrityError), transaction.atomic():
            Insurance.objects.filter(pk__in=[a.pk, b.pk]).update(is_primary=True)
        assert primaries(patient) == []


class TestSetPrimary:
    def path(self, record):
        return f"{URL}/{record.pk}/set-primary"

    def test_owner_and_edit_share_set_primary(self, client_for, alice, carol, shared_patient):
        old = InsuranceFactory(patient=shared_patient, is_primary=True)
        new = InsuranceFactory(patient=shared_patient)
        vision = InsuranceFactory(patient=shared_patient, insurance_type="vision")
        response = client_for(carol).patch(self.path(new))
        assert response.status_code == 200, response.content
        assert response.json()["id"] == new.pk and response.json()["is_primary"] is True
        assert primaries(shared_patient) == [new.pk]
        assert client_for(alice).patch(f"{self.path(vision)}/").status_code == 200
        assert primaries(shared_patient) == [new.pk]
        assert primaries(shared_patient, "vision") == [vision.pk]
        old.refresh_from_db()
        assert old.is_primary is False

    def test_again_on_the_primary_keeps_it(self, alice_api, patient):
        record = InsuranceFactory(patient=patient, is_primary=True)
        assert alice_api.patch(self.path(record)).status_code == 200
        assert primaries(patient) == [record.pk]

    def test_view_share_is_refused(self, client_for, bob, shared_patient):
        old = InsuranceFactory(patient=shared_patient, is_primary=True)
        new = InsuranceFactory(patient=shared_patient)
        assert client_for(bob).patch(self.path(new)).status_code == 403
        assert primaries(shared_patient) == [old.pk]

    def test_strangers_and_missing_records_are_404(self, client_for, mallory, patient):
        record = InsuranceFactory(patient=patient)
        assert client_for(mallory).patch(self.path(record)).status_code == 404
        assert client_for(mallory).patch(f"{URL}/999999/set-primary").status_code == 404
        assert primaries(patient) == []

    def test_only_patch(self, alice_api, patient):
        record = InsuranceFactory(patient=patient)
        assert alice_api.post(self.path(record)).status_code == 405


class TestStatus:
    def path(self, record):
        return f"{URL}/{record.pk}/status"

    def test_changes_only_the_status(self, client_for, carol, shared_patient):
        record = InsuranceFactory(patient=shared_patient, plan_name="Gold")
        response = client_for(carol).patch(
            self.path(record), {"status": "Expired", "plan_name": "Other"}, format="json"
        )
        assert response.status_code == 200, response.content
        assert response.json()["status"] == "expired"
        record.refresh_from_db()
        assert (record.status, record.plan_name) == ("expired", "Gold")

    @pytest.mark.parametrize("body", [{}, {"status": "lapsed"}, {"status": None}])
    def test_bad_status_is_422(self, alice_api, patient, body):
        record = InsuranceFactory(patient=patient)
        assert "status" in errors_of(alice_api.patch(self.path(record), body, format="json"))
        record.refresh_from_db()
        assert record.status == "active"

    def test_view_share_and_strangers_are_refused(self, client_for, bob, mallory, shared_patient):
        record = InsuranceFactory(patient=shared_patient)
        body = {"status": "inactive"}
        assert client_for(bob).patch(self.path(record), body, format="json").status_code == 403
        response = client_for(mallory).patch(self.path(record), body, format="json")
        assert response.status_code == 404
        record.refresh_from_db()
        assert record.status == "active"


class TestExpiring:
    @pytest.fixture
    def plans(self, patient):
        today = timezone.localdate()

        def plan(days, **fields):
            return InsuranceFactory(
                patient=patient,
                effective_date=today - timedelta(days=400),
                expiration_date=today + timedelta(days=days) if days is not None else None,
                **fields,
            )

        return {
            "soon": plan(10),
            "later": plan(60, insurance_type="dental"),
            "overdue": plan(-5),
            "soon_but_inactive": plan(10, status="inactive"),
            "open_ended": plan(None),
            "too_far": plan(400),
        }

    def test_default_is_thirty_days_soonest_first(self, alice_api, plans):
        response = alice_api.get(f"{URL}/expiring")
        assert response.status_code == 200
        assert [i["id"] for i in response.json()] == [plans["overdue"].pk, plans["soon"].pk]

    def test_days_and_filters(self, alice_api, plans):
        wider = alice_api.get(f"{URL}/expiring", {"days": 90}).json()
        assert [i["id"] for i in wider] == [
            plans["overdue"].pk,
            plans["soon"].pk,
            plans["later"].pk,
        ]
        dental = alice_api.get(f"{URL}/expiring", {"days": 90, "insurance_type": "dental"})
        assert [i["id"] for i in dental.json()] == [plans["later"].pk]

    @pytest.mark.parametrize("days", ["0", "366", "soon", "1e9", "99999999999999999999"])
    def test_bad_days_is_422(self, alice_api, patient, days):
        assert "days" in errors_of(alice_api.get(f"{URL}/expiring", {"days": days}))

    def test_scoped_to_one_visible_patient(self, client_for, bob, mallory, shared_patient):
        InsuranceFactory(patient=shared_patient, expiration_date=timezone.localdate())
        InsuranceFactory(expiration_date=timezone.localdate())  # somebody else's
        listed = client_for(bob).get(f"{URL}/expiring", {"patient_id": shared_patient.pk})
        assert len(listed.json()) == 1
        refused = client_for(mallory).get(f"{URL}/expiring", {"patient_id": shared_patient.pk})
        assert refused.status_code == 403


class TestSearch:
    def test_by_part_of_the_company_name(self, alice_api, patient, alice):
        InsuranceFactory(patient=patient, company_name="Blue Shield")
        InsuranceFactory(patient=patient, company_name="Anthem Blue Cross")
        InsuranceFactory(patient=patient, company_name="Aetna")
        InsuranceFactory(patient=PatientFactory(owner=alice), company_name="Blue Care")
        response = alice_api.get(f"{URL}/search", {"company": "BLUE"})
        assert response.status_code == 200
        assert [i["company_name"] for i in response.json()] == [
            "Anthem Blue Cross",
            "Blue Shield",
        ]

    @pytest.mark.parametrize("params", [{}, {"company": ""}, {"company": "x" * 256}])
    def test_company_is_required_and_bounded(self, alice_api, patient, params):
        assert "company" in errors_of(alice_api.get(f"{URL}/search", params))

    def test_stranger_is_refused(self, client_for, mallory, patient):
        InsuranceFactory(patient=patient, company_name="Blue Shield")
        response = client_for(mallory).get(
            f"{URL}/search", {"company": "blue", "patient_id": patient.pk}
        )
        assert response.status_code == 403
        assert client_for(mallory).get(f"{URL}/search", {"company": "blue"}).status_code == 404


class TestList:
    def test_filters(self, alice_api, patient):
        medical = InsuranceFactory(patient=patient, is_primary=True)
        dental = InsuranceFactory(patient=patient, insurance_type="dental", status="inactive")
        vision = InsuranceFactory(patient=patient, insurance_type="vision", company_name="Eyes")

        def ids(**params):
            return {item["id"] for item in alice_api.get(URL, params).json()}

        assert ids(insurance_type="Dental") == {dental.pk}
        assert ids(status="inactive") == {dental.pk}
        assert ids(active_only="true") == {medical.pk, vision.pk}
        assert ids(is_primary="true") == {medical.pk}
        assert ids(search="eyes") == {vision.pk}

    def test_order_is_type_then_primary_first(self, alice_api, patient):
        later = InsuranceFactory(patient=patient, effective_date="2025-06-01")
        primary = InsuranceFactory(patient=patient, is_primary=True)
        dental = InsuranceFactory(patient=patient, insurance_type="dental")
        listed = [item["id"] for item in alice_api.get(URL).json()]
        assert listed == [dental.pk, primary.pk, later.pk]

    def test_limit_is_capped_not_refused(self, alice_api, patient):
        InsuranceFactory.create_batch(3, patient=patient)
        assert len(alice_api.get(URL, {"limit": 5000}).json()) == 3
        assert len(alice_api.get(URL, {"limit": 2, "skip": 2}).json()) == 1


def test_admin_lists_and_searches_by_company(client, admin_user, patient):
    InsuranceFactory(patient=patient, company_name="Blue Shield")
    InsuranceFactory(patient=patient, company_name="Aetna")
    client.force_login(admin_user)
    page = client.get("/admin/records/insurance/", {"q": "blue"})
    assert page.status_code == 200
    content = page.content.decode()
    assert "Blue Shield" in content and "Aetna" not in content


@pytest.mark.parametrize("body", [[BODY], "medical", 12, None])
def test_a_body_that_is_not_an_object_is_refused_cleanly(alice_api, patient, body):
    response = alice_api.post(URL, body, format="json")
    assert response.status_code in (400, 422), response.content
    assert not Insurance.objects.exists()
