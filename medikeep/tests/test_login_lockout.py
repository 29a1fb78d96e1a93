"""Failed sign-ins are counted per account across addresses (medikeep/accounts/lockout.py)."""

import pytest

from medikeep.accounts.tests.factories import DEFAULT_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"


def attempt(client, password, address, username="alice"):
    return client.post(LOGIN, {"username": username, "password": password}, REMOTE_ADDR=address)


@pytest.fixture
def lock_rules(settings):
    settings.LOGIN_LOCK_AFTER = 3
    settings.LOGIN_LOCK_SECONDS = 30
    settings.LOGIN_LOCK_MAX_SECONDS = 120
    # The per-address limit of the auth scope alone would allow each address 10 tries.
    settings.API_RATES = {**settings.API_RATES, "auth": "10/min"}
    return settings


def test_failures_from_many_addresses_lock_the_account(anon, alice, lock_rules):
    for index in range(3):
        assert attempt(anon, "wrong", f"10.0.0.{index}").status_code == 401
    refused = attempt(anon, DEFAULT_PASSWORD, "10.0.1.1")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 30
    assert "failed sign-ins" in refused.json()["message"]
    assert "access_token" not in refused.json()


def test_other_accounts_are_not_affected(anon, alice, bob, lock_rules):
    for index in range(3):
        attempt(anon, "wrong", f"10.0.0.{index}")
    assert attempt(anon, DEFAULT_PASSWORD, "10.0.2.1", username="bob").status_code == 200


def test_under_the_limit_the_right_password_works_and_resets_the_count(anon, alice, lock_rules):
    for index in range(2):
        attempt(anon, "wrong", f"10.0.0.{index}")
    assert attempt(anon, DEFAULT_PASSWORD, "10.0.0.9").status_code == 200
    for index in range(2):
        attempt(anon, "wrong", f"10.0.0.{index}")
    assert attempt(anon, DEFAULT_PASSWORD, "10.0.0.9").status_code == 200


def run_out(username):
    """The lock's cache entry expires with its back-off; drop it as the wait would."""
    from django.core.cache import cache

    from medikeep.accounts.lockout import _keys

    cache.delete(_keys(username)[1])


def test_tries_refused_during_a_lock_neither_count_nor_stretch_it(anon, alice, lock_rules):
    for index in range(3):
        attempt(anon, "wrong", f"10.0.0.{index}")
    for index in range(20):
        refused = attempt(anon, "wrong", f"10.0.3.{index}")
        assert refused.status_code == 429
        assert int(refused["Retry-After"]) <= 30
    run_out("alice")
    # One more failure is the fourth, not the twenty-fourth: the next back-off is 60 s.
    assert attempt(anon, "wrong", "10.0.4.1").status_code == 401
    assert int(attempt(anon, DEFAULT_PASSWORD, "10.0.4.1")["Retry-After"]) == 60
    run_out("alice")
    assert attempt(anon, DEFAULT_PASSWORD, "10.0.4.1").status_code == 200


def test_back_off_doubles_up_to_the_maximum(anon, alice, lock_rules):
    waits = []
    for _round in range(5):
        for index in range(3 if not waits else 1):
            attempt(anon, "wrong", f"10.0.0.{index}")
        waits.append(int(attempt(anon, "wrong", "10.9.9.9")["Retry-After"]))
        run_out("alice")
    assert waits == [30, 60, 120, 120, 120]


def test_unknown_names_are_counted_alike(anon, lock_rules):
    for index in range(3):
        assert attempt(anon, "x", f"10.0.0.{index}", username="nobody").status_code == 401
    assert attempt(anon, "x", "10.0.0.9", username="nobody").status_code == 429


def test_names_are_counted_case_insensitively(anon, alice, lock_rules):
    for index, name in enumerate(("Alice", "ALICE", " alice ")):
        attempt(anon, "wrong", f"10.0.0.{index}", username=name)
    assert attempt(anon, DEFAULT_PASSWORD, "10.0.0.9").status_code == 429
