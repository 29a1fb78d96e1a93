"""Django admin for the SSO state: read-only views of started and pending sign-ins (for an
operator looking into a failed sign-in); the links themselves are allauth's "Social accounts"."""

from django.contrib import admin

from medikeep.accounts.sso.models import SSOPendingLogin, SSOState


class _ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SSOState)
class SSOStateAdmin(_ReadOnlyAdmin):
    # The nonce and the PKCE verifier are secrets of a running sign-in: not shown.
    list_display = ("provider", "return_url", "created_at")
    fields = ("provider", "return_url", "created_at")
    list_filter = ("provider",)
    date_hierarchy = "created_at"


@admin.register(SSOPendingLogin)
class SSOPendingLoginAdmin(_ReadOnlyAdmin):
    list_display = ("kind", "provider", "uid", "email", "existing_user", "expires_at")
    fields = ("kind", "provider", "uid", "email", "existing_user", "created_at", "expires_at")
    list_filter = ("kind", "provider")
    list_select_related = ("existing_user",)
    search_fields = ("email", "uid")
