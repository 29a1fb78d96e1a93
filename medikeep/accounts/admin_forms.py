"""Forms of the Django admin's own pages (not a model's)."""

from django.contrib.admin.forms import AdminPasswordChangeForm
from django.contrib.auth.forms import AdminPasswordChangeForm as UserPasswordSetForm
from django.core.exceptions import ValidationError

from medikeep.accounts.signals import password_changed


def _announce(user, via: str) -> None:
    # As the API's password paths do: the user is told (notifications/), and the forced
    # change has ended (User.save clears must_change_password for a new password).
    password_changed.send(sender=type(user), user=user, via=via)


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

    def save(self, commit=True):
        user = super().save(commit)
        if commit:
            _announce(user, "change")
        return user


class OperatorSetsPasswordForm(UserPasswordSetForm):
    """The user's "change password" page of the admin (an operator setting someone's
    password); announced like the admin API's password reset."""

    def save(self, commit=True):
        user = super().save(commit)
        if commit and user.has_usable_password():
            _announce(user, "admin_reset")
        return user
