"""The sharing use cases of spec 001, each end to end through the API alone: invite, the
recipient answers, then works at the level granted (and no more)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from patients.models import PatientShare
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

INVITE = "/api/v1/patient-sharing/invite"
BULK = "/api/v1/patient-sharing/bulk-invite"
RESPOND = "/api/v1/invitations/respond"


@pytest.fixture
def person(make_user, client_for):
    """person(username, email) -> (user, api client)."""

    def build(username, email):
        user = make_user(username=username, email=email)
        return user, client_for(user)

    return build


def can_read(api, patient) -> bool:
    return api.get("/api/v1/medications", {"patient_id": patient.pk}).status_code == 200


def can_write(api, patient) -> bool:
    body = {"patient_id": patient.pk, "medication_name": "Aspirin"}
    return api.post("/api/v1/medications", body, format="json").status_code == 201


def pending_id(api) -> int:
    (invitation,) = api.get("/api/v1/invitations/pending").json()
    return invitation["id"]


def test_1_doctor_shares_a_patient_with_a_colleague(person, mailoutbox):
    doctor, doctor_api = person("gp", "gp@clinic.org")
    specialist, specialist_api = person("cardio", "specialist@hospital.org")
    patient = PatientFactory(owner=doctor)
    sent = doctor_api.post(
        INVITE,
        {
            "patient_id": patient.pk,
            "shared_with_user_identifier": "specialist@hospital.org",
            "permission_level": "view",
            "expires_hours": 168,
            "message": "Referral for cardiac consultation",
        },
        format="json",
    )
    assert sent.status_code == 200, sent.content
    assert not can_read(specialist_api, patient)  # nothing before acceptance
    invitation_id = pending_id(specialist_api)
    assert invitation_id == sent.json()["invitation_id"]
    answer = specialist_api.post(
        RESPOND, {"invitation_id": invitation_id, "response": "accepted"}, format="json"
    )
    assert answer.status_code == 200 and answer.json()["status"] == "accepted"
    assert can_read(specialist_api, patient)
    assert not can_write(specialist_api, patient)  # view is read-only


def test_2_a_patient_grants_a_family_member_access(person):
    me, my_api = person("pat", "pat@family.com")
    sister, sister_api = person("sis", "sister@family.com")
    patient = PatientFactory(owner=me, is_self_record=True)
    sent = my_api.post(
        INVITE,
        {
            "patient_id": patient.pk,
            "shared_with_user_identifier": "sister@family.com",
            "permission_level": "view",
            "expires_hours": 2160,
            "message": "Medical records for family support",
        },
        format="json",
    )
    assert sent.status_code == 200, sent.content
    expires = timezone.datetime.fromisoformat(sent.json()["expires_at"].replace("Z", "+00:00"))
    assert timedelta(days=89) < expires - timezone.now() <= timedelta(days=90)
    sister_api.post(
        RESPOND, {"invitation_id": pending_id(sister_api), "response": "accepted"}, format="json"
    )
    assert can_read(sister_api, patient)
    shared = sister_api.get("/api/v1/patient-sharing/shared-with-me").json()
    assert [s["patient_id"] for s in shared] == [patient.pk]


def test_3_bulk_sharing_for_a_care_team(person):
    home, home_api = person("carehome", "admin@carehome.org")
    nurse, nurse_api = person("nurse", "nurse@carehome.org")
    residents = PatientFactory.create_batch(4, owner=home)
    sent = home_api.post(
        BULK,
        {
            "patient_ids": [p.pk for p in residents],
            "shared_with_user_identifier": "nurse@carehome.org",
            "permission_level": "edit",
            "expires_hours": 720,
            "message": "Patient records for new nursing staff",
        },
        format="json",
    )
    assert sent.status_code == 200, sent.content
    answer = nurse_api.post(
        RESPOND, {"invitation_id": pending_id(nurse_api), "response": "accepted"}, format="json"
    )
    assert answer.json()["share_count"] == 4
    assert all(can_write(nurse_api, resident) for resident in residents)


def test_4_temporary_access_ends_by_itself(person):
    director, director_api = person("director", "director@university.edu")
    researcher, researcher_api = person("researcher", "researcher@university.edu")
    cohort = PatientFactory.create_batch(3, owner=director)
    ends = timezone.now() + timedelta(days=14)
    sent = director_api.post(
        BULK,
        {
            "patient_ids": [p.pk for p in cohort],
            "shared_with_user_identifier": "researcher@university.edu",
            "permission_level": "view",
            "expires_hours": 336,
            "expires_at": ends.isoformat(),
            "message": "Research study data access",
        },
        format="json",
    )
    assert sent.status_code == 200, sent.content
    researcher_api.post(
        RESPOND,
        {"invitation_id": pending_id(researcher_api), "response": "accepted"},
        format="json",
    )
    assert all(can_read(researcher_api, p) for p in cohort)
    shares = PatientShare.objects.filter(grantee=researcher)
    assert {abs((s.expires_at - ends).total_seconds()) < 1 for s in shares} == {True}
    # The fourteen days pass: access stops at that moment, no cleanup job needed.
    shares.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert not any(can_read(researcher_api, p) for p in cohort)


def test_5_cancelling_an_invitation(person):
    owner, owner_api = person("owner", "owner@example.org")
    other, other_api = person("other", "other@example.org")
    patient = PatientFactory(owner=owner)
    sent = owner_api.post(
        INVITE, {"patient_id": patient.pk, "shared_with_user_identifier": "other"}, format="json"
    ).json()
    cancelled = owner_api.post(
        "/api/v1/patient-sharing/cancel-invitation",
        {"invitation_id": sent["invitation_id"]},
        format="json",
    )
    assert cancelled.status_code == 200
    assert other_api.get("/api/v1/invitations/pending").json() == []
    answer = other_api.post(
        RESPOND, {"invitation_id": sent["invitation_id"], "response": "accepted"}, format="json"
    )
    assert answer.status_code == 404
    assert not can_read(other_api, patient)


def test_6_responses_single_with_a_note_and_bulk_in_part(person):
    owner, owner_api = person("owner", "owner@example.org")
    recipient, recipient_api = person("recipient", "recipient@example.org")
    single, *several = PatientFactory.create_batch(4, owner=owner)
    owner_api.post(
        INVITE,
        {"patient_id": single.pk, "shared_with_user_identifier": "recipient"},
        format="json",
    )
    answer = recipient_api.post(
        RESPOND,
        {
            "invitation_id": pending_id(recipient_api),
            "response": "accepted",
            "response_note": "Thank you for sharing",
        },
        format="json",
    )
    assert answer.status_code == 200
    sent = owner_api.get("/api/v1/invitations/sent").json()
    assert sent[0]["response_note"] == "Thank you for sharing"
    owner_api.post(
        BULK,
        {"patient_ids": [p.pk for p in several], "shared_with_user_identifier": "recipient"},
        format="json",
    )
    wanted = [several[0].pk, several[2].pk]
    partial = recipient_api.post(
        RESPOND,
        {"invitation_id": pending_id(recipient_api), "response": "accepted", "patient_ids": wanted},
        format="json",
    )
    assert partial.status_code == 200 and partial.json()["share_count"] == 2
    assert [can_read(recipient_api, p) for p in several] == [True, False, True]
    # Revoke and re-share: the owner ends one share, then invites again; it works again.
    share = PatientShare.objects.get(patient=several[0], grantee=recipient)
    assert owner_api.delete(f"/api/v1/patient-sharing/{share.pk}").status_code == 200
    assert not can_read(recipient_api, several[0])
    owner_api.post(
        INVITE,
        {"patient_id": several[0].pk, "shared_with_user_identifier": "recipient"},
        format="json",
    )
    recipient_api.post(
        RESPOND, {"invitation_id": pending_id(recipient_api), "response": "accepted"}, format="json"
    )
    assert can_read(recipient_api, several[0])
