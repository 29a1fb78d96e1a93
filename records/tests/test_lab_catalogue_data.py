"""The lab-test catalogue: its data file, the LOINC check digit, the loader, and the linking of
lab components to the catalogue (canonical_test_name)."""

import io
import json
from collections import Counter

import pytest
from django.apps import apps
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.loaders import lab_catalogue as loader
from records.models import (
    LabTestComponent,
    StandardizedTest,
    StandardizedTestCategory,
    StandardizedTestLoad,
    StandardizedTestResultType,
)
from records.models.lab_catalogue import (
    is_valid_loinc,
    loinc_check_digit,
    match_key,
    match_test,
    validate_loinc_code,
)
from records.tests.factories import LabTestComponentFactory


def file_entries() -> list[dict]:
    return json.loads(loader.DATA_FILE.read_text(encoding="utf-8"))["tests"]


def write_catalogue(tmp_path, tests, version="9.9.9"):
    path = tmp_path / "lab_tests.json"
    path.write_text(json.dumps({"version": version, "tests": tests}), encoding="utf-8")
    return path


def entry(code, name, short, **fields):
    return {
        "loinc_code": code,
        "test_name": name,
        "short_name": short,
        "category": "chemistry",
        **fields,
    }


# --- the check digit ------------------------------------------------------------------------


# Codes known independently of this project's file, with their check digits.
KNOWN_CODES = [
    "2345-7",  # glucose, serum or plasma
    "718-7",  # hemoglobin
    "2093-3",  # cholesterol
    "4548-4",  # hemoglobin A1c
    "2160-0",  # creatinine
    "6690-2",  # leukocytes
    "777-3",  # platelets
    "3016-3",  # TSH
    "33762-6",  # NT-proBNP
    "94500-6",  # SARS-CoV-2 RNA
]


@pytest.mark.parametrize("code", KNOWN_CODES)
def test_check_digit_of_known_codes(code):
    body, digit = code.split("-")
    assert loinc_check_digit(body) == int(digit)
    assert is_valid_loinc(code)


def test_the_worked_example_of_the_loinc_manual():
    # LOINC's description of the algorithm uses 12345 → check digit 5.
    assert loinc_check_digit("12345") == 5


@pytest.mark.parametrize("code", ["2345-8", "718-0", "2093", "23457", "ABC-1", "", "2345-77"])
def test_wrong_check_digits_and_shapes_are_refused(code):
    assert not is_valid_loinc(code)
    with pytest.raises(ValidationError):
        validate_loinc_code(code)


def test_match_key_ignores_case_punctuation_and_spacing_but_keeps_percent():
    assert match_key("  C-Reactive   Protein ") == match_key("c reactive protein")
    assert match_key("CA-125") == match_key("CA 125")
    assert match_key("Neutrophils %") != match_key("Neutrophils #")


# --- the data file ----------------------------------------------------------------------------


