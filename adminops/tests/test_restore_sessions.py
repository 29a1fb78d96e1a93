"""After a restore: which sign-ins still work, caches, and encrypted archives."""

from __future__ import annotations

import io
import os

import pyrage
import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from adminops.backups import restore
from adminops.backups.services import backup_create
from adminops.tests.restore_helpers import table_hashes, use_storage_dirs
from medikeep.accounts.tokens import issue_tokens, revoke_session

pytestmark = pytest.mark.django_db(transaction=True)
ME = "/api/v1/users/me"


@pytest.fixture(autouse=True)
def dirs(settings, tmp_path):
    return use_storage_dirs(settings, tmp_path)


def _client(access_token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access_token}")
    return client


def test_a_sign_in_survives_only_while_its_account_comes_back_unchanged(
    alice, bob, admin_user, make_user
):
    from rest_framework_simplejwt.tokens import AccessToken

    admin_token = issue_tokens(admin_user).access_token
    bob_token = issue_tokens(bob).access_token
    backup = backup_create(backup_type="database")
    alice.set_password("a new password 123")
    alice.save()
    alice_new = issue_tokens(alice).access_token  # signed in after the password change
    revoke_session(AccessToken(bob_token)["sid"])  # bob signed out after the backup
    carol_token = issue_tokens(make_user(username="carol-after")).access_token
    for token in (admin_token, alice_new, carol_token):
        assert _client(token).get(ME).status_code == 200
    assert _client(bob_token).get(ME).status_code == 401

    restore.restore_backup(backup)

    assert _client(admin_token).get(ME).status_code == 200  # the same account came back
    # The restored password is the old one: a session of the new one ends.
    assert _client(alice_new).get(ME).status_code == 401
    assert _client(carol_token).get(ME).status_code == 401  # the account is not in the backup
    assert _client(bob_token).get(ME).status_code == 401  # a sign-out is not undone


def test_caches_are_cleared_after_a_restore():
    backup = backup_create(backup_type="database")
    cache.set("vitals-stats:1", "stale figures")
    restore.restore_backup(backup)
    assert cache.get("vitals-stats:1") is None


@pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs REDIS_URL (the Redis cache)")
def test_with_redis_only_this_servers_cache_keys_go():
    backup = backup_create(backup_type="database")
    redis = cache._cache.get_client(write=True)
    redis.set("restore-test-broker-message", "queued task")  # the Celery broker shares the db
    cache.set("vitals-stats:1", "stale figures")
    try:
        restore.restore_backup(backup)
        assert cache.get("vitals-stats:1") is None
        assert redis.get("restore-test-broker-message") == b"queued task"
    finally:
        redis.delete("restore-test-broker-message")


@pytest.fixture
def age_keys(settings):
    identity = pyrage.x25519.Identity.generate()
    settings.BACKUP_AGE_RECIPIENTS = str(identity.to_public())
    settings.BACKUP_AGE_IDENTITIES = str(identity)
    settings.BACKUP_ENCRYPT = True
    return identity


def test_an_encrypted_backup_uploads_and_restores(age_keys, client_for, admin_user, settings):
    from adminops.tests.restore_helpers import seed

    seed("a")
    rows = table_hashes()
    made = backup_create(backup_type="full")
    assert made.encrypted and made.filename.endswith(".tar.age")
    seed("b")
    api = client_for(admin_user)
    upload = io.BytesIO(made.file_path.read_bytes())
    upload.name = "family.tar.age"
    response = api.post("/api/v1/admin/restore/upload", {"file": upload}, format="multipart")
    assert response.status_code == 200, response.json()
    uploaded = response.json()["backup_id"]
    assert response.json()["encrypted"] is True
    token = api.get(f"/api/v1/admin/restore/confirmation-token/{uploaded}").json()
    response = api.post(
        f"/api/v1/admin/restore/execute/{uploaded}",
        {"confirmation_token": token["confirmation_token"]},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert table_hashes() == rows


def test_an_archive_this_server_cannot_open_is_not_restorable(
    age_keys, client_for, admin_user, settings
):
    made = backup_create(backup_type="database")
    settings.BACKUP_AGE_IDENTITIES = ""  # public keys only: the server cannot read its backups
    api = client_for(admin_user)
    preview = api.post(f"/api/v1/admin/restore/preview/{made.pk}").json()
    assert preview["compatible"] is False and preview["encrypted"] is True
    assert "holds no key" in preview["problems"][0]
    upload = io.BytesIO(made.file_path.read_bytes())
    upload.name = "x.tar.age"
    response = api.post("/api/v1/admin/restore/upload", {"file": upload}, format="multipart")
    assert response.status_code == 422 and "holds no key" in response.json()["error"]
