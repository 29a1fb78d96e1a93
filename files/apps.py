from django.apps import AppConfig


class FilesConfig(AppConfig):
    name = "files"

    def ready(self):
        from files import receivers  # noqa: F401
        from files.relocation import tasks  # noqa: F401 - the migration task, for the worker