class TestDataFile:
    def test_it_holds_at_least_300_tests_and_a_version(self):
        document = json.loads(loader.DATA_FILE.read_text(encoding="utf-8"))
        assert document["version"]
        assert len(document["tests"]) >= 300

    def test_every_code_passes_the_loinc_check_digit(self):
        bad = [e["loinc_code"] for e in file_entries() if not is_valid_loinc(e["loinc_code"])]
        assert bad == []

    def test_categories_and_result_types_are_known(self):
        categories = {e["category"] for e in file_entries()}
        result_types = {e["result_type"] for e in file_entries()}
        assert categories <= set(StandardizedTestCategory.values)
        assert result_types <= set(StandardizedTestResultType.values)
        # A real spread, not one bucket.
        assert len(categories) >= 10

    @pytest.mark.parametrize("field", ["loinc_code", "test_name", "short_name"])
    def test_no_two_tests_share_a_code_or_a_name(self, field):
        counts = Counter(e[field].casefold() for e in file_entries())
        assert [value for value, n in counts.items() if n > 1] == []

    def test_entries_are_complete_and_well_typed(self):
        allowed = set(loader.FILE_FIELDS)
        for e in file_entries():
            assert set(e) <= allowed, e
            assert e["test_name"].strip() and e["short_name"].strip(), e
            assert isinstance(e["is_common"], bool), e
            assert isinstance(e["display_order"], int) and e["display_order"] >= 0, e
            names = e["common_names"]
            assert isinstance(names, list) and all(isinstance(n, str) and n for n in names), e
            assert len({n.casefold() for n in names}) == len(names), e
            if e["result_type"] == "quantitative":
                assert e["default_unit"], f"{e['loinc_code']} is a measurement without a unit"

    def test_display_orders_are_distinct(self):
        orders = [e["display_order"] for e in file_entries()]
        assert len(set(orders)) == len(orders)

    def test_every_entry_passes_the_models_validation(self):
        assert len(loader.build_all(file_entries())) == len(file_entries())

    def test_commonly_used_tests_are_flagged_common(self):
        common = {e["loinc_code"] for e in file_entries() if e["is_common"]}
        assert {"2345-7", "718-7", "2093-3", "6690-2", "4548-4"} <= common


# --- the loader ---------------------------------------------------------------------------------


@pytest.mark.django_db
class TestLoader:
    def test_first_load_creates_every_entry(self):
        counts = loader.load()
        total = len(file_entries())
        assert counts == {
            "version": "1.0.0",
            "total": total,
            "created": total,
            "updated": 0,
            "unchanged": 0,
        }
        assert StandardizedTest.objects.count() == total
        glucose = StandardizedTest.objects.get(loinc_code="2345-7")
        assert glucose.short_name == "Glucose" and glucose.default_unit == "mg/dL"
        assert "blood sugar" in glucose.search_text and "2345-7" in glucose.search_text
        assert glucose.is_active

    def test_loading_again_changes_nothing(self):
        loader.load()
        stamps = dict(StandardizedTest.objects.values_list("loinc_code", "updated_at"))
        counts = loader.load()
        assert counts["created"] == counts["updated"] == 0
        assert counts["unchanged"] == len(file_entries())
        assert dict(StandardizedTest.objects.values_list("loinc_code", "updated_at")) == stamps

    def test_a_load_is_a_few_queries_not_one_per_row(self):
        with CaptureQueriesContext(connection) as first:
            loader.load()
        with CaptureQueriesContext(connection) as second:
            loader.load()
        # Reads, one insert batch or none, the load record, savepoints.
        assert len(first) <= 12
        assert len(second) <= 8

    def test_changed_entries_are_updated_and_new_ones_added(self, tmp_path):
        path = write_catalogue(tmp_path, [entry("2345-7", "Glucose SerPl", "Glucose")])
        loader.load(path=path)
        path = write_catalogue(
            tmp_path,
            [
                entry("2345-7", "Glucose SerPl", "Glucose", default_unit="mmol/L"),
                entry("718-7", "Hemoglobin Bld", "Hemoglobin", category="hematology"),
            ],
        )
        counts = loader.load(path=path)
        assert (counts["created"], counts["updated"], counts["unchanged"]) == (1, 1, 0)
        assert StandardizedTest.objects.get(loinc_code="2345-7").default_unit == "mmol/L"

    def test_admin_retirements_and_hand_made_entries_survive(self, tmp_path):
        path = write_catalogue(tmp_path, [entry("2345-7", "Glucose SerPl", "Glucose")])
        loader.load(path=path)
        StandardizedTest.objects.filter(loinc_code="2345-7").update(is_active=False)
        StandardizedTest.objects.create(
            loinc_code="718-7", test_name="Hemoglobin by hand", category="hematology"
        )
        loader.load(path=path)
        assert not StandardizedTest.objects.get(loinc_code="2345-7").is_active
        assert StandardizedTest.objects.filter(loinc_code="718-7").exists()

    def test_a_name_taken_by_a_hand_made_entry_is_a_clear_error(self, tmp_path):
        StandardizedTest.objects.create(loinc_code="718-7", test_name="Glucose SerPl")
        path = write_catalogue(tmp_path, [entry("2345-7", "glucose serpl", "Glucose")])
        with pytest.raises(loader.CatalogueFileError, match="718-7"):
            loader.load(path=path)
        assert not StandardizedTest.objects.filter(loinc_code="2345-7").exists()

    @pytest.mark.parametrize(
        ("tests", "message"),
        [
            ([entry("2345-8", "Glucose", "Glucose")], "check digit"),
            ([entry("2345-7", "Glucose", "Glucose", category="urinalysis")], "category"),
            ([entry("2345-7", "A", "A"), entry("2345-7", "B", "B")], "LOINC code"),
            ([entry("2345-7", "A", "Same"), entry("718-7", "B", "same")], "short name"),
            ([entry("2345-7", "A", "A", colour="red")], "unknown fields"),
            ([{"loinc_code": "2345-7", "category": "chemistry"}], "missing"),
            ([entry("2345-7", "A", "A", is_common="yes")], "is_common"),
        ],
    )
    def test_an_invalid_file_is_refused_whole(self, tmp_path, tests, message):
        path = write_catalogue(tmp_path, tests)
        with pytest.raises(loader.CatalogueFileError, match=message):
            loader.load(path=path)
        assert StandardizedTest.objects.count() == 0

    def test_an_unreadable_file_is_a_catalogue_error(self, tmp_path):
        broken = tmp_path / "broken.json"
        broken.write_text("{not json", encoding="utf-8")
        with pytest.raises(loader.CatalogueFileError):
            loader.load(path=broken)
        with pytest.raises(loader.CatalogueFileError):
            loader.load(path=tmp_path / "missing.json")

    def test_each_load_is_recorded_with_version_and_checksum(self):
        loader.load()
        latest = StandardizedTestLoad.objects.first()
        assert latest.version == "1.0.0"
        assert latest.checksum == loader.read_file().checksum
        assert latest.created == len(file_entries())

    def test_manage_load_reference_data_loads_the_catalogue(self):
        out = io.StringIO()
        apps.get_app_config("records").load_reference_data(out)
        assert "lab tests" in out.getvalue()
        assert StandardizedTest.objects.count() == len(file_entries())


