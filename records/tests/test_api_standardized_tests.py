"""/standardized-tests: search and ranking, autocomplete, lookups, counts, batch-match, and
the catalogue's own CRUD (admins only)."""

from urllib.parse import quote

import pytest

from records.loaders import lab_catalogue as loader
from records.models import StandardizedTest

pytestmark = pytest.mark.django_db

BASE = "/api/v1/standardized-tests"


@pytest.fixture
def catalogue(db):
    loader.load()


@pytest.fixture
def api(client_for, bob):
    """Any signed-in user (no patient access needed)."""
    return client_for(bob)


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


def make(code, name, short="", **fields):
    return StandardizedTest.objects.create(
        loinc_code=code, test_name=name, short_name=short, **fields
    )


def codes(tests):
    return [t["loinc_code"] for t in tests]


# --- authentication --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/search?query=glucose"),
        ("get", "/autocomplete?q=glu"),
        ("get", "/common"),
        ("get", "/by-category/chemistry"),
        ("get", "/by-loinc/2345-7"),
        ("get", "/by-name/Glucose"),
        ("get", "/count"),
        ("post", "/batch-match"),
        ("get", ""),
    ],
)
def test_every_path_needs_a_login(anon, catalogue, method, path):
    response = getattr(anon, method)(f"{BASE}{path}", {"test_names": ["x"]}, format="json")
    assert response.status_code == 401


# --- search -----------------------------------------------------------------------------------


class TestSearch:
    def test_the_contracts_shape(self, api, catalogue):
        body = api.get(f"{BASE}/search", {"query": "glucose"}).json()
        assert set(body) == {"tests", "total"}
        first = body["tests"][0]
        assert first["loinc_code"] == "2345-7"
        assert first["test_name"] == "Glucose [Mass/volume] in Serum or Plasma"
        assert first["short_name"] == "Glucose" and first["default_unit"] == "mg/dL"
        assert first["category"] == "chemistry" and first["is_common"] is True
        assert "Blood sugar" in first["common_names"]
        assert body["total"] >= len(body["tests"]) > 1

    def test_a_code_finds_its_test_first(self, api, catalogue):
        body = api.get(f"{BASE}/search", {"query": "718-7"}).json()
        assert body["tests"][0]["short_name"] == "Hemoglobin"

    def test_a_common_name_finds_its_test(self, api, catalogue):
        body = api.get(f"{BASE}/search", {"query": "blood sugar"}).json()
        assert body["tests"][0]["loinc_code"] == "2345-7"

    def test_a_typo_still_finds_the_test(self, api, catalogue):
        body = api.get(f"{BASE}/search", {"query": "cholestrol"}).json()
        assert "2093-3" in codes(body["tests"][:5])

    @pytest.mark.parametrize(
        ("query", "unrelated"),
        [("ferritin", "5802-4"), ("blood sugar", "883-9")],  # Urine nitrite, ABO group
    )
    def test_a_typo_match_must_be_close(self, api, catalogue, query, unrelated):
        """Only names within the fuzzy ratio count as typos, not anything sharing letters."""
        body = api.get(f"{BASE}/search", {"query": query, "limit": 100}).json()
        assert unrelated not in codes(body["tests"])

    def test_category_skip_and_limit(self, api, catalogue):
        everything = api.get(f"{BASE}/search", {"query": "glucose", "limit": 100}).json()
        page = api.get(f"{BASE}/search", {"query": "glucose", "skip": 1, "limit": 2}).json()
        assert page["total"] == everything["total"]
        assert codes(page["tests"]) == codes(everything["tests"])[1:3]
        urine = api.get(f"{BASE}/search", {"query": "glucose", "category": "Chemistry"}).json()
        assert {t["category"] for t in urine["tests"]} == {"chemistry"}

    def test_without_a_query_every_test_is_listed_in_display_order(self, api, catalogue):
        body = api.get(f"{BASE}/search", {"limit": 5}).json()
        assert body["total"] == StandardizedTest.objects.count()
        assert codes(body["tests"])[0] == "2345-7"

    def test_retired_tests_are_not_offered(self, api, catalogue):
        StandardizedTest.objects.filter(loinc_code="2345-7").update(is_active=False)
        body = api.get(f"{BASE}/search", {"query": "2345-7"}).json()
        assert "2345-7" not in codes(body["tests"])

    @pytest.mark.parametrize(
        "params",
        [
            {"query": "x", "category": "urinalysis"},
            {"query": "x", "limit": "many"},
            {"query": "x", "skip": -1},
            {"query": "x" * 201},
        ],
    )
    def test_bad_parameters_are_422(self, api, catalogue, params):
        assert api.get(f"{BASE}/search", params).status_code == 422

    def test_search_uses_the_search_rate_limit(self, api, catalogue, settings):
        settings.API_RATES = {**settings.API_RATES, "search": "2/min"}
        for _ in range(2):
            assert api.get(f"{BASE}/search", {"query": "glucose"}).status_code == 200
        assert api.get(f"{BASE}/search", {"query": "glucose"}).status_code == 429
        assert api.get(f"{BASE}/autocomplete", {"q": "glucose"}).status_code == 429
        assert api.get(f"{BASE}/common").status_code == 200  # standard scope


