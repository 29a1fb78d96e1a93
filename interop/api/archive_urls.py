from django.urls import path

from interop.api.archive import AccountArchiveView

urlpatterns = [path("users/me/archive", AccountArchiveView.as_view())]
