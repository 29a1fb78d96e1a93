"""The API documentation (issue 19): words, error answers, security and examples for every
operation of the OpenAPI schema, and Swagger UI / ReDoc pages that load nothing from other
hosts."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import override_settings
from drf_spectacular.generators import SchemaGenerator

from medikeep.api.schema import ERROR_ENVELOPE_SCHEMA
from medikeep.api.schema_words import summary_from_path

METHODS = ("get", "post", "put", "patch", "delete")
ENVELOPE_REF = "#/components/schemas/ErrorEnvelope"
PREFIX = "/api/v1"

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def operations(schema):
    for path, item in schema["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def _ids(found):
    return [f"{method.upper()} {path}" for method, path, _ in found]


def test_the_schema_has_hundreds_of_operations(schema):
    assert len(list(operations(schema))) > 500


def test_every_operation_has_a_summary_and_a_description(schema):
    missing = [
        (method, path)
        for method, path, op in operations(schema)
        if not (op.get("summary") or "").strip() or not (op.get("description") or "").strip()
    ]
    assert missing == []


def test_no_summary_is_only_the_path_in_words(schema):
    """The last-resort summary ("Submit backup verify") means a view still needs words."""
    fallbacks = [
        (method, path)
        for method, path, op in operations(schema)
        if op["summary"] == summary_from_path(method, path.removeprefix(PREFIX))
    ]
    assert fallbacks == []


def test_the_methods_of_one_path_have_different_summaries(schema):
    """A view's docstring shared by its methods is no summary of any one of them."""
    shared = []
    for path, item in schema["paths"].items():
        summaries = [item[m]["summary"] for m in METHODS if m in item and m != "patch"]
        if len(set(summaries)) < len(summaries):
            shared.append((path, summaries))
    assert shared == []


def test_summaries_are_one_line(schema):
    long_or_multiline = [
        op["summary"]
        for _, _, op in operations(schema)
        if "\n" in op["summary"] or len(op["summary"]) > 100
    ]
    assert long_or_multiline == []


def test_record_type_operations_are_described_from_the_registry(schema):
    medications = schema["paths"]["/api/v1/medications"]
    assert medications["get"]["summary"] == "List medications of a patient"
    assert "`patient_id`" in medications["get"]["description"]
    assert medications["post"]["summary"] == "Create a medication"
    assert "EDIT access" in medications["post"]["description"]
    detail = schema["paths"]["/api/v1/lab-results/{id}"]
    assert detail["delete"]["summary"] == "Delete a lab result"
    nested = schema["paths"]["/api/v1/patients/{patient_id}/allergies"]["get"]
    assert nested["summary"] == "List allergies of the patient in the path"


def test_link_operations_name_both_records(schema):
    op = schema["paths"]["/api/v1/conditions/{parent_id}/medications"]["post"]
    assert op["summary"] == "Link a medication to a condition"


def test_view_docstrings_of_base_classes_never_become_descriptions(schema):
    from patients.core.views import PatientOwnedViewSet

    base_doc = PatientOwnedViewSet.__doc__.strip().splitlines()[0]
    assert not [
        (method, path) for method, path, op in operations(schema) if base_doc in op["description"]
    ]


# ---------------------------------------------------------------- security


def test_two_security_schemes_bearer_or_cookie(schema):
    schemes = schema["components"]["securitySchemes"]
    assert set(schemes) == {"bearerAuth", "cookieAuth"}
    assert schemes["bearerAuth"]["type"] == "http"
    assert schemes["bearerAuth"]["scheme"] == "bearer"
    assert schemes["cookieAuth"] == {**schemes["cookieAuth"], "type": "apiKey", "in": "cookie"}
    assert schemes["cookieAuth"]["name"] == "medapp_session"


def test_authenticated_operations_accept_either_scheme(schema):
    either = [{"bearerAuth": []}, {"cookieAuth": []}]
    securities = [op.get("security") for _, _, op in operations(schema)]
    assert all(security in (None, either) for security in securities)
    assert securities.count(either) > 400


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/auth/login"),
        ("post", "/api/v1/auth/register"),
        ("get", "/api/v1/auth/registration-status"),
        ("get", "/api/v1/auth/sso/config"),
        ("post", "/api/v1/auth/password-reset/request"),
        ("get", "/api/v1/system/version"),
    ],
)
def test_public_operations_list_no_security(schema, method, path):
    assert not schema["paths"][path][method].get("security")


