"""/paperless/settings and /papra/settings: only the keys sent change, secrets are encrypted at
rest, never answered, and kept when a client sends them empty or masked; URL and default
back-end rules; the back-end keys of /users/me/preferences."""

from __future__ import annotations

import logging

import pytest

from medikeep.accounts.models import UserPreference

pytestmark = pytest.mark.django_db

TOKEN = "tok-4c1b9e7f0a2d"
PAPRA_KEY = "ppapi_" + "a" * 60 + "Z9z9"
PAPERLESS = "/api/v1/paperless/settings"
PAPRA = "/api/v1/papra/settings"


def preference(user) -> UserPreference:
    return UserPreference.objects.get(user=user)


def save(client, body, path=PAPERLESS):
    return client.put(path, body, format="json")


@pytest.fixture
def configured(alice_api):
    response = save(
        alice_api,
        {
            "paperless_enabled": True,
            "paperless_url": "https://paper.example.org/",
            "paperless_api_token": TOKEN,
            "paperless_username": "alice",
            "paperless_password": "pw-secret-123",
        },
    )
    assert response.status_code == 200, response.content
    return response.json()


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        assert secret not in text


# --- reading -------------------------------------------------------------------------------


def test_defaults_for_a_new_user(alice_api):
    body = alice_api.get(PAPERLESS).json()
    assert body == {
        "paperless_enabled": False,
        "paperless_url": "",
        "paperless_has_token": False,
        "paperless_has_credentials": False,
        "paperless_auto_sync": False,
        "paperless_sync_tags": True,
        "default_storage_backend": "local",
        "papra_enabled": False,
        "papra_url": "",
        "papra_has_token": False,
        "papra_organization_id": None,
    }
    assert alice_api.get(PAPRA).json() == body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", PAPERLESS),
        ("put", PAPERLESS),
        ("delete", PAPERLESS),
        ("get", PAPRA),
        ("put", PAPRA),
        ("post", "/api/v1/paperless/test-connection"),
        ("post", "/api/v1/papra/test-connection"),
        ("get", "/api/v1/paperless/storage-stats"),
    ],
)
def test_anonymous_is_401(anon, method, path):
    response = getattr(anon, method)(path, {}, format="json")
    assert response.status_code == 401
    assert response.json()["status"] == "error"


# --- saving and secrets --------------------------------------------------------------------


def test_saving_encrypts_secrets_and_never_answers_them(alice, alice_api, configured, caplog):
    assert configured["paperless_enabled"] is True
    assert configured["paperless_url"] == "https://paper.example.org"  # no trailing slash
    assert configured["paperless_has_token"] is True
    assert configured["paperless_has_credentials"] is True
    stored = preference(alice)
    assert_no_secret(stored.paperless_secrets, TOKEN, "pw-secret-123", "alice")
    from medikeep.crypto import decrypt_json

    assert decrypt_json(stored.paperless_secrets) == {
        "api_token": TOKEN,
        "username": "alice",
        "password": "pw-secret-123",
    }
    with caplog.at_level(logging.DEBUG):
        answers = [
            alice_api.get(PAPERLESS).content.decode(),
            alice_api.get(PAPRA).content.decode(),
            alice_api.get("/api/v1/users/me/preferences").content.decode(),
        ]
    for text in [*answers, caplog.text]:
        assert_no_secret(text, TOKEN, "pw-secret-123")


def test_preferences_answer_the_real_backend_keys(alice_api, configured):
    body = alice_api.get("/api/v1/users/me/preferences").json()
    assert body["paperless_enabled"] is True
    assert body["paperless_url"] == "https://paper.example.org"
    assert body["paperless_has_token"] is True
    assert body["paperless_has_credentials"] is True
    assert "paperless_api_token" not in body and "paperless_password" not in body


def test_preferences_put_does_not_change_backend_keys(alice, alice_api, configured):
    response = alice_api.put(
        "/api/v1/users/me/preferences",
        {"paperless_enabled": False, "paperless_url": "http://evil.test", "unit_system": "metric"},
        format="json",
    )
    assert response.status_code == 200
    stored = preference(alice)
    assert stored.unit_system == "metric"
    assert stored.paperless_enabled is True
    assert stored.paperless_url == "https://paper.example.org"


def test_first_save_of_the_settings_page_keeps_saved_credentials(alice, alice_api, configured):
    # web-client-api §3: the page sends username/password as "" on every first save.
    before = preference(alice).paperless_secrets
    response = save(
        alice_api,
        {"paperless_username": "", "paperless_password": "", "paperless_auto_sync": True},
    )
    assert response.status_code == 200, response.content
    assert response.json()["paperless_has_credentials"] is True
    assert response.json()["paperless_auto_sync"] is True
    from medikeep.crypto import decrypt_json

    assert decrypt_json(preference(alice).paperless_secrets) == decrypt_json(before)


