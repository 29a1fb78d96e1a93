"""/admin/maintenance/test-library: info, reload and sync of the lab-test catalogue (admins
only)."""

import hashlib
import json

import pytest
from django.urls import include, path

from medikeep import urls as project_urls
from records.loaders import lab_catalogue as loader
from records.models import LabTestComponent, StandardizedTest
from records.tests.factories import LabTestComponentFactory

# These routes are included by adminops/api/urls.py; listing them here as well keeps this
# module runnable on its own (a route listed twice resolves to the same view).
urlpatterns = [
    path("api/v1/", include("adminops.api.maintenance")),
    *project_urls.urlpatterns,
]

pytestmark = [pytest.mark.django_db, pytest.mark.urls(__name__)]

BASE = "/api/v1/admin/maintenance/test-library"
ENDPOINTS = [("get", "info"), ("post", "reload"), ("post", "sync")]


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


def file_tests() -> list[dict]:
    return json.loads(loader.DATA_FILE.read_text(encoding="utf-8"))["tests"]


@pytest.mark.parametrize(("method", "name"), ENDPOINTS)
def test_anonymous_is_401(anon, method, name):
    assert getattr(anon, method)(f"{BASE}/{name}").status_code == 401


@pytest.mark.parametrize(("method", "name"), ENDPOINTS)
def test_other_users_are_403(client_for, alice, method, name):
    response = getattr(client_for(alice), method)(f"{BASE}/{name}", {}, format="json")
    assert response.status_code == 403
    assert StandardizedTest.objects.count() == 0


def test_reads_are_not_writes(admin_api):
    assert admin_api.get(f"{BASE}/reload").status_code == 405
    assert admin_api.get(f"{BASE}/sync").status_code == 405
    assert admin_api.post(f"{BASE}/info").status_code == 405


class TestInfo:
    def test_before_any_load(self, admin_api):
        body = admin_api.get(f"{BASE}/info").json()
        assert body["version"] is None and body["last_loaded_at"] is None
        assert body["test_count"] == 0 and body["categories"] == {}
        assert body["file"]["version"] == "1.0.0"
        assert body["file"]["test_count"] == len(file_tests())
        assert body["file"]["checksum"] == hashlib.sha256(loader.DATA_FILE.read_bytes()).hexdigest()
        assert body["reload_needed"] is True

    def test_after_a_load(self, admin_api):
        loader.load()
        StandardizedTest.objects.filter(loinc_code="718-7").update(is_active=False)
        body = admin_api.get(f"{BASE}/info").json()
        assert body["version"] == "1.0.0" and body["last_loaded_at"]
        assert body["checksum"] == body["file"]["checksum"]
        assert body["reload_needed"] is False
        assert body["test_count"] == len(file_tests()) - 1  # active entries
        assert sum(body["categories"].values()) == body["test_count"]
        assert body["categories"]["lipids"] == sum(
            1 for t in file_tests() if t["category"] == "lipids"
        )
        assert (
            body["common_count"]
            == StandardizedTest.objects.filter(is_common=True, is_active=True).count()
        )

    def test_an_unreadable_file_is_reported_not_fatal(self, admin_api, tmp_path, monkeypatch):
        broken = tmp_path / "lab_tests.json"
        broken.write_text("{", encoding="utf-8")
        monkeypatch.setattr(loader, "DATA_FILE", broken)
        body = admin_api.get(f"{BASE}/info").json()
        assert body["file"]["error"] and body["file"]["checksum"] is None
        assert body["reload_needed"] is False