# --- canonical names of lab components --------------------------------------------------------


@pytest.fixture
def catalogue(db):
    loader.load()


@pytest.mark.django_db
class TestCanonicalNames:
    def test_a_component_named_like_a_test_takes_its_short_name(self, catalogue, patient):
        for name in ("WBC", "white blood cell count", "Leukocyte count"):
            component = LabTestComponentFactory(patient=patient, test_name=name)
            assert component.canonical_test_name == "White Blood Cell Count", name

    def test_the_loinc_code_wins_over_the_name(self, catalogue, patient):
        component = LabTestComponentFactory(
            patient=patient, test_name="Glucose", test_code="2339-0", unit="mg/dL"
        )
        assert component.canonical_test_name == "Glucose, Whole Blood"

    def test_an_unknown_name_leaves_it_blank(self, catalogue, patient):
        component = LabTestComponentFactory(patient=patient, test_name="Unobtainium")
        assert component.canonical_test_name == ""

    def test_renaming_a_component_relinks_it(self, catalogue, patient):
        component = LabTestComponentFactory(patient=patient, test_name="Hgb")
        assert component.canonical_test_name == "Hemoglobin"
        component.test_name = "Something else"
        component.save()
        component.refresh_from_db()
        assert component.canonical_test_name == ""

    def test_retired_entries_do_not_match(self, catalogue, patient):
        StandardizedTest.objects.get(loinc_code="718-7").delete()
        retired = StandardizedTest.objects.get(loinc_code="6690-2")
        retired.is_active = False
        retired.save()
        assert LabTestComponentFactory(patient=patient, test_name="Hgb").canonical_test_name == ""
        assert LabTestComponentFactory(patient=patient, test_name="WBC").canonical_test_name == ""

    def test_a_new_entry_is_seen_at_once(self, catalogue, patient):
        assert match_test("Unobtainium") is None
        StandardizedTest.objects.create(
            loinc_code="12345-5", test_name="Unobtainium [Mass/volume]", short_name="Unob"
        )
        assert match_test("unobtainium [mass/volume]").entry.canonical_name == "Unob"

    def test_saving_many_components_reads_the_catalogue_once(self, catalogue, patient):
        LabTestComponentFactory(patient=patient, test_name="WBC")  # index built here
        with CaptureQueriesContext(connection) as queries:
            components = LabTestComponentFactory.create_batch(
                20, patient=patient, test_name="Platelets"
            )
        catalogue_reads = [q for q in queries if "records_standardizedtest" in q["sql"]]
        assert catalogue_reads == []
        assert {c.canonical_test_name for c in components} == {"Platelet Count"}

    def test_without_a_catalogue_components_still_save(self, patient):
        component = LabTestComponentFactory(patient=patient, test_name="WBC")
        assert LabTestComponent.objects.get(pk=component.pk).canonical_test_name == ""


