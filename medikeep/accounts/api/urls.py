from django.urls import path

from medikeep.accounts.api import mfa, sso, views

urlpatterns = [
    path("auth/registration-status", views.RegistrationStatusView.as_view()),
    path("auth/register", views.RegisterView.as_view()),
    path("auth/login", views.LoginView.as_view()),
    path("auth/refresh", views.RefreshView.as_view()),
    path("auth/logout", views.LogoutView.as_view()),
    path("auth/change-password", views.ChangePasswordView.as_view()),
    path("auth/password-reset/request", views.PasswordResetRequestView.as_view()),
    path("auth/password-reset/confirm", views.PasswordResetConfirmView.as_view()),
    path("auth/sso/config", sso.SSOConfigView.as_view()),
    path("auth/sso/initiate", sso.SSOInitiateView.as_view()),
    path("auth/sso/callback", sso.SSOCallbackView.as_view()),
    path("auth/sso/resolve-conflict", sso.SSOResolveConflictView.as_view()),
    path("auth/sso/resolve-github-link", sso.SSOResolveGitHubLinkView.as_view()),
    path("auth/sso/test-connection", sso.SSOTestConnectionView.as_view()),
    path("auth/sso/links", sso.SSOLinkListView.as_view()),
    path("auth/sso/links/<int:link_id>", sso.SSOLinkDetailView.as_view()),
    path("auth/mfa", mfa.MFAStatusView.as_view()),
    path("auth/mfa/totp/setup", mfa.TOTPSetupView.as_view()),
    path("auth/mfa/totp/confirm", mfa.TOTPConfirmView.as_view()),
    path("auth/mfa/recovery-codes", mfa.RecoveryCodesView.as_view()),
    path("auth/mfa/disable", mfa.DisableView.as_view()),
    path("auth/mfa/verify", mfa.VerifyView.as_view()),
    path("users/me", views.MeView.as_view()),
    path("users/me/preferences", views.PreferencesView.as_view()),
]
