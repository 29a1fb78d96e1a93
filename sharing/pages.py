"""/portal/join: the page the portal invitation email links to (plain Django, outside the API).

It shows the invitation, and then either a form that creates the invited account, or, when
the address has an account already, a sign-in form (its password) that accepts with it and
a link to reset a forgotten password. Both forms are CSRF-protected and count against the
"auth" rate limit like the API's sign-in.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate, get_user_model
from django.shortcuts import render
from django.views.decorators.http import require_http_methods
from rest_framework.exceptions import APIException

from medikeep.accounts.validators import validate_username
from medikeep.api.exceptions import status_and_lines
from medikeep.api.throttles import page_allowed
from sharing.api.portal import invitation_preview
from sharing.mail import app_link
from sharing.services import portal as service

TEMPLATE = "sharing/portal_join.html"
TOO_MANY = "Too many attempts; wait a minute and try again."


class PortalJoinForm(forms.Form):
    username = forms.CharField(max_length=50, validators=[validate_username])
    password = forms.CharField(max_length=128, strip=False, widget=forms.PasswordInput)
    full_name = forms.CharField(max_length=200, required=False)


class PortalSignInForm(forms.Form):
    password = forms.CharField(max_length=128, strip=False, widget=forms.PasswordInput)


@require_http_methods(["GET", "POST"])
def portal_join_page(request):
    """Shows the invitation of the link's token; a POST creates the account (new address)
    or signs in with the existing account's password, then accepts."""
    token = request.POST.get("token") or request.GET.get("token") or ""
    context = {"token": token, "reset_link": app_link("password-reset")}
    try:
        invitation = service.invitation_for_token(token)
    except APIException as exc:
        status, context["errors"] = status_and_lines(exc)
        return render(request, TEMPLATE, context, status=status)
    preview = invitation_preview(invitation)
    context["invitation"] = preview
    posted = request.POST if request.method == "POST" else None
    form_class = PortalSignInForm if preview["account_exists"] else PortalJoinForm
    form = context["form"] = form_class(posted)
    if request.method == "GET":
        return render(request, TEMPLATE, context)
    if not page_allowed(request, "auth"):
        context["errors"] = [TOO_MANY]
        return render(request, TEMPLATE, context, status=429)
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=422)
    try:
        if preview["account_exists"]:
            user = _sign_in(request, invitation.email, form.cleaned_data["password"])
            if user is None:
                context["errors"] = ["That password is not right for this account."]
                return render(request, TEMPLATE, context, status=401)
            service.portal_accept(token=token, user=user)
        else:
            _, user = service.portal_join(token=token, **form.cleaned_data)
    except APIException as exc:
        status, context["errors"] = status_and_lines(exc)
        return render(request, TEMPLATE, context, status=status)
    context["joined"] = user
    return render(request, TEMPLATE, context, status=201 if not preview["account_exists"] else 200)


def _sign_in(request, email: str, password: str):
    """The active account with this address, if the password is its own."""
    account = get_user_model().objects.filter(email__iexact=email, is_active=True).first()
    if account is None:
        return None
    return authenticate(request, username=account.username, password=password)
