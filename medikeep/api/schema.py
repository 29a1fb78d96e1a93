"""drf-spectacular extensions for the project's own framework pieces."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class BearerOrCookieScheme(OpenApiAuthenticationExtension):
    target_class = "medikeep.api.authentication.BearerOrCookieJWTAuthentication"
    name = ["jwtAuth", "jwtCookieAuth"]
    priority = 1

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {"type": "apiKey", "in": "cookie", "name": "medapp_session"},
        ]
