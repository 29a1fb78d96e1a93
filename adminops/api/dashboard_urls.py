"""The operators' overview routes: dashboard, activity log and user management."""

from adminops.api import dashboard

urlpatterns = [*dashboard.urlpatterns]
