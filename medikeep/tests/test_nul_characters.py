"""NUL characters never reach the database: PostgreSQL refuses them in text and JSON columns,
so a body, path or parameter carrying one is a 400 (the PostgreSQL run of CI proves no 500
hides behind it)."""

import pytest

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/v1/patients/{pk}/questionnaires", {"title": "T", "answers": {"a": "x\u0000y"}}),
        ("/api/v1/practices", {"name": "Clinic", "locations": [{"label": "a\u0000"}]}),
        ("/api/v1/medications", {"medication_name": "Aspirin\u0000"}),
        ("/api/v1/patient-sharing/invite", {"patient_id": 1, "custom_permissions": {"\u0000": 1}}),
    ],
)
def test_a_nul_anywhere_in_a_json_body_is_a_400(alice_api, patient, path, body):
    response = alice_api.post(path.format(pk=patient.pk), body, format="json")
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/standardized-tests/by-name/a%00b",
        "/api/v1/allergies/patient/{pk}/check/a%00b",
        "/api/v1/medications?name=a%00b",
    ],
)
def test_a_nul_in_the_address_is_a_400(alice_api, patient, path):
    response = alice_api.get(path.format(pk=patient.pk))
    assert response.status_code == 400
    assert response.json()["error"] == "The address may not contain NUL characters."


def test_ordinary_text_still_passes(alice_api, patient):
    body = {"title": "T", "answers": {"a": "x\\u0000y (written out, not a NUL)"}}
    response = alice_api.post(f"/api/v1/patients/{patient.pk}/questionnaires", body, format="json")
    assert response.status_code == 201


QUESTIONNAIRE = "/api/v1/patients/{pk}/questionnaires"


@pytest.mark.parametrize(
    "answers",
    ['{"q1": "x\\u0000y"}', '["a", {"b": "\\u0000"}]', "x\x00y"],
    ids=["json-escape", "nested-json-escape", "raw-nul"],
)
@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_a_nul_in_a_form_or_multipart_field_is_a_400(alice_api, patient, answers, encoding):
    from sharing.models import PortalRequest

    path = QUESTIONNAIRE.format(pk=patient.pk)
    response = _post(alice_api, path, {"title": "T", "answers": answers}, encoding)
    assert response.status_code == 400
    assert "NUL" in response.json()["error"]
    assert not PortalRequest.objects.exists()


@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_form_and_multipart_questionnaires_without_nul_still_file(alice_api, patient, encoding):
    path = QUESTIONNAIRE.format(pk=patient.pk)
    fields = {"title": "T", "answers": '{"q1": "\\\\u0000 written out", "q2": "yes"}'}
    assert _post(alice_api, path, fields, encoding).status_code == 201


def _post(client, path, fields, encoding):
    if encoding == "form":
        from urllib.parse import urlencode

        return client.post(
            path, urlencode(fields), content_type="application/x-www-form-urlencoded"
        )
    return client.post(path, fields, format="multipart")
