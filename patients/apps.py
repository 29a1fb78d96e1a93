from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"
    verbose_name = "Patients and sharing"

    def ready(self):
        from patients import receivers  # noqa: F401  (self-record on registration, photo files)
