"""Account housekeeping."""

from celery import shared_task

from medikeep.accounts import services


@shared_task(name="medikeep.accounts.tasks.flush_expired_tokens")
def flush_expired_tokens() -> int:
    """Deletes refresh-token records (and their blacklist rows) that have expired anyway."""
    return services.tokens_flush_expired()


@shared_task(
    name="medikeep.accounts.tasks.send_password_reset_email",
    autoretry_for=(OSError,),
    retry_backoff=30,
    max_retries=5,
)
def send_password_reset_email(user_id: int) -> bool:
    """Emails a password-reset link; retried while the mail server is unreachable."""
    user = services.User.objects.filter(pk=user_id).first()
    return user is not None and services.password_reset_mail(user)
