"""Portal requests: filing questionnaires and prescription requests, the managers' queue
(list, accept, dismiss, soft delete) and the admin pages."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adminops.models import ActivityLog
from patients.tests.factories import PatientFactory
from records.models import Medication
from records.tests.factories import MedicationFactory, PharmacyFactory
from sharing.models import PortalRequest

pytestmark = pytest.mark.django_db


def url(patient, tail):
    return f"/api/v1/patients/{patient.pk}/{tail}"


def queue_url(patient, rid=None, action=None):
    path = url(patient, "portal/enqueued")
    if rid is not None:
        path += f"/{rid}"
    if action:
        path += f"/{action}"
    return path


def make_request(patient, request_type="questionnaire", submitted_by=None, **fields):
    payloads = {
        "questionnaire": {"title": "Intake", "answers": {"smoker": "no"}, "notes": ""},
        "rx_new": {
            "medication_name": "Amoxicillin",
            "dosage": "500mg",
            "frequency": "Three times daily",
            "route": "oral",
            "quantity": 21,
            "pharmacy_id": None,
            "notes": "For the ear infection",
        },
    }
    fields.setdefault("payload", payloads.get(request_type, {}))
    return PortalRequest.objects.create(
        patient=patient, request_type=request_type, submitted_by=submitted_by, **fields
    )


@pytest.fixture
def bob_api(client_for, bob):
    return client_for(bob)


@pytest.fixture
def carol_api(client_for, carol):
    return client_for(carol)


class TestQuestionnaires:
    def test_view_share_files_one(self, bob_api, bob, shared_patient):
        body = {"title": "Sleep diary", "answers": [{"q": "Hours", "a": 7}], "notes": "Week 1"}
        response = bob_api.post(url(shared_patient, "questionnaires"), body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["request_type"] == "questionnaire" and got["status"] == "open"
        assert got["patient_id"] == shared_patient.pk
        assert got["payload"] == body
        assert got["submitted_by"] == {"id": bob.pk, "username": "bob", "name": bob.full_name}
        assert got["resolved_by"] is None and got["medication_id"] is None
        stored = PortalRequest.objects.get(pk=got["id"])
        assert (stored.submitted_by, stored.payload["title"]) == (bob, "Sleep diary")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"answers": {"a": 1}}, "title"),
            ({"title": "T"}, "answers"),
            ({"title": "T", "answers": "yes"}, "answers"),
            ({"title": "T", "answers": {}}, "answers"),
        ],
    )
    def test_bad_bodies_are_a_422_naming_the_field(self, alice_api, patient, body, field):
        response = alice_api.post(url(patient, "questionnaires"), body, format="json")
        assert response.status_code == 422
        assert field in response.json()["errors"]
        assert not PortalRequest.objects.exists()

    def test_strangers_file_nothing(self, client_for, mallory, patient):
        body = {"title": "T", "answers": {"a": 1}}
        response = client_for(mallory).post(url(patient, "questionnaires"), body, format="json")
        assert response.status_code == 403
        missing = f"/api/v1/patients/{patient.pk + 1000}/questionnaires"
        assert client_for(mallory).post(missing, body, format="json").status_code == 404
        assert not PortalRequest.objects.exists()


class TestRxRequests:
    def test_refill_of_the_patients_medication(self, bob_api, shared_patient):
        medication = MedicationFactory(patient=shared_patient, medication_name="Lisinopril")
        pharmacy = PharmacyFactory()
        body = {"medication_id": medication.pk, "quantity": 30, "pharmacy_id": pharmacy.pk}
        response = bob_api.post(url(shared_patient, "rxs"), body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["request_type"] == "rx_refill"
        assert got["medication_id"] == medication.pk
        assert got["payload"]["medication_name"] == "Lisinopril"
        assert (got["payload"]["quantity"], got["payload"]["pharmacy_id"]) == (30, pharmacy.pk)

    def test_new_medication_request(self, bob_api, shared_patient):
        body = {
            "request_type": "new",
            "medication_name": "Amoxicillin",
            "dosage": "500mg",
            "frequency": "Three times daily",
            "route": "Oral",
            "notes": "Ear infection",
        }
        response = bob_api.post(url(shared_patient, "rxs"), body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["request_type"] == "rx_new" and got["medication_id"] is None
        assert got["payload"]["route"] == "oral"
        assert got["payload"]["medication_name"] == "Amoxicillin"
        assert not Medication.objects.exists()

    @pytest.mark.parametrize("kind", ["new", "refill"])
    def test_only_the_medication_name_is_needed(self, bob_api, shared_patient, kind):
        # A patient asking may not know the dosage or frequency; the app-style nulls are fine.
        body = {
            "request_type": kind,
            "medication_name": "Amoxicillin",
            "dosage": None,
            "frequency": "",
            "quantity": None,
            "notes": None,
        }
        response = bob_api.post(url(shared_patient, "rxs"), body, format="json")
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["request_type"] == f"rx_{kind}" and got["medication_id"] is None
        assert got["payload"]["medication_name"] == "Amoxicillin"
        assert got["payload"]["dosage"] == ""

    def test_accepting_name_only_requests(self, alice_api, bob_api, shared_patient):
        for kind in ("new", "refill"):
            body = {"request_type": kind, "medication_name": "Amoxicillin"}
            filed = bob_api.post(url(shared_patient, "rxs"), body, format="json").json()
            accepted = alice_api.post(
                queue_url(shared_patient, filed["id"], "accept"), format="json"
            )
            assert accepted.status_code == 200, accepted.content
            assert accepted.json()["status"] == "accepted"
        # The new-medication request created the medication; the refill created nothing.
        [created] = Medication.objects.filter(patient=shared_patient)
        assert (created.medication_name, created.dosage, created.frequency) == (
            "Amoxicillin",
            "",
            "",
        )

    def test_another_patients_medication_is_a_422(self, alice_api, alice, patient):
        elsewhere = MedicationFactory(patient=PatientFactory(owner=alice))
        stranger = MedicationFactory()
        for medication in (elsewhere, stranger):
            response = alice_api.post(
                url(patient, "rxs"), {"medication_id": medication.pk}, format="json"
            )
            assert response.status_code == 422
            assert "medication_id" in response.json()["errors"]
        assert not PortalRequest.objects.exists()

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"request_type": "refill"}, "medication_name"),
            ({"request_type": "new", "dosage": "1", "frequency": "daily"}, "medication_name"),
            ({"medication_name": None, "medication_id": None}, "medication_name"),
            (
                {"medication_name": "Aspirin", "dosage": "1", "frequency": "d", "route": "x"},
                "route",
            ),
            (
                {"medication_name": "Aspirin", "dosage": "1", "frequency": "d", "pharmacy_id": 999},
                "pharmacy_id",
            ),
            ({"request_type": "transfer", "medication_name": "Aspirin"}, "request_type"),
            ({"medication_name": "A", "dosage": "1", "frequency": "d"}, "medication_name"),
        ],
    )
    def test_bad_bodies_are_a_422_naming_the_field(self, alice_api, patient, body, field):
        response = alice_api.post(url(patient, "rxs"), body, format="json")
        assert response.status_code == 422
        assert field in response.json()["errors"]
        assert not PortalRequest.objects.exists()

    def test_strangers_are_refused(self, client_for, mallory, patient):
        medication = MedicationFactory(patient=patient)
        response = client_for(mallory).post(
            url(patient, "rxs"), {"medication_id": medication.pk}, format="json"
        )
        assert response.status_code == 403
        assert not PortalRequest.objects.exists()


class TestQueue:
    @pytest.mark.parametrize("persona", ["alice", "carol", "dave"])
    def test_managers_list_open_requests(self, request, persona, client_for, shared_patient):
        older = make_request(shared_patient)
        newer = make_request(shared_patient, "rx_new")
        make_request(shared_patient, status="dismissed")
        make_request(shared_patient, deleted_at=timezone.now())
        make_request(PatientFactory())  # another patient's
        api = client_for(request.getfixturevalue(persona))
        response = api.get(queue_url(shared_patient))
        assert response.status_code == 200
        assert [row["id"] for row in response.json()] == [newer.pk, older.pk]

    def test_filters_and_paging(self, alice_api, patient):
        questionnaire = make_request(patient)
        rx = make_request(patient, "rx_new")
        dismissed = make_request(
            patient, "rx_refill", payload={"medication_id": 1}, status="dismissed"
        )

        def ids(**params):
            response = alice_api.get(queue_url(patient), params)
            assert response.status_code == 200
            return [row["id"] for row in response.json()]

        assert ids(request_type="rx_new") == [rx.pk]
        assert ids(status="dismissed") == [dismissed.pk]
        assert ids(status="all") == [dismissed.pk, rx.pk, questionnaire.pk]
        assert ids(status="all", skip=1, limit=1) == [rx.pk]
        assert ids(status="all", request_type="questionnaire") == [questionnaire.pk]

    @pytest.mark.parametrize("params", [{"status": "closed"}, {"request_type": "rx"}])
    def test_unknown_filter_values_are_a_422(self, alice_api, patient, params):
        assert alice_api.get(queue_url(patient), params).status_code == 422

    def test_view_shares_and_strangers_are_refused(
        self, bob_api, client_for, mallory, shared_patient
    ):
        make_request(shared_patient)
        assert bob_api.get(queue_url(shared_patient)).status_code == 403
        assert client_for(mallory).get(queue_url(shared_patient)).status_code == 403

    def test_query_count_does_not_grow_with_rows(self, alice_api, alice, patient, bob):
        def count_queries():
            with CaptureQueriesContext(connection) as queries:
                response = alice_api.get(queue_url(patient), {"status": "all"})
            assert response.status_code == 200
            return len(queries), len(response.json())

        for _ in range(2):
            make_request(patient, submitted_by=bob, resolved_by=alice, status="accepted")
        few, rows = count_queries()
        assert rows == 2
        for _ in range(18):
            make_request(patient, submitted_by=bob, resolved_by=alice, status="accepted")
        many, rows = count_queries()
        assert rows == 20
        assert many == few


class TestAccept:
    def test_new_medication_request_creates_exactly_one_medication(
        self, carol_api, carol, shared_patient, django_capture_on_commit_callbacks
    ):
        pharmacy = PharmacyFactory()
        filed = make_request(shared_patient, "rx_new")
        filed.payload["pharmacy_id"] = pharmacy.pk
        filed.save()
        with django_capture_on_commit_callbacks(execute=True):
            response = carol_api.post(
                queue_url(shared_patient, filed.pk, "accept"), {"note": "OK'd"}, format="json"
            )
        assert response.status_code == 200, response.content
        medication = Medication.objects.get()
        assert (medication.patient_id, medication.medication_name) == (
            shared_patient.pk,
            "Amoxicillin",
        )
        assert (medication.dosage, medication.frequency, medication.route) == (
            "500mg",
            "Three times daily",
            "oral",
        )
        assert medication.pharmacy == pharmacy and medication.status == "active"
        got = response.json()
        assert got["status"] == "accepted" and got["medication_id"] == medication.pk
        assert got["resolved_by"]["id"] == carol.pk and got["resolution_note"] == "OK'd"
        assert got["resolved_at"]
        logged = ActivityLog.objects.get(entity_type="medication")
        assert (logged.action, logged.entity_id, logged.user) == ("created", medication.pk, carol)
        # A second accept finds the request closed and creates nothing more.
        again = carol_api.post(queue_url(shared_patient, filed.pk, "accept"), format="json")
        assert again.status_code == 400
        assert Medication.objects.count() == 1

    def test_invalid_medication_is_a_422_and_nothing_changes(self, alice_api, patient):
        filed = make_request(
            patient, "rx_new", payload={"medication_name": "A", "dosage": "1", "frequency": "d"}
        )
        response = alice_api.post(queue_url(patient, filed.pk, "accept"), format="json")
        assert response.status_code == 422
        assert "medication_name" in response.json()["errors"]
        assert not Medication.objects.exists()
        filed.refresh_from_db()
        assert filed.status == "open"

    def test_refill_is_recorded_against_its_medication(self, alice_api, patient):
        medication = MedicationFactory(patient=patient)
        filed = make_request(
            patient, "rx_refill", payload={"medication_id": medication.pk}, medication=medication
        )
        response = alice_api.post(queue_url(patient, filed.pk, "accept"), format="json")
        assert response.status_code == 200
        assert response.json()["medication_id"] == medication.pk
        assert response.json()["status"] == "accepted"
        assert Medication.objects.count() == 1

    def test_refill_of_a_deleted_medication_is_a_400(self, alice_api, patient):
        medication = MedicationFactory(patient=patient)
        filed = make_request(
            patient, "rx_refill", payload={"medication_id": medication.pk}, medication=medication
        )
        medication.delete()
        response = alice_api.post(queue_url(patient, filed.pk, "accept"), format="json")
        assert response.status_code == 400
        filed.refresh_from_db()
        assert filed.status == "open"

    def test_questionnaire_is_marked_accepted(self, alice_api, alice, patient):
        filed = make_request(patient)
        response = alice_api.post(queue_url(patient, filed.pk, "accept"), format="json")
        assert response.status_code == 200
        filed.refresh_from_db()
        assert (filed.status, filed.resolved_by) == ("accepted", alice)
        assert not Medication.objects.exists()

    def test_view_shares_strangers_and_other_patients_requests_are_refused(
        self, bob_api, client_for, mallory, alice_api, alice, shared_patient
    ):
        filed = make_request(shared_patient, "rx_new")
        assert bob_api.post(queue_url(shared_patient, filed.pk, "accept")).status_code == 403
        mallory_api = client_for(mallory)
        assert mallory_api.post(queue_url(shared_patient, filed.pk, "accept")).status_code == 403
        other = PatientFactory(owner=alice)
        assert alice_api.post(queue_url(other, filed.pk, "accept")).status_code == 404
        assert alice_api.post(queue_url(shared_patient, 99999, "accept")).status_code == 404
        filed.refresh_from_db()
        assert filed.status == "open" and not Medication.objects.exists()


class TestDismiss:
    def test_dismisses_an_open_request_once(self, carol_api, carol, shared_patient):
        filed = make_request(shared_patient, "rx_new")
        response = carol_api.post(
            queue_url(shared_patient, filed.pk, "dismiss"), {"note": "Ask the doctor"}
        )
        assert response.status_code == 200
        assert response.json()["status"] == "dismissed"
        filed.refresh_from_db()
        assert (filed.status, filed.resolved_by, filed.resolution_note) == (
            "dismissed",
            carol,
            "Ask the doctor",
        )
        assert carol_api.post(queue_url(shared_patient, filed.pk, "dismiss")).status_code == 400
        assert carol_api.post(queue_url(shared_patient, filed.pk, "accept")).status_code == 400
        assert not Medication.objects.exists()

    def test_view_share_cannot_dismiss(self, bob_api, shared_patient):
        filed = make_request(shared_patient)
        assert bob_api.post(queue_url(shared_patient, filed.pk, "dismiss")).status_code == 403
        filed.refresh_from_db()
        assert filed.status == "open"


class TestDelete:
    def test_soft_delete_records_who_and_when_and_hides_it(self, carol_api, carol, shared_patient):
        filed = make_request(shared_patient)
        response = carol_api.delete(queue_url(shared_patient, filed.pk))
        assert response.status_code == 200
        assert response.json()["message"]
        filed.refresh_from_db()
        assert filed.deleted_by == carol and filed.deleted_at is not None
        listed = carol_api.get(queue_url(shared_patient), {"status": "all"}).json()
        assert listed == []
        assert carol_api.delete(queue_url(shared_patient, filed.pk)).status_code == 404
        assert carol_api.post(queue_url(shared_patient, filed.pk, "accept")).status_code == 404

    def test_view_shares_and_strangers_cannot_delete(
        self, bob_api, client_for, mallory, shared_patient
    ):
        filed = make_request(shared_patient)
        assert bob_api.delete(queue_url(shared_patient, filed.pk)).status_code == 403
        assert client_for(mallory).delete(queue_url(shared_patient, filed.pk)).status_code == 403
        filed.refresh_from_db()
        assert filed.deleted_at is None


class TestAdmin:
    @pytest.fixture
    def admin_client(self, client, admin_user):
        client.force_login(admin_user)
        return client

    def test_pages_render_with_filters_and_show_deleted_requests(
        self, admin_client, alice, patient
    ):
        from sharing.models import PortalInvitation

        deleted = make_request(patient, "rx_new", deleted_at=timezone.now(), deleted_by=alice)
        kept = make_request(patient)
        invitation = PortalInvitation.objects.create(
            patient=patient, email="kid@example.test", invited_by=alice, expires_at=timezone.now()
        )
        pages = [
            "/admin/sharing/portalinvitation/?status__exact=pending&q=kid",
            f"/admin/sharing/portalinvitation/{invitation.pk}/change/",
            "/admin/sharing/portalrequest/?status__exact=open&request_type__exact=rx_new",
            f"/admin/sharing/portalrequest/{deleted.pk}/change/",
        ]
        for page in pages:
            assert admin_client.get(page).status_code == 200, page
        only_deleted = admin_client.get("/admin/sharing/portalrequest/?deleted=yes")
        assert only_deleted.context["cl"].result_count == 1
        assert list(only_deleted.context["cl"].result_list) == [deleted]
        not_deleted = admin_client.get("/admin/sharing/portalrequest/?deleted=no")
        assert list(not_deleted.context["cl"].result_list) == [kept]
