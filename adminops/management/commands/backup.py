"""manage.py backup: writes a backup archive now (the same as the admin page's buttons)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from adminops.backups.progress import ProgressBar
from adminops.models import BackupType


class Command(BaseCommand):
    help = (
        "Write a backup archive (database, files or both) to BACKUP_DIR or to --output, and "
        "record it in the backup list. Exits non-zero when the backup fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("--type", choices=BackupType.values, default=BackupType.FULL)
        parser.add_argument(
            "--encrypt",
            action="store_true",
            help="Encrypt with age (needs BACKUP_AGE_RECIPIENTS or BACKUP_AGE_PASSPHRASE); "
            "without it, BACKUP_ENCRYPT decides.",
        )
        parser.add_argument("--output", help="Write the archive here instead of BACKUP_DIR.")
        parser.add_argument("--description", default="", help="Shown in the backup list.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        from rest_framework.exceptions import ValidationError

        from adminops.backups.services import BackupFailed, backup_create
        from medikeep.api.exceptions import ApiError

        progress = None if options["no_progress"] else ProgressBar(self.stderr._out)
        try:
            backup = backup_create(
                backup_type=options["type"],
                description=options["description"] or "manage.py backup",
                encrypt=True if options["encrypt"] else None,
                output=options["output"],
                progress=progress,
            )
        except BackupFailed as exc:
            raise CommandError(f"Backup {exc.backup.pk} failed: {exc.backup.error}") from exc
        except (ApiError, ValidationError) as exc:
            raise CommandError(_message(exc)) from exc
        for warning in backup.details.get("warnings") or []:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(
            f"Backup {backup.pk} ({backup.backup_type}) written: {backup.file_path} "
            f"({backup.size_bytes} bytes, sha256 {backup.sha256}"
            f"{', encrypted' if backup.encrypted else ''})"
        )


def _message(exc) -> str:
    detail = getattr(exc, "detail", exc)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {' '.join(map(str, value))}" for key, value in detail.items())
    return str(detail)
