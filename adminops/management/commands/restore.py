"""manage.py restore: restores a backup (the admin page's restore, for the operator's shell)."""

from __future__ import annotations

import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = (
        "Restore a backup: a backup id (see list_backups) or an archive file, which is checked "
        "and added to the backup list first. Shows what will be replaced and asks to confirm "
        "(--yes skips the question); takes a full safety backup first; all or nothing. Exits "
        "non-zero when the backup cannot be restored or the restore fails."
    )

    def add_arguments(self, parser):
        parser.add_argument("source", help="A backup id, or the path of a backup archive.")
        parser.add_argument("--yes", action="store_true", help="Restore without asking.")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        from adminops.backups import restore
        from adminops.backups.progress import ProgressBar

        backup = self._backup(options["source"])
        summary = restore.preview(backup)
        self._describe(summary)
        if not summary["compatible"]:
            raise CommandError("This backup cannot be restored: " + " ".join(summary["problems"]))
        if not options["yes"]:
            self._confirm(backup)
        progress = None if options["no_progress"] else ProgressBar(self.stderr._out)
        try:
            result = restore.restore_backup(backup, progress=progress)
        except Exception as exc:  # every refusal and failure: a message and exit status 1
            raise CommandError(f"Restore failed: {_message(exc)}") from exc
        for warning in result["warnings"] or []:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(
            f"Backup {backup.pk} restored: {result['rows_restored']} rows in "
            f"{result['tables_restored']} tables, files {result['files']}. Safety backup: "
            f"{result['safety_backup_id']}."
        )

    def _backup(self, source: str):
        from django.conf import settings

        from adminops.backups import archive, restore
        from adminops.models import Backup

        path = Path(source).expanduser()
        if source.isdigit() and not path.exists():
            found = Backup.objects.filter(pk=int(source)).first()
            if found is None:
                raise CommandError(f"There is no backup {source} (see manage.py list_backups).")
            return found
        if not path.is_file():
            raise CommandError(f"{source}: no such backup id or archive file.")
        path = path.absolute()
        backup_dir = Path(settings.BACKUP_DIR).absolute()
        known = [str(path)]
        if path.parent == backup_dir:
            known.append(path.name)
        found = Backup.objects.filter(path__in=known).order_by("-id").first()
        if found is not None:
            return found
        self.stdout.write(f"Checking {path} ...")
        try:
            return restore.register_upload(path, original_name=path.name, keep_in_place=True)
        except archive.ArchiveError as exc:
            raise CommandError(f"{path.name} is not a usable backup archive: {exc}") from exc

    def _describe(self, summary: dict) -> None:
        self.stdout.write(
            f"Backup {summary['backup_id']}: {summary['backup_type']}, made "
            f"{summary['backup_created']} by version {summary['app_version'] or '?'} on "
            f"{summary['database_vendor'] or 'no database'}; {summary['files_count']} file(s)."
        )
        rows = summary["affected_data"]
        if rows:
            self.stdout.write(f"It holds {sum(rows.values())} rows in {len(rows)} tables.")
        for warning in summary["warnings"]:
            self.stdout.write(f"  - {warning}")

    def _confirm(self, backup) -> None:
        if not sys.stdin.isatty():
            raise CommandError("Not asking without a terminal: add --yes to restore.")
        answer = input(f"Type 'restore' to replace the current data with backup {backup.pk}: ")
        if answer.strip().lower() != "restore":
            raise CommandError("Not restored.")


def _message(exc) -> str:
    detail = getattr(exc, "detail", None)
    if isinstance(detail, dict):
        return "; ".join(f"{key}: {' '.join(map(str, value))}" for key, value in detail.items())
    return str(detail if detail is not None else exc)
