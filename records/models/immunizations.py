"""Immunizations (vaccines given)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinLengthValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q

from patients.models import PatientOwnedModel, RecordKind, TaggedMixin, validate_past_date
from records.reference import directory_link

__all__ = ["Immunization", "ImmunizationRoute"]

MAX_DOSE_NUMBER = 100


class ImmunizationRoute(models.TextChoices):
    INTRAMUSCULAR = "intramuscular", "Intramuscular"
    SUBCUTANEOUS = "subcutaneous", "Subcutaneous"
    INTRADERMAL = "intradermal", "Intradermal"
    ORAL = "oral", "Oral"
    NASAL = "nasal", "Nasal"
    # The web app's immunization form offers it too.
    INTRAVENOUS = "intravenous", "Intravenous"


class Immunization(TaggedMixin, PatientOwnedModel):
    """A vaccine dose the patient received, and optionally when the next dose is due.

    The API also calls `date_administered` "administration_date".
    """

    vaccine_name = models.CharField(max_length=200, validators=[MinLengthValidator(2)])
    vaccine_trade_name = models.CharField(max_length=200, blank=True)
    date_administered = models.DateField(validators=[validate_past_date])
    dose_number = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(MAX_DOSE_NUMBER)]
    )
    lot_number = models.CharField(max_length=50, blank=True)
    ndc_number = models.CharField(max_length=50, blank=True)
    manufacturer = models.CharField(max_length=200, blank=True)
    site = models.CharField(max_length=100, blank=True)
    route = models.CharField(max_length=20, choices=ImmunizationRoute.choices, blank=True)
    expiration_date = models.DateField(null=True, blank=True)
    location = models.CharField(max_length=200, blank=True)
    notes = models.TextField(max_length=5000, blank=True)
    # When the next dose of this vaccine is due (entered by the user); feeds "upcoming".
    next_due_date = models.DateField(null=True, blank=True)
    # The catalogue entry the user picked; the API sets it from `standardized_vaccine_who_code`
    # (see records/api/immunizations.py). Retiring or deleting the entry keeps the record.
    standardized_vaccine = models.ForeignKey(
        "records.StandardizedVaccine",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="immunizations",
    )
    practitioner = directory_link("Practitioner", "Who gave it.")

    dashboard_key = "total_immunizations"
    kind = RecordKind(
        name="immunization",
        plural="immunizations",
        title="vaccine_name",
        text=("vaccine_trade_name", "lot_number", "manufacturer", "notes"),
        date="date_administered",
        search_aliases=(("administered_date", "date_administered"),),
    )

    class Meta(PatientOwnedModel.Meta):
        indexes = [
            models.Index(fields=["patient", "created_at"], name="records_immunization_pc"),
            models.Index(fields=["patient", "date_administered"], name="records_immun_given"),
            models.Index(fields=["patient", "next_due_date"], name="records_immun_due"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(expiration_date__isnull=True)
                | Q(expiration_date__gte=F("date_administered")),
                name="records_immunization_expiry_order",
                violation_error_message="The expiration date is before the administration date.",
            ),
            models.CheckConstraint(
                condition=Q(next_due_date__isnull=True)
                | Q(next_due_date__gte=F("date_administered")),
                name="records_immunization_due_order",
                violation_error_message="The next dose cannot be due before this one was given.",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.vaccine_name} ({self.date_administered})"

    def clean(self):
        super().clean()
        given = self.date_administered
        errors = {}
        if given and self.expiration_date and self.expiration_date < given:
            errors["expiration_date"] = "The expiration date is before the administration date."
        if given and self.next_due_date and self.next_due_date < given:
            errors["next_due_date"] = "The next dose cannot be due before this one was given."
        if errors:
            raise ValidationError(errors)
