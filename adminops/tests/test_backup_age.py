"""Encrypted backups: age to public keys (pyrage) or with a passphrase (streamed scrypt), and
the standard `age` command opens them, so an operator can recover without this server."""

from __future__ import annotations

import os
import pty
import shutil
import subprocess

import pyrage
import pytest

from adminops.backups import age, archive
from adminops.tests.backup_helpers import store_file, use_backup_dir
from files.tests.s3server import local_files_storage  # noqa: F401 - fixture found by name

AGE_CLI = shutil.which("age")
needs_age_cli = pytest.mark.skipif(
    AGE_CLI is None,
    reason="the `age` command is not installed (Debian package age; .ci/run installs it)",
)
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("local_files_storage")]


@pytest.fixture
def backup_dir(settings, tmp_path):
    return use_backup_dir(settings, tmp_path)


@pytest.fixture
def identity():
    return pyrage.x25519.Identity.generate()


def _age_decrypt_with_passphrase(source, target, passphrase: str) -> int:
    """Runs `age -d` on a pseudo-terminal: age reads passphrases from the terminal only."""
    pid, fd = pty.fork()
    if pid == 0:  # the child becomes age
        os.execv(AGE_CLI, [AGE_CLI, "-d", "-o", str(target), str(source)])
    asked = False
    output = b""
    while True:
        try:
            chunk = os.read(fd, 1024)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
        if not asked and b"passphrase" in output.lower():
            os.write(fd, passphrase.encode() + b"\n")
            asked = True
    os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@needs_age_cli
def test_a_backup_to_a_public_key_opens_with_the_age_command(
    backup_dir, patient, identity, tmp_path
):
    data = b"%PDF-1.4 encrypted scan\n" * 50
    entity_file = store_file(patient, data)
    out = backup_dir / "files.tar.age"
    keys = age.AgeKeys(recipients=(str(identity.to_public()),))
    manifest = archive.write_backup("files", out, encrypt=True, keys=keys)
    assert manifest.archive["encrypted"]
    assert out.read_bytes().startswith(b"age-encryption.org/v1\n")
    assert data not in out.read_bytes()

    key_file = tmp_path / "key.txt"
    key_file.write_text(str(identity) + "\n")
    plain = tmp_path / "plain.tar"
    subprocess.run([AGE_CLI, "-d", "-i", key_file, "-o", plain, out], check=True)

    result = archive.verify(plain)
    assert result.valid, result.errors
    with archive.open_archive(plain) as opened:
        assert opened.manifest.backup_type == "files"
        member = next(opened.iter_members())
        assert member.name == f"files/{entity_file.stored_name}"
        assert b"".join(member.chunks()) == data


@needs_age_cli
def test_a_backup_with_a_passphrase_opens_with_the_age_command(backup_dir, patient, tmp_path):
    data = b"%PDF-1.4 passphrase scan\n" * 5000  # several 64 KiB age chunks
    store_file(patient, data)
    out = backup_dir / "files.tar.age"
    keys = age.AgeKeys(passphrase="correct horse battery staple")
    archive.write_backup("files", out, encrypt=True, keys=keys)

    plain = tmp_path / "plain.tar"
    assert _age_decrypt_with_passphrase(out, plain, "correct horse battery staple") == 0
    assert archive.verify(plain).valid
    # And a wrong passphrase gets nothing.
    assert _age_decrypt_with_passphrase(out, tmp_path / "no.tar", "wrong") != 0


def test_the_server_opens_its_own_encrypted_archives(backup_dir, patient, identity, monkeypatch):
    monkeypatch.setattr(age, "SCRYPT_LOG2N", 10)  # quick; the CLI test uses age's own cost
    store_file(patient, b"%PDF-1.4 x\n" * 1000)
    to_key = backup_dir / "key.tar.age"
    with_passphrase = backup_dir / "pass.tar.age"
    archive.write_backup(
        "files", to_key, encrypt=True, keys=age.AgeKeys(recipients=(str(identity.to_public()),))
    )
    archive.write_backup("files", with_passphrase, encrypt=True, keys=age.AgeKeys(passphrase="pw"))

    opened = archive.verify(to_key, keys=age.AgeKeys(identities=(str(identity),)))
    assert opened.valid and opened.encrypted, opened.errors
    assert archive.verify(with_passphrase, keys=age.AgeKeys(passphrase="pw")).valid

    stranger = pyrage.x25519.Identity.generate()
    refused = archive.verify(to_key, keys=age.AgeKeys(identities=(str(stranger),)))
    assert not refused.valid and "No matching keys" in refused.errors[0]
    assert not archive.verify(with_passphrase, keys=age.AgeKeys(passphrase="nope")).valid
    no_keys = archive.verify(to_key, keys=age.AgeKeys())
    assert "BACKUP_AGE_IDENTITIES" in no_keys.errors[0]


def test_tampered_ciphertext_is_refused(backup_dir, patient, monkeypatch):
    monkeypatch.setattr(age, "SCRYPT_LOG2N", 10)
    store_file(patient, b"%PDF-1.4 y\n" * 20000)
    out = backup_dir / "pass.tar.age"
    archive.write_backup("files", out, encrypt=True, keys=age.AgeKeys(passphrase="pw"))
    with open(out, "r+b") as handle:
        handle.seek(out.stat().st_size // 2)
        byte = handle.read(1)
        handle.seek(-1, os.SEEK_CUR)
        handle.write(bytes([byte[0] ^ 0x80]))
    result = archive.verify(out, keys=age.AgeKeys(passphrase="pw"))
    assert not result.valid
    assert "altered" in " ".join(result.errors)


@pytest.mark.parametrize(
    ("keys", "message"),
    [
        (age.AgeKeys(), "neither BACKUP_AGE_RECIPIENTS nor BACKUP_AGE_PASSPHRASE"),
        (age.AgeKeys(recipients=("age1notakey",)), "not an age or SSH public key"),
        (
            age.AgeKeys(
                recipients=("age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj",),
                passphrase="pw",
            ),
            "not both",
        ),
    ],
)
def test_bad_encryption_settings_stop_the_backup_before_it_starts(backup_dir, keys, message):
    with pytest.raises(archive.ArchiveError, match=message):
        archive.write_backup("files", backup_dir / "x.tar.age", encrypt=True, keys=keys)
    assert not backup_dir.exists() or not list(backup_dir.iterdir())


def test_settings_decide_encryption(backup_dir, patient, settings, identity):
    settings.BACKUP_AGE_RECIPIENTS = f"# the operator's key\n{identity.to_public()}\n"
    settings.BACKUP_ENCRYPT = True
    settings.BACKUP_AGE_IDENTITIES = str(identity)
    out = backup_dir / "auto.tar.age"
    assert archive.write_backup("files", out).archive["encrypted"]
    assert age.is_age_file(out)
    assert archive.verify(out).valid  # the settings' identities open it
