"""The whole-account archive in-process: round trip, secrets, refusals."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from files.models import EntityFile
from files.tests.paperless_server import paperless_server  # noqa: F401 - a fixture
from interop.archive.export import archive_file
from interop.archive.importer import (
    ArchiveAlreadyImported,
    InvalidArchive,
    import_archive,
    open_archive,
)
from interop.models import ExternalIdentifier, ServerIdentity
from interop.tests.archive_helpers import (
    BOT_TOKEN,
    PAPERLESS_TOKEN,
    build_account,
    members,
    snapshot,
)
from patients.models import Patient


@pytest.fixture(autouse=True)
def _photos_in_tmp(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media")},
        },
    }


def export_bytes(user) -> bytes:
    spool, size, _ = archive_file(user)
    with spool:
        data = spool.read()
    assert len(data) == size
    return data


def run_import(data: bytes, **kwargs):
    return import_archive(open_archive(io.BytesIO(data)), **kwargs)


@pytest.mark.django_db
def test_round_trip_into_a_new_account(alice):
    build_account(alice)
    before = snapshot(alice)
    data = export_bytes(alice)

    result = run_import(data, username="alice2", email="alice2@example.org")

    assert result["created_account"] is True
    from django.contrib.auth import get_user_model

    copy = get_user_model().objects.get(username="alice2")
    assert not copy.has_usable_password()
    after = snapshot(copy)
    assert set(after) == set(before)
    for label in before:
        for old, new in zip(before[label], after[label], strict=True):
            assert new == old, (
                label,
                {k: (v, new.get(k)) for k, v in old.items() if new.get(k) != v},
            )
        assert before[label] or label in {"notifications.notificationpreference"}, label
    # Every record kind took part.
    assert all(
        len(before[t]) >= 2
        for t in before
        if t.startswith("records.") and t not in {"records.usertag"}
    ), {k: len(v) for k, v in before.items()}
    # The imported channel is off and has none of the secret settings.
    channel = copy.notification_channels.get()
    assert channel.is_enabled is False
    assert result["channels_needing_settings"] == ["Telegram"]
    # Old ids kept for a later FHIR import.
    system = ServerIdentity.system()
    old = alice.owned_patients.order_by("pk").first()
    kept = ExternalIdentifier.objects.get(record_type="patient", value=f"patient/{old.pk}")
    assert kept.system == system and Patient.objects.get(pk=kept.record_id).owner == copy
    # File bytes came along.
    new_file = EntityFile.objects.filter(patient__owner=copy).first()
    from files import storage

    assert b"".join(storage.stream(new_file.stored_name)).startswith(b"%PDF")


@pytest.mark.django_db
def test_no_secret_leaves_the_server(alice):
    build_account(alice, patients=1)
    data = export_bytes(alice)
    contents = members(data)
    everything = b"".join(contents.values())
    assert BOT_TOKEN.encode() not in everything
    assert BOT_TOKEN.split(":")[1].encode() not in everything
    assert PAPERLESS_TOKEN.encode() not in everything
    assert b"987654321" not in everything  # the chat id: an identifier, left behind too
    assert alice.preference.paperless_secrets.encode() not in everything
    assert b"password" not in contents["data/accounts.user.json"]
    manifest = json.loads(contents["manifest.json"])
    assert manifest["format"] == "medikeep-account-archive"
    assert manifest["version"] == 1
    assert manifest["source"]["system"] == ServerIdentity.system()
    assert set(manifest["members"]) == set(contents) - {"manifest.json"}


@pytest.mark.django_db
def test_importing_twice_is_refused(alice, make_user):
    build_account(alice, patients=1)
    data = export_bytes(alice)
    run_import(data, username="second", email="second@example.org")
    rows = Patient.objects.count()
    with pytest.raises(ArchiveAlreadyImported):
        run_import(data, username="second", email="second@example.org")
    assert Patient.objects.count() == rows
    # The account it came from, whose patients are still here, refuses it too.
    with pytest.raises(ArchiveAlreadyImported):
        run_import(data, user=alice)


def _rezip(data: bytes, change) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = change(info.filename, src.read(info.filename))
            if content is not None:
                dst.writestr(info.filename, content)
    return out.getvalue()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda name, b: b.replace(b"Clinic", b"Clinix") if "reference" in name else b, "checksum"),
        (lambda name, b: b + b"x" if name.startswith("files/") else b, "size"),
        (lambda name, b: None if name.startswith("files/") else b, "missing"),
        (lambda name, b: None if name == "manifest.json" else b, "manifest"),
    ],
    ids=["tampered", "grown", "missing-member", "no-manifest"],
)
@pytest.mark.django_db
def test_a_damaged_archive_is_refused_and_nothing_is_written(alice, change, message):
    build_account(alice, patients=1)
    data = _rezip(export_bytes(alice), change)
    counts = (Patient.objects.count(), EntityFile.objects.count())
    with pytest.raises(InvalidArchive, match=message):
        run_import(data, username="mallet", email="m@example.org")
    assert (Patient.objects.count(), EntityFile.objects.count()) == counts
    from django.contrib.auth import get_user_model

    assert not get_user_model().objects.filter(username="mallet").exists()


@pytest.mark.django_db
def test_not_a_zip():
    with pytest.raises(InvalidArchive, match="zip"):
        open_archive(io.BytesIO(b"hello"))


@pytest.mark.django_db
def test_a_failure_midway_leaves_no_rows_and_no_bytes(alice, monkeypatch):
    build_account(alice, patients=1)
    data = export_bytes(alice)
    from files import storage
    from interop.archive import importer

    before = set(storage.all_names())
    patients = Patient.objects.count()

    def fail(self, table, row, values):
        raise RuntimeError("disk full")

    monkeypatch.setattr(importer._Run, "_row_notifications_notificationpreference", fail)
    with pytest.raises(RuntimeError):
        run_import(data, username="halfway", email="h@example.org")
    assert set(storage.all_names()) == before
    assert Patient.objects.count() == patients


@pytest.mark.django_db
def test_remote_files_are_fetched_or_listed_as_not_carried(
    alice,
    patient,
    paperless_server,  # noqa: F811 - the fixture
):
    from files.backends.remote import link_document
    from files.tests.helpers import PDF
    from files.tests.paperless_server import configure_paperless
    from records.tests.factories import MedicationFactory

    configure_paperless(alice, paperless_server.url)
    medication = MedicationFactory(patient=patient)
    kept = paperless_server.state.add_document(PDF, title="Kept", file_name="kept.pdf")
    gone = paperless_server.state.add_document(PDF + b"2", title="Gone", file_name="gone.pdf")
    for document_id in (kept, gone):
        link_document(
            user=alice,
            backend="paperless",
            document_id=str(document_id),
            entity_name="medication",
            entity_id=medication.pk,
            patient_id=patient.pk,
        )
    del paperless_server.state.documents[gone]

    data = export_bytes(alice)
    manifest = json.loads(members(data)["manifest.json"])
    assert [item["name"] for item in manifest["not_carried"]] == ["gone.pdf"]
    assert PAPERLESS_TOKEN.encode() not in b"".join(members(data).values())

    result = run_import(data, username="moved", email="moved@example.org")
    assert result["counts"]["files.entityfile"] == 1
    assert result["not_carried"][0]["name"] == "gone.pdf"
    moved = EntityFile.objects.get(patient__owner__username="moved")
    from files import storage

    assert moved.storage_backend == "local" and moved.paperless_document_id is None
    assert b"".join(storage.stream(moved.stored_name)) == PDF


@pytest.mark.django_db
def test_export_queries_do_not_grow_with_rows(alice, django_assert_max_num_queries):
    build_account(alice, patients=1)
    with CaptureQueriesContext(connection) as one:
        export_bytes(alice)
    build_account(alice, patients=3)
    with django_assert_max_num_queries(len(one.captured_queries)):
        export_bytes(alice)


@pytest.mark.django_db
def test_rows_this_server_refuses_undo_the_whole_import(alice):
    build_account(alice, patients=1)
    data = export_bytes(alice)

    def damage(name, content):
        if name == "data/records.medicationdose.json":
            rows = json.loads(content)
            rows.append({**rows[0], "id": rows[0]["id"] + 1000})  # the same slot twice
            return json.dumps(rows).encode()
        return content

    # A consistent archive (checksums recomputed) whose data breaks a constraint here.
    with zipfile.ZipFile(io.BytesIO(data)) as src:
        manifest = json.loads(src.read("manifest.json"))
        contents = {n: damage(n, src.read(n)) for n in src.namelist() if n != "manifest.json"}
    import hashlib

    for name, content in contents.items():
        manifest["members"][name] = {
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
        }
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for name, content in contents.items():
            dst.writestr(name, content)
        dst.writestr("manifest.json", json.dumps(manifest))
    patients = Patient.objects.count()
    with pytest.raises(InvalidArchive, match="records.medicationdose row"):
        run_import(out.getvalue(), username="strict", email="strict@example.org")
    assert Patient.objects.count() == patients


@pytest.mark.django_db
def test_an_account_with_a_self_record_keeps_it(alice, make_user):
    build_account(alice, patients=1)
    data = export_bytes(alice)
    bob = make_user(username="bobby")
    own = Patient.objects.create(
        owner=bob, first_name="Bob", last_name="Self", birth_date="1980-01-01", is_self_record=True
    )
    result = run_import(data, user=bob)
    assert Patient.objects.get(owner=bob, is_self_record=True) == own
    assert Patient.objects.filter(owner=bob).count() == 2
    assert any("self record" in note for note in result["notes"])
    assert result["created_account"] is False


@pytest.mark.django_db
def test_the_commands(alice, tmp_path):
    from django.core.management import CommandError, call_command

    build_account(alice, patients=1)
    target = tmp_path / "alice.zip"
    out = io.StringIO()
    call_command("export_account", "ALICE", "--output", str(target), stdout=out)
    assert "1 patient(s)" in out.getvalue()
    out = io.StringIO()
    call_command(
        "import_account",
        str(target),
        "--username",
        "newalice",
        "--email",
        "n@example.org",
        stdout=out,
    )
    assert "created account newalice" in out.getvalue()
    assert "password reset" in out.getvalue()
    with pytest.raises(CommandError, match="No user"):
        call_command("export_account", "nobody", "--output", str(tmp_path / "x.zip"))
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_account", str(tmp_path / "missing.zip"), "--username", "x")
    (tmp_path / "bad.zip").write_bytes(b"nope")
    with pytest.raises(CommandError, match="zip"):
        call_command("import_account", str(tmp_path / "bad.zip"), "--username", "x")
    with pytest.raises(CommandError, match="already been imported"):
        call_command("import_account", str(target), "--username", "newalice")


def _swap_member(data: bytes, prefix: str, content: bytes) -> bytes:
    """The archive with the first member under `prefix` replaced, its manifest entry made to
    match (what someone rewriting an archive would do: the checksums then pass)."""
    import hashlib

    with zipfile.ZipFile(io.BytesIO(data)) as src:
        target = next(n for n in src.namelist() if n.startswith(prefix))
        manifest = json.loads(src.read("manifest.json"))
        manifest["members"][target] = {
            "sha256": hashlib.sha256(content).hexdigest(),
            "size": len(content),
        }

    def change(name, body):
        if name == target:
            return content
        return json.dumps(manifest).encode() if name == "manifest.json" else body

    return _rezip(data, change)


@pytest.mark.django_db
def test_archive_files_pass_the_upload_checks(alice):
    """A page of HTML under a .pdf name, or a photo that is no image, is left out with a note;
    the rest of the account comes in, and the file's type is what its bytes show."""
    build_account(alice, patients=1)
    data = _swap_member(export_bytes(alice), "files/", b"<html><script>alert(1)</script></html>")
    data = _swap_member(data, "photos/", b"not an image at all")
    answer = run_import(data, username="checked", email="checked@example.org")
    notes = " ".join(answer["notes"])
    assert "was left out" in notes and "does not match" in notes
    assert "Photo" in notes
    user = answer["user"]["id"]
    kept = EntityFile.objects.filter(patient__owner_id=user)
    assert not kept.filter(file_type__contains="html").exists()
    assert Patient.objects.filter(owner_id=user).exists()
    # An untouched archive brings every file, typed from its content.
    build_account(alice, patients=1)
    clean = run_import(export_bytes(alice), username="clean", email="clean@example.org")
    files = EntityFile.objects.filter(patient__owner_id=clean["user"]["id"])
    assert files.exists() and set(files.values_list("file_type", flat=True)) == {"application/pdf"}