def test_the_documented_security_matches_what_the_server_does(schema, anon):
    """Every GET without path parameters that lists no security answers an anonymous
    caller; every one that lists security refuses it with 401."""
    checked = 0
    for method, path, op in operations(schema):
        if method != "get" or "{" in path or "export" in path:
            continue
        answer = anon.get(path)
        if op.get("security"):
            assert answer.status_code == 401, path
        else:
            assert answer.status_code != 401, path
        checked += 1
    assert checked > 50


# ---------------------------------------------------------------- error answers


def test_every_operation_lists_429(schema):
    assert not [(m, p) for m, p, op in operations(schema) if "429" not in op["responses"]]


def test_authenticated_operations_list_401(schema):
    missing = [
        (method, path)
        for method, path, op in operations(schema)
        if op.get("security") and "401" not in op["responses"]
    ]
    assert missing == []


def test_operations_with_permissions_beyond_sign_in_list_403(schema):
    """Administrators only, record access levels, and the must-change-password rule."""
    admin = [op for m, p, op in operations(schema) if p.startswith("/api/v1/admin/backups")]
    records = [op for m, p, op in operations(schema) if p.startswith("/api/v1/medications")]
    assert admin and records
    assert all("403" in op["responses"] for op in admin + records)
    # /users/me stays reachable while a password change is pending: nothing else refuses it
    assert "403" not in schema["paths"]["/api/v1/users/me"]["get"]["responses"]


def test_operations_with_a_body_list_422(schema):
    missing = [
        (method, path)
        for method, path, op in operations(schema)
        if "requestBody" in op and "422" not in op["responses"]
    ]
    assert missing == []


def test_detail_paths_list_404_and_deletes_list_409(schema):
    no_404 = [
        (m, p) for m, p, op in operations(schema) if "{" in p and "404" not in op["responses"]
    ]
    no_409 = [
        (m, p) for m, p, op in operations(schema) if m == "delete" and "409" not in op["responses"]
    ]
    assert no_404 == [] and no_409 == []


def test_conflicts_a_view_documents_are_listed_on_its_writes(schema, anon, settings):
    me = schema["paths"]["/api/v1/users/me"]
    assert "409" in me["put"]["responses"] and "409" not in me["get"]["responses"]
    register = schema["paths"]["/api/v1/auth/register"]["post"]["responses"]["409"]
    assert "already used" in register["description"]
    # and the server does answer so
    settings.ALLOW_USER_REGISTRATION = True
    body = {"username": "twice", "email": "twice@example.org", "password": "Twice-over-99x"}
    assert anon.post("/api/v1/auth/register", body).status_code == 201
    again = anon.post("/api/v1/auth/register", body)
    assert again.status_code == 409 and again.json()["error_code"] == "CONF-409"


def test_error_answers_point_at_the_one_envelope(schema):
    assert schema["components"]["schemas"]["ErrorEnvelope"] == ERROR_ENVELOPE_SCHEMA
    elsewhere = [
        (method, path, code)
        for method, path, op in operations(schema)
        for code, response in op["responses"].items()
        if code in {"400", "401", "403", "404", "422", "429"}
        and response["content"]["application/json"]["schema"].get("$ref") != ENVELOPE_REF
    ]
    assert elsewhere == []


def test_the_envelope_is_what_errors_look_like(anon, alice_api):
    required = set(ERROR_ENVELOPE_SCHEMA["required"])
    unauthenticated = anon.get("/api/v1/medications")
    assert unauthenticated.status_code == 401
    assert required <= set(unauthenticated.json())
    invalid = alice_api.post("/api/v1/medications", {"medication_name": ""}, format="json")
    assert invalid.status_code == 422
    body = invalid.json()
    assert required <= set(body) and set(body) <= set(ERROR_ENVELOPE_SCHEMA["properties"])
    assert "medication_name" in body["errors"]


