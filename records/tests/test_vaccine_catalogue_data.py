"""The vaccine data file, the model's rules and the loader (records/data/vaccines.json)."""

import json
import re

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.loaders import vaccine_catalogue as loader
from records.models import StandardizedVaccine, VaccineCategory

ENTRIES = loader.read_entries()
CATEGORIES = {"Viral", "Bacterial", "Combined", "Toxoid", "Parasitic", "Other"}


def names(entry):
    return [
        entry["vaccine_name"],
        entry["short_name"],
        *entry["common_names"],
        *entry["brand_names"],
    ]


class TestDataFile:
    def test_is_an_object_with_at_least_80_vaccines(self):
        document = json.loads(loader.DATA_FILE.read_text(encoding="utf-8"))
        assert document["version"]
        assert len(ENTRIES) >= 80

    def test_every_entry_has_exactly_the_catalogue_fields(self):
        for entry in ENTRIES:
            assert set(entry) == set(loader.FILE_FIELDS), entry["vaccine_name"]
            assert isinstance(entry["is_combined"], bool)
            assert isinstance(entry["is_common"], bool)
            assert isinstance(entry["display_order"], int) and entry["display_order"] >= 0
            for field in ("common_names", "brand_names", "components"):
                assert isinstance(entry[field], list)
                assert all(isinstance(n, str) and n.strip() == n and n for n in entry[field])

    def test_categories_are_the_capitalised_ones(self):
        assert {entry["category"] for entry in ENTRIES} <= CATEGORIES
        assert set(VaccineCategory.values) == CATEGORIES

    def test_components_are_never_empty_and_combined_ones_have_two(self):
        for entry in ENTRIES:
            assert entry["components"], entry["vaccine_name"]
            assert len(set(entry["components"])) == len(entry["components"])
            if entry["is_combined"]:
                assert len(entry["components"]) >= 2, entry["vaccine_name"]

    def test_combined_means_the_combined_category(self):
        for entry in ENTRIES:
            assert entry["is_combined"] == (entry["category"] == "Combined"), entry["vaccine_name"]

    def test_no_duplicate_names_or_codes(self):
        lowered = [entry["vaccine_name"].lower() for entry in ENTRIES]
        assert len(set(lowered)) == len(lowered)
        codes = [entry["who_code"] for entry in ENTRIES if entry["who_code"] is not None]
        assert len(set(codes)) == len(codes)

    def test_who_codes_look_like_prequal_vaccine_type_codes(self):
        with_code = [entry for entry in ENTRIES if entry["who_code"] is not None]
        assert len(with_code) >= 50
        for entry in with_code:
            assert re.fullmatch(r"[A-Za-z0-9µ]+", entry["who_code"]), entry["who_code"]
            assert len(entry["who_code"]) <= 100

    def test_a_name_points_at_one_vaccine_only(self):
        # Names are how immunizations typed by hand are matched: none may be ambiguous.
        owner: dict[str, str] = {}
        for entry in ENTRIES:
            for name in {n.lower() for n in names(entry) if n}:
                assert owner.setdefault(name, entry["vaccine_name"]) == entry["vaccine_name"], name

    def test_disease_names_are_spelled_one_way(self):
        diseases = {d for entry in ENTRIES for d in entry["components"]}
        assert len({d.lower() for d in diseases}) == len(diseases)
        for expected in ("Diphtheria", "Tetanus", "Pertussis", "Measles", "Mumps", "Rubella"):
            assert expected in diseases

    def test_names_fit_the_model_and_the_by_name_path(self):
        for entry in ENTRIES:
            assert "/" not in entry["vaccine_name"]
            assert len(entry["vaccine_name"]) <= 255 and len(entry["short_name"]) <= 100
            assert len(entry["default_manufacturer"] or "") <= 100

    def test_known_facts(self):
        by_short = {entry["short_name"]: entry for entry in ENTRIES}
        assert by_short["DTaP"]["components"] == ["Diphtheria", "Tetanus", "Pertussis"]
        assert by_short["MMR"]["who_code"] == "MeaslesMumpsandRubella"
        assert by_short["Tdap"]["who_code"] is None and by_short["Tdap"]["is_combined"]
        assert "Shingrix" in by_short["RZV"]["brand_names"]
        assert sum(entry["is_common"] for entry in ENTRIES) >= 10


