"""The viewset base of every patient-owned record type."""

from __future__ import annotations

from django.db import transaction
from django.http import Http404
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from medikeep.api.serializers import MessageSerializer
from medikeep.api.views import ModelApiViewSet
from medikeep.middleware import client_ip
from patients.access import Level, can_access, require_patient_access
from patients.choices import RecordAction
from patients.core.permissions import PatientRecordPermission
from patients.core.serializers import model_snapshot
from patients.selectors import active_patient_id
from patients.signals import record_changed, records_deleted

PATIENT_ID_PARAM = OpenApiParameter(
    "patient_id",
    OpenApiTypes.INT,
    description="The patient whose records to list (default: the active patient).",
)


def record_viewset_schema(cls):
    """Documents what the base adds: the list's patient_id, the per-patient list path, and the
    delete answer (204, or 200 with a message when `delete_status` is 200)."""
    destroy = (
        extend_schema(responses={204: None})
        if cls.delete_status == status.HTTP_204_NO_CONTENT
        else extend_schema(responses={200: MessageSerializer})
    )
    return extend_schema_view(
        list=extend_schema(parameters=[PATIENT_ID_PARAM]),
        by_patient=extend_schema(responses=cls.serializer_class(many=True)),
        destroy=destroy,
    )(cls)


class PatientOwnedViewSet(ModelApiViewSet):
    """CRUD for one record type, scoped to what the user may see.

    Scoping happens in get_queryset (never in a filter backend that a subclass could drop).
    Lists show one patient: `patient_id` from the path or query, else the active patient.
    Writes run in a transaction, are re-checked after saving, and announce `record_changed`
    once committed. Subclasses set queryset, serializer_class, filterset_class and limits.
    """

    permission_classes = [IsAuthenticated, PatientRecordPermission]
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]
    write_level = Level.EDIT
    default_limit = 100
    max_limit = 100
    delete_status = status.HTTP_204_NO_CONTENT
    lookup_value_regex = "[0-9]+"

    def _requested_patient(self):
        return self.kwargs.get("patient_id") or self.request.query_params.get("patient_id")

    def target_patient_id(self) -> int:
        """The patient a list (or a nested path) is about; 403/404 when not visible."""
        if not hasattr(self, "_target_patient_id"):
            requested = self._requested_patient()
            user = self.request.user
            self._target_patient_id = (
                active_patient_id(user)
                if requested in (None, "")
                else require_patient_access(user, requested, Level.VIEW)
            )
        return self._target_patient_id

    def default_patient_id(self):
        """The patient a create without patient_id in the body is for."""
        return self._requested_patient() or active_patient_id(self.request.user)

    # Collection actions that cover every patient the user may see rather than one patient
    # (searches by code …); a patient_id query parameter still narrows them to that patient.
    across_patients_actions: frozenset[str] = frozenset()

    def _scoped_to_one_patient(self) -> bool:
        if "patient_id" in self.kwargs:
            return True
        if self.detail is not False:
            return False
        across = self.action in self.across_patients_actions
        return not across or bool(self.request.query_params.get("patient_id"))

    def get_queryset(self):
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):  # schema generation has no real user
            return queryset.none()
        if self._scoped_to_one_patient():
            # target_patient_id() has checked the user's access to that patient, so the
            # access subquery would only repeat the check in SQL (and SQLite, planning by
            # the first usable term, would then sort all the patient's rows instead of
            # walking the (patient, date) index).
            return queryset.for_patient(self.target_patient_id())
        return queryset.visible_to(self.request.user)

    # Query parameters the base reads itself (the patient and the page).
    base_query_params = frozenset({"patient_id", "skip", "limit"})

    def filter_queryset(self, queryset):
        # Without a parameter a filter reads, every filter leaves the queryset as it is;
        # building the filterset and its form to find that out costs more than the query.
        if all(issubclass(backend, DjangoFilterBackend) for backend in self.filter_backends):
            filterset = getattr(self, "filterset_class", None)
            declared = {
                *getattr(filterset, "base_filters", ()),
                *(getattr(self, "filterset_fields", None) or ()),
            }
            unread = self.base_query_params.difference(declared)
            if all(name in unread for name in self.request.query_params):
                return queryset
        return super().filter_queryset(queryset)

    def list_of(self, queryset, serializer_class=None):
        """A list response for a narrowed queryset (extra list actions), filtered and paged."""
        queryset = self.filter_queryset(queryset)
        page = self.paginate_queryset(queryset)
        rows = page if page is not None else queryset
        serializer_class = serializer_class or self.get_serializer_class()
        data = serializer_class(rows, many=True, context=self.get_serializer_context()).data
        return self.get_paginated_response(data) if page is not None else Response(data)

    # --- writes -----------------------------------------------------------------------------

    def _backstop(self, instance) -> None:
        # Validation already checked the level; this guards against a subclass that forgot.
        if not can_access(self.request.user, instance.patient_id, self.write_level):
            raise PermissionDenied("Your access to this patient does not allow changes.")

    def _announce(self, action_name, instance, before, after) -> None:
        user = self.request.user
        patient_id = instance.patient_id
        ip_address = client_ip(self.request)
        transaction.on_commit(
            lambda: record_changed.send(
                sender=type(instance),
                user=user,
                instance=instance,
                action=action_name,
                before=before,
                after=after,
                patient_id=patient_id,
                ip_address=ip_address,
            )
        )

    def perform_create(self, serializer):
        with transaction.atomic():
            instance = serializer.save()
            self._backstop(instance)
            self._announce(RecordAction.CREATED, instance, None, model_snapshot(instance))

    def perform_update(self, serializer):
        with transaction.atomic():
            before = model_snapshot(serializer.instance)
            instance = serializer.save()
            self._backstop(instance)
            self._announce(RecordAction.UPDATED, instance, before, model_snapshot(instance))

    def update(self, request, *args, **kwargs):
        # PUT applies the fields sent, as the reference does: clients send partial bodies.
        kwargs["partial"] = True
        return super().update(request, *args, **kwargs)

    def destroy(self, request, *args, **kwargs):
        instance = self.get_object()
        with transaction.atomic():
            before = model_snapshot(instance)
            record_id = instance.pk
            removed = records_deleted.send(
                sender=type(instance), model=type(instance), ids=[record_id], user=request.user
            )
            # What went with the record (its files), for responses that report it.
            self.dependents_removed = sum(count for _, count in removed if isinstance(count, int))
            instance.delete()
            instance.pk = record_id
            self._announce(RecordAction.DELETED, instance, before, None)
        if self.delete_status == status.HTTP_204_NO_CONTENT:
            return Response(status=status.HTTP_204_NO_CONTENT)
        label = self.queryset.model._meta.verbose_name.capitalize()
        return Response({"message": f"{label} deleted successfully"})

    # --- the contract's extra path ----------------------------------------------------------

    @action(detail=False, methods=["get"], url_path=r"patient/(?P<patient_id>[0-9]+)")
    def by_patient(self, request, *args, **kwargs):
        """The records of one patient (the reference's /<type>/patient/{patient_id})."""
        return self.list(request, *args, **kwargs)


