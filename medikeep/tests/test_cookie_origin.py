"""Unsafe requests carried by the `medapp_session` cookie must come from our own origin."""

import pytest
from rest_framework.test import APIClient

from medikeep.accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

EVIL = "http://evil.example"
OURS = "http://testserver"


@pytest.fixture
def browser(patient, alice):
    """A browser signed in as alice the way the web app is: the login sets the cookie."""
    client = APIClient(enforce_csrf_checks=True)
    response = client.post(
        "/api/v1/auth/login", {"username": "alice", "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 200
    assert "medapp_session" in response.cookies
    return client


def medication_body(patient):
    return {"medication_name": "Ibuprofen", "status": "active", "patient_id": patient.id}


@pytest.fixture
def medication(patient):
    from records.tests.factories import MedicationFactory

    return MedicationFactory(patient=patient)


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": EVIL},
        {"HTTP_ORIGIN": "null"},
        {"HTTP_REFERER": f"{EVIL}/attack.html"},
        {"HTTP_ORIGIN": OURS, "HTTP_SEC_FETCH_SITE": "cross-site"},
        {},  # says nothing and carries no CSRF token
    ],
    ids=["origin", "null-origin", "referer", "sec-fetch-site", "no-origin-no-token"],
)
def test_cross_site_writes_with_the_cookie_are_refused(browser, patient, medication, headers):
    from patients.models import PatientShare
    from records.models import Medication

    before = Medication.objects.count()
    attempts = [
        browser.post("/api/v1/medications/", medication_body(patient), format="json", **headers),
        browser.put(
            f"/api/v1/medications/{medication.id}",
            {"medication_name": "Renamed"},
            format="json",
            **headers,
        ),
        browser.delete(f"/api/v1/medications/{medication.id}", **headers),
        browser.post(
            "/api/v1/patient-sharing/",
            {
                "patient_id": patient.id,
                "shared_with_user_identifier": "mallory",
                "permission_level": "full",
            },
            format="json",
            **headers,
        ),
    ]
    for response in attempts:
        assert response.status_code == 403, response.content
        assert "Cross-site request refused" in response.json()["message"]
    assert Medication.objects.count() == before
    medication.refresh_from_db()
    assert medication.medication_name != "Renamed"
    assert not PatientShare.objects.filter(grantee__username="mallory").exists()


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_ORIGIN": OURS},
        {"HTTP_ORIGIN": OURS, "HTTP_SEC_FETCH_SITE": "same-origin"},
        {"HTTP_REFERER": f"{OURS}/medications"},
    ],
    ids=["origin", "sec-fetch-site", "referer"],
)
def test_the_web_app_on_our_origin_keeps_working(browser, patient, medication, headers):
    created = browser.post(
        "/api/v1/medications/", medication_body(patient), format="json", **headers
    )
    assert created.status_code == 201
    assert (
        browser.put(
            f"/api/v1/medications/{medication.id}",
            {"medication_name": "Renamed"},
            format="json",
            **headers,
        ).status_code
        == 200
    )
    assert browser.delete(f"/api/v1/medications/{medication.id}", **headers).status_code in (
        200,
        204,
    )


def test_trusted_origins_and_the_public_url_count_as_ours(browser, patient, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://*.family.example"]
    settings.APP_PUBLIC_URL = "https://health.example.org/"
    for origin in ("https://app.family.example", "https://health.example.org"):
        response = browser.post(
            "/api/v1/medications/", medication_body(patient), format="json", HTTP_ORIGIN=origin
        )
        assert response.status_code == 201, origin
    refused = browser.post(
        "/api/v1/medications/",
        medication_body(patient),
        format="json",
        HTTP_ORIGIN="https://family.example.evil.example",
    )
    assert refused.status_code == 403


def test_a_cookie_request_without_origin_may_carry_the_csrf_token(browser, patient):
    browser.get("/admin/login/")  # Django sets its csrftoken cookie on a form page
    token = browser.cookies["csrftoken"].value
    response = browser.post(
        "/api/v1/medications/", medication_body(patient), format="json", HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 201


def test_reads_with_the_cookie_need_no_origin(browser):
    assert browser.get("/api/v1/users/me", HTTP_ORIGIN=EVIL).status_code == 200


def test_bearer_requests_are_unaffected(client_for, alice, patient):
    response = client_for(alice).post(
        "/api/v1/medications/", medication_body(patient), format="json", HTTP_ORIGIN=EVIL
    )
    assert response.status_code == 201


def test_a_foreign_page_cannot_sign_the_browser_in(anon, alice):
    body = {"username": "alice", "password": DEFAULT_PASSWORD}
    refused = anon.post("/api/v1/auth/login", body, HTTP_ORIGIN=EVIL)
    assert refused.status_code == 403
    assert "medapp_session" not in refused.cookies
    assert anon.post("/api/v1/auth/login", body, HTTP_ORIGIN=OURS).status_code == 200
    # API clients that send no Origin at all sign in as before.
    assert anon.post("/api/v1/auth/login", body).status_code == 200
