from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "medikeep.accounts"
    label = "accounts"
    verbose_name = "Accounts"

    def ready(self):
        from medikeep import checks  # noqa: F401  (registers the deploy checks)
        from medikeep.api import schema  # noqa: F401  (registers the OpenAPI extensions)
