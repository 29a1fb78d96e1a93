"""Treatment ⇄ medication: per-plan overrides, the effective values, and the medication's
side (/medications/{medication_id}/treatments)."""

import datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from records.models import TreatmentMedication
from records.tests.factories import (
    ConditionFactory,
    MedicationFactory,
    PharmacyFactory,
    PractitionerFactory,
    TreatmentFactory,
)

pytestmark = pytest.mark.django_db

D = datetime.date


@pytest.fixture
def treatment(patient):
    return TreatmentFactory(
        patient=patient, treatment_name="Cardiac Rehabilitation", mode="advanced"
    )


@pytest.fixture
def medication(patient):
    return MedicationFactory(
        patient=patient,
        medication_name="Lisinopril",
        dosage="10mg",
        frequency="Once daily",
        route="oral",
        effective_period_start=D(2025, 6, 1),
        effective_period_end=D(2025, 9, 25),
    )


def url(treatment):
    return f"/api/v1/treatments/{treatment.pk}/medications"


def listed(api, treatment) -> dict:
    response = api.get(url(treatment))
    assert response.status_code == 200, response.content
    (link,) = response.json()
    return link


class TestEffectiveValues:
    def test_overrides_win(self, alice_api, treatment, medication):
        TreatmentMedication.objects.create(
            treatment=treatment,
            medication=medication,
            specific_dosage="20mg",
            specific_frequency="Twice daily",
            specific_start_date=D(2026, 1, 9),
            specific_end_date=D(2026, 3, 1),
        )
        link = listed(alice_api, treatment)
        assert link["effective_dosage"] == "20mg"
        assert link["effective_frequency"] == "Twice daily"
        assert link["effective_start_date"] == "2026-01-09"
        assert link["effective_end_date"] == "2026-03-01"
        assert link["effective_prescriber"] is None and link["effective_pharmacy"] is None

    def test_the_medications_values_otherwise(self, alice_api, treatment, medication):
        TreatmentMedication.objects.create(treatment=treatment, medication=medication)
        link = listed(alice_api, treatment)
        assert link["effective_dosage"] == "10mg"
        assert link["effective_frequency"] == "Once daily"
        assert link["effective_start_date"] == "2025-06-01"
        assert link["effective_end_date"] == "2025-09-25"

    def test_the_contracts_example(self, alice_api, treatment, medication):
        """Override start after the medication's end, no override end: ongoing (null); the
        plan's prescriber wins, the medication's pharmacy shows through."""
        jones = PractitionerFactory(name="Dr. Jones", specialty__name="Internal Medicine")
        smith = PractitionerFactory(name="Dr. Smith", specialty__name="Cardiology")
        cvs = PharmacyFactory(name="CVS", brand="")
        medication.practitioner, medication.pharmacy = jones, cvs
        medication.save()
        created = alice_api.post(
            url(treatment),
            {
                "medication_id": medication.pk,
                "specific_dosage": "20mg",
                "specific_frequency": None,
                "specific_duration": "6 weeks",
                "timing_instructions": "Take with food",
                "relevance_note": "Primary medication for this plan",
                "specific_prescriber_id": smith.pk,
                "specific_pharmacy_id": None,
                "specific_start_date": "2026-01-09",
                "specific_end_date": None,
            },
            format="json",
        )
        assert created.status_code == 200, created.content  # the contract's status
        link = listed(alice_api, treatment)
        assert created.json() == link
        assert link["effective_dosage"] == "20mg"
        assert link["effective_frequency"] == "Once daily"
        assert link["effective_start_date"] == "2026-01-09"
        assert link["effective_end_date"] is None
        smith_summary = {"id": smith.pk, "name": "Dr. Smith", "specialty": "Cardiology"}
        cvs_summary = {"id": cvs.pk, "name": "CVS", "brand": ""}
        assert link["specific_prescriber_id"] == smith.pk
        assert link["specific_prescriber"] == smith_summary
        assert link["specific_pharmacy_id"] is None and link["specific_pharmacy"] is None
        assert link["effective_prescriber"] == smith_summary
        assert link["effective_pharmacy"] == cvs_summary
        assert link["medication"] == {
            "id": medication.pk,
            "medication_name": "Lisinopril",
            "dosage": "10mg",
            "frequency": "Once daily",
            "route": "oral",
            "status": "active",
            "effective_period_start": "2025-06-01",
            "effective_period_end": "2025-09-25",
            "practitioner": {"id": jones.pk, "name": "Dr. Jones", "specialty": "Internal Medicine"},
            "pharmacy": cvs_summary,
        }
        names = list(link)
        at = names.index("specific_end_date")
        assert names[at + 1 : at + 3] == ["specific_prescriber", "specific_pharmacy"]

    def test_prescriber_and_pharmacy_overrides_change_and_clear(
        self, alice_api, treatment, medication
    ):
        own = PractitionerFactory()
        medication.practitioner = own
        medication.save()
        created = alice_api.post(
            url(treatment), {"medication_id": medication.pk}, format="json"
        ).json()
        assert created["effective_prescriber"]["id"] == own.pk
        other, pharmacy = PractitionerFactory(), PharmacyFactory()
        changed = alice_api.put(
            f"{url(treatment)}/{created['id']}",
            {"specific_prescriber_id": other.pk, "specific_pharmacy_id": pharmacy.pk},
            format="json",
        )
        assert changed.status_code == 200, changed.content
        assert changed.json()["effective_prescriber"]["id"] == other.pk
        assert changed.json()["effective_pharmacy"]["id"] == pharmacy.pk
        cleared = alice_api.put(
            f"{url(treatment)}/{created['id']}", {"specific_prescriber_id": None}, format="json"
        ).json()
        assert cleared["specific_prescriber"] is None
        assert cleared["effective_prescriber"]["id"] == own.pk
        assert cleared["medication_id"] == medication.pk  # the linked records never move

    def test_unknown_prescriber_or_pharmacy_is_422(self, alice_api, treatment, medication):
        for name in ("specific_prescriber_id", "specific_pharmacy_id"):
            response = alice_api.post(
                url(treatment), {"medication_id": medication.pk, name: 999999}, format="json"
            )
            assert response.status_code == 422, response.content
            assert name in response.json()["errors"]
        assert not TreatmentMedication.objects.exists()

    def test_deleting_the_prescriber_keeps_the_link(self, alice_api, treatment, medication):
        doctor = PractitionerFactory()
        link = TreatmentMedication.objects.create(
            treatment=treatment, medication=medication, specific_prescriber=doctor
        )
        doctor.delete()
        link.refresh_from_db()
        assert link.specific_prescriber is None
        assert listed(alice_api, treatment)["effective_prescriber"] is None

    def test_bulk_links_take_the_overrides(self, alice_api, treatment, patient, medication):
        second = MedicationFactory(patient=patient, practitioner=PractitionerFactory())
        pharmacy = PharmacyFactory()
        response = alice_api.post(
            f"{url(treatment)}/bulk",
            {"medication_ids": [medication.pk, second.pk], "specific_pharmacy_id": pharmacy.pk},
            format="json",
        )
        assert response.status_code == 200, response.content
        links = response.json()
        assert [item["effective_pharmacy"]["id"] for item in links] == [pharmacy.pk] * 2
        assert links[1]["effective_prescriber"]["id"] == second.practitioner_id

    @pytest.mark.parametrize(
        ("specific_start", "specific_end", "medication_end", "expected"),
        [
            # the smart end date: a stale end before the plan's own start shows as ongoing
            (D(2026, 1, 9), None, D(2025, 9, 25), None),
            # an end on or after the plan's start still applies
            (D(2025, 9, 25), None, D(2025, 9, 25), "2025-09-25"),
            (D(2025, 7, 1), None, D(2025, 9, 25), "2025-09-25"),
            # an explicit end always wins, even with the medication's end before the start
            (D(2026, 1, 9), D(2026, 2, 1), D(2025, 9, 25), "2026-02-01"),
            # no plan start: the medication's end, as it is
            (None, None, D(2025, 9, 25), "2025-09-25"),
            (None, D(2026, 2, 1), D(2025, 9, 25), "2026-02-01"),
            # nothing anywhere
            (D(2026, 1, 9), None, None, None),
        ],
    )
    def test_effective_end_date(
        self,
        alice_api,
        treatment,
        medication,
        specific_start,
        specific_end,
        medication_end,
        expected,
    ):
        medication.effective_period_end = medication_end
        medication.save()
        TreatmentMedication.objects.create(
            treatment=treatment,
            medication=medication,
            specific_start_date=specific_start,
            specific_end_date=specific_end,
        )
        assert listed(alice_api, treatment)["effective_end_date"] == expected

    def test_links_carry_the_effective_values_on_every_answer(
        self, alice_api, treatment, medication, patient
    ):
        created = alice_api.post(
            url(treatment),
            {"medication_id": medication.pk, "specific_dosage": "5mg"},
            format="json",
        ).json()
        assert created["effective_dosage"] == "5mg"
        updated = alice_api.put(
            f"{url(treatment)}/{created['id']}", {"specific_dosage": ""}, format="json"
        ).json()
        assert updated["effective_dosage"] == "10mg"
        other = MedicationFactory(patient=patient, frequency="Weekly")
        bulk = alice_api.post(
            f"{url(treatment)}/bulk", {"medication_ids": [other.pk]}, format="json"
        ).json()
        assert bulk[0]["effective_frequency"] == "Weekly"


