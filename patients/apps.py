from django.apps import AppConfig


class PatientsConfig(AppConfig):
    name = "patients"

    def ready(self):
        from patients import receivers  # noqa: F401  (self-record on registration, photo files)