def test_first_save_without_anything_configured_succeeds(alice_api):
    response = save(
        alice_api,
        {"paperless_username": "", "paperless_password": "", "default_storage_backend": "local"},
    )
    assert response.status_code == 200, response.content
    assert response.json()["paperless_has_credentials"] is False


@pytest.mark.parametrize("masked", ["••••••••", "********", "tok...2d", "…", None, "  "])
def test_masked_or_empty_token_keeps_the_saved_one(alice, alice_api, configured, masked):
    response = save(alice_api, {"paperless_api_token": masked, "paperless_password": masked})
    assert response.status_code == 200, response.content
    from medikeep.crypto import decrypt_json

    secrets = decrypt_json(preference(alice).paperless_secrets)
    assert secrets["api_token"] == TOKEN
    assert secrets["password"] == "pw-secret-123"


def test_a_new_token_replaces_the_saved_one(alice, alice_api, configured):
    assert save(alice_api, {"paperless_api_token": "  new-token-77  "}).status_code == 200
    from medikeep.crypto import decrypt_json

    secrets = decrypt_json(preference(alice).paperless_secrets)
    assert secrets["api_token"] == "new-token-77"
    assert secrets["username"] == "alice"


def test_only_the_keys_sent_change(alice, alice_api, configured):
    assert save(alice_api, {"paperless_sync_tags": False}).status_code == 200
    stored = preference(alice)
    assert stored.paperless_sync_tags is False
    assert stored.paperless_enabled is True
    assert stored.paperless_url == "https://paper.example.org"


@pytest.mark.parametrize(
    "url",
    [
        "ftp://paper.example.org",
        "paper.example.org",
        "https://user:pw@paper.example.org",
        "https://paper.example.org/?token=abc",
        "https://paper example.org",
        "http://169.254.169.254",
        "https:///nohost",
        "http://paper.example.org:0",
    ],
)
def test_bad_urls_are_422(alice_api, url):
    response = save(alice_api, {"paperless_url": url})
    assert response.status_code == 422, response.content
    body = response.json()
    assert body["status"] == "error" and "paperless_url" in body["errors"]
    assert_no_secret(response.content.decode(), "pw@")


@pytest.mark.parametrize(
    "body",
    [
        {"paperless_enabled": "perhaps"},
        {"default_storage_backend": "dropbox"},
        {"paperless_auto_sync": None},
        {"paperless_url": "x" * 501},
        {"paperless_api_token": "t" * 1001},
    ],
)
def test_bad_values_are_422(alice_api, body):
    response = save(alice_api, body)
    assert response.status_code == 422
    assert response.json()["error_code"] == "VAL-422"


def test_unknown_keys_are_ignored(alice_api):
    response = save(alice_api, {"paperless_connection_verified": True, "id": 3})
    assert response.status_code == 200


def test_enabling_needs_url_and_a_secret(alice_api):
    response = save(alice_api, {"paperless_enabled": True})
    assert response.status_code == 422
    assert "paperless_url" in response.json()["errors"]
    response = save(alice_api, {"paperless_enabled": True, "paperless_url": "http://paper.lan"})
    assert response.status_code == 422
    assert "paperless_api_token" in response.json()["errors"]
    response = save(
        alice_api,
        {
            "paperless_enabled": True,
            "paperless_url": "http://paper.lan",
            "paperless_username": "alice",
            "paperless_password": "pw",
        },
    )
    assert response.status_code == 200
    assert response.json()["paperless_has_credentials"] is True
    assert response.json()["paperless_has_token"] is False


@pytest.mark.parametrize("default_first", [True, False])
def test_default_backend_checked_on_the_result_whatever_the_key_order(alice_api, default_first):
    keys = {
        "paperless_enabled": True,
        "paperless_url": "http://paper.lan:8000",
        "paperless_api_token": TOKEN,
    }
    body = (
        {"default_storage_backend": "paperless", **keys}
        if default_first
        else {**keys, "default_storage_backend": "paperless"}
    )
    response = save(alice_api, body)
    assert response.status_code == 200, response.content
    assert response.json()["default_storage_backend"] == "paperless"


def test_default_paperless_refused_while_not_usable(alice_api):
    response = save(alice_api, {"default_storage_backend": "paperless"})
    assert response.status_code == 422
    assert "default_storage_backend" in response.json()["errors"]
    response = save(
        alice_api,
        {
            "paperless_url": "http://paper.lan",
            "paperless_api_token": TOKEN,
            "default_storage_backend": "paperless",
        },
    )
    assert response.status_code == 422  # not enabled


