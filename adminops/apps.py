from django.apps import AppConfig


class AdminopsConfig(AppConfig):
    name = "adminops"
    verbose_name = "Operations"

    def ready(self):
        from adminops import mfa_audit, receivers  # noqa: F401  (connect the activity log)
