from notifications.api import channels, history, preferences, reminders

urlpatterns = [
    *channels.urlpatterns,
    *preferences.urlpatterns,
    *history.urlpatterns,
    *reminders.urlpatterns,
]
