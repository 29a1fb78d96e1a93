from django.apps import AppConfig


class AdminopsConfig(AppConfig):
    name = "adminops"

    def ready(self):
        from adminops import receivers  # noqa: F401  (connects the activity log)
