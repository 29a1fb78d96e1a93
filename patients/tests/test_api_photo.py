"""/patients/{patient_id}/photo: upload (FULL), stream and info (VIEW), delete (owner)."""

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from patients.models import Patient, PatientPhoto
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def image_file(fmt="JPEG", size=(40, 30), mode="RGB", name=None, exif=None):
    buffer = BytesIO()
    image = Image.new(mode, size, "red" if mode != "RGBA" else (255, 0, 0, 128))
    kwargs = {"exif": exif} if exif is not None else {}
    image.save(buffer, fmt, **kwargs)
    return SimpleUploadedFile(name or f"me.{fmt.lower()}", buffer.getvalue(), "image/jpeg")


def url(patient, suffix=""):
    return f"/api/v1/patients/{patient.pk}/photo{suffix}"


def upload(client, patient, file=None):
    return client.post(url(patient), {"file": file or image_file()}, format="multipart")


def stored_files(media):
    return sorted(p.name for p in media.rglob("*") if p.is_file())


class TestUpload:
    def test_owner_uploads(self, alice_api, alice, shared_patient, media):
        response = upload(alice_api, shared_patient)
        assert response.status_code == 201, response.content
        body = response.json()
        photo = PatientPhoto.objects.get(patient=shared_patient)
        assert body["id"] == photo.pk and body["patient_id"] == shared_patient.pk
        assert (body["width"], body["height"]) == (40, 30)
        assert body["file_size"] == photo.file_size == (media / photo.file.name).stat().st_size
        assert body["filename"] == photo.file.name.rsplit("/", 1)[1]
        assert photo.file.name.startswith("photos/patients/") and photo.uploaded_by == alice
        with Image.open(media / photo.file.name) as stored:
            assert stored.format == "JPEG"

    @pytest.mark.parametrize("fmt", ["PNG", "GIF", "BMP"])
    def test_other_formats_are_stored_as_jpeg(self, alice_api, shared_patient, media, fmt):
        mode = "RGBA" if fmt == "PNG" else "RGB"
        assert upload(alice_api, shared_patient, image_file(fmt, mode=mode)).status_code == 201
        photo = PatientPhoto.objects.get(patient=shared_patient)
        with Image.open(media / photo.file.name) as stored:
            assert (stored.format, stored.mode) == ("JPEG", "RGB")
        assert photo.mime_type == "image/jpeg" and photo.original_name == f"me.{fmt.lower()}"

    def test_large_images_are_fitted_into_1000_pixels(self, alice_api, shared_patient):
        body = upload(alice_api, shared_patient, image_file(size=(3000, 1500))).json()
        assert (body["width"], body["height"]) == (1000, 500)

    def test_exif_orientation_is_applied(self, alice_api, shared_patient):
        exif = Image.Exif()
        exif[0x0112] = 6  # rotated 90° clockwise
        body = upload(alice_api, shared_patient, image_file(size=(200, 100), exif=exif)).json()
        assert (body["width"], body["height"]) == (100, 200)

    @pytest.mark.parametrize(
        "persona, status",
        [("dave", 201), ("carol", 403), ("bob", 403), ("mallory", 403), ("admin_user", 403)],
    )
    def test_needs_full_access(self, request, client_for, shared_patient, persona, status):
        response = upload(client_for(request.getfixturevalue(persona)), shared_patient)
        assert response.status_code == status, response.content
        assert PatientPhoto.objects.filter(patient=shared_patient).exists() is (status == 201)

    def test_unknown_patient_404_anonymous_401(self, alice_api, anon, shared_patient):
        assert (
            alice_api.post(
                "/api/v1/patients/987654/photo", {"file": image_file()}, format="multipart"
            ).status_code
            == 404
        )
        assert upload(anon, shared_patient).status_code == 401

    def test_fake_image_is_refused(self, alice_api, shared_patient, media):
        fake = SimpleUploadedFile("cat.jpg", b"I am not a picture" * 20, "image/jpeg")
        response = upload(alice_api, shared_patient, fake)
        assert response.status_code == 422
        assert "not a readable" in response.json()["errors"]["file"][0]
        assert not PatientPhoto.objects.exists() and stored_files(media) == []

    def test_truncated_image_is_refused(self, alice_api, shared_patient):
        whole = image_file(size=(300, 300)).read()
        broken = SimpleUploadedFile("cut.jpg", whole[: len(whole) // 2], "image/jpeg")
        assert upload(alice_api, shared_patient, broken).status_code == 422

    def test_other_image_types_are_refused(self, alice_api, shared_patient):
        response = upload(alice_api, shared_patient, image_file("TIFF", name="x.jpg"))
        assert response.status_code == 422 and "TIFF" in response.json()["errors"]["file"][0]

    def test_more_than_15_mb_is_413(self, alice_api, shared_patient):
        huge = SimpleUploadedFile("big.jpg", b"\xff" * (15 * 1024 * 1024 + 1), "image/jpeg")
        response = upload(alice_api, shared_patient, huge)
        assert response.status_code == 413
        assert response.json()["error_code"] == "SIZE-413" and "15 MB" in response.json()["error"]
        assert not PatientPhoto.objects.exists()

    def test_oversized_body_is_refused_before_reading(self, alice_api, shared_patient):
        response = alice_api.post(
            url(shared_patient),
            b"x",
            content_type="multipart/form-data; boundary=b",
            CONTENT_LENGTH=str(40 * 1024 * 1024),
        )
        assert response.status_code == 413

    def test_missing_file_is_422_and_json_is_415(self, alice_api, shared_patient):
        response = alice_api.post(url(shared_patient), {}, format="multipart")
        assert response.status_code == 422 and "file" in response.json()["errors"]
        response = alice_api.post(url(shared_patient), {"file": "x"}, format="json")
        assert response.status_code == 415

    def test_client_file_name_is_only_a_label(self, alice_api, shared_patient, media):
        upload(alice_api, shared_patient, image_file(name="../../etc/evil.jpg"))
        photo = PatientPhoto.objects.get()
        assert photo.original_name == "evil.jpg"
        assert photo.file.name.startswith(f"photos/patients/patient_{shared_patient.pk}_")

    def test_a_new_upload_replaces_the_old_file(
        self, alice_api, shared_patient, media, django_capture_on_commit_callbacks
    ):
        first = upload(alice_api, shared_patient).json()
        old_name = PatientPhoto.objects.get().file.name
        with django_capture_on_commit_callbacks(execute=True):
            second = upload(alice_api, shared_patient, image_file(size=(80, 60)))
        assert second.status_code == 201 and second.json()["id"] == first["id"]
        photo = PatientPhoto.objects.get()
        assert (photo.width, photo.height) == (80, 60)
        assert not (media / old_name).exists() and (media / photo.file.name).exists()
        assert len(stored_files(media)) == 1

    def test_uploads_are_throttled_as_uploads(self, alice_api, shared_patient, settings):
        settings.API_RATES = {**settings.API_RATES, "upload": "2/hour"}
        assert [upload(alice_api, shared_patient).status_code for _ in range(3)] == [201, 201, 429]
        assert alice_api.get(url(shared_patient)).status_code == 200  # reading is not an upload


@pytest.fixture
def photo(alice_api, shared_patient):
    assert upload(alice_api, shared_patient).status_code == 201
    return PatientPhoto.objects.get(patient=shared_patient)


class TestRead:
    @pytest.mark.parametrize("persona", ["alice", "bob", "carol", "dave"])
    def test_every_level_gets_the_image(self, request, client_for, photo, media, persona):
        client = client_for(request.getfixturevalue(persona))
        response = client.get(url(photo.patient), HTTP_ACCEPT="image/jpeg")
        assert response.status_code == 200
        assert response["Content-Type"] == "image/jpeg"
        # A photo is health data: no cache keeps it (the API's no-store, medikeep/middleware.py).
        assert response["Cache-Control"] == "no-store"
        assert b"".join(response.streaming_content) == (media / photo.file.name).read_bytes()

    @pytest.mark.parametrize("persona", ["mallory", "admin_user"])
    def test_strangers_are_403(self, request, client_for, photo, persona):
        client = client_for(request.getfixturevalue(persona))
        assert client.get(url(photo.patient)).status_code == 403
        assert client.get(url(photo.patient, "/info")).status_code == 403

    def test_info(self, client_for, bob, alice, photo):
        response = client_for(bob).get(url(photo.patient, "/info"))
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == photo.pk and body["mime_type"] == "image/jpeg"
        assert body["original_name"] == "me.jpeg" and body["uploaded_by_id"] == alice.pk
        assert (body["width"], body["height"], body["file_size"]) == (40, 30, photo.file_size)

    def test_no_photo_is_404(self, alice_api, shared_patient, anon):
        assert alice_api.get(url(shared_patient)).status_code == 404
        assert alice_api.get("/api/v1/patients/987654/photo").status_code == 404
        assert alice_api.get("/api/v1/patients/987654/photo/info").status_code == 404
        assert anon.get(url(shared_patient)).status_code == 401
        assert anon.get(url(shared_patient, "/info")).status_code == 401

    def test_no_photo_info_is_200_null(self, client_for, bob, shared_patient):
        # The web app asks photo/info of every patient it lists; null means "no photo".
        response = client_for(bob).get(url(shared_patient, "/info"))
        assert response.status_code == 200
        assert response["Content-Type"] == "application/json"
        assert response.content == b"null"

    def test_missing_file_is_404_not_500(self, alice_api, photo, media):
        (media / photo.file.name).unlink()
        assert alice_api.get(url(photo.patient)).status_code == 404

    def test_never_served_as_public_media(self, anon, photo):
        assert anon.get(f"/media/{photo.file.name}").status_code == 404


class TestDelete:
    def test_owner_deletes(self, alice_api, photo, media, django_capture_on_commit_callbacks):
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_api.delete(url(photo.patient))
        assert response.status_code == 204
        assert not PatientPhoto.objects.exists() and stored_files(media) == []
        assert alice_api.delete(url(photo.patient)).status_code == 404

    @pytest.mark.parametrize("persona", ["dave", "carol", "bob", "mallory", "admin_user"])
    def test_others_are_403(self, request, client_for, photo, media, persona):
        response = client_for(request.getfixturevalue(persona)).delete(url(photo.patient))
        assert response.status_code == 403
        assert PatientPhoto.objects.exists() and (media / photo.file.name).exists()

    def test_file_goes_with_the_patient(
        self, alice_api, alice, photo, media, django_capture_on_commit_callbacks
    ):
        PatientFactory(owner=alice)
        with django_capture_on_commit_callbacks(execute=True):
            response = alice_api.delete(f"/api/v1/patient-management/{photo.patient_id}")
        assert response.status_code == 200
        assert not Patient.objects.filter(pk=photo.patient_id).exists()
        assert stored_files(media) == []
