"""manage.py list_backups: the backup list, as the admin page shows it."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "List the recorded backups, newest first."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="One JSON object per line.")

    def handle(self, *args, **options):
        from adminops.models import Backup

        backups = Backup.objects.order_by("-created_at", "-id")
        if options["json"]:
            for backup in backups:
                self.stdout.write(
                    json.dumps(
                        {
                            "id": backup.pk,
                            "backup_type": backup.backup_type,
                            "status": backup.status,
                            "created_at": backup.created_at.isoformat(),
                            "size_bytes": backup.size_bytes,
                            "encrypted": backup.encrypted,
                            "file_exists": backup.file_exists,
                            "file_path": str(backup.file_path),
                            "sha256": backup.sha256,
                            "description": backup.description,
                        }
                    )
                )
            return
        header = f"{'id':>5}  {'type':<8}  {'status':<9}  {'created (UTC)':<16}  {'size':>12}  "
        self.stdout.write(header + "enc  file  path")
        for backup in backups:
            self.stdout.write(
                f"{backup.pk:>5}  {backup.backup_type:<8}  {backup.status:<9}  "
                f"{backup.created_at:%Y-%m-%d %H:%M}  {backup.size_bytes or 0:>12}  "
                f"{'yes' if backup.encrypted else 'no ':<3}  "
                f"{'ok  ' if backup.file_exists else 'gone'}  {backup.file_path}"
            )
        if not backups:
            self.stdout.write("(no backups)")
