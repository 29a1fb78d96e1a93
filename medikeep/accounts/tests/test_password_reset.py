"""Self-service password reset: the request never tells whether an account exists, the
emailed link works once, and the new password signs the account out everywhere."""

import re
from datetime import datetime, timedelta

import pytest
from django.contrib.auth.tokens import default_token_generator
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from medikeep.accounts.choices import UserAuthMethod
from medikeep.accounts.models import User
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from medikeep.accounts.tokens import issue_tokens

pytestmark = pytest.mark.django_db

REQUEST = "/api/v1/auth/password-reset/request"
CONFIRM = "/api/v1/auth/password-reset/confirm"
LOGIN = "/api/v1/auth/login"
NEW_PASSWORD = "Fresh-start-2025"


@pytest.fixture
def tim(make_user):
    return make_user(username="tim", email="tim@example.test")


def ask(client, email, captured):
    with captured(execute=True):
        return client.post(REQUEST, {"email": email}, format="json")


def link_parts(message) -> dict:
    match = re.search(r"/password-reset\?uid=([\w-]+)&token=([\w-]+)", message.body)
    return {"uid": match.group(1), "token": match.group(2)}


def uid_of(user) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def confirm(client, **body):
    return client.post(CONFIRM, {"new_password": NEW_PASSWORD, **body}, format="json")


class TestRequest:
    def test_emails_a_link_to_the_account(
        self, anon, tim, django_capture_on_commit_callbacks, mailoutbox, settings
    ):
        settings.APP_PUBLIC_URL = "https://mk.example/"
        response = ask(anon, "TIM@example.test", django_capture_on_commit_callbacks)
        assert response.status_code == 200
        assert set(response.json()) == {"message"}
        [message] = mailoutbox
        assert message.to == ["tim@example.test"]
        assert "https://mk.example/password-reset?uid=" in message.body
        parts = link_parts(message)
        assert parts["uid"] == uid_of(tim)
        assert default_token_generator.check_token(tim, parts["token"])

    def test_unknown_addresses_get_the_same_answer_and_no_mail(
        self, anon, tim, django_capture_on_commit_callbacks, mailoutbox
    ):
        known = ask(anon, "tim@example.test", django_capture_on_commit_callbacks)
        unknown = ask(anon, "nobody@example.test", django_capture_on_commit_callbacks)
        assert (unknown.status_code, unknown.json()) == (known.status_code, known.json())
        assert len(mailoutbox) == 1

    @pytest.mark.parametrize("kind", ["inactive", "sso"])
    def test_inactive_and_sso_only_accounts_get_nothing(
        self, anon, make_user, kind, django_capture_on_commit_callbacks, mailoutbox
    ):
        if kind == "inactive":
            make_user(email="x@example.test", is_active=False)
        else:
            user = make_user(email="x@example.test", auth_method=UserAuthMethod.SSO)
            user.set_unusable_password()
            user.save()
        response = ask(anon, "x@example.test", django_capture_on_commit_callbacks)
        assert response.status_code == 200
        assert not mailoutbox

    def test_a_malformed_address_is_a_422(self, anon):
        response = anon.post(REQUEST, {"email": "not-an-address"}, format="json")
        assert response.status_code == 422
        assert "email" in response.json()["errors"]

    def test_only_json_is_read(self, anon, tim, mailoutbox):
        assert anon.post(REQUEST, {"email": tim.email}).status_code == 415
        assert not mailoutbox

    def test_throttled_with_the_auth_scope(self, anon, settings):
        settings.API_RATES = {**settings.API_RATES, "auth": "2/min"}
        for _ in range(2):
            assert anon.post(REQUEST, {"email": "a@b.test"}, format="json").status_code == 200
        assert anon.post(REQUEST, {"email": "a@b.test"}, format="json").status_code == 429
        assert anon.post(CONFIRM, {"uid": "x", "token": "y"}, format="json").status_code == 429


