"""The immunization side of the vaccine catalogue: the WHO-code link and the history view."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.tests.factories import PatientFactory
from records.loaders import vaccine_catalogue as loader
from records.models import Immunization, StandardizedVaccine
from records.tests.factories import ImmunizationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/immunizations"
MMR = "MeaslesMumpsandRubella"


@pytest.fixture
def catalogue(db):
    loader.load()
    return StandardizedVaccine.objects.all()


def vaccine(code):
    return StandardizedVaccine.objects.get(who_code=code)


class TestWhoCodeLink:
    def create(self, api, **fields):
        body = {"vaccine_name": "MMR", "date_administered": "2024-05-01", **fields}
        return api.post(URL, body, format="json")

    def test_a_known_code_links_the_entry(self, alice_api, patient, catalogue):
        response = self.create(alice_api, standardized_vaccine_who_code=MMR)
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["standardized_vaccine_id"] == vaccine(MMR).pk
        assert got["standardized_vaccine_who_code"] == MMR
        assert Immunization.objects.get().standardized_vaccine == vaccine(MMR)
        assert alice_api.get(f"{URL}/{got['id']}").json()["standardized_vaccine_who_code"] == MMR

    def test_the_code_is_read_ignoring_case(self, alice_api, patient, catalogue):
        response = self.create(alice_api, standardized_vaccine_who_code=" measlesmumpsandrubella ")
        assert response.json()["standardized_vaccine_id"] == vaccine(MMR).pk

    @pytest.mark.parametrize("code", ["XM1NL1", "x" * 5000, 12345])
    def test_an_unknown_code_is_ignored_on_create(self, alice_api, patient, catalogue, code):
        response = self.create(alice_api, standardized_vaccine_who_code=code)
        assert response.status_code == 201, response.content
        got = response.json()
        assert got["standardized_vaccine_id"] is None
        assert got["standardized_vaccine_who_code"] is None

    def test_an_unknown_code_keeps_the_link_on_update(self, alice_api, patient, catalogue):
        record = ImmunizationFactory(patient=patient, standardized_vaccine=vaccine(MMR))
        response = alice_api.put(
            f"{URL}/{record.pk}",
            {"standardized_vaccine_who_code": "NoSuchCode", "lot_number": "L1"},
            format="json",
        )
        assert response.status_code == 200
        assert response.json()["standardized_vaccine_id"] == vaccine(MMR).pk
        record.refresh_from_db()
        assert record.standardized_vaccine_id == vaccine(MMR).pk and record.lot_number == "L1"

    def test_a_known_code_replaces_the_link(self, alice_api, patient, catalogue):
        record = ImmunizationFactory(patient=patient, standardized_vaccine=vaccine(MMR))
        response = alice_api.put(
            f"{URL}/{record.pk}", {"standardized_vaccine_who_code": "Varicella"}, format="json"
        )
        assert response.json()["standardized_vaccine_who_code"] == "Varicella"

    @pytest.mark.parametrize("empty", [None, ""])
    def test_null_clears_the_link(self, alice_api, patient, catalogue, empty):
        record = ImmunizationFactory(patient=patient, standardized_vaccine=vaccine(MMR))
        response = alice_api.put(
            f"{URL}/{record.pk}", {"standardized_vaccine_who_code": empty}, format="json"
        )
        assert response.status_code == 200
        assert response.json()["standardized_vaccine_id"] is None
        record.refresh_from_db()
        assert record.standardized_vaccine is None

    def test_leaving_the_code_out_keeps_the_link(self, alice_api, patient, catalogue):
        record = ImmunizationFactory(patient=patient, standardized_vaccine=vaccine(MMR))
        alice_api.put(f"{URL}/{record.pk}", {"notes": "fine"}, format="json")
        record.refresh_from_db()
        assert record.standardized_vaccine_id == vaccine(MMR).pk

    def test_a_retired_entry_is_not_linked_but_existing_links_stay(
        self, alice_api, patient, catalogue
    ):
        record = ImmunizationFactory(patient=patient, standardized_vaccine=vaccine(MMR))
        StandardizedVaccine.objects.filter(who_code=MMR).update(is_active=False)
        assert (
            self.create(alice_api, standardized_vaccine_who_code=MMR).json()[
                "standardized_vaccine_id"
            ]
            is None
        )
        assert alice_api.get(f"{URL}/{record.pk}").json()["standardized_vaccine_who_code"] == MMR

    def test_the_id_itself_is_read_only(self, alice_api, patient, catalogue):
        response = self.create(alice_api, standardized_vaccine_id=vaccine(MMR).pk)
        assert response.json()["standardized_vaccine_id"] is None

    def test_a_code_of_the_wrong_type_is_422(self, alice_api, patient, catalogue):
        response = self.create(alice_api, standardized_vaccine_who_code={"code": MMR})
        assert response.status_code == 422
        assert "standardized_vaccine_who_code" in response.json()["errors"]

    def test_deleting_the_entry_keeps_the_record(self, alice_api, patient, catalogue):
        record = ImmunizationFactory(patient=patient, standardized_vaccine=vaccine(MMR))
        vaccine(MMR).delete()
        record.refresh_from_db()
        assert record.standardized_vaccine is None

    def test_a_view_share_cannot_change_the_link(self, client_for, bob, shared_patient, catalogue):
        record = ImmunizationFactory(patient=shared_patient)
        response = client_for(bob).put(
            f"{URL}/{record.pk}", {"standardized_vaccine_who_code": MMR}, format="json"
        )
        assert response.status_code == 403
        record.refresh_from_db()
        assert record.standardized_vaccine is None


class TestHistory:
    def path(self, patient):
        return f"{URL}/patient/{patient.pk}/history"

    def test_shape_and_matching(self, alice_api, patient, catalogue):
        linked = ImmunizationFactory(
            patient=patient,
            vaccine_name="Kid shots",  # matches nothing by name: the link decides
            standardized_vaccine=vaccine("DiphtheriaTetanusPertussisacellular"),
            date_administered="2024-03-15",
        )
        by_name = ImmunizationFactory(
            patient=patient,
            vaccine_name="  measles, MUMPS and rubella ",
            date_administered="2024-02-01",
        )
        by_common = ImmunizationFactory(
            patient=patient, vaccine_name="Flu shot", date_administered="2024-01-10"
        )
        by_short = ImmunizationFactory(
            patient=patient, vaccine_name="tdap", date_administered="2023-12-01"
        )
        by_trade = ImmunizationFactory(
            patient=patient,
            vaccine_name="Shingles shot #1",
            vaccine_trade_name="Shingrix",
            date_administered="2023-11-01",
        )
        unmatched = ImmunizationFactory(
            patient=patient, vaccine_name="Mystery jab", date_administered="2023-10-01"
        )
        response = alice_api.get(self.path(patient))
        assert response.status_code == 200
        body = response.json()
        items = {item["id"]: item for item in body["items"]}
        assert [item["id"] for item in body["items"]] == [
            linked.pk,
            by_name.pk,
            by_common.pk,
            by_short.pk,
            by_trade.pk,
            unmatched.pk,
        ]
        assert items[linked.pk]["components"] == ["Diphtheria", "Tetanus", "Pertussis"]
        assert items[linked.pk]["is_combined"] is True
        assert items[linked.pk]["standardized_vaccine_who_code"] == (
            "DiphtheriaTetanusPertussisacellular"
        )
        assert items[by_name.pk]["components"] == ["Measles", "Mumps", "Rubella"]
        assert items[by_name.pk]["standardized_vaccine_id"] is None  # not written back
        assert items[by_common.pk]["components"] == ["Influenza"]
        assert items[by_common.pk]["is_combined"] is False
        assert items[by_short.pk]["components"] == ["Tetanus", "Diphtheria", "Pertussis"]
        assert items[by_trade.pk]["components"] == ["Shingles"]
        assert all(items[i]["is_library_matched"] for i in items if i != unmatched.pk)
        nothing = items[unmatched.pk]
        assert (nothing["components"], nothing["is_combined"], nothing["is_library_matched"]) == (
            [],
            False,
            False,
        )
        assert items[linked.pk]["vaccine_name"] == "Kid shots"  # the record's own fields too
        assert body["unmatched_count"] == 1
        assert body["diseases_index"] == {
            "Diphtheria": [linked.pk, by_short.pk],
            "Tetanus": [linked.pk, by_short.pk],
            "Pertussis": [linked.pk, by_short.pk],
            "Measles": [by_name.pk],
            "Mumps": [by_name.pk],
            "Rubella": [by_name.pk],
            "Influenza": [by_common.pk],
            "Shingles": [by_trade.pk],
        }
        assert Immunization.objects.get(pk=by_name.pk).standardized_vaccine is None

    def test_the_link_wins_over_the_name(self, alice_api, patient, catalogue):
        record = ImmunizationFactory(
            patient=patient, vaccine_name="MMR", standardized_vaccine=vaccine("Varicella")
        )
        item = alice_api.get(self.path(patient)).json()["items"][0]
        assert item["id"] == record.pk and item["components"] == ["Varicella"]

    def test_a_retired_entry_still_counts_through_the_link_but_not_by_name(
        self, alice_api, patient, catalogue
    ):
        linked = ImmunizationFactory(patient=patient, standardized_vaccine=vaccine(MMR))
        named = ImmunizationFactory(patient=patient, vaccine_name="MMR")
        StandardizedVaccine.objects.filter(who_code=MMR).update(is_active=False)
        body = alice_api.get(self.path(patient)).json()
        matched = {item["id"]: item["is_library_matched"] for item in body["items"]}
        assert matched == {linked.pk: True, named.pk: False}
        assert body["diseases_index"]["Measles"] == [linked.pk]

    def test_date_filters(self, alice_api, patient, catalogue):
        early = ImmunizationFactory(
            patient=patient, vaccine_name="MMR", date_administered="2020-01-01"
        )
        middle = ImmunizationFactory(
            patient=patient, vaccine_name="MMR", date_administered="2022-06-15"
        )
        late = ImmunizationFactory(
            patient=patient, vaccine_name="MMR", date_administered="2024-12-31"
        )

        def ids(**params):
            return [
                item["id"] for item in alice_api.get(self.path(patient), params).json()["items"]
            ]

        assert ids() == [late.pk, middle.pk, early.pk]
        assert ids(start_date="2022-06-15") == [late.pk, middle.pk]
        assert ids(end_date="2022-06-15") == [middle.pk, early.pk]
        assert ids(start_date="2021-01-01", end_date="2023-01-01") == [middle.pk]
        assert ids(start_date="2025-01-01") == []
        body = alice_api.get(
            self.path(patient), {"start_date": "2022-01-01", "end_date": "2022-12-31"}
        ).json()
        assert body["diseases_index"] == {
            "Measles": [middle.pk],
            "Mumps": [middle.pk],
            "Rubella": [middle.pk],
        }

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            ({"start_date": "yesterday"}, "start_date"),
            ({"end_date": "2024-13-01"}, "end_date"),
            ({"start_date": "2024-02-01", "end_date": "2024-01-01"}, "end_date"),
        ],
    )
    def test_bad_dates_are_422(self, alice_api, patient, params, field):
        response = alice_api.get(self.path(patient), params)
        assert response.status_code == 422
        assert field in response.json()["errors"]

    def test_only_this_patients_records(self, alice_api, alice, patient, catalogue):
        mine = ImmunizationFactory(patient=patient)
        ImmunizationFactory(patient=PatientFactory(owner=alice))
        ImmunizationFactory()
        body = alice_api.get(self.path(patient)).json()
        assert [item["id"] for item in body["items"]] == [mine.pk]

    def test_empty_history_and_empty_catalogue(self, alice_api, patient):
        assert alice_api.get(self.path(patient)).json() == {
            "items": [],
            "diseases_index": {},
            "unmatched_count": 0,
        }
        ImmunizationFactory(patient=patient, vaccine_name="MMR")
        assert alice_api.get(self.path(patient)).json()["unmatched_count"] == 1

    def test_view_share_reads(self, client_for, bob, shared_patient, catalogue):
        record = ImmunizationFactory(patient=shared_patient, vaccine_name="MMR")
        response = client_for(bob).get(self.path(shared_patient))
        assert response.status_code == 200
        assert [item["id"] for item in response.json()["items"]] == [record.pk]

    def test_strangers_and_unknown_patients_are_refused(self, client_for, mallory, patient):
        ImmunizationFactory(patient=patient)
        api = client_for(mallory)
        assert api.get(self.path(patient)).status_code == 403
        assert api.get(self.path(patient), {"start_date": "junk"}).status_code == 403
        assert api.get(f"{URL}/patient/999999/history").status_code == 404

    def test_admins_get_no_implicit_access(self, client_for, admin_user, patient):
        assert client_for(admin_user).get(self.path(patient)).status_code == 403

    def test_signed_out_is_401_and_writes_are_405(self, anon, alice_api, patient):
        assert anon.get(self.path(patient)).status_code == 401
        assert alice_api.post(self.path(patient), {}, format="json").status_code == 405

    def test_query_count_does_not_grow_with_rows(self, alice_api, patient, catalogue):
        def queries():
            with CaptureQueriesContext(connection) as captured:
                assert alice_api.get(self.path(patient)).status_code == 200
            return len(captured)

        ImmunizationFactory.create_batch(2, patient=patient, vaccine_name="MMR")
        ImmunizationFactory(patient=patient, standardized_vaccine=vaccine(MMR))
        few = queries()
        ImmunizationFactory.create_batch(10, patient=patient, vaccine_name="Flu shot")
        ImmunizationFactory.create_batch(
            10, patient=patient, standardized_vaccine=vaccine("Varicella"), tags=["kids"]
        )
        assert queries() == few