class TestOverrideDates:
    def test_end_before_start_is_422(self, alice_api, treatment, medication):
        response = alice_api.post(
            url(treatment),
            {
                "medication_id": medication.pk,
                "specific_start_date": "2026-03-01",
                "specific_end_date": "2026-01-09",
            },
            format="json",
        )
        assert response.status_code == 422
        assert "specific_end_date" in response.json()["errors"]
        assert not TreatmentMedication.objects.exists()

    def test_same_day_is_fine(self, alice_api, treatment, medication):
        response = alice_api.post(
            url(treatment),
            {
                "medication_id": medication.pk,
                "specific_start_date": "2026-03-01",
                "specific_end_date": "2026-03-01",
            },
            format="json",
        )
        assert response.status_code == 200

    def test_end_before_the_stored_start_on_update_is_422(self, alice_api, treatment, medication):
        link = TreatmentMedication.objects.create(
            treatment=treatment, medication=medication, specific_start_date=D(2026, 3, 1)
        )
        response = alice_api.put(
            f"{url(treatment)}/{link.pk}", {"specific_end_date": "2026-01-09"}, format="json"
        )
        assert response.status_code == 422
        assert "specific_end_date" in response.json()["errors"]
        link.refresh_from_db()
        assert link.specific_end_date is None

    def test_end_before_start_in_bulk_is_422(self, alice_api, treatment, medication):
        response = alice_api.post(
            f"{url(treatment)}/bulk",
            {
                "medication_ids": [medication.pk],
                "specific_start_date": "2026-03-01",
                "specific_end_date": "2026-01-09",
            },
            format="json",
        )
        assert response.status_code == 422
        assert not TreatmentMedication.objects.exists()

    @pytest.mark.parametrize(
        "body",
        [
            {"specific_start_date": "soon"},
            {"specific_dosage": "x" * 201},
            {"timing_instructions": "x" * 301},
            {"relevance_note": "x" * 501},
        ],
    )
    def test_bad_overrides_are_422(self, alice_api, treatment, medication, body):
        response = alice_api.post(
            url(treatment), {"medication_id": medication.pk, **body}, format="json"
        )
        assert response.status_code == 422
        assert set(body) <= set(response.json()["errors"])


