"""A stranger, an expired share and a revoked share see nothing of the patient, across every
record endpoint (the revoke goes through the API, the expiry through the clock)."""

from datetime import timedelta
from importlib import import_module

import pytest
from django.utils import timezone

from patients.models import PatientShare
from records.api.urls import GROUPS

pytestmark = pytest.mark.django_db

CASES = [
    case for group in GROUPS for case in import_module(f"records.tests.contract.{group}").CASES
]


@pytest.fixture
def former(request, alice_api, client_for, bob, mallory, patient):
    """(client, user) of someone who should see nothing: a stranger, or bob whose EDIT share
    (granted through an accepted invitation) expired or was revoked."""
    if request.param == "stranger":
        return client_for(mallory)
    sent = alice_api.post(
        "/api/v1/patient-sharing/invite",
        {
            "patient_id": patient.pk,
            "shared_with_user_identifier": "bob",
            "permission_level": "edit",
        },
        format="json",
    ).json()
    bob_api = client_for(bob)
    bob_api.post(f"/api/v1/invitations/{sent['invitation_id']}/respond", {"action": "accept"})
    share = PatientShare.objects.get(patient=patient, grantee=bob)
    assert bob_api.get("/api/v1/medications", {"patient_id": patient.pk}).status_code == 200
    if request.param == "expired":
        share.expires_at = timezone.now() - timedelta(seconds=1)
        share.save()
    else:
        assert alice_api.delete(f"/api/v1/patient-sharing/{share.pk}").status_code == 200
    return client_for(bob)


@pytest.mark.parametrize("former", ["stranger", "expired", "revoked"], indirect=True)
@pytest.mark.parametrize("case", CASES, ids=lambda case: case.prefix)
def test_nothing_of_the_patient_is_reachable(former, case, patient):
    record = case.factory(patient=patient)
    url = f"/api/v1/{case.prefix}"
    assert former.get(url, {"patient_id": patient.pk}).status_code == 403
    assert former.get(f"/api/v1/patients/{patient.pk}/{case.prefix}").status_code == 403
    assert former.get(f"{url}/patient/{patient.pk}").status_code == 403
    for method in ("get", "put", "delete"):
        response = getattr(former, method)(f"{url}/{record.pk}", case.update, format="json")
        assert response.status_code == 404, (method, response.content)
    body = case.body(patient, patient_id=patient.pk)
    # A child record names its parent, which is invisible to them: "no such parent" (422).
    refused = (403, 404, 422) if case.relation_required else (403, 404)
    assert former.post(url, body, format="json").status_code in refused
    model = case.factory._meta.model
    assert model.objects.filter(patient=patient).count() == 1
    record.refresh_from_db()
    name = next(iter(case.update))
    assert getattr(record, name) != case.update[name]


@pytest.mark.parametrize("former", ["stranger", "expired", "revoked"], indirect=True)
def test_nor_the_patient_itself(former, patient):
    assert former.get(f"/api/v1/patient-management/{patient.pk}").status_code in (403, 404)
    assert former.get("/api/v1/patient-sharing/shared-with-me").json() == []
    listed = former.get("/api/v1/patient-management").json()["patients"]
    assert patient.pk not in [p["id"] for p in listed]
    assert former.get(f"/api/v1/patients/{patient.pk}/photo/info").status_code in (403, 404)
