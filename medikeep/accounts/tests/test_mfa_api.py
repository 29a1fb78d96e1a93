"""Two-factor sign-in, enrolment and changes: /auth/mfa, totp/setup, totp/confirm,
recovery-codes, disable."""

import hashlib
import logging
from urllib.parse import parse_qs, unquote, urlparse

import pyotp
import pytest

from adminops.models import ActivityLog
from medikeep import crypto
from medikeep.accounts.mfa import services
from medikeep.accounts.mfa.models import RecoveryCode, TOTPDevice
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD
from medikeep.accounts.tests.mfa_support import clock_fixture, enrol  # noqa: F401 (fixture)

pytestmark = pytest.mark.django_db

STATUS = "/api/v1/auth/mfa"
SETUP = "/api/v1/auth/mfa/totp/setup"
CONFIRM = "/api/v1/auth/mfa/totp/confirm"
RENEW = "/api/v1/auth/mfa/recovery-codes"
DISABLE = "/api/v1/auth/mfa/disable"
LOGIN = "/api/v1/auth/login"


def assert_envelope(response, status):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error" and body["error"] and "error_code" in body
    return body


class TestSetup:
    def test_answers_secret_uri_and_qr_code_and_stores_the_secret_encrypted(self, alice_api):
        response = alice_api.post(SETUP)
        assert response.status_code == 200, response.content
        body = response.json()
        secret = body["secret"]
        assert len(secret) == 32 and pyotp.TOTP(secret).now().isdigit()
        uri = urlparse(body["otpauth_uri"])
        assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
        assert unquote(uri.path) == "/MediKeep:alice"
        query = parse_qs(uri.query)
        assert query["secret"] == [secret] and query["issuer"] == ["MediKeep"]
        assert body["qr_code"].startswith("data:image/svg+xml")
        assert "<svg" in unquote(body["qr_code"])
        device = TOTPDevice.objects.get(user=alice_api.user)
        assert device.confirmed_at is None
        assert secret not in device.encrypted_secret
        assert crypto.decrypt_json(device.encrypted_secret) == secret
        status = alice_api.get(STATUS).json()
        assert status["enabled"] is False and status["setup_pending"] is True

    def test_issuer_follows_the_setting(self, alice_api, settings):
        settings.MFA_ISSUER = "Family Health"
        uri = alice_api.post(SETUP).json()["otpauth_uri"]
        assert parse_qs(urlparse(uri).query)["issuer"] == ["Family Health"]

    def test_restart_replaces_the_secret(self, alice_api):
        first = alice_api.post(SETUP).json()["secret"]
        second = alice_api.post(SETUP).json()["secret"]
        assert first != second
        device = TOTPDevice.objects.get(user=alice_api.user)
        assert crypto.decrypt_json(device.encrypted_secret) == second

    def test_refused_while_on(self, alice_api, clock):
        enrol(alice_api.user, clock)
        assert_envelope(alice_api.post(SETUP), 409)

    def test_account_without_password_is_refused(self, client_for, alice):
        alice.set_unusable_password()
        alice.save()
        assert_envelope(client_for(alice).post(SETUP), 400)
        assert not TOTPDevice.objects.filter(user=alice).exists()


class TestConfirm:
    def test_right_code_turns_it_on_and_shows_ten_codes_once(self, alice_api, clock):
        secret = alice_api.post(SETUP).json()["secret"]
        response = alice_api.post(CONFIRM, {"code": pyotp.TOTP(secret).at(clock.now)})
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["enabled"] is True
        codes = body["recovery_codes"]
        assert len(codes) == len(set(codes)) == 10
        status = alice_api.get(STATUS).json()
        assert status["enabled"] is True and status["recovery_codes_left"] == 10
        assert status["confirmed_at"] and status["methods"] == ["totp", "recovery_code"]
        assert "recovery_codes" not in status
        # Shown once: nothing answers them again.
        assert_envelope(alice_api.post(CONFIRM, {"code": pyotp.TOTP(secret).at(clock.now)}), 409)

    def test_codes_are_stored_hashed(self, alice_api, clock):
        codes = enrol(alice_api.user, clock).recovery_codes
        stored = list(RecoveryCode.objects.filter(user=alice_api.user).values())
        assert len(stored) == 10
        text = repr(stored)
        for code in codes:
            assert code not in text and code.replace("-", "") not in text
        expected = {
            hashlib.sha256(services.normalise_recovery_code(code).encode()).hexdigest()
            for code in codes
        }
        assert {row["code_digest"] for row in stored} == expected

    def test_wrong_code_leaves_it_off(self, alice_api, clock):
        secret = alice_api.post(SETUP).json()["secret"]
        right = pyotp.TOTP(secret).at(clock.now)
        wrong = f"{(int(right) + 1) % 1_000_000:06d}"
        assert_envelope(alice_api.post(CONFIRM, {"code": wrong}), 400)
        # A code from a step outside the window is wrong too.
        assert_envelope(
            alice_api.post(CONFIRM, {"code": pyotp.TOTP(secret).at(clock.now - 90)}), 400
        )
        assert alice_api.get(STATUS).json()["enabled"] is False
        assert not RecoveryCode.objects.exists()

    def test_neighbouring_steps_pass(self, alice_api, clock):
        secret = alice_api.post(SETUP).json()["secret"]
        response = alice_api.post(CONFIRM, {"code": pyotp.TOTP(secret).at(clock.now - 30)})
        assert response.status_code == 200

    def test_without_setup(self, alice_api):
        assert_envelope(alice_api.post(CONFIRM, {"code": "123456"}), 400)

    @pytest.mark.parametrize(
        "payload", [{}, {"code": ""}, {"code": "1" * 65}, {"code": ["123456"]}, {"code": None}]
    )
    def test_bad_input_is_422(self, alice_api, payload):
        alice_api.post(SETUP)
        body = assert_envelope(alice_api.post(CONFIRM, payload, format="json"), 422)
        assert "code" in body["errors"]

    def test_activity_log_row(self, alice_api, clock):
        enrol(alice_api.user, clock)
        row = ActivityLog.objects.get(action="mfa_enabled")
        assert (row.user_id, row.entity_type, row.entity_id) == (
            alice_api.user.pk,
            "user",
            alice_api.user.pk,
        )


