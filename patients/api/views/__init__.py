"""Patient endpoints: /patients/me…, /patient-management… and the patient photo."""
