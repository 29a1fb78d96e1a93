"""manage.py export_account <username> --output account.zip: the whole-account archive."""

from __future__ import annotations

import shutil

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from interop.archive.export import archive_file


class Command(BaseCommand):
    help = (
        "Write everything a user owns (patients, records, files, tags, channels without their "
        "secrets) into one zip archive that import_account reads on any MediKeep server."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--output", "-o", required=True, help="The zip file to write.")

    def handle(self, *args, username, output, **options):
        user = get_user_model()._default_manager.filter(username__iexact=username).first()
        if user is None:
            raise CommandError(f"No user {username!r}.")
        spool, size, manifest = archive_file(user)
        with spool, open(output, "wb") as target:
            shutil.copyfileobj(spool, target, 1024 * 1024)
        rows = sum(manifest["counts"].values())
        self.stdout.write(
            f"Wrote {output} ({size} bytes): {manifest['user']['patients']} patient(s), "
            f"{rows} row(s), {len(manifest['not_carried'])} file(s) not carried."
        )
        for item in manifest["not_carried"]:
            self.stdout.write(f"  not carried: {item['name']} ({item['reason']})")
