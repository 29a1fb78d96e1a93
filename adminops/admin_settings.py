"""System settings (accounts.SystemSetting) in the Django admin: only the keys the code reads,
each with its type, rather than a free key and raw JSON.

Registered here, not in accounts/, because the keys belong to the apps above accounts
(backups, the file trash) and adminops is the one that may know them all.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from adminops.backups import retention
from medikeep.accounts.models import SystemSetting
from medikeep.accounts.selectors import REGISTRATION_SETTING

# The settings an operator may set here, with what they do. Their types are those of their
# defaults (retention_settings: a bool or a whole number of at least 1). The backup schedule
# row also holds its run state: it is changed on the backup screen (API), not here.
SETTING_HELP = {
    REGISTRATION_SETTING: "Whether people may create their own accounts "
    "(over ALLOW_USER_REGISTRATION).",
    retention.BACKUP_RETENTION_DAYS: "Days a backup is kept before the cleanup may remove it.",
    retention.BACKUP_MIN_COUNT: "Backups always kept, whatever their age.",
    retention.BACKUP_MAX_COUNT: "The most backups kept.",
    retention.TRASH_RETENTION_DAYS: "Days a deleted file stays restorable in the trash.",
}
TRUE_WORDS = {"true", "yes", "on", "1"}
FALSE_WORDS = {"false", "no", "off", "0"}


def setting_types() -> dict[str, type]:
    return {key: type(value) for key, value in retention.retention_settings().items()}


class SystemSettingForm(forms.ModelForm):
    key = forms.ChoiceField(choices=[(key, key) for key in SETTING_HELP])
    value = forms.CharField(
        max_length=20,
        help_text="true or false for a yes/no setting; a whole number of at least 1 otherwise.",
    )

    class Meta:
        model = SystemSetting
        fields = ("key", "value")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.types = setting_types()
        self.fields["key"].choices = [
            (key, f"{key} ({self.types[key].__name__}): {text}")
            for key, text in SETTING_HELP.items()
        ]
        if not self.instance._state.adding:
            self.fields["key"].disabled = True
            value = self.instance.value
            self.initial["value"] = str(value).lower() if isinstance(value, bool) else value

    def clean(self):
        cleaned = super().clean()
        key, text = cleaned.get("key"), str(cleaned.get("value") or "").strip().lower()
        if key not in self.types:
            return cleaned
        if self.types[key] is bool:
            if text not in TRUE_WORDS | FALSE_WORDS:
                self.add_error("value", "Give true or false.")
                return cleaned
            cleaned["value"] = text in TRUE_WORDS
            return cleaned
        if not text.isdigit() or int(text) < 1:
            self.add_error("value", "Give a whole number of at least 1.")
            return cleaned
        cleaned["value"] = int(text)
        # The cleanup keeps at least min and at most max backups: min may not exceed max.
        merged = {**retention.retention_settings(), key: cleaned["value"]}
        if merged[retention.BACKUP_MIN_COUNT] > merged[retention.BACKUP_MAX_COUNT]:
            self.add_error(
                "value",
                f"{retention.BACKUP_MIN_COUNT} ({merged[retention.BACKUP_MIN_COUNT]}) cannot "
                f"exceed {retention.BACKUP_MAX_COUNT} ({merged[retention.BACKUP_MAX_COUNT]}).",
            )
        return cleaned


@admin.register(SystemSetting)
class SystemSettingAdmin(admin.ModelAdmin):
    form = SystemSettingForm
    list_display = ("key", "value", "description", "updated_at")
    search_fields = ("key",)

    @admin.display(description="what it does")
    def description(self, setting: SystemSetting) -> str:
        return SETTING_HELP.get(setting.key, "Kept by the application; not edited here.")

    def has_change_permission(self, request, obj=None):
        # Rows the application keeps for itself (the backup schedule and its run state) are
        # shown, not edited.
        if obj is not None and obj.key not in SETTING_HELP:
            return False
        return super().has_change_permission(request, obj)
