"""A record type is complete only with its route, filterset, admin, factory and contract case
(DESIGN.md §4.8). This fails as soon as a new PatientOwnedModel misses one of them."""

import pytest
from django.contrib import admin
from django.urls import get_resolver

from patients.core.admin import PatientOwnedAdmin
from patients.core.filtersets import PatientOwnedFilterSet, TaggedFilterSet
from patients.core.routing import RECORD_ROUTES
from patients.core.serializers import PatientOwnedSerializer
from patients.core.views import PatientOwnedViewSet
from patients.models import TaggedMixin, record_models
from patients.tests.factories import PatientOwnedFactory
from records.tests import factories  # noqa: F401  (defines the record factories)
from records.tests.test_contract import CONTRACT

get_resolver().url_patterns  # noqa: B018  (importing the URLconf registers the routes)


def _all_subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _all_subclasses(sub)


MODELS = record_models()
ROUTES = {route.model: route for route in RECORD_ROUTES}
FACTORIES = {
    f._meta.model for f in _all_subclasses(PatientOwnedFactory) if f._meta.model is not None
}


def test_there_are_record_types():
    assert len(MODELS) >= 2


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_record_type_is_complete(model):
    route = ROUTES.get(model)
    assert route is not None, f"{model.__name__} has no register_record() line"
    viewset = route.viewset
    assert issubclass(viewset, PatientOwnedViewSet)
    assert issubclass(viewset.serializer_class, PatientOwnedSerializer)
    filterset = viewset.filterset_class
    assert filterset is not None and issubclass(filterset, PatientOwnedFilterSet)
    assert filterset._meta.model is model
    if issubclass(model, TaggedMixin):
        assert issubclass(filterset, TaggedFilterSet), "tagged types filter by tags"
    assert admin.site.is_registered(model), f"{model.__name__} has no admin"
    assert isinstance(admin.site._registry[model], PatientOwnedAdmin)
    assert model in FACTORIES, f"{model.__name__} has no factory"
    assert model in CONTRACT, f"{model.__name__} has no contract-test case"
    assert model.dashboard_key, f"{model.__name__} has no dashboard_key"
