"""Test personas, API clients and test-speed settings shared by every app."""

from __future__ import annotations

import os

import pytest


def pytest_configure(config):
    from django.conf import settings

    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # The manifest storage needs collectstatic first; a fresh clone has not run it.
    # Entity files of any test land in a throw-away folder, never in var/media/files.
    import tempfile

    # So do generated report PDFs (var/media/reports).
    def throw_away(alias: str) -> dict:
        storage = {**settings.STORAGES[alias]}
        if storage["BACKEND"].endswith("FileSystemStorage"):
            storage["OPTIONS"] = {
                **storage.get("OPTIONS", {}),
                "location": tempfile.mkdtemp(prefix=f"medikeep-test-{alias}-"),
            }
        return storage

    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "files": throw_away("files"),
        "reports": throw_away("reports"),
    }
    # Generous limits so suites do not trip them; throttle tests set their own.
    settings.API_RATES = {scope: "100000/min" for scope in settings.API_RATES}
    if not os.environ.get("REDIS_URL"):
        settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    # Tests must not fill the real log files under var/logs.
    import logging
    from logging.handlers import RotatingFileHandler

    for name in (
        "medikeep",
        "medikeep.security",
        "adminops",
        "files",
        "notifications",
        "django.request",
    ):
        logger = logging.getLogger(name)
        logger.handlers = [h for h in logger.handlers if not isinstance(h, RotatingFileHandler)]

    from medikeep.celery import app

    app.conf.task_always_eager = True
    app.conf.task_eager_propagates = True


@pytest.fixture(autouse=True)
def _clean_cache():
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def make_user(db):
    from medikeep.accounts.tests.factories import UserFactory

    return UserFactory


def _persona(username: str, **fields):
    @pytest.fixture
    def persona(make_user):
        return make_user(username=username, **fields)

    return persona


# DESIGN.md §9: alice owns `patient`; with `shared_patient` bob has VIEW, carol EDIT and dave
# FULL on it; mallory has nothing.
alice = _persona("alice", first_name="Alice", last_name="Owner")
bob = _persona("bob")
carol = _persona("carol")
dave = _persona("dave")
mallory = _persona("mallory")


@pytest.fixture
def patient(alice):
    """Alice's self-record, shared with bob (VIEW), carol (EDIT) and dave (FULL)."""
    from patients.tests.factories import PatientFactory

    record = PatientFactory(owner=alice, first_name="Alice", last_name="Owner", is_self_record=True)
    alice.active_patient = record
    alice.save(update_fields=["active_patient"])
    return record


@pytest.fixture
def shared_patient(patient, bob, carol, dave):
    from patients.tests.factories import PatientShareFactory

    for user, level in ((bob, "view"), (carol, "edit"), (dave, "full")):
        PatientShareFactory(patient=patient, grantee=user, level=level)
    return patient


@pytest.fixture
def admin_user(db):
    from medikeep.accounts.tests.factories import AdminFactory

    return AdminFactory(username="root")


@pytest.fixture
def anon():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def client_for(db):
    """client_for(user) -> an APIClient that sends that user's bearer token."""
    from rest_framework.test import APIClient

    from medikeep.accounts.tokens import issue_tokens

    def build(user):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {issue_tokens(user).access_token}")
        client.user = user
        return client

    return build


@pytest.fixture
def alice_api(client_for, alice):
    return client_for(alice)
