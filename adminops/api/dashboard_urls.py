"""The operators' overview routes: dashboard, activity log and user management."""

from adminops.api import activity, dashboard, users

urlpatterns = [*dashboard.urlpatterns, *activity.urlpatterns, *users.urlpatterns]
