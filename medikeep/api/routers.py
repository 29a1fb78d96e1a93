"""The API router: routes without a trailing slash (the middleware accepts both forms)."""

from rest_framework.routers import SimpleRouter


class ApiRouter(SimpleRouter):
    def __init__(self):
        super().__init__(trailing_slash="")
