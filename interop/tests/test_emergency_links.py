"""Emergency links: made with FULL, the token shown once and stored hashed, opened without an
account (each opening logged), dead once expired or revoked, and every refusal."""

import datetime as dt
import hashlib

import pytest
from django.utils import timezone

from interop.models import EmergencyLink, EmergencyLinkAccess
from records.tests.factories import AllergyFactory, EmergencyContactFactory

pytestmark = pytest.mark.django_db

LINKS = "/api/v1/patients/{}/emergency-links"
PUBLIC = "/api/v1/emergency/{}"
PAGE = "/emergency/{}"
UA = "Mozilla/5.0 (Ambulance tablet)"


def create(api, patient, **body):
    response = api.post(LINKS.format(patient.pk), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.fixture
def link(alice_api, patient):
    AllergyFactory(patient=patient, allergen="Peanuts", severity="severe")
    EmergencyContactFactory(patient=patient, name="Yan Spouse", is_primary=True)
    return create(alice_api, patient, label="Ski trip")


def test_create_shows_the_token_once_and_stores_its_hash(alice_api, patient, link):
    token = link["token"]
    assert len(token) >= 43
    assert link["url"] == f"http://testserver/emergency/{token}"
    assert link["pdf_url"] == f"http://testserver/api/v1/emergency/{token}/pdf"
    assert link["fhir_url"].endswith(f"/api/v1/emergency/{token}/fhir")
    assert link["label"] == "Ski trip"
    assert link["active"] is True and link["revoked_at"] is None
    assert link["access_count"] == 0 and link["last_accessed_at"] is None
    assert link["created_by"] == "alice"
    expires = dt.datetime.fromisoformat(link["expires_at"])
    assert abs(expires - (timezone.now() + dt.timedelta(hours=72))) < dt.timedelta(minutes=1)
    row = EmergencyLink.objects.get(pk=link["id"])
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(list(EmergencyLink.objects.values()))

    listed = alice_api.get(LINKS.format(patient.pk))
    assert listed.status_code == 200
    assert token not in listed.content.decode()
    assert [item["id"] for item in listed.json()] == [link["id"]]
    assert "token" not in listed.json()[0] and "url" not in listed.json()[0]
    detail = alice_api.get(f"{LINKS.format(patient.pk)}/{link['id']}")
    assert detail.status_code == 200 and "token" not in detail.json()


def test_public_link_opens_and_logs_each_access(alice_api, anon, patient, link):
    token = link["token"]
    response = anon.get(PUBLIC.format(token), HTTP_USER_AGENT=UA, REMOTE_ADDR="203.0.113.7")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["patient"]["name"] == "Alice Owner"
    assert [a["allergen"] for a in body["allergies"]] == ["Peanuts"]
    assert body["emergency_contacts"][0]["name"] == "Yan Spouse"
    assert body["link_expires_at"]
    assert response["Cache-Control"] == "no-store"
    assert response["Referrer-Policy"] == "no-referrer"
    assert "noindex" in response["X-Robots-Tag"]

    pdf = anon.get(PUBLIC.format(token) + "/pdf", HTTP_USER_AGENT="x" * 400)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf["Cache-Control"] == "no-store" and pdf["Referrer-Policy"] == "no-referrer"
    page = anon.get(PAGE.format(token), HTTP_USER_AGENT=UA)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Alice Owner" in html and "Peanuts" in html and "Yan Spouse" in html
    assert "<script" not in html
    assert f"/api/v1/emergency/{token}/pdf" in html
    assert page["Cache-Control"] == "no-store" and "noindex" in page["X-Robots-Tag"]
    assert page["Referrer-Policy"] == "no-referrer"
    assert "script-src 'self'" in page["Content-Security-Policy"]

    accesses = alice_api.get(f"{LINKS.format(patient.pk)}/{link['id']}/accesses").json()
    assert [a["format"] for a in accesses] == ["page", "pdf", "json"]
    assert accesses[2]["ip_address"] == "203.0.113.7"
    assert accesses[2]["user_agent"] == UA
    assert accesses[1]["user_agent"] == "x" * 255
    listed = alice_api.get(LINKS.format(patient.pk)).json()[0]
    assert listed["access_count"] == 3
    assert listed["last_accessed_at"] == accesses[0]["accessed_at"]


def test_client_ip_comes_through_a_trusted_proxy(settings, alice_api, anon, patient, link):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    anon.get(
        PUBLIC.format(link["token"]),
        REMOTE_ADDR="10.0.0.2",
        HTTP_X_FORWARDED_FOR="198.51.100.9",
    )
    assert EmergencyLinkAccess.objects.get().ip_address == "198.51.100.9"


def assert_dead(anon, token):
    answers = [
        anon.get(PUBLIC.format(token)),
        anon.get(PUBLIC.format(token) + "/pdf"),
        anon.get(PUBLIC.format(token) + "/fhir"),
        anon.get(PAGE.format(token)),
    ]
    assert [r.status_code for r in answers] == [404, 404, 404, 404]
    assert answers[0].json()["error"] == answers[1].json()["error"]
    for response in answers:
        assert response["Cache-Control"] == "no-store"
        assert response["Referrer-Policy"] == "no-referrer"
    return answers[0].json()["error"]


def test_unknown_expired_and_revoked_tokens_get_the_same_404(alice_api, anon, patient, link):
    unknown = assert_dead(anon, "A" * 43)
    assert assert_dead(anon, "not a token!") == unknown
    EmergencyLink.objects.filter(pk=link["id"]).update(
        expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    assert assert_dead(anon, link["token"]) == unknown

    other = create(alice_api, patient)
    assert anon.get(PUBLIC.format(other["token"])).status_code == 200
    revoked = alice_api.delete(f"{LINKS.format(patient.pk)}/{other['id']}")
    assert revoked.status_code == 200
    assert revoked.json()["active"] is False and revoked.json()["revoked_at"]
    assert assert_dead(anon, other["token"]) == unknown
    assert EmergencyLinkAccess.objects.count() == 1  # dead links log nothing


def test_revoke_by_post_keeps_the_first_revocation(alice_api, anon, patient, link):
    url = f"{LINKS.format(patient.pk)}/{link['id']}/revoke"
    first = alice_api.post(url)
    assert first.status_code == 200 and first.json()["active"] is False
    again = alice_api.post(url)
    assert again.json()["revoked_at"] == first.json()["revoked_at"]
    assert anon.get(PUBLIC.format(link["token"])).status_code == 404
    listed = alice_api.get(LINKS.format(patient.pk)).json()
    assert listed[0]["active"] is False


def test_expiry_choices(alice_api, patient):
    soon = create(alice_api, patient, expires_in_hours=1)
    expires = dt.datetime.fromisoformat(soon["expires_at"])
    assert abs(expires - (timezone.now() + dt.timedelta(hours=1))) < dt.timedelta(minutes=1)
    moment = (timezone.now() + dt.timedelta(days=10)).replace(microsecond=0)
    fixed = create(alice_api, patient, expires_at=moment.isoformat())
    assert dt.datetime.fromisoformat(fixed["expires_at"]) == moment


@pytest.mark.parametrize(
    "body, field",
    [
        ({"expires_in_hours": 0}, "expires_in_hours"),
        ({"expires_in_hours": 721}, "expires_in_hours"),
        ({"expires_in_hours": "soon"}, "expires_in_hours"),
        ({"expires_at": "yesterday"}, "expires_at"),
        ({"expires_at": "2020-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
        ({"expires_in_hours": 5, "expires_at": "2999-01-01T00:00:00Z"}, "expires_at"),
        ({"label": "x" * 101}, "label"),
    ],
)
def test_bad_input_is_422(alice_api, patient, body, field):
    response = alice_api.post(LINKS.format(patient.pk), body, format="json")
    assert response.status_code == 422, response.content
    assert field in response.json()["errors"]
    assert not EmergencyLink.objects.exists()


def test_full_share_manages_links(client_for, dave, alice_api, shared_patient):
    made = create(client_for(dave), shared_patient)
    assert made["created_by"] == "dave"
    # The owner sees and ends a link a FULL holder made, and vice versa.
    assert [row["id"] for row in alice_api.get(LINKS.format(shared_patient.pk)).json()] == [
        made["id"]
    ]
    own = create(alice_api, shared_patient)
    revoke = f"{LINKS.format(shared_patient.pk)}/{own['id']}/revoke"
    assert client_for(dave).post(revoke).status_code == 200


@pytest.mark.parametrize("persona", ["bob", "carol"])
def test_view_and_edit_shares_cannot_hand_out_or_manage_links(
    request, client_for, alice_api, shared_patient, persona
):
    made = create(alice_api, shared_patient)
    api = client_for(request.getfixturevalue(persona))
    base = LINKS.format(shared_patient.pk)
    assert api.post(base, {}, format="json").status_code == 403
    assert api.get(base).status_code == 403
    assert api.delete(f"{base}/{made['id']}").status_code == 403
    assert api.post(f"{base}/{made['id']}/revoke").status_code == 403
    assert api.get(f"{base}/{made['id']}/accesses").status_code == 403
    assert EmergencyLink.objects.get(pk=made["id"]).revoked_at is None
    assert EmergencyLink.objects.count() == 1


def test_anonymous_and_strangers_are_refused(anon, client_for, mallory, alice_api, patient):
    made = create(alice_api, patient)
    base = LINKS.format(patient.pk)
    for method, url in [
        ("post", base),
        ("get", base),
        ("get", f"{base}/{made['id']}"),
        ("delete", f"{base}/{made['id']}"),
        ("post", f"{base}/{made['id']}/revoke"),
        ("get", f"{base}/{made['id']}/accesses"),
    ]:
        assert getattr(anon, method)(url).status_code == 401, (method, url)
        assert getattr(client_for(mallory), method)(url).status_code == 403, (method, url)
    missing = LINKS.format(patient.pk + 999)
    assert client_for(mallory).get(missing).status_code == 404


def test_a_link_of_another_patient_is_not_found(alice_api, make_user, client_for, patient):
    from patients.tests.factories import PatientFactory

    other_owner = make_user(username="erin")
    other = PatientFactory(owner=other_owner)
    foreign = create(client_for(other_owner), other)
    base = LINKS.format(patient.pk)
    assert alice_api.delete(f"{base}/{foreign['id']}").status_code == 404
    assert alice_api.post(f"{base}/{foreign['id']}/revoke").status_code == 404
    assert alice_api.get(f"{base}/{foreign['id']}/accesses").status_code == 404
    assert EmergencyLink.objects.get(pk=foreign["id"]).revoked_at is None


def test_accesses_list_takes_skip_and_limit(alice_api, anon, patient, link):
    for _ in range(3):
        anon.get(PUBLIC.format(link["token"]))
    url = f"{LINKS.format(patient.pk)}/{link['id']}/accesses"
    assert len(alice_api.get(url, {"limit": 2}).json()) == 2
    assert len(alice_api.get(url, {"skip": 2}).json()) == 1
    assert alice_api.get(url, {"limit": "many"}).status_code == 422


def test_link_list_query_count_does_not_grow(
    alice_api, anon, patient, django_assert_max_num_queries
):
    first = create(alice_api, patient)
    anon.get(PUBLIC.format(first["token"]))
    # The user, their level on the patient, the links with their counts, and one access
    # check per maker of a link (here one maker, however many links).
    with django_assert_max_num_queries(4):
        alice_api.get(LINKS.format(patient.pk))
    for _ in range(10):
        made = create(alice_api, patient)
        anon.get(PUBLIC.format(made["token"]))
    with django_assert_max_num_queries(4):
        response = alice_api.get(LINKS.format(patient.pk))
    assert len(response.json()) == 11


def test_public_paths_are_throttled(settings, anon, link):
    settings.API_RATES = {**settings.API_RATES, "system": "2/min"}
    url = PUBLIC.format(link["token"])
    assert [anon.get(url).status_code for _ in range(3)] == [200, 200, 429]
    throttled = anon.get(PAGE.format(link["token"]))
    assert throttled.status_code == 429
    assert EmergencyLinkAccess.objects.count() == 2


def test_page_and_documents_show_markup_as_text(alice_api, anon, patient):
    AllergyFactory(patient=patient, allergen="<script>alert(1)</script>", reaction="<b>x</b>")
    token = create(alice_api, patient)["token"]
    html = anon.get(PAGE.format(token)).content.decode()
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "<b>x</b>" not in html
    bundle = anon.get(PUBLIC.format(token) + "/fhir").json()
    narrative = bundle["entry"][0]["resource"]["section"][0]["text"]["div"]
    assert "&lt;script&gt;" in narrative and "<script>" not in narrative


def test_a_link_ends_when_its_maker_loses_full(client_for, dave, alice_api, anon, shared_patient):
    from patients.models import PatientShare

    made = create(client_for(dave), shared_patient)
    owners = create(alice_api, shared_patient)
    assert anon.get(PUBLIC.format(made["token"])).status_code == 200
    PatientShare.objects.filter(patient=shared_patient, grantee=dave).update(level="view")
    assert_dead(anon, made["token"])
    assert anon.get(PUBLIC.format(owners["token"])).status_code == 200
    listed = {row["id"]: row for row in alice_api.get(LINKS.format(shared_patient.pk)).json()}
    assert listed[made["id"]]["status"] == "maker_lost_access"
    assert listed[made["id"]]["active"] is False
    assert listed[owners["id"]]["status"] == "active" and listed[owners["id"]]["active"]
    dave.delete()
    assert alice_api.get(LINKS.format(shared_patient.pk)).json()[-1]["created_by"] is None


def test_statuses_of_expired_and_revoked_links(alice_api, patient):
    old = create(alice_api, patient)
    gone = create(alice_api, patient)
    EmergencyLink.objects.filter(pk=old["id"]).update(expires_at=timezone.now())
    alice_api.delete(f"{LINKS.format(patient.pk)}/{gone['id']}")
    listed = {row["id"]: row["status"] for row in alice_api.get(LINKS.format(patient.pk)).json()}
    assert listed == {old["id"]: "expired", gone["id"]: "revoked"}


@pytest.mark.parametrize(
    "body",
    [
        [],
        "just a string",
        {"label": {"nested": 1}, "expires_in_hours": 10**100},
        {"label": "\x00", "expires_at": 10**100},
        {"expires_in_hours": None, "expires_at": ["x"]},
        {"expires_at": "2999-99-99T99:99:99Z"},
    ],
)
def test_junk_bodies_are_refused_without_a_server_error(alice_api, patient, body):
    response = alice_api.post(LINKS.format(patient.pk), body, format="json")
    assert 400 <= response.status_code < 500, response.content
    assert not EmergencyLink.objects.exists()


@pytest.mark.parametrize("token", ["x" * 5000, "%00abc", "..", "a/b", "é" * 43])
def test_junk_tokens_are_404(anon, token):
    assert anon.get(PUBLIC.format(token)).status_code in (400, 404)
    assert anon.get(PAGE.format(token)).status_code in (400, 404)
