from django.apps import AppConfig


class SharingConfig(AppConfig):
    name = "sharing"
    verbose_name = "Invitations and patient portal"

    def ready(self):
        # Each flow registers how its invitations are accepted and revoked.
        from sharing.services import family, invitations  # noqa: F401
