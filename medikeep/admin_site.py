"""The project's Django admin site: its names, "View site" pointing at the API docs, and the
first-run rule that an account which must change its password does that before anything else.

Installed in place of `django.contrib.admin` (settings.INSTALLED_APPS names
MediKeepAdminConfig), so `django.contrib.admin.site` — which every `admin.py` registers with and
adminops' model API reads — is an instance of MediKeepAdminSite.
"""

from __future__ import annotations

from functools import update_wrapper

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.shortcuts import redirect
from django.urls import reverse

PASSWORD_CHANGE_FIRST = (
    "This account must change its password before using the admin: choose a new one here."
)


def must_change_password(request) -> bool:
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated and user.must_change_password)


class MediKeepAdminSite(AdminSite):
    site_header = "MediKeep administration"
    site_title = "MediKeep admin"
    index_title = "Records, accounts and operations"
    # The project has no web pages of its own: "View site" opens the API documentation.
    site_url = "/api/v1/docs"
    # Its login form is set in medikeep/accounts/admin.py (this module loads before the models).

    def _reachable_before_password_change(self, view) -> bool:
        return view in (
            self.password_change,
            self.password_change_done,
            self.logout,
            self.i18n_javascript,
        )

    def admin_view(self, view, cacheable=False):
        """Every admin page passes here (the model pages and custom views as well). An
        account with a one-time or reset password is sent to the password-change page, and
        every other page refuses it until the password is changed (the API refuses it too,
        medikeep/api/views.py); sign-in itself is not an admin_view."""
        guarded = super().admin_view(view, cacheable)
        if self._reachable_before_password_change(view):
            return guarded

        def gate(request, *args, **kwargs):
            if must_change_password(request) and self.has_permission(request):
                from django.contrib import messages

                messages.warning(request, PASSWORD_CHANGE_FIRST)
                return redirect(reverse("admin:password_change", current_app=self.name))
            return guarded(request, *args, **kwargs)

        return update_wrapper(gate, guarded)

    def password_change(self, request, extra_context=None):
        """Django's page with the project's form (the new password must differ)."""
        from django.contrib.auth.views import PasswordChangeView

        from medikeep.accounts.admin_forms import OperatorPasswordChangeForm

        request.current_app = self.name
        return PasswordChangeView.as_view(
            form_class=OperatorPasswordChangeForm,
            success_url=reverse("admin:password_change_done", current_app=self.name),
            extra_context={**self.each_context(request), **(extra_context or {})},
        )(request)

    def each_context(self, request):
        context = super().each_context(request)
        if must_change_password(request):
            # No links to pages that would only send the user back here.
            context["available_apps"] = []
            context["is_nav_sidebar_enabled"] = False
        return context


# Sections of other packages' apps, named for operators (the project's own apps name theirs
# in their AppConfig).
SECTION_NAMES = {"socialaccount": "Single sign-on links"}


class MediKeepAdminConfig(AdminConfig):
    default_site = "medikeep.admin_site.MediKeepAdminSite"

    def ready(self):
        from django.apps import apps

        for label, name in SECTION_NAMES.items():
            if apps.is_installed(f"allauth.{label}"):
                apps.get_app_config(label).verbose_name = name
        super().ready()
