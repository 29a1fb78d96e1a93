"""Bodies that are not what an endpoint expects (a list, a string, a number, null, wrong
types, ids beyond any column) are refused with a 4xx, never a 500."""

import pytest

pytestmark = pytest.mark.django_db

PATHS = [
    "/api/v1/patient-sharing",
    "/api/v1/patient-sharing/invite",
    "/api/v1/patient-sharing/bulk-invite",
    "/api/v1/patient-sharing/cancel-invitation",
    "/api/v1/invitations/respond",
    "/api/v1/invitations/1/respond",
    "/api/v1/family-history-sharing/bulk-invite",
    "/api/v1/family-history-sharing/1/shares",
    "/api/v1/portal/accept",
    "/api/v1/auth/password-reset/request",
    "/api/v1/auth/password-reset/confirm",
]
BODIES = [
    "[]",
    '"x"',
    "5",
    "null",
    '{"patient_id": 99999999999999999999999}',
    '{"patient_ids": "abc", "recipient_emails": 5}',
    '{"invitation_id": [1], "response": 5}',
]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("body", BODIES)
def test_refused_without_a_500(alice_api, patient, path, body):
    response = alice_api.generic("POST", path, body, content_type="application/json")
    assert 400 <= response.status_code < 500, (path, body, response.content[:300])