@pytest.mark.django_db
class TestSyncService:
    def test_blank_names_are_filled_and_set_ones_left_alone(self, catalogue, patient):
        stale = LabTestComponentFactory(patient=patient, test_name="Hgb")
        blank = LabTestComponentFactory(patient=patient, test_name="WBC", category="")
        LabTestComponent.objects.filter(pk=stale.pk).update(canonical_test_name="Old name")
        LabTestComponent.objects.filter(pk=blank.pk).update(canonical_test_name="")
        result = loader.sync_components()
        assert result["components_processed"] == 1
        assert result["canonical_names_updated"] == 1
        assert result["categories_updated"] == 1
        blank.refresh_from_db()
        stale.refresh_from_db()
        assert (blank.canonical_test_name, blank.category) == (
            "White Blood Cell Count",
            "hematology",
        )
        assert stale.canonical_test_name == "Old name"

    def test_force_all_re_evaluates_every_component(self, catalogue, patient):
        stale = LabTestComponentFactory(patient=patient, test_name="Hgb", category="chemistry")
        gone = LabTestComponentFactory(patient=patient, test_name="Unobtainium")
        LabTestComponent.objects.filter(pk=stale.pk).update(canonical_test_name="Old name")
        LabTestComponent.objects.filter(pk=gone.pk).update(canonical_test_name="Was matched")
        result = loader.sync_components(force_all=True, batch_size=1)
        assert result["components_processed"] == 2
        assert result["canonical_names_updated"] == 2
        assert result["categories_updated"] == 0  # a category already set is kept
        stale.refresh_from_db()
        gone.refresh_from_db()
        assert (stale.canonical_test_name, stale.category) == ("Hemoglobin", "chemistry")
        assert gone.canonical_test_name == ""


# --- Django admin ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_lists_searches_and_filters_the_catalogue(client, admin_user, catalogue):
    client.force_login(admin_user)
    url = "/admin/records/standardizedtest/"
    response = client.get(url, {"q": "blood sugar"})
    assert response.status_code == 200
    assert b"2345-7" in response.content and b"718-7" not in response.content
    response = client.get(url, {"category__exact": "lipids", "is_common__exact": "1"})
    assert response.status_code == 200 and b"2093-3" in response.content
    test = StandardizedTest.objects.get(loinc_code="718-7")
    assert client.get(f"{url}{test.pk}/change/").status_code == 200
    assert client.get("/admin/records/standardizedtestload/").status_code == 200
