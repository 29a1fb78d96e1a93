"""The Django admin's sign-in with the second factor: operators with two-factor sign-in on
give a code (from the authenticator app, or a recovery code) with their password.

One form rather than two pages: the code field is optional for everyone else, and an
operator whose password is right but whose code is missing or wrong is not signed in.
"""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError

from medikeep.accounts.mfa import services

CODE_NEEDED = "This account uses two-factor sign-in: enter a code from the authenticator app."


class MFAAdminAuthenticationForm(AdminAuthenticationForm):
    otp_code = forms.CharField(
        label="Authentication code",
        required=False,
        max_length=64,
        strip=True,
        help_text="Only with two-factor sign-in on: the app's code, or a recovery code.",
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "text"}),
    )

    def clean(self):
        cleaned = super().clean()  # the password check; refuses before any code is looked at
        user = self.get_user()
        if user is None or not services.mfa_enabled(user):
            return cleaned
        code = cleaned.get("otp_code") or ""
        if not code:
            raise ValidationError(CODE_NEEDED, code="mfa_required")
        try:
            method = services.second_factor_check(user=user, code=code)
        except services.SecondFactorLocked as exc:
            raise ValidationError(
                f"Too many wrong codes. Try again in {exc.wait or 1:.0f} seconds.",
                code="mfa_locked",
            ) from exc
        if method is None:
            raise ValidationError(services.WRONG_CODE, code="mfa_wrong_code")
        return cleaned
