"""manage.py verify: reads a backup archive through and checks every member."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from adminops.backups.progress import ProgressBar


class Command(BaseCommand):
    help = (
        "Verify a backup by id (from list_backups; the row is updated) or an archive file by "
        "path: sizes and SHA-256 of every member, and the dumps opened by their own tools. "
        "Exits non-zero when it is not valid."
    )

    def add_arguments(self, parser):
        parser.add_argument("target", help="A backup id or the path of an archive file.")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, target: str, **options):
        from adminops.backups import archive
        from adminops.backups.services import backup_verify
        from adminops.models import Backup

        progress = None if options["no_progress"] else ProgressBar(self.stderr._out)
        backup = None
        if target.isdigit() and not Path(target).exists():
            backup = Backup.objects.filter(pk=int(target)).first()
            if backup is None:
                raise CommandError(f"No backup with id {target}.")
        if backup is not None:
            details = backup_verify(backup=backup, progress=progress)["verification_details"]
            errors, warnings = details["errors"], details.get("warnings", [])
            checks = details.get("checks", {})
            if details.get("contents_note"):
                warnings = [*warnings, details["contents_note"]]
        else:
            path = Path(target)
            if not path.is_file():
                raise CommandError(f"{target} is neither a backup id nor a file.")
            result = archive.verify(path, progress=progress)
            errors, warnings, checks = result.errors, result.warnings, result.checks
        for warning in warnings:
            self.stderr.write(f"warning: {warning}")
        for name, outcome in checks.items():
            self.stdout.write(f"{name}: {outcome}")
        if errors:
            for error in errors:
                self.stderr.write(f"error: {error}")
            raise CommandError("The backup is NOT valid.")
        self.stdout.write(self.style.SUCCESS("The backup is valid."))
