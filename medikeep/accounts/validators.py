"""Account field rules shared by the API, the admin and management commands."""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator

USERNAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,49}$"

validate_username = RegexValidator(
    USERNAME_RE,
    "Use 3 to 50 characters: letters, digits, '_', '-' or '.', starting with a letter or digit.",
)


class LetterAndDigitValidator:
    """A password needs at least one letter and one digit."""

    def validate(self, password, user=None):
        if not (re.search(r"[A-Za-z]", password) and re.search(r"\d", password)):
            raise ValidationError(
                "The password must contain at least one letter and one digit.",
                code="password_letter_digit",
            )

    def get_help_text(self):
        return "Your password must contain at least one letter and one digit."
