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
