"""/standardized-vaccines: the vaccine catalogue's read endpoints and admin writes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.loaders import vaccine_catalogue as loader
from records.models import StandardizedVaccine

pytestmark = pytest.mark.django_db

URL = "/api/v1/standardized-vaccines"


@pytest.fixture
def catalogue(db):
    loader.load()
    return StandardizedVaccine.objects.all()


@pytest.fixture
def api(alice_api):
    return alice_api


def make(name, **fields):
    values = {"category": "Viral", "components": ["Testitis"], **fields}
    return StandardizedVaccine.objects.create(vaccine_name=name, **values)


class TestAccess:
    PATHS = [
        "/search?query=mmr",
        "/autocomplete?q=mmr",
        "/common",
        "/by-category/Viral",
        "/by-who-code/MeaslesMumpsandRubella",
        "/by-name/Measles",
        "/count",
        "",
    ]

    @pytest.mark.parametrize("path", PATHS)
    def test_signed_out_is_401(self, anon, catalogue, path):
        assert anon.get(URL + path).status_code == 401

    @pytest.mark.parametrize("path", PATHS)
    def test_any_signed_in_user_reads(self, client_for, mallory, catalogue, path):
        assert client_for(mallory).get(URL + path).status_code == 200

    def test_only_admins_write(self, client_for, mallory, admin_user, catalogue):
        body = {"vaccine_name": "Newvax", "category": "Viral", "components": ["Newitis"]}
        entry = catalogue.get(short_name="MMR")
        user = client_for(mallory)
        assert user.post(URL, body, format="json").status_code == 403
        assert user.put(f"{URL}/{entry.pk}", {"short_name": "x"}, format="json").status_code == 403
        assert user.delete(f"{URL}/{entry.pk}").status_code == 403
        admin = client_for(admin_user)
        created = admin.post(URL, body, format="json")
        assert created.status_code == 201, created.content
        assert created.json()["default_manufacturer"] is None
        new = StandardizedVaccine.objects.get(pk=created.json()["id"])
        assert new.search_text == "newvax|newitis" and new.who_code is None
        changed = admin.put(f"{URL}/{new.pk}", {"short_name": "NV"}, format="json")
        assert changed.status_code == 200 and changed.json()["short_name"] == "NV"
        assert admin.delete(f"{URL}/{new.pk}").status_code == 204

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"category": "Viral", "components": ["X"]}, "vaccine_name"),
            ({"vaccine_name": "Measles", "components": ["X"]}, "non_field_errors"),
            ({"vaccine_name": "N", "who_code": "Rabies", "components": ["X"]}, "who_code"),
            ({"vaccine_name": "N", "category": "Fungal", "components": ["X"]}, "category"),
            ({"vaccine_name": "N", "components": []}, "components"),
            ({"vaccine_name": "N", "components": ["X"], "is_combined": True}, "components"),
            ({"vaccine_name": "N", "components": "X"}, "components"),
            ({"vaccine_name": "N", "components": ["X"], "display_order": -1}, "display_order"),
            ({"vaccine_name": "N", "components": ["X"], "display_order": 10**30}, "display_order"),
        ],
    )
    def test_admin_writes_are_validated(self, client_for, admin_user, catalogue, body, field):
        response = client_for(admin_user).post(URL, body, format="json")
        assert response.status_code == 422, response.content
        assert field in response.json()["errors"]

    def test_retired_entries_are_hidden_from_users_but_not_admins(
        self, client_for, mallory, admin_user, catalogue
    ):
        entry = catalogue.get(short_name="MMR")
        entry.is_active = False
        entry.save()
        user = client_for(mallory)
        assert user.get(f"{URL}/{entry.pk}").status_code == 404
        assert user.get(f"{URL}/by-who-code/MeaslesMumpsandRubella").status_code == 404
        assert entry.pk not in [
            v["id"] for v in user.get(f"{URL}/search?query=mmr").json()["vaccines"]
        ]
        assert user.get(f"{URL}/count").json()["count"] == catalogue.count() - 1
        assert client_for(admin_user).get(f"{URL}/{entry.pk}").json()["is_active"] is False


class TestSearch:
    def test_shape_of_an_entry(self, api, catalogue):
        body = api.get(f"{URL}/search", {"query": "MeaslesMumpsandRubella"}).json()
        assert body["total"] == 1
        assert body["vaccines"][0] == {
            "id": catalogue.get(who_code="MeaslesMumpsandRubella").pk,
            "who_code": "MeaslesMumpsandRubella",
            "vaccine_name": "Measles, Mumps and Rubella",
            "short_name": "MMR",
            "category": "Combined",
            "common_names": ["MMR vaccine", "MMR II"],
            "brand_names": ["M-M-R II", "Priorix"],
            "is_combined": True,
            "components": ["Measles", "Mumps", "Rubella"],
            "default_manufacturer": None,
            "is_common": True,
            "display_order": 60,
            "is_active": True,
        }

    def test_ranking_exact_then_prefix_then_alias_then_contains(self, api, catalogue):
        make("Zeta", short_name="Zet", display_order=1)  # contains "zeta" nowhere else
        contains = make("Alpha zeta", display_order=2)  # name contains
        alias = make("Beta", brand_names=["Zetamax"], display_order=3)  # alias prefix
        prefix = make("Zetavax", display_order=4)  # name prefix
        exact = StandardizedVaccine.objects.get(vaccine_name="Zeta")
        exact.display_order = 99  # the rank wins over display order
        exact.save()
        got = api.get(f"{URL}/search", {"query": "ZETA"}).json()
        assert [v["id"] for v in got["vaccines"]] == [exact.pk, prefix.pk, alias.pk, contains.pk]
        assert got["total"] == 4

    def test_short_name_and_brand_and_disease_find_entries(self, api, catalogue):
        first = api.get(f"{URL}/search", {"query": "mmr"}).json()["vaccines"]
        assert first[0]["short_name"] == "MMR" and first[1]["short_name"] == "MMRV"
        shingrix = api.get(f"{URL}/search", {"query": "shingrix"}).json()["vaccines"]
        assert [v["short_name"] for v in shingrix] == ["RZV"]
        pertussis = api.get(f"{URL}/search", {"query": "pertussis"}).json()["vaccines"]
        assert {"DTaP", "Tdap", "DTwP"} <= {v["short_name"] for v in pertussis}
        words = api.get(f"{URL}/search", {"query": "rubella  mumps"}).json()["vaccines"]
        assert [v["short_name"] for v in words] == ["MMR", "MMRV"]  # every word, any order

    def test_category_skip_limit(self, api, catalogue):
        toxoids = api.get(f"{URL}/search", {"category": "toxoid"}).json()
        assert [v["short_name"] for v in toxoids["vaccines"]] == ["TT"]
        everything = api.get(f"{URL}/search").json()
        assert everything["total"] == catalogue.count() == len(everything["vaccines"])
        page = api.get(f"{URL}/search", {"skip": 2, "limit": 3}).json()
        assert page["total"] == catalogue.count()
        assert [v["id"] for v in page["vaccines"]] == [v["id"] for v in everything["vaccines"][2:5]]
        assert api.get(f"{URL}/search", {"query": "no such thing"}).json() == {
            "vaccines": [],
            "total": 0,
        }
        assert api.get(f"{URL}/search", {"query": "100%_"}).json()["total"] == 0

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"category": "Fungal"}, "category"),
            ({"limit": 0}, "limit"),
            ({"limit": "many"}, "limit"),
            ({"skip": -1}, "skip"),
            ({"query": "x" * 201}, "query"),
        ],
    )
    def test_bad_parameters_are_422(self, api, catalogue, params, field):
        response = api.get(f"{URL}/search", params)
        assert response.status_code == 422
        assert field in response.json()["errors"]

    def test_limit_is_capped(self, api, catalogue):
        assert api.get(f"{URL}/search", {"limit": 10**6}).status_code == 200

    @pytest.mark.parametrize("path", ["/search?query=flu", "/autocomplete?q=flu"])
    def test_search_paths_use_the_search_rate(self, settings, api, catalogue, path):
        settings.API_RATES = {**settings.API_RATES, "search": "2/min"}
        assert [api.get(URL + path).status_code for _ in range(3)] == [200, 200, 429]
        assert api.get(f"{URL}/common").status_code == 200  # the standard rate

    def test_query_count_does_not_grow(self, api, catalogue):
        with CaptureQueriesContext(connection) as few:
            api.get(f"{URL}/search", {"limit": 2})
        with CaptureQueriesContext(connection) as many:
            api.get(f"{URL}/search", {"limit": 80})
        assert len(few) == len(many)


class TestAutocomplete:
    def test_suggestions_ranked_and_shaped(self, api, catalogue):
        got = api.get(f"{URL}/autocomplete", {"q": "mmr"}).json()
        assert got[0] == {
            "value": "Measles, Mumps and Rubella (MMR)",
            "label": "Measles, Mumps and Rubella",
            "who_code": "MeaslesMumpsandRubella",
            "short_name": "MMR",
            "category": "Combined",
            "is_combined": True,
            "components": ["Measles", "Mumps", "Rubella"],
        }
        assert got[1]["short_name"] == "MMRV"

    def test_query_alias_category_and_limit(self, api, catalogue):
        by_query = api.get(f"{URL}/autocomplete", {"query": "influenza"}).json()
        assert len(by_query) > 3 and all("Influenza" in s["components"] for s in by_query[:3])
        assert len(api.get(f"{URL}/autocomplete", {"q": "in", "limit": 2}).json()) == 2
        combined = api.get(f"{URL}/autocomplete", {"q": "polio", "category": "Combined"}).json()
        assert combined and all(s["is_combined"] for s in combined)
        measles = api.get(f"{URL}/autocomplete", {"q": "measles"}).json()
        assert measles[0]["value"] == "Measles"  # short name equal to the name: said once

    @pytest.mark.parametrize("params", [{}, {"q": ""}, {"q": "m"}, {"q": "  m  "}])
    def test_fewer_than_two_characters_is_422(self, api, catalogue, params):
        response = api.get(f"{URL}/autocomplete", params)
        assert response.status_code == 422
        assert "q" in response.json()["errors"]

    def test_bad_category_or_limit_is_422(self, api, catalogue):
        assert api.get(f"{URL}/autocomplete", {"q": "mm", "category": "x"}).status_code == 422
        assert api.get(f"{URL}/autocomplete", {"q": "mm", "limit": -4}).status_code == 422


class TestLookups:
    def test_common_in_display_order(self, api, catalogue):
        got = api.get(f"{URL}/common").json()
        assert got and all(v["is_common"] for v in got)
        assert [v["display_order"] for v in got] == sorted(v["display_order"] for v in got)
        assert len(got) == catalogue.filter(is_common=True).count()

    def test_by_category_any_case(self, api, catalogue):
        got = api.get(f"{URL}/by-category/combined").json()
        assert got and {v["category"] for v in got} == {"Combined"}
        assert len(got) == catalogue.filter(category="Combined").count()
        assert [v["short_name"] for v in api.get(f"{URL}/by-category/Parasitic").json()] == [
            "Malaria"
        ]

    def test_unknown_category_is_422(self, api, catalogue):
        response = api.get(f"{URL}/by-category/Fungal")
        assert response.status_code == 422 and "category" in response.json()["errors"]

    def test_by_who_code(self, api, catalogue):
        got = api.get(f"{URL}/by-who-code/MeaslesMumpsandRubella").json()
        assert got["short_name"] == "MMR"
        assert api.get(f"{URL}/by-who-code/measlesmumpsandrubella").json()["id"] == got["id"]
        micro = api.get(f"{URL}/by-who-code/MeningococcalAConjugate10µg")
        assert micro.status_code == 200 and micro.json()["brand_names"] == ["MenAfriVac"]

    def test_unknown_who_code_is_404(self, api, catalogue):
        response = api.get(f"{URL}/by-who-code/NoSuchCode")
        assert response.status_code == 404
        assert response.json()["error"] == "No vaccine with this WHO code."
        assert api.get(f"{URL}/by-who-code/{'x' * 500}").status_code == 404

    def test_by_name_ignores_case_but_not_spelling(self, api, catalogue):
        got = api.get(f"{URL}/by-name/measles, mumps and rubella")
        assert got.status_code == 200 and got.json()["short_name"] == "MMR"
        assert api.get(f"{URL}/by-name/Measles, Mumps").status_code == 404
        assert api.get(f"{URL}/by-name/MMR").status_code == 404  # names only

    def test_count(self, api, catalogue):
        assert api.get(f"{URL}/count").json() == {"category": None, "count": catalogue.count()}
        assert api.get(f"{URL}/count", {"category": "toxoid"}).json() == {
            "category": "Toxoid",
            "count": 1,
        }
        assert api.get(f"{URL}/count", {"category": "nope"}).status_code == 422

    def test_empty_catalogue(self, api):
        assert api.get(f"{URL}/count").json() == {"category": None, "count": 0}
        assert api.get(f"{URL}/common").json() == []
        assert api.get(f"{URL}/search").json() == {"vaccines": [], "total": 0}

    def test_trailing_slash_and_read_only_paths(self, api, catalogue):
        assert api.get(f"{URL}/common/").status_code == 200
        assert api.post(f"{URL}/common", {}, format="json").status_code in (403, 405)