class TestReload:
    def test_reload_reads_the_file_into_the_catalogue(self, admin_api):
        response = admin_api.post(f"{BASE}/reload")
        assert response.status_code == 200, response.content
        total = len(file_tests())
        assert response.json() == {
            "success": True,
            "version": "1.0.0",
            "test_count": total,
            "created": total,
            "updated": 0,
            "unchanged": 0,
            "message": "Test library reloaded successfully",
        }
        again = admin_api.post(f"{BASE}/reload").json()
        assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, total)
        assert StandardizedTest.objects.count() == total

    def test_a_changed_file_updates_the_catalogue(self, admin_api, tmp_path, monkeypatch):
        loader.load()
        document = json.loads(loader.DATA_FILE.read_text(encoding="utf-8"))
        document["version"] = "1.0.1"
        document["tests"][0]["default_unit"] = "mmol/L"
        changed = tmp_path / "lab_tests.json"
        changed.write_text(json.dumps(document), encoding="utf-8")
        monkeypatch.setattr(loader, "DATA_FILE", changed)
        assert admin_api.get(f"{BASE}/info").json()["reload_needed"] is True
        body = admin_api.post(f"{BASE}/reload").json()
        assert (body["version"], body["updated"]) == ("1.0.1", 1)
        code = document["tests"][0]["loinc_code"]
        assert StandardizedTest.objects.get(loinc_code=code).default_unit == "mmol/L"
        assert admin_api.get(f"{BASE}/info").json()["version"] == "1.0.1"

    def test_an_invalid_file_is_refused_with_a_reason(self, admin_api, tmp_path, monkeypatch):
        bad = tmp_path / "lab_tests.json"
        tests = [{"loinc_code": "2345-8", "test_name": "Glucose", "category": "chemistry"}]
        bad.write_text(json.dumps({"version": "2", "tests": tests}), encoding="utf-8")
        monkeypatch.setattr(loader, "DATA_FILE", bad)
        response = admin_api.post(f"{BASE}/reload")
        assert response.status_code == 400
        assert "check digit" in response.json()["error"]
        assert StandardizedTest.objects.count() == 0


class TestSync:
    @pytest.fixture
    def components(self, patient):
        # Made before the catalogue is loaded, so none has a canonical name yet.
        made = {
            name: LabTestComponentFactory(patient=patient, test_name=name, category="")
            for name in ("WBC", "Hgb", "Unobtainium")
        }
        loader.load()
        return made

    def test_blank_components_are_linked(self, admin_api, components):
        response = admin_api.post(f"{BASE}/sync", {}, format="json")
        assert response.status_code == 200, response.content
        assert response.json() == {
            "success": True,
            "components_processed": 3,
            "canonical_names_updated": 2,
            "categories_updated": 2,
            "message": "Successfully synced 3 components",
        }
        names = dict(LabTestComponent.objects.values_list("test_name", "canonical_test_name"))
        assert names == {
            "WBC": "White Blood Cell Count",
            "Hgb": "Hemoglobin",
            "Unobtainium": "",
        }
        assert LabTestComponent.objects.get(pk=components["WBC"].pk).category == "hematology"
        # Linked ones are not looked at again without force_all.
        again = admin_api.post(f"{BASE}/sync", {"force_all": False}, format="json").json()
        assert again["components_processed"] == 1 and again["canonical_names_updated"] == 0

    def test_force_all_re_evaluates_every_component(self, admin_api, components):
        admin_api.post(f"{BASE}/sync", {}, format="json")
        LabTestComponent.objects.filter(test_name="Hgb").update(canonical_test_name="Stale")
        plain = admin_api.post(f"{BASE}/sync", {}, format="json").json()
        assert plain["canonical_names_updated"] == 0
        assert LabTestComponent.objects.get(test_name="Hgb").canonical_test_name == "Stale"
        forced = admin_api.post(f"{BASE}/sync", {"force_all": True}, format="json").json()
        assert forced["components_processed"] == 3 and forced["canonical_names_updated"] == 1
        assert LabTestComponent.objects.get(test_name="Hgb").canonical_test_name == "Hemoglobin"

    def test_a_bad_force_all_is_422(self, admin_api, components):
        response = admin_api.post(f"{BASE}/sync", {"force_all": "maybe"}, format="json")
        assert response.status_code == 422
        assert "force_all" in response.json()["errors"]
