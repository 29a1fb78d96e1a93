"""Account housekeeping."""

from celery import shared_task

from medikeep.accounts import services


@shared_task(name="medikeep.accounts.tasks.flush_expired_tokens")
def flush_expired_tokens() -> int:
    """Deletes refresh-token records (and their blacklist rows) that have expired anyway."""
    return services.tokens_flush_expired()
