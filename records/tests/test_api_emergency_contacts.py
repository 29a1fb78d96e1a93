import pytest
from django.db import IntegrityError, transaction

from patients.tests.factories import PatientFactory
from records.models import EmergencyContact, EmergencyContactRelationship
from records.tests.factories import EmergencyContactFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/emergency-contacts"
BODY = {"name": "Jane Doe", "relationship": "spouse", "phone_number": "+1 (555) 010-0000"}


def primaries(patient):
    return list(
        EmergencyContact.objects.filter(patient=patient, is_primary=True).values_list(
            "pk", flat=True
        )
    )


def errors_of(response) -> dict:
    assert response.status_code == 422, response.content
    return response.json()["errors"]


class TestShape:
    def test_the_contract_example_is_accepted(self, alice_api, patient):
        body = {
            "patient_id": patient.pk,
            "name": "Jane Doe",
            "relationship": "Spouse",
            "phone_number": "+1234567890",
            "email": "jane@example.com",
            "address": "123 Main St",
            "is_primary": True,
        }
        response = alice_api.post(f"{URL}/", body, format="json")
        assert response.status_code == 201, response.content
        created = response.json()
        assert created["relationship"] == "spouse"
        assert created["is_primary"] is True and created["is_active"] is True
        for name in ("name", "phone_number", "email", "address"):
            assert created[name] == body[name]
        assert created["secondary_phone"] == "" and created["notes"] == ""

    @pytest.mark.parametrize("relationship", EmergencyContactRelationship.values)
    def test_every_relationship_of_the_list(self, alice_api, patient, relationship):
        response = alice_api.post(
            URL, {**BODY, "relationship": f" {relationship.title()} "}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["relationship"] == relationship

    @pytest.mark.parametrize(
        "phone", ["555 0100", "+44 20 7946 0958", "(555) 010-0000", "555.010.0000", "1"]
    )
    def test_phone_numbers_are_checked_loosely(self, alice_api, patient, phone):
        response = alice_api.post(
            URL, {**BODY, "phone_number": phone, "secondary_phone": phone}, format="json"
        )
        assert response.status_code == 201, response.content
        assert response.json()["secondary_phone"] == phone

    def test_nulls_of_optional_fields_are_stored_empty(self, alice_api, patient):
        body = {**BODY, "email": None, "address": None, "notes": None, "secondary_phone": None}
        response = alice_api.post(URL, body, format="json")
        assert response.status_code == 201, response.content
        assert response.json()["email"] == "" and response.json()["address"] == ""

    def test_delete_answers_with_a_message(self, alice_api, patient):
        record = EmergencyContactFactory(patient=patient)
        response = alice_api.delete(f"{URL}/{record.pk}/")
        assert response.json() == {"message": "Emergency contact deleted successfully"}
        assert not EmergencyContact.objects.exists()


class TestValidation:
    @pytest.mark.parametrize("name", ["name", "relationship", "phone_number"])
    def test_required_fields(self, alice_api, patient, name):
        body = {key: value for key, value in BODY.items() if key != name}
        assert name in errors_of(alice_api.post(URL, body, format="json"))

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"name": "J"}, "name"),
            ({"name": " J "}, "name"),
            ({"name": "x" * 101}, "name"),
            ({"name": None}, "name"),
            ({"relationship": "boss"}, "relationship"),
            ({"relationship": ["spouse"]}, "relationship"),
            ({"phone_number": "call me"}, "phone_number"),
            ({"phone_number": "---"}, "phone_number"),
            ({"phone_number": "555-0100 ext 2"}, "phone_number"),
            ({"phone_number": "١٢٣٤٥٦٧"}, "phone_number"),
            ({"phone_number": "1" * 21}, "phone_number"),
            ({"phone_number": ""}, "phone_number"),
            ({"phone_number": 5550100}, None),  # a number is text enough
            ({"secondary_phone": "n/a"}, "secondary_phone"),
            ({"email": "nope"}, "email"),
            ({"email": f"{'a' * 95}@b.org"}, "email"),
            ({"address": "a" * 501}, "address"),
            ({"notes": "n" * 1001}, "notes"),
            ({"is_primary": "maybe"}, "is_primary"),
            ({"is_active": []}, "is_active"),
        ],
    )
    def test_bad_input_is_422_naming_the_field(self, alice_api, patient, fields, field):
        response = alice_api.post(URL, {**BODY, **fields}, format="json")
        if field is None:
            assert response.status_code == 201, response.content
            return
        assert field in errors_of(response)
        assert not EmergencyContact.objects.exists()

    def test_updates_are_validated(self, alice_api, patient):
        record = EmergencyContactFactory(patient=patient)
        response = alice_api.put(f"{URL}/{record.pk}", {"relationship": "rival"}, format="json")
        assert "relationship" in errors_of(response)
        record.refresh_from_db()
        assert record.relationship == "friend"


