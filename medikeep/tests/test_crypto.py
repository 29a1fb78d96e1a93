"""Secrets at rest: encrypted JSON, key rotation, a derived key when none is configured."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from medikeep import crypto

VALUE = {"bot_token": "123456:SECRET-token", "chat_id": "42", "n": 5, "on": True, "é": "ü"}


def test_round_trip_and_the_token_hides_the_value(settings):
    settings.FIELD_ENCRYPTION_KEY = [Fernet.generate_key().decode()]
    token = crypto.encrypt_json(VALUE)
    assert "SECRET" not in token and "bot_token" not in token
    assert crypto.decrypt_json(token) == VALUE
    assert crypto.encrypt_json(VALUE) != token  # a fresh IV each time


def test_without_a_configured_key_the_secret_key_derives_one(settings):
    settings.FIELD_ENCRYPTION_KEY = []
    token = crypto.encrypt_json(VALUE)
    assert crypto.decrypt_json(token) == VALUE
    assert Fernet(crypto.derived_key(settings.SECRET_KEY)).decrypt(token.encode())
    settings.SECRET_KEY = "another-secret-key-" + "x" * 40
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_json(token)


def test_rotation_old_keys_decrypt_the_first_encrypts(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [old]
    old_token = crypto.encrypt_json(VALUE)

    settings.FIELD_ENCRYPTION_KEY = [new, old]
    assert crypto.decrypt_json(old_token) == VALUE
    assert crypto.needs_rotation(old_token)
    new_token = crypto.encrypt_json(VALUE)
    Fernet(new).decrypt(new_token.encode())  # encrypted with the first key
    rotated = crypto.rotate(old_token)
    assert not crypto.needs_rotation(rotated)

    settings.FIELD_ENCRYPTION_KEY = [new]  # the old key retired after rotation
    assert crypto.decrypt_json(rotated) == VALUE
    assert crypto.decrypt_json(new_token) == VALUE
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_json(old_token)
    with pytest.raises(crypto.DecryptionError):
        crypto.rotate(old_token)


def test_setting_a_key_later_keeps_values_stored_under_the_derived_key(settings):
    settings.FIELD_ENCRYPTION_KEY = []
    token = crypto.encrypt_json(VALUE)
    key = Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = [key]
    assert crypto.decrypt_json(token) == VALUE
    assert crypto.needs_rotation(token)
    Fernet(key).decrypt(crypto.rotate(token).encode())


def test_the_env_form_is_comma_separated(settings):
    first, second = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEY = f" {first} , {second} "
    token = crypto.encrypt_json(1)
    Fernet(first).decrypt(token.encode())


@pytest.mark.parametrize("token", ["", "not-a-token", "gAAAA" + "x" * 80, "ümlaut", None, 5])
def test_junk_tokens_are_a_decryption_error(settings, token):
    settings.FIELD_ENCRYPTION_KEY = []
    with pytest.raises(crypto.DecryptionError):
        crypto.decrypt_json(token)


def test_a_malformed_key_is_a_configuration_error_that_does_not_echo_it(settings):
    settings.FIELD_ENCRYPTION_KEY = ["short-secret-thing"]
    with pytest.raises(ImproperlyConfigured) as caught:
        crypto.encrypt_json(VALUE)
    assert "short-secret-thing" not in str(caught.value)
    assert "key 1" in str(caught.value)
