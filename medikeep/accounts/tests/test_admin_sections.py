"""The admin's sections carry names an operator understands, the sign-in machinery is not
shown, "View site" opens the API docs, and system settings offer only known keys."""

import pytest
from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialAccount, SocialApp, SocialToken
from django.contrib import admin
from django.contrib.auth.models import Group
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from medikeep.accounts.models import SystemSetting

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def test_sections_have_clear_and_distinct_names(admin_client):
    response = admin_client.get("/admin/")
    names = [app["name"] for app in response.context["app_list"]]
    assert len(names) == len({name.lower() for name in names})
    for expected in (
        "Accounts and sign-in",
        "Patients and sharing",
        "Medical records",
        "Files",
        "Notifications",
        "Operations",
        "Single sign-on links",
    ):
        assert expected in names
    assert "Adminops" not in names and "Token Blacklist" not in names


@pytest.mark.parametrize(
    "model", [OutstandingToken, BlacklistedToken, EmailAddress, SocialApp, SocialToken, Group]
)
def test_internal_tables_are_hidden(admin_client, model):
    assert not admin.site.is_registered(model)
    opts = model._meta
    assert admin_client.get(f"/admin/{opts.app_label}/{opts.model_name}/").status_code == 404


def test_sso_links_stay_visible(admin_client):
    assert admin.site.is_registered(SocialAccount)
    assert admin_client.get("/admin/socialaccount/socialaccount/").status_code == 200


def test_view_site_opens_the_api_docs(admin_client):
    page = admin_client.get("/admin/").content.decode()
    assert 'href="/api/v1/docs"' in page


class TestSystemSettings:
    URL = "/admin/accounts/systemsetting/"

    def test_only_known_keys_are_offered(self, admin_client):
        form = admin_client.get(f"{self.URL}add/").context["adminform"].form
        keys = [key for key, _ in form.fields["key"].choices]
        assert "allow_user_registration" in keys and "trash_retention_days" in keys
        response = admin_client.post(f"{self.URL}add/", {"key": "made_up", "value": "1"})
        assert response.status_code == 200
        assert not SystemSetting.objects.filter(key="made_up").exists()

    @pytest.mark.parametrize(
        ("key", "typed", "stored"),
        [
            ("allow_user_registration", "false", False),
            ("allow_user_registration", "Yes", True),
            ("trash_retention_days", "45", 45),
            ("backup_max_count", "12", 12),
        ],
    )
    def test_values_are_stored_with_the_keys_type(self, admin_client, key, typed, stored):
        response = admin_client.post(f"{self.URL}add/", {"key": key, "value": typed})
        assert response.status_code == 302
        value = SystemSetting.objects.get(key=key).value
        assert value == stored and type(value) is type(stored)

    @pytest.mark.parametrize(
        ("key", "typed"),
        [
            ("allow_user_registration", "maybe"),
            ("trash_retention_days", "0"),
            ("trash_retention_days", "ten"),
            ("backup_min_count", "-3"),
        ],
    )
    def test_values_of_the_wrong_type_are_refused(self, admin_client, key, typed):
        response = admin_client.post(f"{self.URL}add/", {"key": key, "value": typed})
        assert response.status_code == 200
        assert response.context["adminform"].form.errors["value"]
        assert not SystemSetting.objects.filter(key=key).exists()

    def test_min_count_may_not_exceed_max_count(self, admin_client):
        SystemSetting.objects.create(key="backup_max_count", value=3)
        response = admin_client.post(f"{self.URL}add/", {"key": "backup_min_count", "value": "5"})
        assert response.status_code == 200
        assert "cannot exceed" in response.content.decode()

    def test_editing_keeps_the_key_and_shows_the_value(self, admin_client):
        SystemSetting.objects.create(key="allow_user_registration", value=True)
        url = f"{self.URL}allow_user_registration/change/"
        form = admin_client.get(url).context["adminform"].form
        assert form.fields["key"].disabled and form.initial["value"] == "true"
        response = admin_client.post(url, {"key": "something_else", "value": "no"})
        assert response.status_code == 302
        assert SystemSetting.objects.get(key="allow_user_registration").value is False
        assert not SystemSetting.objects.filter(key="something_else").exists()

    def test_rows_the_application_keeps_are_read_only(self, admin_client):
        SystemSetting.objects.create(key="auto_backup_schedule", value={"preset": "daily"})
        url = f"{self.URL}auto_backup_schedule/change/"
        response = admin_client.post(url, {"key": "auto_backup_schedule", "value": "1"})
        assert response.status_code == 403
        assert SystemSetting.objects.get(key="auto_backup_schedule").value == {"preset": "daily"}