class TestRanking:
    """exact code, exact name, name prefix, common name, then anything else (inside the
    name, every word, or a typo away); common tests first within a tier."""

    @pytest.fixture
    def tests(self, db):
        return {
            "other": make("2951-2", "Urine sodium excretion", "Natriuresis"),
            "synonym": make("2947-0", "Natrium level", "Natrium", common_names=["Sodium"]),
            "prefix": make("2955-3", "Sodium [Moles/volume] in Urine", "Sodium, Urine"),
            "typo": make("6298-4", "Potassium thing", "Sodum"),
            "name": make("2823-3", "Serum electrolyte", "Sodium"),
            "unrelated": make("718-7", "Hemoglobin [Mass/volume] in Blood", "Hemoglobin"),
        }

    def test_the_tiers_come_in_order(self, api, tests):
        body = api.get(f"{BASE}/search", {"query": "sodium"}).json()
        expected = [tests[k].loinc_code for k in ("name", "prefix", "synonym", "other", "typo")]
        assert codes(body["tests"]) == expected
        assert body["total"] == 5

    def test_an_exact_code_beats_everything(self, api, tests):
        make("12345-5", "2823-3 lookalike", "Lookalike")
        body = api.get(f"{BASE}/search", {"query": "2823-3"}).json()
        assert codes(body["tests"]) == ["2823-3", "12345-5"]

    def test_common_tests_come_first_within_a_tier(self, api, tests):
        make("2028-9", "Sodium bicarbonate level", "Sodium Bicarbonate", is_common=True)
        body = api.get(f"{BASE}/search", {"query": "sodium"}).json()
        assert codes(body["tests"])[1:3] == ["2028-9", "2955-3"]

    def test_every_word_counts_in_any_order(self, api, tests):
        body = api.get(f"{BASE}/search", {"query": "sodium urine"}).json()
        assert set(codes(body["tests"])) == {"2951-2", "2955-3"}


# --- autocomplete -------------------------------------------------------------------------------


class TestAutocomplete:
    def test_suggestions_have_the_contracts_shape(self, api, catalogue):
        body = api.get(f"{BASE}/autocomplete", {"q": "glucose"}).json()
        assert body[0] == {
            "value": "Glucose [Mass/volume] in Serum or Plasma",
            "label": "Glucose - Blood sugar",
            "short_name": "Glucose",
            "loinc_code": "2345-7",
            "default_unit": "mg/dL",
            "category": "chemistry",
            "result_type": "quantitative",
        }
        assert len(body) <= 10

    def test_limit_and_category(self, api, catalogue):
        body = api.get(f"{BASE}/autocomplete", {"q": "hemo", "limit": 3}).json()
        assert len(body) == 3
        body = api.get(f"{BASE}/autocomplete", {"q": "hemo", "category": "endocrinology"}).json()
        assert body and {s["category"] for s in body} == {"endocrinology"}

    @pytest.mark.parametrize("params", [{}, {"q": "g"}, {"q": "  g  "}, {"q": "glu", "limit": 0}])
    def test_under_two_characters_is_422(self, api, catalogue, params):
        response = api.get(f"{BASE}/autocomplete", params)
        assert response.status_code == 422


