from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "medikeep.accounts"
    label = "accounts"
    verbose_name = "Accounts and sign-in"

    def ready(self):
        from medikeep import checks  # noqa: F401  (registers the deploy checks)
        from medikeep.api import schema  # registers the OpenAPI extensions

        schema.register_choice_enum_names()
