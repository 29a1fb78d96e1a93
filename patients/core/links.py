"""One mechanism for every link between two records of the same patient.

A link family (condition ⇄ medication, encounter ⇄ lab result, treatment ⇄ equipment …) is a
small model subclassing PatientLinkModel plus one `link_urlpatterns(...)` call per direction.
The generic viewset lists, links one, links in bulk, updates the link's own fields and
unlinks, with the same rules everywhere:
- the parent record must be visible (404), writes need EDIT on its patient (403);
- the other record must be visible (404) and belong to the same patient (400);
- linking twice is a 400; bulk linking skips existing links, refuses empty or repeated ids
  (422) and is all-or-nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models, transaction
from django.http import Http404
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from medikeep.api.exceptions import BusinessRuleError
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiViewSet
from medikeep.middleware import client_ip
from patients.access import Level, can_access
from patients.choices import RecordAction
from patients.core.serializers import LenientModelSerializer, model_snapshot
from patients.signals import record_changed

MAX_BULK = 100
MAX_KEY = 2**63 - 1


class PatientLinkModel(models.Model):
    """Base of link tables. `link_sides` names the two foreign keys to patient records."""

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    link_sides: tuple[str, str] = ("", "")

    class Meta:
        abstract = True
        ordering = ["id"]

    def __str__(self) -> str:
        ends = [
            f"{self._meta.get_field(side).related_model._meta.verbose_name} "
            f"{getattr(self, f'{side}_id')}"
            for side in self.link_sides
        ]
        return " ⇄ ".join(ends)

    @property
    def patient_id(self) -> int:
        return getattr(self, self.link_sides[0]).patient_id


@dataclass(frozen=True)
class LinkFamily:
    """One direction of a link family: the URL names `parent`, the body names `child`."""

    model: type[PatientLinkModel]
    parent: str
    child: str
    child_summary: type[serializers.Serializer]
    extra_fields: tuple[str, ...] = ()
    delete_message: str = "Link removed"
    serializer_base: type[serializers.ModelSerializer] = LenientModelSerializer
    # Further joins the serializer shows ("child__practitioner", "specific_pharmacy"), so a
    # list costs the same number of queries whatever its length.
    select_related: tuple[str, ...] = ()
    # The status of a new link: 201, or 200 where the contract says so.
    create_status: int = status.HTTP_201_CREATED

    def related(self, side: str):
        return self.model._meta.get_field(side).related_model

    def child_joins(self) -> list[str]:
        """The joins that start at the child record, as seen from the child."""
        prefix = f"{self.child}__"
        return [j.removeprefix(prefix) for j in self.select_related if j.startswith(prefix)]


def _link_serializer(family: LinkFamily) -> type[serializers.ModelSerializer]:
    child_id = f"{family.child}_id"
    attrs = {
        child_id: serializers.IntegerField(min_value=1, max_value=2**62),
        f"{family.parent}_id": serializers.IntegerField(read_only=True),
        family.child: family.child_summary(read_only=True),
        "Meta": type(
            "Meta",
            (),
            {
                "model": family.model,
                "fields": [
                    "id",
                    f"{family.parent}_id",
                    child_id,
                    *family.extra_fields,
                    family.child,
                    "created_at",
                    "updated_at",
                ],
                "read_only_fields": ["id", "created_at", "updated_at"],
            },
        ),
    }
    name = f"{family.model.__name__}From{family.parent.title().replace('_', '')}"
    return type(name, (family.serializer_base,), attrs)


def _bulk_serializer(family: LinkFamily) -> type[serializers.Serializer]:
    """{<child>_ids: [...], <extra fields>}: the extra fields apply to every new link."""

    def validate_ids(self, value):
        if not value:
            raise serializers.ValidationError("Give at least one id.")
        if len(set(value)) != len(value):
            raise serializers.ValidationError("An id is listed twice.")
        return value

    fields = [f"{family.child}_ids", *family.extra_fields]
    meta = type("Meta", (), {"model": family.model, "fields": fields})
    attrs = {
        "Meta": meta,
        f"{family.child}_ids": serializers.ListField(
            child=serializers.IntegerField(min_value=1, max_value=2**62), max_length=MAX_BULK
        ),
        f"validate_{family.child}_ids": validate_ids,
    }
    name = f"{family.model.__name__}BulkFrom{family.parent.title().replace('_', '')}"
    return type(name, (LenientModelSerializer,), attrs)


class LinkMessageSerializer(FastSerializer):
    status = serializers.CharField()
    message = serializers.CharField()


class LinkViewSet(ApiViewSet):
    family: LinkFamily
    permission_classes = [IsAuthenticated]
    pagination_class = None
    bulk_serializer_class: type[serializers.Serializer]

    # --- the two records --------------------------------------------------------------------

    def parent_record(self, level: Level = Level.VIEW):
        if not hasattr(self, "_parent"):
            model = self.family.related(self.family.parent)
            parent = (
                model.objects.visible_to(self.request.user)
                .filter(pk=self.kwargs["parent_id"])
                .first()
            )
            if parent is None:
                raise Http404(f"{model._meta.verbose_name.capitalize()} not found")
            self._parent = parent
        if level > Level.VIEW and not can_access(self.request.user, self._parent.patient_id, level):
            raise PermissionDenied("Your access to this patient does not allow changes.")
        return self._parent

    def _children(self, ids: list[int], parent) -> dict[int, models.Model]:
        model = self.family.related(self.family.child)
        children = model.objects.visible_to(self.request.user).filter(pk__in=ids)
        found = {c.pk: c for c in children.select_related(*self.family.child_joins())}
        missing = [i for i in ids if i not in found]
        if missing:
            label = model._meta.verbose_name.capitalize()
            raise Http404(f"{label} not found: {', '.join(map(str, missing))}")
        foreign = [i for i, c in found.items() if c.patient_id != parent.patient_id]
        if foreign:
            raise BusinessRuleError(
                f"{model._meta.verbose_name.capitalize()} {', '.join(map(str, foreign))} "
                "belongs to a different patient."
            )
        return found

    def get_queryset(self):
        family = self.family
        if getattr(self, "swagger_fake_view", False):  # schema generation: no parent record
            return family.model.objects.none()
        return (
            family.model.objects.filter(**{family.parent: self.parent_record()})
            .select_related(family.child, *family.select_related)
            .order_by("id")
        )

    def _announce(self, action, link, before, after, patient_id):
        user, address = self.request.user, client_ip(self.request)
        transaction.on_commit(
            lambda: record_changed.send(
                sender=type(link),
                user=user,
                instance=link,
                action=action,
                before=before,
                after=after,
                patient_id=patient_id,
                ip_address=address,
            )
        )

    # --- operations -------------------------------------------------------------------------

    def list(self, request, *args, **kwargs):
        return Response(self.get_serializer(self.get_queryset(), many=True).data)

    def create(self, request, *args, **kwargs):
        parent = self.parent_record(Level.EDIT)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        child = self._children([data.pop(f"{self.family.child}_id")], parent).popitem()[1]
        link = self._save_links(parent, [child], data, skip_existing=False)[0]
        return Response(self.get_serializer(link).data, status=self.family.create_status)

    def bulk(self, request, *args, **kwargs):
        parent = self.parent_record(Level.EDIT)
        serializer = self.bulk_serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        ids = data.pop(f"{self.family.child}_ids")
        children = self._children(ids, parent)
        links = self._save_links(parent, [children[i] for i in ids], data, skip_existing=True)
        return Response(self.get_serializer(links, many=True).data)

    def _save_links(self, parent, children, extra: dict, *, skip_existing: bool):
        family = self.family
        existing = set(
            family.model.objects.filter(
                **{family.parent: parent, f"{family.child}__in": children}
            ).values_list(f"{family.child}_id", flat=True)
        )
        if existing and not skip_existing:
            raise BusinessRuleError("These records are already linked.")
        created = []
        with transaction.atomic():
            for child in children:
                if child.pk in existing:
                    continue
                link = family.model(**{family.parent: parent, family.child: child}, **extra)
                link.full_clean()
                link.save()
                created.append(link)
                self._announce(
                    RecordAction.CREATED, link, None, model_snapshot(link), parent.patient_id
                )
        return created

    def _link(self):
        """The link the path names: by its own id, or (`child_id`) by the linked record's."""
        family = self.family
        if "child_id" in self.kwargs:
            child_id = self.kwargs["child_id"]
            found = self.get_queryset().filter(**{f"{family.child}_id": child_id})
        else:
            child_id = None
            found = self.get_queryset().filter(pk=self.kwargs["link_id"])
        # An id beyond any key matches nothing (and must not reach the database).
        wanted = child_id if child_id is not None else self.kwargs["link_id"]
        link = found.first() if wanted <= MAX_KEY else None
        if link is None:
            if child_id is None:
                raise Http404("Link not found")
            child = family.related(family.child)._meta.verbose_name
            parent = family.related(family.parent)._meta.verbose_name
            raise Http404(f"The {child} {child_id} is not linked to this {parent}")
        return link

    def update(self, request, *args, **kwargs):
        parent = self.parent_record(Level.EDIT)
        link = self._link()
        serializer = self.get_serializer(link, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        before = model_snapshot(link)
        linked = {f"{self.family.child}_id", f"{self.family.parent}_id"}
        with transaction.atomic():
            for name, value in serializer.validated_data.items():
                if name not in linked:  # the linked records never change here
                    setattr(link, name, value)
            link.full_clean()
            link.save()
            self._announce(
                RecordAction.UPDATED, link, before, model_snapshot(link), parent.patient_id
            )
        return Response(self.get_serializer(link).data)

    def destroy(self, request, *args, **kwargs):
        parent = self.parent_record(Level.EDIT)
        link = self._link()
        with transaction.atomic():
            before, link_id = model_snapshot(link), link.pk
            link.delete()
            link.pk = link_id
            self._announce(RecordAction.DELETED, link, before, None, parent.patient_id)
        return Response({"status": "success", "message": self.family.delete_message})


def link_urlpatterns(
    family: LinkFamily,
    *,
    base: str | None = None,
    item_by_child: bool = False,
    list_paths: tuple[str, ...] = (),
    create_paths: tuple[str, ...] = (),
    unlink_paths: tuple[str, ...] = (),
    tag: str,
) -> list:
    """URL patterns for one direction of a link family; every path names the parent as
    <int:parent_id>.

    - `base` ("conditions/<int:parent_id>/medications") gets list, link, bulk, update and
      delete; its item is addressed by the link's id, or with `item_by_child` by the linked
      record's id (`{base}/<int:child_id>`).
    - each of `list_paths` only lists, each of `create_paths` only links, and each of
      `unlink_paths` only unlinks, naming the linked record as <int:child_id>.
    """
    link_serializer = _link_serializer(family)
    bulk_serializer = _bulk_serializer(family)
    name = f"{family.model.__name__}From{family.parent.title().replace('_', '')}ViewSet"

    def bulk(self, request, *args, **kwargs):  # a method of its own, to carry its schema
        return LinkViewSet.bulk(self, request, *args, **kwargs)

    viewset = type(
        name,
        (LinkViewSet,),
        {
            "family": family,
            "serializer_class": link_serializer,
            "bulk_serializer_class": bulk_serializer,
            "bulk": extend_schema(
                tags=[tag], request=bulk_serializer, responses=link_serializer(many=True)
            )(bulk),
        },
    )
    viewset = extend_schema_view(
        list=extend_schema(tags=[tag]),
        create=extend_schema(tags=[tag], responses={family.create_status: link_serializer}),
        update=extend_schema(tags=[tag]),
        destroy=extend_schema(tags=[tag], responses=LinkMessageSerializer),
    )(viewset)
    patterns = []
    if base:
        item = f"{base}/<int:child_id>" if item_by_child else f"{base}/<int:link_id>"
        patterns += [
            path(base, viewset.as_view({"get": "list", "post": "create"})),
            path(f"{base}/bulk", viewset.as_view({"post": "bulk"})),
            path(item, viewset.as_view({"put": "update", "patch": "update", "delete": "destroy"})),
        ]
    patterns += [path(p, viewset.as_view({"get": "list"})) for p in list_paths]
    patterns += [path(p, viewset.as_view({"post": "create"})) for p in create_paths]
    patterns += [path(p, viewset.as_view({"delete": "destroy"})) for p in unlink_paths]
    return patterns