class TestConfirm:
    def test_request_mail_confirm_then_old_sessions_die_and_new_password_works(
        self, anon, tim, client_for, django_capture_on_commit_callbacks, mailoutbox
    ):
        before = issue_tokens(tim)
        old_session = client_for(tim)
        assert old_session.get("/api/v1/users/me").status_code == 200
        ask(anon, tim.email, django_capture_on_commit_callbacks)
        response = confirm(anon, **link_parts(mailoutbox[0]))
        assert response.status_code == 200, response.content
        assert set(response.json()) == {"message"}
        assert old_session.get("/api/v1/users/me").status_code == 401
        refreshed = anon.post(
            "/api/v1/auth/refresh", {"refresh_token": before.refresh_token}, format="json"
        )
        assert refreshed.status_code == 401
        assert (
            anon.post(LOGIN, {"username": "tim", "password": DEFAULT_PASSWORD}).status_code == 401
        )
        login = anon.post(LOGIN, {"username": "tim", "password": NEW_PASSWORD})
        assert login.status_code == 200
        assert login.json()["access_token"]

    def test_the_link_works_once(self, anon, tim):
        parts = {"uid": uid_of(tim), "token": default_token_generator.make_token(tim)}
        assert confirm(anon, **parts).status_code == 200
        again = confirm(anon, **parts, new_password="Another-pass-77")
        assert again.status_code == 400
        tim.refresh_from_db()
        assert tim.check_password(NEW_PASSWORD)

    def test_clears_a_pending_forced_password_change(self, anon, make_user):
        user = make_user(email="f@example.test", must_change_password=True)
        token = default_token_generator.make_token(user)
        assert confirm(anon, uid=uid_of(user), token=token).status_code == 200
        user.refresh_from_db()
        assert user.must_change_password is False

    @pytest.mark.parametrize(
        "parts",
        [
            {"token": "wrong-token"},
            {"uid": "garbage!!"},
            {"uid": urlsafe_base64_encode(b"987654")},
            {"uid": urlsafe_base64_encode(b"99999999999999999999999999")},
        ],
    )
    def test_bad_links_are_a_400(self, anon, tim, parts):
        body = {"uid": uid_of(tim), "token": default_token_generator.make_token(tim), **parts}
        response = confirm(anon, **body)
        assert response.status_code == 400
        tim.refresh_from_db()
        assert tim.check_password(DEFAULT_PASSWORD)

    def test_another_accounts_token_is_a_400(self, anon, tim, mallory):
        body = {"uid": uid_of(mallory), "token": default_token_generator.make_token(tim)}
        assert confirm(anon, **body).status_code == 400
        mallory.refresh_from_db()
        assert mallory.check_password(DEFAULT_PASSWORD)

    def test_an_expired_link_is_a_400(self, anon, tim, monkeypatch, settings):
        def token_made_before(age):
            monkeypatch.setattr(default_token_generator, "_now", lambda: datetime.now() - age)
            token = default_token_generator.make_token(tim)
            monkeypatch.undo()
            return token

        lifetime = timedelta(hours=settings.PASSWORD_RESET_HOURS)
        stale = token_made_before(lifetime + timedelta(minutes=5))
        assert confirm(anon, uid=uid_of(tim), token=stale).status_code == 400
        tim.refresh_from_db()
        assert tim.check_password(DEFAULT_PASSWORD)
        recent = token_made_before(lifetime - timedelta(minutes=5))
        assert confirm(anon, uid=uid_of(tim), token=recent).status_code == 200

    def test_a_weak_password_is_a_422_and_the_link_still_works(self, anon, tim):
        parts = {"uid": uid_of(tim), "token": default_token_generator.make_token(tim)}
        weak = confirm(anon, **parts, new_password="password")
        assert weak.status_code == 422
        assert "new_password" in weak.json()["errors"]
        tim.refresh_from_db()
        assert tim.check_password(DEFAULT_PASSWORD)
        assert confirm(anon, **parts).status_code == 200

    def test_deactivated_accounts_cannot_reset(self, anon, tim):
        token = default_token_generator.make_token(tim)
        User.objects.filter(pk=tim.pk).update(is_active=False)
        assert confirm(anon, uid=uid_of(tim), token=token).status_code == 400

    def test_missing_fields_are_a_422(self, anon):
        response = anon.post(CONFIRM, {}, format="json")
        assert response.status_code == 422
        assert set(response.json()["errors"]) == {"uid", "token", "new_password"}


def test_request_for_one_account_leaves_others_alone(
    anon, django_capture_on_commit_callbacks, mailoutbox
):
    UserFactory(email="a@example.test")
    UserFactory(email="b@example.test")
    ask(anon, "a@example.test", django_capture_on_commit_callbacks)
    assert [m.to for m in mailoutbox] == [["a@example.test"]]


class TestPage:
    """/password-reset: the page the email links to, for servers without a front end."""

    PAGE = "/password-reset"

    def test_asks_for_the_address_and_sends_the_link(
        self, client, tim, mailoutbox, django_capture_on_commit_callbacks
    ):
        assert 'name="email"' in client.get(self.PAGE).content.decode()
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(self.PAGE, {"email": tim.email})
        assert response.status_code == 200
        assert "on its way" in response.content.decode()
        (message,) = mailoutbox
        assert "/password-reset?uid=" in message.body

    def test_the_link_sets_the_new_password(self, client, tim):
        parts = {"uid": uid_of(tim), "token": default_token_generator.make_token(tim)}
        form = client.get(self.PAGE, parts).content.decode()
        assert 'name="new_password"' in form and parts["token"] in form
        differ = client.post(
            self.PAGE, {**parts, "new_password": NEW_PASSWORD, "new_password_again": "other"}
        )
        assert differ.status_code == 422
        done = client.post(
            self.PAGE, {**parts, "new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}
        )
        assert done.status_code == 200 and "password is changed" in done.content.decode()
        tim.refresh_from_db()
        assert tim.check_password(NEW_PASSWORD)
        reused = client.post(
            self.PAGE,
            {**parts, "new_password": "Another-pass-99", "new_password_again": "Another-pass-99"},
        )
        assert reused.status_code == 400
        tim.refresh_from_db()
        assert tim.check_password(NEW_PASSWORD)

    def test_a_post_without_the_csrf_token_is_refused(self, tim):
        from django.test import Client

        browser = Client(enforce_csrf_checks=True)
        assert browser.post(self.PAGE, {"email": tim.email}).status_code == 403
