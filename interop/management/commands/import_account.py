"""manage.py import_account account.zip --username <name> [--email …]: read an archive."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from interop.archive.importer import import_archive, open_archive
from medikeep.api.exceptions import ApiError


class Command(BaseCommand):
    help = (
        "Import a whole-account archive (from export_account or GET /users/me/archive) into "
        "the account --username; the account is created when missing, without a usable "
        "password (its owner sets one through the password reset)."
    )

    def add_arguments(self, parser):
        parser.add_argument("archive", help="The zip file to read.")
        parser.add_argument("--username", required=True)
        parser.add_argument(
            "--email", help="The e-mail address of a new account (default: the archive's)."
        )
        parser.add_argument("--json", action="store_true", help="Print the result as JSON.")

    def handle(self, *args, archive, username, email=None, **options):
        try:
            with open(archive, "rb") as handle:
                opened = open_archive(handle)
                result = import_archive(opened, username=username, email=email)
        except FileNotFoundError as exc:
            raise CommandError(f"No such file: {archive}") from exc
        except ApiError as exc:
            raise CommandError(str(exc.detail)) from exc
        if options.get("json"):
            self.stdout.write(json.dumps(result, indent=2))
            return
        made = "created" if result["created_account"] else "existing"
        self.stdout.write(f"Imported into the {made} account {result['user']['username']}.")
        for label, count in sorted(result["counts"].items()):
            self.stdout.write(f"  {label}: {count}")
        for note in result["notes"]:
            self.stdout.write(f"  note: {note}")
        if result["channels_needing_settings"]:
            names = ", ".join(result["channels_needing_settings"])
            self.stdout.write(
                f"  notification channels switched off until their settings are "
                f"entered again: {names}"
            )
        if result["created_account"]:
            self.stdout.write(
                "  The account has no usable password: its owner sets one with the password "
                "reset (or an admin with `manage.py changepassword`)."
            )