# ---------------------------------------------------------------- examples


def _example(schema, method, path):
    content = schema["paths"][path][method]["requestBody"]["content"]
    examples = content["application/json"]["examples"]
    assert examples, (method, path)
    return next(iter(examples.values()))["value"]


def test_the_sign_up_and_sign_in_examples_work(schema, anon, settings):
    settings.ALLOW_USER_REGISTRATION = True
    registered = anon.post(
        "/api/v1/auth/register", _example(schema, "post", "/api/v1/auth/register")
    )
    assert registered.status_code == 201, registered.content
    signed_in = anon.post("/api/v1/auth/login", _example(schema, "post", "/api/v1/auth/login"))
    assert signed_in.status_code == 200, signed_in.content
    assert signed_in.json()["access_token"]


def test_the_medication_example_creates_a_medication(schema, patient, alice_api):
    body = _example(schema, "post", "/api/v1/medications")
    body["patient_id"] = patient.pk
    created = alice_api.post("/api/v1/medications", body, format="json")
    assert created.status_code == 201, created.content
    assert created.json()["reminder_times"] == ["08:00", "20:00"]


def test_the_invitation_example_invites(schema, patient, alice_api, mallory):
    body = _example(schema, "post", "/api/v1/patient-sharing/invite")
    body["patient_id"] = patient.pk
    body["shared_with_user_identifier"] = mallory.email
    sent = alice_api.post("/api/v1/patient-sharing/invite", body, format="json")
    assert sent.status_code == 200, sent.content


def test_the_channel_example_adds_a_channel(schema, alice_api):
    body = _example(schema, "post", "/api/v1/notifications/channels")
    added = alice_api.post("/api/v1/notifications/channels", body, format="json")
    assert added.status_code == 201, added.content
    assert added.json()["channel_type"] == "ntfy"


def test_the_search_parameter_has_examples(schema):
    (q,) = [p for p in schema["paths"]["/api/v1/search"]["get"]["parameters"] if p["name"] == "q"]
    assert q["examples"]


# ---------------------------------------------------------------- Swagger UI and ReDoc


def _references(html: str) -> list[str]:
    return re.findall(r"""(?:src|href)\s*=\s*["']([^"']+)["']""", html)


@pytest.mark.parametrize("page", ["/api/v1/docs", "/api/v1/docs?script=", "/api/v1/redoc"])
def test_docs_pages_load_nothing_from_other_hosts(anon, page):
    answer = anon.get(page)
    assert answer.status_code == 200
    text = answer.content.decode()
    foreign = [
        url
        for url in re.findall(r"(?:https?:)?//[\w.-]+[^\s\"'<>)]*", text)
        if urlsplit(url if "://" in url else f"http:{url}").hostname not in {"testserver"}
    ]
    assert foreign == []
    assert all(not urlsplit(ref).netloc for ref in _references(text))


@pytest.mark.parametrize("page", ["/api/v1/docs", "/api/v1/redoc"])
def test_docs_pages_have_no_inline_scripts(anon, page):
    """Only <script src=…>: a Content-Security-Policy needs no 'unsafe-inline' scripts."""
    html = anon.get(page).content.decode()
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all("src=" in attrs and not body.strip() for attrs, body in scripts)


@override_settings(WHITENOISE_USE_FINDERS=True, WHITENOISE_AUTOREFRESH=True)
@pytest.mark.parametrize("page", ["/api/v1/docs", "/api/v1/redoc"])
def test_the_files_the_docs_pages_load_are_served(page):
    from django.test import Client

    client = Client()  # a new client builds the middleware with these settings
    references = [
        ref for ref in _references(client.get(page).content.decode()) if ref.startswith("/")
    ]
    assert any(ref.endswith(".js") for ref in references)
    for ref in references:
        answer = client.get(ref)
        assert answer.status_code == 200, ref


def test_the_upload_operation_has_a_multipart_example(schema):
    content = schema["paths"]["/api/v1/entity-files/{entity_type}/{entity_id}/files"]["post"][
        "requestBody"
    ]["content"]
    assert content["multipart/form-data"]["examples"]
