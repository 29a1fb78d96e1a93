"""Included by the project at the site root as "health": the container liveness probe."""

from django.urls import path

from adminops.api import views

urlpatterns = [
    path("", views.RootHealthView.as_view(), name="root-health"),
]
