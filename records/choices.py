from django.db import models


class MedicationStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    STOPPED = "stopped", "Stopped"
    ON_HOLD = "on-hold", "On hold"
    COMPLETED = "completed", "Completed"
    CANCELLED = "cancelled", "Cancelled"


class MedicationType(models.TextChoices):
    PRESCRIPTION = "prescription", "Prescription"
    OTC = "otc", "Over the counter"
    SUPPLEMENT = "supplement", "Supplement"
    HERBAL = "herbal", "Herbal"


class MedicationRoute(models.TextChoices):
    ORAL = "oral", "Oral"
    INJECTION = "injection", "Injection"
    TOPICAL = "topical", "Topical"
    INTRAVENOUS = "intravenous", "Intravenous"
    INTRAMUSCULAR = "intramuscular", "Intramuscular"
    SUBCUTANEOUS = "subcutaneous", "Subcutaneous"
    INHALATION = "inhalation", "Inhalation"
    NASAL = "nasal", "Nasal"
    RECTAL = "rectal", "Rectal"
    SUBLINGUAL = "sublingual", "Sublingual"


class GaugeType(models.TextChoices):
    MOOD = "mood", "Mood"
    ANXIETY = "anxiety", "Anxiety"
    ENERGY = "energy", "Energy"
    SLEEP_QUALITY = "sleep_quality", "Sleep quality"
    PAIN = "pain", "Pain"
    MEDICATION_ADHERENCE = "medication_adherence", "Medication adherence"
    SOCIAL_INTERACTION = "social_interaction", "Social interaction"
