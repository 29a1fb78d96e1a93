from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"

    def load_reference_data(self, stdout=None) -> None:
        """Called by `manage.py load_reference_data` (and so by `make run`)."""
        from records.loaders import lab_catalogue, vaccine_catalogue

        for name, loader in (("lab tests", lab_catalogue), ("vaccines", vaccine_catalogue)):
            counts = loader.load(stdout)
            if stdout is not None:
                stdout.write(f"  {name}: {counts or 'nothing to load yet'}")
