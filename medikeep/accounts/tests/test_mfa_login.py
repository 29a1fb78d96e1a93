"""Password sign-in with the second factor: the challenge answer, /auth/mfa/verify, single
use of codes and tokens, the attempt limit."""

from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.utils import timezone

from medikeep.accounts.mfa.models import MFALoginChallenge, TOTPDevice
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD
from medikeep.accounts.tests.mfa_support import clock_fixture, enrol  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

LOGIN = "/api/v1/auth/login"
VERIFY = "/api/v1/auth/mfa/verify"


def login(client, username="alice"):
    return client.post(LOGIN, {"username": username, "password": DEFAULT_PASSWORD})


def challenge(client, username="alice") -> str:
    response = login(client, username)
    assert response.status_code == 200, response.content
    return response.json()["mfa_token"]


def other(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


def assert_refused(response, status=401):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error" and body["error"]
    assert settings.AUTH_COOKIE_NAME not in response.cookies
    assert "access_token" not in body


@pytest.fixture
def enrolled(alice, clock):
    return enrol(alice, clock)


class TestChallenge:
    def test_password_answers_a_challenge_without_tokens(self, anon, enrolled):
        response = login(anon)
        assert response.status_code == 200
        body = response.json()
        assert body["mfa_required"] is True
        assert body["methods"] == ["totp", "recovery_code"]
        assert body["expires_in"] == 300
        assert len(body["mfa_token"]) >= 40
        assert "access_token" not in body and "refresh_token" not in body
        assert settings.AUTH_COOKIE_NAME not in response.cookies
        # Only the token's digest is stored.
        stored = MFALoginChallenge.objects.get()
        assert body["mfa_token"] not in stored.token_digest

    def test_wrong_password_still_401_and_no_challenge(self, anon, enrolled):
        response = anon.post(LOGIN, {"username": "alice", "password": "Wrong-pass-1"})
        assert_refused(response)
        assert not MFALoginChallenge.objects.exists()

    def test_unconfirmed_enrolment_does_not_ask(self, anon, client_for, alice):
        client_for(alice).post("/api/v1/auth/mfa/totp/setup")
        assert "access_token" in login(anon).json()


class TestVerify:
    def test_finishes_like_a_plain_login(self, anon, enrolled, clock, bob):
        token = challenge(anon)
        response = anon.post(VERIFY, {"mfa_token": token, "code": enrolled.code(clock)})
        assert response.status_code == 200, response.content
        body = response.json()
        plain = login(anon, "bob")
        assert set(body) == set(plain.json())
        assert body["token_type"] == "bearer" and body["refresh_token"]
        assert body["expires_in"] == plain.json()["expires_in"]
        cookie = response.cookies[settings.AUTH_COOKIE_NAME]
        plain_cookie = plain.cookies[settings.AUTH_COOKIE_NAME]
        assert cookie.value == body["access_token"]
        for attribute in ("httponly", "samesite", "max-age", "path", "secure"):
            assert cookie[attribute] == plain_cookie[attribute]
        claims = jwt.decode(body["access_token"], options={"verify_signature": False})
        assert claims["sub"] == "alice"
        anon.cookies.clear()
        anon.credentials(HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
        assert anon.get("/api/v1/users/me").json()["username"] == "alice"
        enrolled_user = TOTPDevice.objects.get().user
        assert enrolled_user.last_login is not None

    def test_json_body(self, anon, enrolled, clock):
        token = challenge(anon)
        payload = {"mfa_token": token, "code": enrolled.code(clock)}
        assert anon.post(VERIFY, payload, format="json").status_code == 200

    def test_same_code_in_the_same_step_is_refused(self, anon, enrolled, clock):
        code = enrolled.code(clock)
        assert anon.post(VERIFY, {"mfa_token": challenge(anon), "code": code}).status_code == 200
        assert_refused(anon.post(VERIFY, {"mfa_token": challenge(anon), "code": code}))
        # An older step's code, still inside the window, is refused as well.
        clock.advance()
        assert_refused(anon.post(VERIFY, {"mfa_token": challenge(anon), "code": code}))
        # The next step's code passes.
        token = challenge(anon)
        assert (
            anon.post(VERIFY, {"mfa_token": token, "code": enrolled.code(clock)}).status_code == 200
        )

    def test_recovery_code_works_once(self, anon, enrolled, client_for, alice):
        code = enrolled.recovery_codes[0]
        response = anon.post(VERIFY, {"mfa_token": challenge(anon), "code": code})
        assert response.status_code == 200, response.content
        assert_refused(anon.post(VERIFY, {"mfa_token": challenge(anon), "code": code}))
        status = client_for(alice).get("/api/v1/auth/mfa").json()
        assert status["recovery_codes_left"] == 9
        # Typed without dashes, in capitals: the same code.
        spaced = enrolled.recovery_codes[1].replace("-", "").upper()
        assert anon.post(VERIFY, {"mfa_token": challenge(anon), "code": spaced}).status_code == 200

    def test_token_is_single_use(self, anon, enrolled, clock):
        token = challenge(anon)
        assert (
            anon.post(VERIFY, {"mfa_token": token, "code": enrolled.code(clock)}).status_code == 200
        )
        clock.advance()
        assert_refused(anon.post(VERIFY, {"mfa_token": token, "code": enrolled.code(clock)}))

    def test_expired_token_is_refused(self, anon, enrolled, clock):
        token = challenge(anon)
        MFALoginChallenge.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
        assert_refused(anon.post(VERIFY, {"mfa_token": token, "code": enrolled.code(clock)}))
        # Expired rows go with the next challenge.
        challenge(anon)
        assert MFALoginChallenge.objects.count() == 1

    def test_token_lifetime_setting(self, anon, enrolled, settings):
        settings.MFA_LOGIN_TOKEN_SECONDS = 60
        assert login(anon).json()["expires_in"] == 60
        stored = MFALoginChallenge.objects.get()
        assert stored.expires_at - stored.created_at == timedelta(seconds=60)

    def test_unknown_token(self, anon, enrolled, clock):
        assert_refused(anon.post(VERIFY, {"mfa_token": "x" * 43, "code": enrolled.code(clock)}))

    def test_deactivated_meanwhile(self, anon, enrolled, clock, alice):
        token = challenge(anon)
        alice.is_active = False
        alice.save()
        assert_refused(anon.post(VERIFY, {"mfa_token": token, "code": enrolled.code(clock)}))

    @pytest.mark.parametrize(
        "payload",
        [
            {},
            {"mfa_token": "abc"},
            {"code": "123456"},
            {"mfa_token": "a" * 300, "code": "123456"},
            {"mfa_token": "abc", "code": "9" * 100},
            {"mfa_token": ["abc"], "code": {"x": 1}},
        ],
    )
    def test_bad_input_is_422(self, anon, payload):
        response = anon.post(VERIFY, payload, format="json")
        assert response.status_code == 422, response.content
        assert response.json()["errors"]

    def test_non_object_body_is_4xx(self, anon):
        response = anon.post(VERIFY, "[1, 2]", content_type="application/json")
        assert 400 <= response.status_code < 500


class TestAttemptLimit:
    def test_wrong_codes_lock_the_account(self, anon, enrolled, clock, settings):
        settings.MFA_LOCK_AFTER = 3
        right = enrolled.code(clock)
        token = challenge(anon)
        for _ in range(3):
            assert_refused(anon.post(VERIFY, {"mfa_token": token, "code": other(right)}))
        # Locked: even the right code is not checked, from a new challenge too.
        locked = anon.post(VERIFY, {"mfa_token": challenge(anon), "code": right})
        assert_refused(locked, 429)
        assert int(locked["Retry-After"]) == settings.LOGIN_LOCK_SECONDS
        # When the back-off is over, the right code passes and the count starts again.
        TOTPDevice.objects.update(locked_until=timezone.now() - timedelta(seconds=1))
        response = anon.post(VERIFY, {"mfa_token": challenge(anon), "code": right})
        assert response.status_code == 200, response.content
        assert TOTPDevice.objects.get().failed_attempts == 0

    def test_a_challenge_ends_after_five_wrong_codes(self, anon, enrolled, clock, settings):
        settings.MFA_LOCK_AFTER = 100
        right = enrolled.code(clock)
        token = challenge(anon)
        for _ in range(5):
            assert_refused(anon.post(VERIFY, {"mfa_token": token, "code": "zzzz-zzzz-zzzz"}))
        assert_refused(anon.post(VERIFY, {"mfa_token": token, "code": right}))
        assert not MFALoginChallenge.objects.exists()

    def test_verify_is_throttled_per_address(self, anon, enrolled, settings):
        settings.API_RATES = {**settings.API_RATES, "auth": "3/min"}
        statuses = [
            anon.post(VERIFY, {"mfa_token": "t" * 43, "code": "123456"}).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]


class TestSSOOnlyMode:
    def test_switched_on_while_the_code_was_awaited(self, anon, enrolled, clock, settings):
        token = challenge(anon)
        settings.SSO_ENABLED, settings.SSO_ONLY = True, True
        assert_refused(anon.post(VERIFY, {"mfa_token": token, "code": enrolled.code(clock)}), 403)

    def test_an_admin_still_signs_in_with_the_second_factor(
        self, anon, admin_user, clock, settings
    ):
        settings.SSO_ENABLED, settings.SSO_ONLY = True, True
        enrolled = enrol(admin_user, clock)
        token = challenge(anon, admin_user.username)
        response = anon.post(VERIFY, {"mfa_token": token, "code": enrolled.code(clock)})
        assert response.status_code == 200, response.content
        assert response.json()["access_token"]
