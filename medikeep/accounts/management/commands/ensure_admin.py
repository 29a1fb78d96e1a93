import os

from django.core.management.base import BaseCommand

from medikeep.accounts.services import admin_ensure


class Command(BaseCommand):
    help = (
        "Makes sure an admin exists: MEDIKEEP_ADMIN_USERNAME/_PASSWORD when set, otherwise "
        "'admin' with a one-time password that is printed once and must be changed."
    )

    def handle(self, *args, **options):
        result = admin_ensure(
            username=os.environ.get("MEDIKEEP_ADMIN_USERNAME") or None,
            password=os.environ.get("MEDIKEEP_ADMIN_PASSWORD") or None,
        )
        if result is None:
            self.stdout.write("An admin account exists; nothing to do.")
        elif result.generated_password:
            self.stdout.write(
                self.style.WARNING(
                    "\nCreated the first admin account.\n"
                    f"  username: {result.username}\n"
                    f"  one-time password: {result.generated_password}\n"
                    "This password is shown only now; it must be changed at first login.\n"
                )
            )
        elif result.created:
            self.stdout.write(f"Created admin '{result.username}' from the environment.")
        else:
            self.stdout.write(f"Admin '{result.username}' already exists.")
