"""The invitation email through a real SMTP conversation: Django's SMTP backend talks to a
local aiosmtpd server, as it would to the mail server an operator configures."""

import socket
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller

pytestmark = pytest.mark.django_db


class Inbox:
    def __init__(self):
        self.messages = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    yield inbox
    controller.stop()


def test_the_invitation_reaches_the_smtp_server(
    smtp_server, alice_api, patient, mallory, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = alice_api.post(
            "/api/v1/patient-sharing/invite",
            {
                "patient_id": patient.pk,
                "shared_with_user_identifier": mallory.email,
                "message": "Referral for cardiac consultation",
            },
            format="json",
        )
    assert response.status_code == 200, response.content
    ((recipients, message),) = smtp_server.messages
    assert recipients == [mallory.email]
    assert message["Subject"] == "MediKeep: Patient Record Share: Alice Owner"
    body = message.get_payload(decode=True).decode()
    assert "Referral for cardiac consultation" in body
    assert f"/api/v1/invitations/{response.json()['invitation_id']}" in body
