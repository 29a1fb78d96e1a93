"""Deploy checks (`manage.py check --deploy`) for the settings an operator is likely to miss."""

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def medikeep_deploy_checks(app_configs, **kwargs):
    warnings = []
    if not settings.AUTH_COOKIE_SECURE:
        warnings.append(
            Warning(
                "The medapp_session cookie is sent over plain HTTP.",
                hint="Serve over HTTPS and set AUTH_COOKIE_SECURE=true.",
                id="medikeep.W001",
            )
        )
    if settings.DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        warnings.append(
            Warning(
                "The database is the embedded SQLite file.",
                hint="Fine for one household; set DATABASE_URL to PostgreSQL for more.",
                id="medikeep.W002",
            )
        )
    if not settings.REDIS_URL:
        warnings.append(
            Warning(
                "Celery uses the embedded filesystem broker.",
                hint="Set REDIS_URL when the worker runs on another machine.",
                id="medikeep.W003",
            )
        )
    if not getattr(settings, "APP_PUBLIC_URL_SET", True):
        warnings.append(
            Warning(
                "APP_PUBLIC_URL is not set: links in emails point at http://localhost:8000.",
                hint="Set APP_PUBLIC_URL to the address people use, e.g. "
                "https://health.example.org (it also sets the allowed host, the trusted origin "
                "and, for https, Secure cookies; docs/configuration.md).",
                id="medikeep.W004",
            )
        )
    return warnings
