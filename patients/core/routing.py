"""Registering a record type: /<prefix>, /<prefix>/{id} and /patients/{patient_id}/<prefix>."""

from __future__ import annotations

from dataclasses import dataclass

from rest_framework.routers import SimpleRouter

from medikeep.api.routers import ApiRouter


@dataclass(frozen=True)
class RecordRoute:
    prefix: str
    viewset: type
    basename: str

    @property
    def model(self):
        return self.viewset.queryset.model


# Every registered record resource, for the conventions meta-test and the contract test.
RECORD_ROUTES: list[RecordRoute] = []


class PatientListRouter(SimpleRouter):
    """Only the collection route: /patients/{patient_id}/<prefix> lists and creates."""

    routes = [SimpleRouter.routes[0]]

    def __init__(self):
        super().__init__(trailing_slash="")


def register_record(
    router: ApiRouter, nested: PatientListRouter, prefix: str, viewset: type, basename: str
) -> None:
    router.register(prefix, viewset, basename=basename)
    nested.register(
        rf"patients/(?P<patient_id>[0-9]+)/{prefix}", viewset, basename=f"patient-{basename}"
    )
    RECORD_ROUTES.append(RecordRoute(prefix, viewset, basename))


def register_nested_record(
    router: ApiRouter, parent_prefix: str, child_prefix: str, viewset: type, *, parent_field: str
) -> None:
    """Also serves `viewset`'s type under its parent: /<parent_prefix>/{parent_id}/<child>.

    The type keeps its own top-level registration (and contract test); this adds the
    contract's nested path, with the parent taken from the URL.
    """
    from patients.core.views import NestedRecordMixin

    nested_viewset = type(
        f"{viewset.__name__}Under{parent_field.title().replace('_', '')}",
        (NestedRecordMixin, viewset),
        {"parent_field": parent_field},
    )
    router.register(
        rf"{parent_prefix}/(?P<parent_id>[0-9]+)/{child_prefix}",
        nested_viewset,
        basename=f"{parent_field}-{child_prefix}",
    )
