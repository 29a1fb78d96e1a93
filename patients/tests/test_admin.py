"""The Django admin pages of patients, shares and photos render and search."""

import pytest

from patients.models import PatientPhoto
from patients.tests.factories import PatientShareFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_pages_render(admin_client, shared_patient, alice):
    share = shared_patient.shares.first()
    photo = PatientPhoto.objects.create(
        patient=shared_patient, file="photos/patients/x.jpg", file_size=1, width=1, height=1
    )
    pages = [
        "/admin/patients/patient/",
        "/admin/patients/patient/?q=alice&gender__exact=female&is_self_record__exact=1",
        f"/admin/patients/patient/{shared_patient.pk}/change/",
        "/admin/patients/patientshare/?q=bob",
        f"/admin/patients/patientshare/{share.pk}/change/",
        "/admin/patients/patientphoto/",
        f"/admin/patients/patientphoto/{photo.pk}/change/",
    ]
    for page in pages:
        response = admin_client.get(page)
        assert response.status_code == 200, page
    listing = admin_client.get("/admin/patients/patient/?q=owner").content.decode()
    assert "Alice" in listing
    # Photos are uploaded through the API only, and the admin never links the file.
    assert admin_client.get("/admin/patients/patientphoto/add/").status_code == 403
    change = admin_client.get(f"/admin/patients/patientphoto/{photo.pk}/change/")
    assert 'href="photos/patients' not in change.content.decode()


def test_changelist_queries_do_not_grow(admin_client, alice, django_assert_max_num_queries):
    for _ in range(10):
        PatientShareFactory(patient__owner=alice)
    with django_assert_max_num_queries(12):
        assert admin_client.get("/admin/patients/patient/").status_code == 200
    with django_assert_max_num_queries(12):
        assert admin_client.get("/admin/patients/patientshare/").status_code == 200