def test_switching_paperless_off_moves_the_default_back_to_local(alice_api, configured):
    assert save(alice_api, {"default_storage_backend": "paperless"}).status_code == 200
    response = save(alice_api, {"paperless_enabled": False})
    assert response.status_code == 200
    assert response.json()["default_storage_backend"] == "local"
    # Asking for both at once is refused rather than half-applied.
    save(alice_api, {"paperless_enabled": True})
    response = save(alice_api, {"paperless_enabled": False, "default_storage_backend": "paperless"})
    assert response.status_code == 422


def test_saved_secrets_are_not_moved_to_another_server(alice, alice_api, configured):
    response = save(alice_api, {"paperless_url": "https://other.example.net"})
    assert response.status_code == 422
    assert "paperless_url" in response.json()["errors"]
    assert preference(alice).paperless_url == "https://paper.example.org"
    # The same server under another path keeps them; a new address with a new token is fine.
    assert (
        save(alice_api, {"paperless_url": "https://PAPER.example.org:443/dms"}).status_code == 200
    )
    response = save(
        alice_api, {"paperless_url": "https://other.example.net", "paperless_api_token": "t-2"}
    )
    assert response.status_code == 200
    assert response.json()["paperless_url"] == "https://other.example.net"


def test_delete_forgets_url_and_secrets(alice, alice_api, configured):
    save(alice_api, {"default_storage_backend": "paperless"})
    response = alice_api.delete(PAPERLESS)
    assert response.status_code == 200
    body = response.json()
    assert body["paperless_enabled"] is False
    assert body["paperless_url"] == ""
    assert body["paperless_has_token"] is False and body["paperless_has_credentials"] is False
    assert body["default_storage_backend"] == "local"
    assert preference(alice).paperless_secrets == ""


def test_settings_are_per_user(alice_api, client_for, mallory, configured):
    body = client_for(mallory).get(PAPERLESS).json()
    assert body["paperless_enabled"] is False and body["paperless_has_token"] is False


def test_undecryptable_secrets_answer_no_token(alice, alice_api, configured):
    UserPreference.objects.filter(user=alice).update(paperless_secrets="gAAAAAbroken")
    body = alice_api.get(PAPERLESS).json()
    assert body["paperless_has_token"] is False
    prefs = alice_api.get("/api/v1/users/me/preferences").json()
    assert prefs["paperless_has_token"] is False
    # Entering the token again repairs it.
    response = save(alice_api, {"paperless_api_token": TOKEN})
    assert response.status_code == 200 and response.json()["paperless_has_token"] is True


# --- Papra ---------------------------------------------------------------------------------


def test_papra_settings_round_trip(alice, alice_api, caplog):
    with caplog.at_level(logging.DEBUG):
        response = save(
            alice_api,
            {
                "papra_enabled": True,
                "papra_url": "http://papra.lan:1221/",
                "papra_api_token": PAPRA_KEY,
                "papra_organization_id": "org_abc",
            },
            PAPRA,
        )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["papra_enabled"] is True
    assert body["papra_url"] == "http://papra.lan:1221"
    assert body["papra_has_token"] is True
    assert body["papra_organization_id"] == "org_abc"
    assert_no_secret(preference(alice).papra_secrets, PAPRA_KEY)
    for text in [response.content.decode(), caplog.text, alice_api.get(PAPRA).content.decode()]:
        assert_no_secret(text, PAPRA_KEY)
    # An empty key on save keeps it; the organisation can be cleared with "".
    response = save(alice_api, {"papra_api_token": "", "papra_organization_id": ""}, PAPRA)
    assert response.json()["papra_has_token"] is True
    assert response.json()["papra_organization_id"] is None


def test_papra_default_needs_papra_enabled_with_a_key(alice_api):
    base = {"papra_enabled": True, "papra_url": "http://papra.lan"}
    response = save(alice_api, {**base, "default_storage_backend": "papra"}, PAPRA)
    assert response.status_code == 422
    response = save(
        alice_api,
        {**base, "papra_api_token": PAPRA_KEY, "default_storage_backend": "papra"},
        PAPRA,
    )
    assert response.status_code == 200
    assert response.json()["default_storage_backend"] == "papra"
    # The default may be set through the Paperless form as well (the web app's settings page).
    response = save(alice_api, {"default_storage_backend": "local"})
    assert response.json()["default_storage_backend"] == "local"
    response = save(alice_api, {"papra_enabled": False, "default_storage_backend": "papra"}, PAPRA)
    assert response.status_code == 422


@pytest.mark.parametrize(
    "body",
    [
        {"papra_url": "javascript:alert(1)"},
        {"papra_enabled": True},
        {"papra_enabled": "sometimes"},
        {"papra_organization_id": "o" * 256},
    ],
)
def test_papra_bad_input_is_422(alice_api, body):
    response = save(alice_api, body, PAPRA)
    assert response.status_code == 422
    assert response.json()["status"] == "error"