class NestedRecordMixin:
    """Serves a record type under its parent record: /<parents>/{parent_id}/<children>.

    Mixed into a PatientOwnedViewSet by `register_nested_record`. The parent must be visible
    (404 otherwise); the patient is the parent's; new records are attached to the parent.
    """

    parent_field: str = ""

    @classmethod
    def get_extra_actions(cls):
        return []  # the type's extra paths stay on its own top-level routes

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        if not getattr(self, "swagger_fake_view", False):
            # An unknown or invisible parent is a 404 before anything else (a body with
            # errors under a missing parent is still "not found", not a 422).
            self.parent_record()

    def parent_record(self):
        if not hasattr(self, "_parent"):
            model = self.queryset.model._meta.get_field(self.parent_field).related_model
            parent = (
                model.objects.visible_to(self.request.user)
                .filter(pk=self.kwargs["parent_id"])
                .first()
            )
            if parent is None:
                raise Http404(f"{model._meta.verbose_name.capitalize()} not found")
            self._parent = parent
        return self._parent

    def target_patient_id(self) -> int:
        return self.parent_record().patient_id

    def default_patient_id(self):
        return self.parent_record().patient_id

    def implied_values(self) -> dict:
        return {self.parent_field: self.parent_record()}

    def get_queryset(self):
        queryset = self.queryset.all()
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        parent = self.parent_record()
        return queryset.filter(**{self.parent_field: parent}).visible_to(self.request.user)