class TestMedicationSide:
    def reverse_url(self, medication):
        return f"/api/v1/medications/{medication.pk}/treatments"

    def test_treatments_of_a_medication(self, alice_api, patient, medication):
        condition = ConditionFactory(patient=patient, condition_name="Hypertension")
        rehab = TreatmentFactory(
            patient=patient,
            treatment_name="Cardiac Rehabilitation",
            treatment_type="Rehabilitation",
            mode="advanced",
            start_date=D(2025, 1, 1),
            condition=condition,
        )
        plain = TreatmentFactory(patient=patient, condition=None)
        TreatmentFactory(patient=patient)  # without this medication
        first = TreatmentMedication.objects.create(
            treatment=rehab,
            medication=medication,
            relevance_note="Primary medication",
            specific_start_date=D(2026, 1, 9),
        )
        TreatmentMedication.objects.create(treatment=plain, medication=medication)
        response = alice_api.get(self.reverse_url(medication))
        assert response.status_code == 200, response.content
        items = response.json()
        assert [item["treatment_id"] for item in items] == [rehab.pk, plain.pk]
        item = items[0]
        assert item["id"] == first.pk and item["medication_id"] == medication.pk
        assert item["relevance_note"] == "Primary medication"
        assert item["specific_start_date"] == "2026-01-09"
        assert item["treatment"] == {
            "id": rehab.pk,
            "treatment_name": "Cardiac Rehabilitation",
            "treatment_type": "Rehabilitation",
            "status": "active",
            "mode": "advanced",
            "start_date": "2025-01-01",
            "end_date": None,
            "condition": {"id": condition.pk, "condition_name": "Hypertension"},
        }
        assert items[1]["treatment"]["condition"] is None

    def test_only_lists(self, alice_api, medication, patient):
        treatment = TreatmentFactory(patient=patient)
        response = alice_api.post(
            self.reverse_url(medication), {"treatment_id": treatment.pk}, format="json"
        )
        assert response.status_code == 405

    def test_view_share_reads(self, client_for, bob, shared_patient):
        medication = MedicationFactory(patient=shared_patient)
        TreatmentMedication.objects.create(
            treatment=TreatmentFactory(patient=shared_patient), medication=medication
        )
        assert len(client_for(bob).get(self.reverse_url(medication)).json()) == 1

    def test_stranger_gets_404(self, client_for, mallory, medication):
        assert client_for(mallory).get(self.reverse_url(medication)).status_code == 404
        assert client_for(mallory).get("/api/v1/medications/999999/treatments").status_code == 404

    def test_queries_do_not_grow_with_rows(self, alice_api, patient, medication):
        def link(count):
            for _ in range(count):
                TreatmentMedication.objects.create(
                    treatment=TreatmentFactory(
                        patient=patient, condition=ConditionFactory(patient=patient)
                    ),
                    medication=medication,
                    specific_prescriber=PractitionerFactory(),
                    specific_pharmacy=PharmacyFactory(),
                )

        link(2)
        alice_api.get(self.reverse_url(medication))  # warm the per-process caches
        with CaptureQueriesContext(connection) as few:
            assert len(alice_api.get(self.reverse_url(medication)).json()) == 2
        link(18)
        with CaptureQueriesContext(connection) as many:
            assert len(alice_api.get(self.reverse_url(medication)).json()) == 20
        assert len(many) == len(few)


def test_plan_medication_lists_do_not_grow_queries_with_rows(alice_api, patient, treatment):
    def link(count):
        for _ in range(count):
            TreatmentMedication.objects.create(
                treatment=treatment,
                medication=MedicationFactory(
                    patient=patient, practitioner=PractitionerFactory(), pharmacy=PharmacyFactory()
                ),
                specific_prescriber=PractitionerFactory(),
                specific_pharmacy=PharmacyFactory(),
            )

    link(2)
    alice_api.get(url(treatment))  # warm the per-process caches
    with CaptureQueriesContext(connection) as few:
        assert len(alice_api.get(url(treatment)).json()) == 2
    link(18)
    with CaptureQueriesContext(connection) as many:
        rows = alice_api.get(url(treatment)).json()
    assert len(rows) == 20 and all(row["effective_prescriber"] for row in rows)
    assert len(many) == len(few)
