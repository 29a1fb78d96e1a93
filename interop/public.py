"""The address links we hand out are made with (file downloads in FHIR exports, emergency
links): APP_PUBLIC_URL when it is set, so a link made behind a proxy still works outside it;
else the host the request came to."""

from django.conf import settings


def public_base(request) -> str:
    if settings.APP_PUBLIC_URL_SET:
        return settings.APP_PUBLIC_URL.rstrip("/")
    return request.build_absolute_uri("/").rstrip("/")
