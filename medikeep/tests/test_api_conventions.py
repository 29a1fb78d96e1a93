"""The API conventions of DESIGN.md §5, each checked once for the whole project."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.urls import URLPattern, URLResolver, get_resolver
from drf_spectacular.generators import SchemaGenerator
from drf_spectacular.validation import validate_schema
from rest_framework.test import APIRequestFactory
from rest_framework.views import APIView

from medikeep.accounts.models import User
from medikeep.api.pagination import SkipLimitPagination
from medikeep.api.views import ApiViewMixin

pytestmark = pytest.mark.django_db


def api_views():
    def walk(patterns, prefix):
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, prefix + str(pattern.pattern))
            elif isinstance(pattern, URLPattern):
                yield prefix + str(pattern.pattern), pattern.callback

    for route, callback in walk(get_resolver().url_patterns, "/"):
        view_class = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        if route.startswith("/api/v1/") and view_class and issubclass(view_class, APIView):
            yield route, view_class


SCHEMA_VIEWS = {"SpectacularJSONAPIView", "SpectacularSwaggerSplitView", "SpectacularRedocView"}


def test_every_api_view_uses_the_project_base():
    offenders = [
        route
        for route, view in api_views()
        if view.__name__ not in SCHEMA_VIEWS and not issubclass(view, ApiViewMixin)
    ]
    assert list(api_views()), "no API views were found"
    assert offenders == []


def test_openapi_schema_validates_without_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS

    GENERATOR_STATS.reset()
    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
    assert "/api/v1/auth/login" in schema["paths"]


@pytest.mark.parametrize("path", ["/api/v1/users/me", "/api/v1/users/me/"])
def test_paths_answer_with_and_without_trailing_slash(alice_api, path):
    response = alice_api.get(path)
    assert response.status_code == 200


def test_docs_and_schema_are_served(anon):
    assert anon.get("/api/v1/docs").status_code == 200
    assert anon.get("/api/v1/redoc/").status_code == 200
    schema = anon.get("/api/v1/openapi.json")
    assert schema.status_code == 200 and schema.json()["openapi"].startswith("3.")


def test_unknown_api_path_is_a_json_404(alice_api):
    response = alice_api.get("/api/v1/no-such-thing")
    assert response.status_code == 404
    assert response.json()["error_code"] == "NOT-404"


def test_wrong_method_is_a_405_envelope(alice_api):
    response = alice_api.patch("/api/v1/auth/registration-status")
    assert response.status_code == 405
    assert response.json()["status"] == "error"


class TestSkipLimit:
    def paginate(self, query, queryset=None, view=None):
        request = APIRequestFactory().get("/", query)
        from rest_framework.request import Request

        return SkipLimitPagination().paginate_queryset(
            queryset if queryset is not None else User.objects.order_by("id"),
            Request(request),
            view,
        )

    def test_skip_and_limit_slice_the_ordered_list(self, make_user):
        users = make_user.create_batch(5)
        page = self.paginate({"skip": "1", "limit": "2"})
        assert [u.pk for u in page] == [users[1].pk, users[2].pk]

    def test_limit_is_capped_at_the_maximum(self, make_user):
        make_user.create_batch(4)

        class View:
            max_limit = 3

        assert len(self.paginate({"limit": "50"}, view=View())) == 3

    @pytest.mark.parametrize("query", [{"skip": "-1"}, {"limit": "0"}, {"limit": "ten"}])
    def test_junk_is_refused(self, query):
        from rest_framework.exceptions import ValidationError

        with pytest.raises(ValidationError):
            self.paginate(query)

    def test_unordered_querysets_are_refused(self):
        with pytest.raises(ImproperlyConfigured):
            self.paginate({}, queryset=User.objects.all().order_by())


JUNK_BODIES = [
    [],
    "just a string",
    {"username": {"nested": 1}, "password": ["x"], "email": 10**100},
    {"theme": "\x00", "session_timeout_minutes": 10**100, "first_name": "a" * 100_000},
    {"current_password": None, "new_password": 12, "limit": -1, "level": {"a": []}},
]


def _schema_operations():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    for path, operations in schema["paths"].items():
        if "{" in path:
            continue  # resources with ids have their own refusal tests
        for method in operations:
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path


@pytest.mark.parametrize("as_user", [False, True], ids=["anonymous", "signed-in"])
def test_junk_input_never_causes_a_server_error(client_for, make_user, anon, as_user):
    client = client_for(make_user()) if as_user else anon
    operations = list(_schema_operations())
    assert len(operations) > 5
    for method, path in operations:
        if method == "delete":
            continue  # deleting the account is exercised in its own tests
        if method == "get":
            query = client.get(path, {"skip": "-5", "limit": "lots", "q": "\x00"})
            assert query.status_code < 500, (path, query.content[:300])
            continue
        for body in JUNK_BODIES:
            response = getattr(client, method)(path, body, format="json")
            assert response.status_code < 500, (method, path, body, response.content[:300])


def test_deeply_nested_json_is_a_400(anon):
    body = "[" * 100_000 + "]" * 100_000
    response = anon.generic(
        "POST", "/api/v1/frontend-logs/log", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error_code"] == "BAD-400"


def test_every_serializer_takes_the_fast_read_path():
    """medikeep/api/representation.py: fields built once per class and copied cheaply, model
    rows rendered by a plan."""
    import django.apps
    from rest_framework.serializers import Serializer

    from medikeep.api.representation import FastModelSerializer, FastSerializer

    list(api_views())  # imports every view module, and so every serializer they use

    def subclasses(cls):
        for sub in cls.__subclasses__():
            yield sub
            yield from subclasses(sub)

    from django.conf import settings

    ours = {  # the project's own apps, not the libraries in the virtualenv
        config.name.split(".")[0]
        for config in django.apps.apps.get_app_configs()
        if config.path.startswith(str(settings.BASE_DIR)) and "site-packages" not in config.path
    }
    offenders = sorted(
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in subclasses(Serializer)
        if cls.__module__.split(".")[0] in ours
        and ".tests" not in cls.__module__
        and not issubclass(cls, FastModelSerializer | FastSerializer)
    )
    assert not offenders, offenders
