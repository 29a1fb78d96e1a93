"""Patient-portal invitations: sending, reading and accepting the signed link, through the
API and through the /portal/join page, and what the new account may do afterwards."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from adminops.models import ActivityLog
from medikeep.accounts.models import SystemSetting, User
from medikeep.accounts.tests.factories import DEFAULT_PASSWORD, UserFactory
from patients.models import PatientShare
from patients.tests.factories import PatientFactory, PatientShareFactory
from sharing.models import PortalInvitation

pytestmark = pytest.mark.django_db

PREVIEW = "/api/v1/portal/invitation"
ACCEPT = "/api/v1/portal/accept"
JOIN_PAGE = "/portal/join"
NEW_PASSWORD = "Portal-pass-2024"


def invite_url(patient_id):
    return f"/api/v1/patients/{patient_id}/portal/invite"


@pytest.fixture
def child(alice):
    """A patient alice manages who has an email address of their own."""
    return PatientFactory(
        owner=alice, first_name="Tim", last_name="Owner", email="tim@example.test"
    )


def send_invite(api, patient, captured, **body):
    with captured(execute=True):
        return api.post(invite_url(patient.pk), body, format="json")


def token_in(message) -> str:
    return re.search(r"/portal/join\?token=(\S+)", message.body).group(1)


def make_invitation(patient, inviter, **fields) -> PortalInvitation:
    values = {
        "email": "tim@example.test",
        "permission_level": "view",
        "expires_at": timezone.now() + timedelta(days=1),
        **fields,
    }
    return PortalInvitation.objects.create(patient=patient, invited_by=inviter, **values)


def join(client, token, username="timmy", password=NEW_PASSWORD, **extra):
    body = {"token": token, "username": username, "password": password, **extra}
    return client.post(ACCEPT, body, format="json")


class TestInvite:
    def test_owner_invites_the_patients_address(
        self, alice_api, child, django_capture_on_commit_callbacks, mailoutbox, settings
    ):
        settings.APP_PUBLIC_URL = "https://mk.example"
        response = send_invite(alice_api, child, django_capture_on_commit_callbacks)
        assert response.status_code == 200, response.content
        body = response.json()
        invitation = PortalInvitation.objects.get()
        assert body["invitation_id"] == invitation.pk
        assert body["email"] == "tim@example.test"
        assert body["permission_level"] == "view"
        assert body["account_exists"] is False
        assert body["message"] and body["expires_at"]
        assert invitation.status == "pending" and invitation.invited_by.username == "alice"
        expected_expiry = timezone.now() + timedelta(hours=settings.PORTAL_INVITE_HOURS)
        assert abs((invitation.expires_at - expected_expiry).total_seconds()) < 60
        [message] = mailoutbox
        assert message.to == ["tim@example.test"]
        assert "https://mk.example/portal/join?token=" in message.body
        assert "Tim Owner" in message.body
        assert PortalInvitation.id_from_token(token_in(message)) == invitation.pk

    def test_body_email_and_level_win(
        self, alice_api, child, django_capture_on_commit_callbacks, mailoutbox
    ):
        response = send_invite(
            alice_api,
            child,
            django_capture_on_commit_callbacks,
            email="other@example.test",
            permission_level="Edit",
        )
        assert response.status_code == 200
        assert (response.json()["email"], response.json()["permission_level"]) == (
            "other@example.test",
            "edit",
        )
        assert mailoutbox[0].to == ["other@example.test"]

    def test_reports_an_existing_account(
        self, alice_api, child, django_capture_on_commit_callbacks
    ):
        UserFactory(email="TIM@example.test")
        response = send_invite(alice_api, child, django_capture_on_commit_callbacks)
        assert response.json()["account_exists"] is True

    def test_no_address_anywhere_is_a_400(
        self, alice_api, alice, django_capture_on_commit_callbacks, mailoutbox
    ):
        no_email = PatientFactory(owner=alice, email="")
        response = send_invite(alice_api, no_email, django_capture_on_commit_callbacks)
        assert response.status_code == 400
        assert "email" in response.json()["error"]
        assert not PortalInvitation.objects.exists() and not mailoutbox

    def test_the_owners_own_address_is_a_400(
        self, alice_api, alice, child, django_capture_on_commit_callbacks
    ):
        response = send_invite(
            alice_api, child, django_capture_on_commit_callbacks, email=alice.email.upper()
        )
        assert response.status_code == 400
        assert not PortalInvitation.objects.exists()

    def test_bad_level_is_a_422(self, alice_api, child, django_capture_on_commit_callbacks):
        response = send_invite(
            alice_api, child, django_capture_on_commit_callbacks, permission_level="owner"
        )
        assert response.status_code == 422
        assert "permission_level" in response.json()["errors"]

    def test_full_share_invites_up_to_edit(
        self, client_for, dave, shared_patient, django_capture_on_commit_callbacks, mailoutbox
    ):
        api = client_for(dave)
        refused = send_invite(
            api,
            shared_patient,
            django_capture_on_commit_callbacks,
            email="kid@example.test",
            permission_level="full",
        )
        assert refused.status_code == 403
        assert not PortalInvitation.objects.exists() and not mailoutbox
        allowed = send_invite(
            api,
            shared_patient,
            django_capture_on_commit_callbacks,
            email="kid@example.test",
            permission_level="edit",
        )
        assert allowed.status_code == 200
        assert PortalInvitation.objects.get().invited_by == dave

    @pytest.mark.parametrize("persona", ["bob", "carol", "mallory"])
    def test_view_edit_and_strangers_are_refused(
        self,
        request,
        persona,
        client_for,
        shared_patient,
        django_capture_on_commit_callbacks,
        mailoutbox,
    ):
        api = client_for(request.getfixturevalue(persona))
        response = send_invite(
            api, shared_patient, django_capture_on_commit_callbacks, email="kid@example.test"
        )
        assert response.status_code == 403
        assert not PortalInvitation.objects.exists() and not mailoutbox

    def test_unknown_patient_is_a_404(self, alice_api):
        assert alice_api.post(invite_url(987654), {}, format="json").status_code == 404

    def test_anonymous_is_a_401(self, anon, child):
        assert anon.post(invite_url(child.pk), {}, format="json").status_code == 401

    def test_a_new_invitation_replaces_the_pending_ones(
        self, alice_api, child, django_capture_on_commit_callbacks, mailoutbox, anon
    ):
        send_invite(alice_api, child, django_capture_on_commit_callbacks)
        send_invite(alice_api, child, django_capture_on_commit_callbacks)
        first, second = PortalInvitation.objects.order_by("id")
        assert (first.status, second.status) == ("revoked", "pending")
        old_token, new_token = (token_in(m) for m in mailoutbox)
        assert anon.get(PREVIEW, {"token": old_token}).status_code == 400
        assert anon.get(PREVIEW, {"token": new_token}).status_code == 200


class TestPreview:
    def test_shows_what_the_link_offers(self, anon, child, alice):
        invitation = make_invitation(child, alice, permission_level="edit")
        response = anon.get(PREVIEW, {"token": invitation.token()})
        assert response.status_code == 200
        assert response.json() == {
            "patient_name": "Tim O.",
            "email": "tim@example.test",
            "permission_level": "edit",
            "expires_at": response.json()["expires_at"],
            "account_exists": False,
        }

    @pytest.mark.parametrize(
        ("status", "says"),
        [("accepted", "already been used"), ("revoked", "withdrawn"), ("expired", "expired")],
    )
    def test_dead_links_are_a_400(self, anon, child, alice, status, says):
        invitation = make_invitation(child, alice, status=status)
        response = anon.get(PREVIEW, {"token": invitation.token()})
        assert response.status_code == 400
        assert says in response.json()["error"]

    def test_a_lapsed_link_is_a_400_and_marked_expired(self, anon, child, alice):
        invitation = make_invitation(child, alice, expires_at=timezone.now() - timedelta(1))
        response = anon.get(PREVIEW, {"token": invitation.token()})
        assert response.status_code == 400
        assert "expired" in response.json()["error"]
        invitation.refresh_from_db()
        assert invitation.status == "expired"

    def test_forged_tokens_are_a_400(self, anon, child, alice):
        invitation = make_invitation(child, alice)
        tampered = invitation.token()[:-2] + "xx"
        for token in (tampered, "nonsense", '{"invitation": 1}'):
            assert anon.get(PREVIEW, {"token": token}).status_code == 400

    def test_token_is_required(self, anon):
        assert anon.get(PREVIEW).status_code == 422


class TestAcceptAsNewAccount:
    def test_creates_the_account_and_grants_the_level(self, anon, child, alice):
        invitation = make_invitation(child, alice, permission_level="edit")
        response = join(anon, invitation.token(), full_name="Tim Owner")
        assert response.status_code == 201, response.content
        body = response.json()
        user = User.objects.get(pk=body["user_id"])
        assert (user.username, user.email, user.full_name) == (
            "timmy",
            "tim@example.test",
            "Tim Owner",
        )
        assert body["patient_id"] == child.pk and body["permission_level"] == "edit"
        share = PatientShare.objects.get(patient=child, grantee=user)
        assert (share.level, share.is_active, share.granted_by) == ("edit", True, alice)
        invitation.refresh_from_db()
        assert (invitation.status, invitation.accepted_by) == ("accepted", user)
        me = anon.get("/api/v1/users/me", HTTP_AUTHORIZATION=f"Bearer {body['access_token']}")
        assert me.status_code == 200 and me.json()["username"] == "timmy"

    def test_works_while_public_registration_is_off(self, anon, child, alice):
        SystemSetting.objects.create(key="allow_user_registration", value=False)
        invitation = make_invitation(child, alice)
        assert join(anon, invitation.token()).status_code == 201

    def test_an_existing_account_for_the_address_is_a_409(self, anon, child, alice):
        UserFactory(username="tim", email="Tim@Example.test")
        invitation = make_invitation(child, alice)
        response = join(anon, invitation.token())
        assert response.status_code == 409
        assert "sign in" in response.json()["error"]
        assert not User.objects.filter(username="timmy").exists()
        invitation.refresh_from_db()
        assert invitation.status == "pending"

    def test_the_token_works_once(self, anon, child, alice):
        invitation = make_invitation(child, alice)
        assert join(anon, invitation.token()).status_code == 201
        again = join(anon, invitation.token(), username="timmy2", email="x@example.test")
        assert again.status_code == 400
        assert "already been used" in again.json()["error"]
        assert not User.objects.filter(username="timmy2").exists()

    def test_an_expired_link_is_a_400_and_marked(self, anon, child, alice):
        invitation = make_invitation(child, alice, expires_at=timezone.now() - timedelta(1))
        assert join(anon, invitation.token()).status_code == 400
        assert not User.objects.filter(username="timmy").exists()
        invitation.refresh_from_db()
        assert invitation.status == "expired"

    def test_a_wrong_token_is_a_400(self, anon, child, alice):
        make_invitation(child, alice)
        assert join(anon, "wrong").status_code == 400
        assert not User.objects.filter(username="timmy").exists()

    @pytest.mark.parametrize(
        ("change", "field"),
        [({"password": "short1"}, "password"), ({"username": "no spaces!"}, "username")],
    )
    def test_bad_account_fields_are_a_422_and_nothing_changes(
        self, anon, child, alice, change, field
    ):
        invitation = make_invitation(child, alice)
        response = join(anon, invitation.token(), **change)
        assert response.status_code == 422
        assert field in response.json()["errors"]
        assert not User.objects.filter(email="tim@example.test").exists()
        invitation.refresh_from_db()
        assert invitation.status == "pending"

    def test_username_and_password_are_required_without_a_sign_in(self, anon, child, alice):
        invitation = make_invitation(child, alice)
        response = anon.post(ACCEPT, {"token": invitation.token()}, format="json")
        assert response.status_code == 422
        assert set(response.json()["errors"]) == {"username", "password"}

    def test_a_taken_username_is_a_409(self, anon, child, alice):
        invitation = make_invitation(child, alice)
        assert join(anon, invitation.token(), username="alice").status_code == 409
        assert not User.objects.filter(email="tim@example.test").exists()

    def test_an_inviter_who_lost_full_access_grants_nothing(
        self, anon, shared_patient, dave, alice
    ):
        invitation = make_invitation(shared_patient, dave, permission_level="edit")
        PatientShare.objects.filter(grantee=dave).update(level="view")
        assert join(anon, invitation.token()).status_code == 400
        assert not User.objects.filter(email="tim@example.test").exists()


class TestAcceptSignedIn:
    def test_matching_address_gets_the_share(self, client_for, child, alice):
        tim = UserFactory(username="tim", email="TIM@example.test")
        invitation = make_invitation(child, alice, permission_level="view")
        response = client_for(tim).post(ACCEPT, {"token": invitation.token()}, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == {
            "message": "Portal invitation accepted",
            "patient_id": child.pk,
            "permission_level": "view",
            "user_id": tim.pk,
        }
        assert PatientShare.objects.get(patient=child, grantee=tim).level == "view"

    def test_another_address_is_a_403(self, client_for, child, alice, mallory):
        invitation = make_invitation(child, alice)
        response = client_for(mallory).post(ACCEPT, {"token": invitation.token()}, format="json")
        assert response.status_code == 403
        assert not PatientShare.objects.filter(grantee=mallory).exists()
        invitation.refresh_from_db()
        assert invitation.status == "pending"

    def test_the_owner_accepting_is_a_400(self, alice_api, child, alice):
        invitation = make_invitation(child, alice, email=alice.email)
        response = alice_api.post(ACCEPT, {"token": invitation.token()}, format="json")
        assert response.status_code == 400
        assert not PatientShare.objects.exists()

    def test_a_higher_existing_share_is_kept(self, client_for, shared_patient, alice, carol):
        invitation = make_invitation(shared_patient, alice, email=carol.email)
        response = client_for(carol).post(ACCEPT, {"token": invitation.token()}, format="json")
        assert response.status_code == 200
        assert PatientShare.objects.get(patient=shared_patient, grantee=carol).level == "edit"

    def test_a_revoked_share_is_reactivated_at_the_new_level(self, client_for, child, alice):
        tim = UserFactory(email="tim@example.test")
        PatientShareFactory(patient=child, grantee=tim, level="view", is_active=False)
        invitation = make_invitation(child, alice, permission_level="edit")
        assert client_for(tim).post(ACCEPT, {"token": invitation.token()}).status_code == 200
        share = PatientShare.objects.get(patient=child, grantee=tim)
        assert (share.level, share.is_active) == ("edit", True)

    def test_reused_and_wrong_tokens_are_a_400(self, client_for, child, alice):
        tim = UserFactory(email="tim@example.test")
        invitation = make_invitation(child, alice)
        api = client_for(tim)
        assert api.post(ACCEPT, {"token": invitation.token()}, format="json").status_code == 200
        assert api.post(ACCEPT, {"token": invitation.token()}, format="json").status_code == 400
        assert api.post(ACCEPT, {"token": "forged"}, format="json").status_code == 400


class TestEndToEnd:
    def test_invite_mail_join_and_see_at_the_chosen_level_only(
        self, alice_api, child, django_capture_on_commit_callbacks, mailoutbox, anon
    ):
        sent = send_invite(alice_api, child, django_capture_on_commit_callbacks)
        assert sent.status_code == 200
        token = token_in(mailoutbox[0])
        with django_capture_on_commit_callbacks(execute=True):
            joined = join(anon, token)
        assert joined.status_code == 201
        granted = ActivityLog.objects.get(entity_type="patient_share", action="created")
        assert granted.patient_id == child.pk and granted.user_id == joined.json()["user_id"]
        # The invited person's record is the managed patient: no second self-record, and the
        # new account opens on that patient.
        assert joined.cookies["medapp_session"].value == joined.json()["access_token"]
        account = User.objects.get(pk=joined.json()["user_id"])
        assert account.active_patient_id == child.pk
        assert not account.owned_patients.exists()
        tim = anon
        tim.credentials(HTTP_AUTHORIZATION=f"Bearer {joined.json()['access_token']}")
        assert tim.get("/api/v1/medications").status_code == 200  # the active patient's
        listing = tim.get("/api/v1/medications", {"patient_id": child.pk})
        assert listing.status_code == 200
        # VIEW reads but neither writes records nor manages the portal queue.
        write = tim.post(
            "/api/v1/medications",
            {"patient_id": child.pk, "medication_name": "Aspirin"},
            format="json",
        )
        assert write.status_code == 403
        assert tim.get(f"/api/v1/patients/{child.pk}/portal/enqueued").status_code == 403
        # A portal request is what VIEW may do.
        asked = tim.post(
            f"/api/v1/patients/{child.pk}/questionnaires",
            {"title": "Intake", "answers": {"allergies": "none"}},
            format="json",
        )
        assert asked.status_code == 201


class TestJoinPage:
    @pytest.fixture
    def browser(self):
        return Client(enforce_csrf_checks=True)

    def test_shows_the_invitation_and_a_protected_form(self, browser, child, alice):
        invitation = make_invitation(child, alice)
        page = browser.get(JOIN_PAGE, {"token": invitation.token()})
        assert page.status_code == 200
        html = page.content.decode()
        assert "Tim O." in html and "tim@example.test" in html
        assert 'name="csrfmiddlewaretoken"' in html and 'name="password"' in html

    def test_the_form_creates_the_account(self, browser, child, alice):
        invitation = make_invitation(child, alice, permission_level="edit")
        page = browser.get(JOIN_PAGE, {"token": invitation.token()})
        csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
        response = browser.post(
            JOIN_PAGE,
            {
                "csrfmiddlewaretoken": csrf.group(1),
                "token": invitation.token(),
                "username": "timmy",
                "password": NEW_PASSWORD,
            },
        )
        assert response.status_code == 201
        assert "timmy" in response.content.decode()
        user = User.objects.get(username="timmy")
        assert user.email == "tim@example.test" and user.check_password(NEW_PASSWORD)
        assert PatientShare.objects.get(patient=child, grantee=user).level == "edit"

    def test_a_post_without_the_csrf_token_is_refused(self, browser, child, alice):
        invitation = make_invitation(child, alice)
        response = browser.post(
            JOIN_PAGE,
            {"token": invitation.token(), "username": "timmy", "password": NEW_PASSWORD},
        )
        assert response.status_code == 403
        assert not User.objects.filter(username="timmy").exists()

    def test_a_weak_password_shows_the_error(self, client, child, alice):
        invitation = make_invitation(child, alice)
        response = client.post(
            JOIN_PAGE, {"token": invitation.token(), "username": "timmy", "password": "short1"}
        )
        assert response.status_code == 422
        assert "password" in response.content.decode()
        assert not User.objects.filter(username="timmy").exists()

    def test_an_existing_account_signs_in_to_accept(self, client, child, alice, settings):
        settings.APP_PUBLIC_URL = "https://mk.example"
        tim = UserFactory(email="tim@example.test")
        invitation = make_invitation(child, alice)
        page = client.get(JOIN_PAGE, {"token": invitation.token()})
        html = page.content.decode()
        assert page.status_code == 200
        assert "Sign in and accept" in html and 'href="https://mk.example/password-reset"' in html
        assert 'name="username"' not in html  # no new account for a known address
        wrong = client.post(JOIN_PAGE, {"token": invitation.token(), "password": "not-it-1234"})
        assert wrong.status_code == 401
        assert not PatientShare.objects.filter(grantee=tim).exists()
        right = client.post(JOIN_PAGE, {"token": invitation.token(), "password": DEFAULT_PASSWORD})
        assert right.status_code == 200, right.content
        share = PatientShare.objects.get(patient=child, grantee=tim)
        assert share.level == invitation.permission_level and share.is_active

    def test_posting_is_rate_limited(self, client, child, alice, settings):
        settings.API_RATES = {**settings.API_RATES, "auth": "2/min"}
        UserFactory(email="tim@example.test")
        invitation = make_invitation(child, alice)
        codes = [
            client.post(JOIN_PAGE, {"token": invitation.token(), "password": "x"}).status_code
            for _ in range(3)
        ]
        assert codes == [401, 401, 429]

    def test_a_dead_link_says_so(self, client, child, alice):
        invitation = make_invitation(child, alice, status="revoked")
        page = client.get(JOIN_PAGE, {"token": invitation.token()})
        assert page.status_code == 400
        assert "withdrawn" in page.content.decode()
        assert client.get(JOIN_PAGE).status_code == 400
        assert PortalInvitation.objects.get().status == "revoked"


def test_signed_in_accept_then_password_login_still_works(client_for, anon, child, alice):
    """Accepting does not touch the account's credentials."""
    tim = UserFactory(username="tim", email="tim@example.test")
    invitation = make_invitation(child, alice)
    client_for(tim).post(ACCEPT, {"token": invitation.token()}, format="json")
    login = anon.post("/api/v1/auth/login", {"username": "tim", "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
