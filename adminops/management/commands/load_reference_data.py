from django.apps import apps
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Loads the reference data sets (test and vaccine catalogues …) idempotently. Each app "
        "that owns one gives its AppConfig a load_reference_data(stdout) method."
    )

    def handle(self, *args, **options):
        loaders = [
            config
            for config in apps.get_app_configs()
            if callable(getattr(config, "load_reference_data", None))
        ]
        if not loaders:
            self.stdout.write("No reference data sets are registered yet.")
        for config in loaders:
            self.stdout.write(f"Loading reference data of {config.label} …")
            config.load_reference_data(self.stdout)