class TestPrimary:
    def test_a_new_primary_demotes_the_previous_one(self, alice_api, patient):
        first = alice_api.post(URL, {**BODY, "is_primary": True}, format="json").json()
        second = alice_api.post(
            URL, {**BODY, "name": "John Doe", "is_primary": True}, format="json"
        ).json()
        assert primaries(patient) == [second["id"]]
        listed = [(item["id"], item["is_primary"]) for item in alice_api.get(URL).json()]
        assert listed == [(second["id"], True), (first["id"], False)]

    def test_non_primary_writes_demote_nothing(self, alice_api, patient):
        primary = EmergencyContactFactory(patient=patient, is_primary=True)
        other = alice_api.post(URL, BODY, format="json").json()
        alice_api.put(f"{URL}/{other['id']}", {"notes": "Neighbour"}, format="json")
        alice_api.put(f"{URL}/{primary.pk}", {"notes": "Call first"}, format="json")
        assert primaries(patient) == [primary.pk]

    def test_put_is_primary_demotes_the_previous_one(self, alice_api, patient):
        old = EmergencyContactFactory(patient=patient, is_primary=True)
        new = EmergencyContactFactory(patient=patient)
        response = alice_api.put(f"{URL}/{new.pk}", {"is_primary": True}, format="json")
        assert response.status_code == 200 and response.json()["is_primary"] is True
        assert primaries(patient) == [new.pk]
        old.refresh_from_db()
        assert old.is_primary is False

    def test_unsetting_the_primary_leaves_none(self, alice_api, patient):
        record = EmergencyContactFactory(patient=patient, is_primary=True)
        alice_api.put(f"{URL}/{record.pk}", {"is_primary": False}, format="json")
        assert primaries(patient) == []

    def test_other_patients_primaries_are_untouched(self, alice_api, patient, alice):
        elsewhere = EmergencyContactFactory(patient=PatientFactory(owner=alice), is_primary=True)
        alice_api.post(URL, {**BODY, "is_primary": True}, format="json")
        elsewhere.refresh_from_db()
        assert elsewhere.is_primary is True

    def test_stale_copies_promoted_one_after_the_other(self, patient):
        a, b, c = EmergencyContactFactory.create_batch(3, patient=patient)
        copies = [EmergencyContact.objects.get(pk=record.pk) for record in (a, b, c)]
        for copy in copies:  # each copy still believes the others are not primary
            copy.is_primary = True
            copy.save()
            assert primaries(patient) == [copy.pk]

    def test_model_validation_accepts_a_second_primary(self, patient):
        EmergencyContactFactory(patient=patient, is_primary=True)
        candidate = EmergencyContactFactory.build(patient=patient, is_primary=True)
        candidate.full_clean()
        candidate.save()
        assert primaries(patient) == [candidate.pk]

    def test_the_database_backs_the_rule(self, patient):
        a, b = EmergencyContactFactory.create_batch(2, patient=patient)
        with pytest.raises(IntegrityError), transaction.atomic():
            EmergencyContact.objects.filter(pk__in=[a.pk, b.pk]).update(is_primary=True)
        assert primaries(patient) == []


class TestSetPrimary:
    def path(self, record):
        return f"{URL}/{record.pk}/set-primary"

    def test_owner_and_edit_share_set_primary(self, client_for, alice, carol, shared_patient):
        old = EmergencyContactFactory(patient=shared_patient, is_primary=True)
        new = EmergencyContactFactory(patient=shared_patient)
        response = client_for(carol).post(self.path(new))
        assert response.status_code == 200, response.content
        assert response.json()["id"] == new.pk and response.json()["is_primary"] is True
        assert primaries(shared_patient) == [new.pk]
        assert client_for(alice).post(f"{self.path(old)}/").status_code == 200
        assert primaries(shared_patient) == [old.pk]

    def test_view_share_is_refused(self, client_for, bob, shared_patient):
        # The reference let a VIEW share do this; it is a write, so it needs EDIT.
        old = EmergencyContactFactory(patient=shared_patient, is_primary=True)
        new = EmergencyContactFactory(patient=shared_patient)
        assert client_for(bob).post(self.path(new)).status_code == 403
        assert primaries(shared_patient) == [old.pk]

    def test_strangers_and_missing_records_are_404(self, client_for, mallory, patient):
        record = EmergencyContactFactory(patient=patient)
        assert client_for(mallory).post(self.path(record)).status_code == 404
        assert client_for(mallory).post(f"{URL}/999999/set-primary").status_code == 404
        assert primaries(patient) == []

    def test_only_post(self, alice_api, patient):
        record = EmergencyContactFactory(patient=patient)
        assert alice_api.get(self.path(record)).status_code == 405


