"""Every records model's admin pages open, and directory entries are picked by search."""

import pytest
from django.contrib import admin

pytestmark = pytest.mark.django_db

RECORD_ADMINS = sorted(
    (model._meta.model_name, model)
    for model in admin.site._registry
    if model._meta.app_label == "records"
)


@pytest.mark.parametrize(("name", "model"), RECORD_ADMINS, ids=[n for n, _ in RECORD_ADMINS])
def test_list_and_add_pages_open(admin_client, name, model):
    assert admin_client.get(f"/admin/records/{name}/").status_code == 200
    assert admin_client.get(f"/admin/records/{name}/add/").status_code in (200, 403)


def test_practitioner_and_pharmacy_are_searched_not_listed(admin_client):
    page = admin_client.get("/admin/records/medication/add/").content.decode()
    for field in ("practitioner", "pharmacy"):
        assert f'data-field-name="{field}"' in page  # the autocomplete widget's marker
