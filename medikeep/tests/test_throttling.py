import time

import pytest
from django.test import RequestFactory

from medikeep.accounts.tests.factories import DEFAULT_PASSWORD
from medikeep.middleware import client_ip

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"


def attempt(client, **extra):
    return client.post(LOGIN, {"username": "alice", "password": DEFAULT_PASSWORD}, **extra)


def test_auth_scope_limits_login_with_headers(anon, alice, settings):
    settings.API_RATES = {**settings.API_RATES, "auth": "2/min"}
    first = attempt(anon)
    assert first.status_code == 200
    assert first["X-RateLimit-Limit"] == "2"
    assert first["X-RateLimit-Remaining"] == "1"
    assert int(first["X-RateLimit-Reset"]) >= int(time.time())
    assert attempt(anon).status_code == 200
    refused = attempt(anon)
    assert refused.status_code == 429
    assert refused.json()["error_code"] == "RATE-429"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert refused["X-RateLimit-Remaining"] == "0"


def test_auth_scope_counts_per_address(anon, alice, settings):
    settings.API_RATES = {**settings.API_RATES, "auth": "1/min"}
    assert attempt(anon, REMOTE_ADDR="10.0.0.1").status_code == 200
    assert attempt(anon, REMOTE_ADDR="10.0.0.1").status_code == 429
    assert attempt(anon, REMOTE_ADDR="10.0.0.2").status_code == 200


def test_standard_scope_counts_per_user(client_for, alice, bob, settings):
    settings.API_RATES = {**settings.API_RATES, "standard": "1/min"}
    alice_api, bob_api = client_for(alice), client_for(bob)
    assert alice_api.get("/api/v1/users/me").status_code == 200
    assert alice_api.get("/api/v1/users/me").status_code == 429
    assert bob_api.get("/api/v1/users/me").status_code == 200


def test_forwarded_for_is_ignored_unless_peer_is_trusted(anon, alice, settings):
    settings.API_RATES = {**settings.API_RATES, "auth": "1/min"}
    # An untrusted peer cannot dodge the limit by inventing addresses.
    assert attempt(anon, HTTP_X_FORWARDED_FOR="1.1.1.1").status_code == 200
    assert attempt(anon, HTTP_X_FORWARDED_FOR="2.2.2.2").status_code == 429


@pytest.mark.parametrize(
    ("trusted", "peer", "forwarded", "expected"),
    [
        ([], "10.0.0.5", "1.2.3.4", "10.0.0.5"),
        (["10.0.0.0/8"], "10.0.0.5", "1.2.3.4", "1.2.3.4"),
        (["10.0.0.0/8"], "10.0.0.5", "6.6.6.6, 1.2.3.4, 10.0.0.9", "1.2.3.4"),
        (["10.0.0.0/8"], "192.168.1.1", "1.2.3.4", "192.168.1.1"),
        (["10.0.0.5"], "10.0.0.5", "", "10.0.0.5"),
    ],
)
def test_client_ip(settings, trusted, peer, forwarded, expected):
    settings.TRUSTED_PROXIES = trusted
    request = RequestFactory().get("/", REMOTE_ADDR=peer, HTTP_X_FORWARDED_FOR=forwarded)
    assert client_ip(request) == expected


def test_the_count_is_one_integer_per_client_and_window(client_for, alice, settings):
    """Constant cost: the throttle keeps a counter, not a list of request times."""
    from django.core.cache import cache

    settings.API_RATES = {**settings.API_RATES, "standard": "1000/min"}
    api = client_for(alice)
    for _ in range(5):
        response = api.get("/api/v1/users/me")
    reset = int(response["X-RateLimit-Reset"])
    assert reset % 60 == 0  # the end of a fixed window
    window = reset // 60 - 1
    used = 1000 - int(response["X-RateLimit-Remaining"])
    assert cache.get(f"throttle:standard:user-{alice.pk}:{window}") == used
    assert 1 <= used <= 5


def test_a_refused_request_says_when_the_window_ends(client_for, alice, settings):
    settings.API_RATES = {**settings.API_RATES, "standard": "2/h"}
    api = client_for(alice)
    api.get("/api/v1/users/me")
    api.get("/api/v1/users/me")
    refused = api.get("/api/v1/users/me")
    assert refused.status_code == 429
    reset = int(refused["X-RateLimit-Reset"])
    assert reset % 3600 == 0
    assert 0 < int(refused["Retry-After"]) <= 3600
    assert abs(int(refused["Retry-After"]) - (reset - time.time())) <= 2
