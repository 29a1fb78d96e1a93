"""Forms of the Django admin's own pages (not a model's)."""

from django.contrib.admin.forms import AdminPasswordChangeForm
from django.core.exceptions import ValidationError


class OperatorPasswordChangeForm(AdminPasswordChangeForm):
    """The admin's "change my password" page. As in the API, the new password must differ from
    the current one, or a one-time password could be "changed" into itself."""

    def clean(self):
        cleaned = super().clean()
        new_password = cleaned.get("new_password1")
        if new_password and new_password == cleaned.get("old_password"):
            self.add_error(
                "new_password2",
                ValidationError(
                    "The new password must differ from the current one.",
                    code="password_unchanged",
                ),
            )
        return cleaned
