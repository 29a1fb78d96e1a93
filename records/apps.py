from django.apps import AppConfig


class RecordsConfig(AppConfig):
    name = "records"
    verbose_name = "Medical records"

    def ready(self) -> None:
        from django.db.models.signals import post_migrate

        from records.reports import receivers  # noqa: F401 - connects its receivers
        from records.search import index

        index.connect_receivers()
        post_migrate.connect(install_search, sender=self, dispatch_uid="records.search.install")

    def load_reference_data(self, stdout=None) -> None:
        """Called by `manage.py load_reference_data` (and so by `make run`)."""
        from records.loaders import lab_catalogue, vaccine_catalogue

        for name, loader in (("lab tests", lab_catalogue), ("vaccines", vaccine_catalogue)):
            counts = loader.load(stdout)
            if stdout is not None:
                stdout.write(f"  {name}: {counts or 'nothing to load yet'}")


def install_search(sender, using="default", **kwargs) -> None:
    """After every migrate (and the tests' database set-up, which skips migrations): the text
    indexes and delete triggers of search, for every record type there is now."""
    from records.search.backends import install

    install(using)