class TestRecoveryCodesRenew:
    def test_new_codes_void_the_old(self, alice_api, clock):
        enrolled = enrol(alice_api.user, clock)
        response = alice_api.post(
            RENEW, {"password": DEFAULT_PASSWORD, "code": enrolled.code(clock)}
        )
        assert response.status_code == 200, response.content
        new_codes = response.json()["recovery_codes"]
        assert len(new_codes) == 10 and not set(new_codes) & set(enrolled.recovery_codes)
        user = alice_api.user
        assert services.second_factor_check(user=user, code=enrolled.recovery_codes[0]) is None
        assert services.second_factor_check(user=user, code=new_codes[0]) == "recovery_code"
        assert ActivityLog.objects.filter(action="mfa_recovery_codes_renewed").count() == 1

    def test_needs_password_and_an_app_code(self, alice_api, clock):
        enrolled = enrol(alice_api.user, clock)
        code = enrolled.code(clock)
        assert_envelope(alice_api.post(RENEW, {"password": "Wrong-pass-1", "code": code}), 401)
        recovery = enrolled.recovery_codes[0]
        assert_envelope(
            alice_api.post(RENEW, {"password": DEFAULT_PASSWORD, "code": recovery}), 401
        )
        assert_envelope(alice_api.post(RENEW, {"password": DEFAULT_PASSWORD}), 422)
        assert RecoveryCode.objects.filter(user=alice_api.user, used_at__isnull=True).count() == 10

    def test_refused_while_off(self, alice_api):
        assert_envelope(alice_api.post(RENEW, {"password": DEFAULT_PASSWORD, "code": "1"}), 400)


class TestDisable:
    def test_needs_password_and_code(self, alice_api, clock):
        enrolled = enrol(alice_api.user, clock)
        code = enrolled.code(clock)
        assert_envelope(alice_api.post(DISABLE, {"password": "Wrong-pass-1", "code": code}), 401)
        assert_envelope(
            alice_api.post(DISABLE, {"password": DEFAULT_PASSWORD, "code": "000000"}), 401
        )
        assert_envelope(alice_api.post(DISABLE, {"code": code}), 422)
        assert alice_api.get(STATUS).json()["enabled"] is True
        response = alice_api.post(DISABLE, {"password": DEFAULT_PASSWORD, "code": code})
        assert response.status_code == 200, response.content
        assert response.json()["enabled"] is False
        assert not TOTPDevice.objects.filter(user=alice_api.user).exists()
        assert not RecoveryCode.objects.filter(user=alice_api.user).exists()
        assert ActivityLog.objects.filter(action="mfa_disabled").count() == 1
        # Password sign-in needs no second step any more.
        login = alice_api.post(LOGIN, {"username": "alice", "password": DEFAULT_PASSWORD})
        assert login.status_code == 200 and login.json()["access_token"]

    def test_a_recovery_code_also_works(self, alice_api, clock):
        enrolled = enrol(alice_api.user, clock)
        code = enrolled.recovery_codes[3].upper().replace("-", " ")
        response = alice_api.post(DISABLE, {"password": DEFAULT_PASSWORD, "code": code})
        assert response.status_code == 200, response.content
        assert alice_api.get(STATUS).json()["enabled"] is False


@pytest.mark.parametrize(
    "method,path",
    [("get", STATUS), ("post", SETUP), ("post", CONFIRM), ("post", RENEW), ("post", DISABLE)],
)
def test_anonymous_is_401(anon, method, path):
    assert_envelope(getattr(anon, method)(path, {"code": "123456"}), 401)


def test_status_when_off(alice_api):
    assert alice_api.get(STATUS).json() == {
        "enabled": False,
        "confirmed_at": None,
        "recovery_codes_left": 0,
        "setup_pending": False,
        "methods": [],
    }


def test_no_secret_or_code_reaches_the_log(alice_api, clock, caplog):
    caplog.set_level(logging.DEBUG)
    secret = alice_api.post(SETUP).json()["secret"]
    first = pyotp.TOTP(secret).at(clock.now)
    alice_api.post(CONFIRM, {"code": "000000" if first != "000000" else "111111"})
    codes = alice_api.post(CONFIRM, {"code": first}).json()["recovery_codes"]
    clock.advance()
    alice_api.post(DISABLE, {"password": "Wrong-pass-1", "code": codes[0]})
    alice_api.post(
        DISABLE, {"password": DEFAULT_PASSWORD, "code": pyotp.TOTP(secret).at(clock.now)}
    )
    assert caplog.records  # the changes are logged …
    for value in [secret, first, *codes]:  # … without what they protect
        assert value not in caplog.text
