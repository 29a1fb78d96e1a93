"""/password-reset: the page the reset email links to (plain Django, outside the API), so a
server without a separate front end still lets people back into their accounts.

Without uid/token it asks for the email address (and answers alike for every address); with
them it asks for the new password. Both forms are CSRF-protected and count against the
"auth" rate limit like the API's reset endpoints.
"""

from __future__ import annotations

from django import forms
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from rest_framework.exceptions import APIException

from medikeep.accounts import services
from medikeep.api.exceptions import status_and_lines
from medikeep.api.throttles import page_allowed

TEMPLATE = "accounts/password_reset.html"


class ResetRequestForm(forms.Form):
    email = forms.EmailField(max_length=254)


class NewPasswordForm(forms.Form):
    new_password = forms.CharField(max_length=1024, strip=False, widget=forms.PasswordInput)
    new_password_again = forms.CharField(max_length=1024, strip=False, widget=forms.PasswordInput)

    def clean(self):
        data = super().clean()
        if data.get("new_password") != data.get("new_password_again"):
            raise forms.ValidationError("The two passwords differ.")
        return data


@require_http_methods(["GET", "POST"])
def password_reset_page(request):
    """Asks for the address to send a reset link to, or (from the link) for the new
    password."""
    source = request.POST if request.method == "POST" else request.GET
    uid, token = source.get("uid", ""), source.get("token", "")
    choosing = bool(uid and token)
    form_class = NewPasswordForm if choosing else ResetRequestForm
    form = form_class(request.POST if request.method == "POST" else None)
    context = {"form": form, "uid": uid, "token": token, "choosing": choosing}
    if request.method == "GET":
        return render(request, TEMPLATE, context)
    if not page_allowed(request, "auth"):
        context["errors"] = ["Too many attempts; wait a minute and try again."]
        return render(request, TEMPLATE, context, status=429)
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=422)
    if not choosing:
        services.password_reset_request(email=form.cleaned_data["email"])
        context["done"] = services.PASSWORD_RESET_SENT
        return render(request, TEMPLATE, context)
    try:
        services.password_reset_confirm(
            uid=uid, token=token, new_password=form.cleaned_data["new_password"]
        )
    except APIException as exc:
        status, context["errors"] = status_and_lines(exc)
        return render(request, TEMPLATE, context, status=status)
    context["done"] = "Your password is changed. Sign in to MediKeep with it."
    return render(request, TEMPLATE, context)