# --- lookups -------------------------------------------------------------------------------


class TestLookups:
    def test_common_tests(self, api, catalogue):
        body = api.get(f"{BASE}/common").json()
        assert body and all(t["is_common"] for t in body)
        assert len(body) == StandardizedTest.objects.filter(is_common=True).count()
        lipids = api.get(f"{BASE}/common", {"category": "lipids"}).json()
        assert lipids and {t["category"] for t in lipids} == {"lipids"}

    def test_by_category(self, api, catalogue):
        body = api.get(f"{BASE}/by-category/Hematology").json()
        assert len(body) == StandardizedTest.objects.filter(category="hematology").count()
        assert {t["category"] for t in body} == {"hematology"}
        assert api.get(f"{BASE}/by-category/urinalysis").status_code == 422
        assert len(api.get(f"{BASE}/by-category/hematology", {"limit": 2}).json()) == 2

    def test_by_loinc(self, api, catalogue):
        body = api.get(f"{BASE}/by-loinc/718-7").json()
        assert body["short_name"] == "Hemoglobin" and body["default_unit"] == "g/dL"
        assert api.get(f"{BASE}/by-loinc/9999-9").status_code == 404
        response = api.get(f"{BASE}/by-loinc/not-a-code")
        assert response.status_code == 404
        assert "not-a-code" in response.json()["error"]

    def test_by_name_takes_long_names_with_slashes(self, api, catalogue):
        name = "Glucose [Mass/volume] in Serum or Plasma"
        response = api.get(f"{BASE}/by-name/{quote(name, safe='')}")
        assert response.status_code == 200, response.content
        assert response.json()["loinc_code"] == "2345-7"
        assert api.get(f"{BASE}/by-name/{quote(name.upper())}/").json()["loinc_code"] == "2345-7"

    def test_by_name_takes_a_short_name_too(self, api, catalogue):
        assert api.get(f"{BASE}/by-name/hemoglobin").json()["loinc_code"] == "718-7"
        assert api.get(f"{BASE}/by-name/Unobtainium").status_code == 404

    def test_count(self, api, catalogue):
        body = api.get(f"{BASE}/count").json()
        active = StandardizedTest.objects.filter(is_active=True)
        assert body == {
            "total_tests": active.count(),
            "common_tests": active.filter(is_common=True).count(),
            "categories": len(set(active.values_list("category", flat=True))),
        }
        StandardizedTest.objects.filter(loinc_code="718-7").update(is_active=False)
        assert api.get(f"{BASE}/count").json()["total_tests"] == body["total_tests"] - 1

    def test_retired_tests_are_not_found(self, api, catalogue):
        StandardizedTest.objects.filter(loinc_code="718-7").update(is_active=False)
        assert api.get(f"{BASE}/by-loinc/718-7").status_code == 404
        assert api.get(f"{BASE}/by-name/Hemoglobin").status_code == 404


# --- batch-match -------------------------------------------------------------------------------