@pytest.mark.django_db
class TestModel:
    def vaccine(self, **fields):
        values = {"vaccine_name": "Test vaccine", "category": "Viral", "components": ["Flu"]}
        return StandardizedVaccine(**{**values, **fields})

    def test_save_derives_the_lower_cased_search_text(self):
        vaccine = self.vaccine(
            short_name="TV", who_code="TestCode", common_names=["Jab"], brand_names=["Brandix"]
        )
        vaccine.save()
        assert vaccine.search_text == "test vaccine|tv|testcode|@jab|@brandix|flu"
        vaccine.vaccine_name = "Renamed"
        vaccine.save(update_fields=["vaccine_name"])
        vaccine.refresh_from_db()
        assert vaccine.search_text.startswith("renamed|")

    def test_clean_normalises_names_and_codes(self):
        vaccine = self.vaccine(
            who_code="  ", common_names=[" Jab ", "jab", ""], components=["Flu", "flu "]
        )
        vaccine.full_clean()
        assert vaccine.who_code is None
        assert vaccine.common_names == ["Jab"] and vaccine.components == ["Flu"]

    @pytest.mark.parametrize(
        ("fields", "field"),
        [
            ({"components": []}, "components"),
            ({"components": ["Measles"], "is_combined": True}, "components"),
            ({"components": "Measles"}, "components"),
            ({"common_names": [1, 2]}, "common_names"),
            ({"brand_names": ["x" * 201]}, "brand_names"),
            ({"vaccine_name": "A/B"}, "vaccine_name"),
            ({"category": "viral"}, "category"),
        ],
    )
    def test_clean_refuses(self, fields, field):
        with pytest.raises(ValidationError) as caught:
            self.vaccine(**fields).full_clean()
        assert field in caught.value.message_dict

    def test_names_are_unique_ignoring_case_and_codes_may_be_missing(self):
        self.vaccine(who_code=None).save()
        other = self.vaccine(vaccine_name="TEST VACCINE")
        with pytest.raises(ValidationError) as caught:
            other.full_clean()
        assert "A vaccine with this name already exists." in str(caught.value)
        self.vaccine(vaccine_name="Second", who_code=None).save()  # two empty codes are fine


@pytest.mark.django_db
class TestLoader:
    def test_loads_every_entry(self):
        counts = loader.load()
        assert counts == {"created": len(ENTRIES), "updated": 0, "unchanged": 0}
        assert StandardizedVaccine.objects.count() == len(ENTRIES)
        mmr = StandardizedVaccine.objects.get(who_code="MeaslesMumpsandRubella")
        assert mmr.components == ["Measles", "Mumps", "Rubella"] and mmr.is_active
        assert "@priorix" in mmr.search_text

    def test_a_second_run_changes_nothing_in_few_queries(self):
        loader.load()
        with CaptureQueriesContext(connection) as queries:
            counts = loader.load()
        assert counts == {"created": 0, "updated": 0, "unchanged": len(ENTRIES)}
        assert len(queries) <= 4  # savepoint, read, release (nothing to write)
        assert StandardizedVaccine.objects.count() == len(ENTRIES)

    def test_changed_rows_are_restored_and_admin_choices_kept(self):
        loader.load()
        mmr = StandardizedVaccine.objects.get(who_code="MeaslesMumpsandRubella")
        mmr.short_name, mmr.is_active = "changed", False
        mmr.save()
        renamed = StandardizedVaccine.objects.get(vaccine_name__iexact="Mumps")
        renamed.vaccine_name = "MUMPS"  # found again by name, ignoring case
        renamed.save()
        extra = StandardizedVaccine.objects.create(
            vaccine_name="House vaccine", category="Other", components=["Something"]
        )
        with CaptureQueriesContext(connection) as queries:
            counts = loader.load()
        assert counts["updated"] == 2 and counts["created"] == 0
        assert len(queries) <= 6
        mmr.refresh_from_db()
        renamed.refresh_from_db()
        assert mmr.short_name == "MMR" and mmr.is_active is False  # retiring survives a load
        assert renamed.vaccine_name == "Mumps"
        assert StandardizedVaccine.objects.filter(pk=extra.pk).exists()

    def test_an_invalid_file_is_refused_with_the_entry_named(self, tmp_path):
        bad = tmp_path / "vaccines.json"
        entry = {**ENTRIES[0], "components": []}
        bad.write_text(json.dumps({"vaccines": [entry]}), encoding="utf-8")
        with pytest.raises(loader.CatalogueFileError, match=re.escape(entry["vaccine_name"])):
            loader.load(path=bad)
        twice = tmp_path / "twice.json"
        twice.write_text(json.dumps({"vaccines": [ENTRIES[0], ENTRIES[0]]}), encoding="utf-8")
        with pytest.raises(loader.CatalogueFileError, match="share"):
            loader.load(path=twice)
        (tmp_path / "broken.json").write_text("{", encoding="utf-8")
        with pytest.raises(loader.CatalogueFileError):
            loader.load(path=tmp_path / "broken.json")
        assert not StandardizedVaccine.objects.exists()

    def test_a_clash_with_a_hand_made_entry_is_reported_and_nothing_written(self):
        # The file's MMR code is on one hand-made row and its name on another.
        StandardizedVaccine.objects.create(
            vaccine_name="Hand made", who_code="MeaslesMumpsandRubella", components=["X"]
        )
        StandardizedVaccine.objects.create(
            vaccine_name="measles, mumps and rubella", components=["X"]
        )
        with pytest.raises(loader.CatalogueFileError, match="clashes"):
            loader.load()
        assert StandardizedVaccine.objects.count() == 2

    def test_the_management_command_loads_it(self):
        from io import StringIO

        out = StringIO()
        call_command("load_reference_data", stdout=out)
        assert StandardizedVaccine.objects.count() == len(ENTRIES)
        assert f"'created': {len(ENTRIES)}" in out.getvalue()
