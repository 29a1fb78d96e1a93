from allauth.account.models import EmailAddress
from allauth.socialaccount.models import SocialApp, SocialToken
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.contrib.auth.models import Group
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from medikeep.accounts.admin_forms import OperatorSetsPasswordForm
from medikeep.accounts.mfa import services as mfa_services
from medikeep.accounts.mfa.admin_login import MFAAdminAuthenticationForm
from medikeep.accounts.models import User, UserPreference
from medikeep.middleware import client_ip

# Operators with two-factor sign-in on give their code at the admin's sign-in too.
admin.site.login_form = MFAAdminAuthenticationForm
admin.site.login_template = "accounts/admin_login.html"

# Tables that are the machinery of sign-in, not something an operator edits (their apps come
# before this one in INSTALLED_APPS, so their admin modules have registered them by now):
# refresh-token bookkeeping (sign-outs are the API's), allauth's e-mail addresses (the user's
# email is on the user), its provider apps (SSO is configured by env) and provider tokens
# (secrets), and groups (the role decides what a user may do).
INTERNAL_TABLES = (OutstandingToken, BlacklistedToken, EmailAddress, SocialApp, SocialToken, Group)
for _model in INTERNAL_TABLES:
    if admin.site.is_registered(_model):
        admin.site.unregister(_model)


class UserCreationAdminForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email", "role")


class UserChangeAdminForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


class UserPreferenceInline(admin.StackedInline):
    model = UserPreference
    can_delete = False
    extra = 0


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserChangeAdminForm
    add_form = UserCreationAdminForm
    change_password_form = OperatorSetsPasswordForm
    list_display = (
        "username",
        "email",
        "full_name",
        "role",
        "auth_method",
        "is_active",
        "must_change_password",
        "last_login",
        "created_at",
    )
    list_filter = ("role", "auth_method", "is_active", "must_change_password")
    search_fields = ("username", "email", "first_name", "last_name", "full_name")
    ordering = ("username",)
    readonly_fields = ("created_at", "updated_at", "last_login")
    inlines = [UserPreferenceInline]
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Person", {"fields": ("first_name", "last_name", "full_name", "email")}),
        ("Access", {"fields": ("role", "auth_method", "is_active", "must_change_password")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("username", "email", "role", "password1", "password2"),
            },
        ),
    )
    filter_horizontal = ()
    actions = ["activate", "deactivate", "force_password_change", "reset_two_factor"]

    def get_inlines(self, request, obj):
        # Preferences are created with the user; they are edited afterwards.
        return self.inlines if obj is not None else []

    @admin.action(description="Activate selected users")
    def activate(self, request, queryset):
        changed = queryset.update(is_active=True)
        self.message_user(request, f"{changed} user(s) activated.")

    @admin.action(description="Deactivate selected users (ends their sessions)")
    def deactivate(self, request, queryset):
        # The last active admin, including yourself, must stay able to sign in.
        remaining_admins = (
            User.objects.filter(role="admin", is_active=True).exclude(pk__in=queryset).exists()
        )
        if queryset.filter(role="admin").exists() and not remaining_admins:
            self.message_user(request, "At least one active admin must remain.", messages.ERROR)
            return
        changed = queryset.exclude(pk=request.user.pk).update(is_active=False)
        self.message_user(request, f"{changed} user(s) deactivated.")

    @admin.action(description="Require a password change at next login")
    def force_password_change(self, request, queryset):
        changed = queryset.exclude(auth_method="sso").update(must_change_password=True)
        self.message_user(request, f"{changed} user(s) must change their password.")

    @admin.action(description="Reset two-factor sign-in (lost authenticator and codes)")
    def reset_two_factor(self, request, queryset):
        # Each reset writes its activity-log row (mfa_changed, adminops).
        reset = sum(
            mfa_services.mfa_reset(user=user, actor=request.user, ip_address=client_ip(request))
            for user in queryset
        )
        self.message_user(request, f"Two-factor sign-in reset for {reset} user(s).")


# SystemSetting is registered by adminops/admin_settings.py, which knows every key.


from medikeep.accounts.sso import admin as sso_admin  # noqa: E402, F401 (registers SSO models)