class TestPrimaryPath:
    def path(self, patient):
        return f"{URL}/patient/{patient.pk}/primary"

    def test_the_active_primary(self, client_for, alice, bob, shared_patient):
        EmergencyContactFactory(patient=shared_patient)
        primary = EmergencyContactFactory(patient=shared_patient, is_primary=True)
        for user in (alice, bob):
            response = client_for(user).get(self.path(shared_patient))
            assert response.status_code == 200
            assert response.json()["id"] == primary.pk

    def test_none_or_an_inactive_primary_is_404(self, alice_api, patient):
        EmergencyContactFactory(patient=patient)
        assert alice_api.get(self.path(patient)).status_code == 404
        EmergencyContactFactory(patient=patient, is_primary=True, is_active=False)
        response = alice_api.get(self.path(patient))
        assert response.status_code == 404
        assert response.json()["error"] == "Primary emergency contact not found"

    def test_strangers_and_unknown_patients(self, client_for, mallory, patient):
        EmergencyContactFactory(patient=patient, is_primary=True)
        assert client_for(mallory).get(self.path(patient)).status_code == 403
        assert client_for(mallory).get(f"{URL}/patient/999999/primary").status_code == 404


class TestList:
    def test_primary_first_then_by_name(self, alice_api, patient):
        zed = EmergencyContactFactory(patient=patient, name="Zed")
        amy = EmergencyContactFactory(patient=patient, name="Amy")
        primary = EmergencyContactFactory(patient=patient, name="Max", is_primary=True)
        listed = [item["id"] for item in alice_api.get(URL).json()]
        assert listed == [primary.pk, amy.pk, zed.pk]

    def test_filters(self, alice_api, patient):
        parent = EmergencyContactFactory(patient=patient, relationship="parent", is_primary=True)
        gone = EmergencyContactFactory(patient=patient, is_active=False, email="old@example.org")
        friend = EmergencyContactFactory(patient=patient, phone_number="+44 20 7946 0958")

        def ids(**params):
            return {item["id"] for item in alice_api.get(URL, params).json()}

        assert ids(relationship="Parent") == {parent.pk}
        assert ids(is_active="false") == {gone.pk}
        assert ids(is_active="true") == {parent.pk, friend.pk}
        assert ids(is_primary="true") == {parent.pk}
        assert ids(search="7946") == {friend.pk}
        assert ids(search="old@") == {gone.pk}

    def test_limit_is_capped_at_100(self, alice_api, patient):
        EmergencyContactFactory.create_batch(3, patient=patient)
        assert len(alice_api.get(URL, {"limit": 1000}).json()) == 3
        assert "limit" in errors_of(alice_api.get(URL, {"limit": 0}))


def test_admin_add_demotes_the_previous_primary(client, admin_user, patient):
    old = EmergencyContactFactory(patient=patient, is_primary=True)
    client.force_login(admin_user)
    response = client.post(
        "/admin/records/emergencycontact/add/",
        {
            "patient": patient.pk,
            "name": "Sam Carer",
            "relationship": "caregiver",
            "phone_number": "555 0199",
            "is_primary": "on",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    new = EmergencyContact.objects.get(name="Sam Carer")
    assert primaries(patient) == [new.pk]
    old.refresh_from_db()
    assert old.is_primary is False
    assert client.get("/admin/records/emergencycontact/", {"q": "carer"}).status_code == 200


@pytest.mark.parametrize("body", [[BODY], "Jane", 12, None])
def test_a_body_that_is_not_an_object_is_refused_cleanly(alice_api, patient, body):
    response = alice_api.post(URL, body, format="json")
    assert response.status_code in (400, 422), response.content
    assert not EmergencyContact.objects.exists()
