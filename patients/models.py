"""Patients and the patient-owned record base arrive with the patients issue."""
