from django.db import models


class UserRole(models.TextChoices):
    USER = "user", "User"
    ADMIN = "admin", "Administrator"


class UserAuthMethod(models.TextChoices):
    LOCAL = "local", "Local password"
    SSO = "sso", "Single sign-on"
    HYBRID = "hybrid", "Password and single sign-on"


class PreferenceTheme(models.TextChoices):
    LIGHT = "light", "Light"
    DARK = "dark", "Dark"
    AUTO = "auto", "Follow the system"


class PreferenceUnitSystem(models.TextChoices):
    IMPERIAL = "imperial", "Imperial"
    METRIC = "metric", "Metric"


class PreferenceDateFormat(models.TextChoices):
    MDY = "mdy", "MM/DD/YYYY"
    DMY = "dmy", "DD/MM/YYYY"
    DMY_DOT = "dmy_dot", "DD.MM.YYYY"
    YMD = "ymd", "YYYY-MM-DD"


class UserSSOLinkingPreference(models.TextChoices):
    """What SSO does when its verified email matches this account and no link exists yet."""

    ALWAYS_ASK = "always_ask", "Ask each time"
    AUTO_LINK = "auto_link", "Link automatically"
    CREATE_SEPARATE = "create_separate", "Create a separate account"


class DocumentBackend(models.TextChoices):
    """Where an entity file's bytes live (files/ keeps the same values on each file)."""

    LOCAL = "local", "Local storage"
    PAPERLESS = "paperless", "Paperless-ngx"
    PAPRA = "papra", "Papra"