class TestBatchMatch:
    def test_names_codes_and_common_names_are_matched(self, api, catalogue):
        names = ["Glucose", "Hemoglobin", "Cholesterol", "WBC", "2160-0", "Unobtainium"]
        response = api.post(f"{BASE}/batch-match", {"test_names": names}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["total_requested"] == 6 and body["total_matched"] == 5
        by_input = {m["input"]: m for m in body["matches"]}
        assert by_input["Glucose"] == {
            "input": "Glucose",
            "matched": True,
            "loinc_code": "2345-7",
            "test_name": "Glucose [Mass/volume] in Serum or Plasma",
            "short_name": "Glucose",
            "default_unit": "mg/dL",
            "category": "chemistry",
            "match_type": "short_name",
        }
        assert by_input["Cholesterol"]["loinc_code"] == "2093-3"
        assert by_input["WBC"]["match_type"] == "synonym"
        assert by_input["2160-0"]["match_type"] == "code"
        assert by_input["Unobtainium"]["matched"] is False
        assert by_input["Unobtainium"]["loinc_code"] is None
        assert [m["input"] for m in body["matches"]] == names  # order kept

    def test_lookalikes_are_not_guessed(self, api, catalogue):
        body = api.post(f"{BASE}/batch-match", {"test_names": ["Gluc"]}, format="json").json()
        assert body["matches"][0]["matched"] is False

    @pytest.mark.parametrize(
        "body",
        [
            {"test_names": []},
            {"test_names": ["x"] * 101},
            {"test_names": "Glucose"},
            {"test_names": [{"name": "Glucose"}]},
            {"test_names": ["x" * 201]},
            {},
        ],
    )
    def test_bad_bodies_are_422(self, api, catalogue, body):
        assert api.post(f"{BASE}/batch-match", body, format="json").status_code == 422

    def test_a_hundred_names_are_fine(self, api, catalogue):
        body = {"test_names": ["Glucose"] * 100}
        response = api.post(f"{BASE}/batch-match", body, format="json")
        assert response.status_code == 200 and response.json()["total_matched"] == 100


# --- the catalogue itself ------------------------------------------------------------------------


NEW_TEST = {
    "loinc_code": "12345-5",
    "test_name": "Unobtainium [Mass/volume] in Serum or Plasma",
    "short_name": "Unobtainium",
    "category": "Toxicology",
    "common_names": ["Unob", "unob", " Rare metal "],
    "default_unit": "ug/L",
}


class TestCatalogueWrites:
    def test_users_read_but_do_not_write(self, api, catalogue):
        assert api.get(BASE).status_code == 200
        test = StandardizedTest.objects.get(loinc_code="718-7")
        assert api.get(f"{BASE}/{test.pk}").json()["short_name"] == "Hemoglobin"
        assert api.post(BASE, NEW_TEST, format="json").status_code == 403
        assert api.patch(f"{BASE}/{test.pk}", {"short_name": "X"}, format="json").status_code == 403
        assert api.delete(f"{BASE}/{test.pk}").status_code == 403
        assert StandardizedTest.objects.get(pk=test.pk).short_name == "Hemoglobin"

    def test_admins_add_change_and_delete(self, admin_api, db):
        response = admin_api.post(BASE, NEW_TEST, format="json")
        assert response.status_code == 201, response.content
        body = response.json()
        assert body["category"] == "toxicology"
        assert body["common_names"] == ["Unob", "Rare metal"]
        assert body["is_active"] is True and body["result_type"] == "quantitative"
        url = f"{BASE}/{body['id']}"
        response = admin_api.put(url, {"is_active": False}, format="json")
        assert response.status_code == 200 and response.json()["is_active"] is False
        assert admin_api.get(url).status_code == 200  # admins still see retired entries
        assert admin_api.delete(url).status_code == 204
        assert not StandardizedTest.objects.filter(loinc_code="12345-5").exists()

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"loinc_code": "12345-6"}, "loinc_code"),
            ({"loinc_code": "2345-7"}, "loinc_code"),
            ({"test_name": "glucose [mass/volume] in serum or plasma"}, "non_field_errors"),
            ({"category": "alchemy"}, "category"),
            ({"result_type": "vibes"}, "result_type"),
            ({"common_names": "Unob"}, "common_names"),
            ({"display_order": -1}, "display_order"),
        ],
    )
    def test_invalid_entries_are_422(self, admin_api, catalogue, fields, field):
        response = admin_api.post(BASE, {**NEW_TEST, **fields}, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]

    def test_retired_entries_are_hidden_from_users(self, api, catalogue):
        test = StandardizedTest.objects.get(loinc_code="718-7")
        StandardizedTest.objects.filter(pk=test.pk).update(is_active=False)
        assert api.get(f"{BASE}/{test.pk}").status_code == 404
        listed = codes(api.get(BASE, {"limit": 1000}).json())
        assert "718-7" not in listed and "2345-7" in listed
