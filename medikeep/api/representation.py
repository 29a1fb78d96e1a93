"""The fast read path under every model serializer of the API.

DRF builds a ModelSerializer's fields by introspecting the model for every serializer instance
(every request), and renders every row through a generator of fields, each with its own
get_attribute and to_representation. `FastModelSerializer` does the introspection once per
class and the field lookup once per serializer: a row is then a loop over (name, read,
convert) triples. The output is exactly DRF's (same keys, order and values; tested for every
record type in patients/tests/test_fast_representation.py).
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from operator import attrgetter

from django.core.exceptions import ObjectDoesNotExist
from rest_framework import serializers
from rest_framework.fields import Field, SkipField
from rest_framework.relations import PKOnlyObject, PrimaryKeyRelatedField
from rest_framework.serializers import BaseSerializer
from rest_framework.settings import ISO_8601, api_settings


def _identity(value):
    return value


# Field methods whose to_representation is a plain conversion: the conversion is called
# directly (a bound method call and its checks cost more than the conversion itself).
_PLAIN = {
    serializers.CharField.to_representation: str,
    serializers.IntegerField.to_representation: int,
    serializers.FloatField.to_representation: float,
}


def _fresh_copy(field: Field) -> Field:
    """An unbound copy of a template field, for one serializer instance.

    A field shares its configuration with the template: a shallow copy that bind() then
    gives its own name, parent and source; a list's or dict's child is copied the same way
    and bound to the copy. Nested serializers are deep-copied as DRF does (their own fields
    come from their class's template).
    """
    if isinstance(field, BaseSerializer) or hasattr(field, "child_relation"):
        return field.__deepcopy__({})
    copy = field.__class__.__new__(field.__class__)
    copy.__dict__.update(field.__dict__)
    # The two containers code commonly changes in place on a bound field get their own.
    copy.error_messages = dict(field.error_messages)
    if "_validators" in field.__dict__:
        copy._validators = list(field._validators)
    if "child" in field.__dict__:  # ListField, DictField …: the child is bound to its list
        child = copy.child = _fresh_copy(field.child)
        child.source = field.child._kwargs.get("source")
        child.bind(field_name="", parent=copy)
    return copy


class FastSerializer(serializers.Serializer):
    # A plain Serializer whose declared fields are copied cheaply per instance: DRF
    # deep-copies every declared field (and each nested serializer's fields) for every
    # serializer it builds, which cost health's report about 0.4 ms. Subclasses that
    # change fields per request do it in get_fields() after super(), as with DRF.

    def get_fields(self):
        return {name: _fresh_copy(field) for name, field in self._declared_fields.items()}


class FastModelSerializer(serializers.ModelSerializer):
    # A ModelSerializer whose fields are built once per class and whose rows are rendered by
    # a plan worked out once per serializer instance. Rules for subclasses: `build_field`,
    # `get_field_names` and `get_extra_kwargs` depend on the class only (not on the request
    # or instance); per-request changes go in get_fields() after super(). A subclass that
    # overrides to_representation and calls super() keeps the fast path.
    # (A comment, not a docstring: the schema would show a docstring on every subclass.)

    @classmethod
    def _field_template(cls) -> dict[str, Field]:
        template = cls.__dict__.get("_cached_field_template")
        if template is None:
            template = cls._build_field_template(cls())
            cls._cached_field_template = template
        return template

    @classmethod
    def _build_field_template(cls, serializer) -> dict[str, Field]:
        """The unbound fields of the class, as DRF's ModelSerializer.get_fields builds them;
        subclasses add what is the same for every instance (second names …)."""
        return serializers.ModelSerializer.get_fields(serializer)

    def get_fields(self):
        return {name: _fresh_copy(field) for name, field in self._field_template().items()}

    # --- reading ------------------------------------------------------------------------

    def to_representation(self, instance):
        plan = self.__dict__.get("_row_plan")
        if plan is None:
            plan = self._row_plan = self._build_row_plan()
        if not isinstance(instance, self.Meta.model):  # dicts, stand-in objects …
            return super().to_representation(instance)
        row = {}
        for name, read, convert, checked in plan:
            if checked:  # DRF's own get_attribute: it may skip, or give a PKOnlyObject
                try:
                    value = read(instance)
                except SkipField:
                    continue
                if value is None or (isinstance(value, PKOnlyObject) and value.pk is None):
                    row[name] = None
                    continue
            else:
                value = read(instance)
                if value is None:
                    row[name] = None
                    continue
            row[name] = convert(value)
        return row

    def _build_row_plan(self) -> list[tuple]:
        """(name, read, convert, checked) per readable field, in the fields' order."""
        meta = self.Meta.model._meta
        columns = {f.attname for f in meta.concrete_fields}  # with the ids of foreign keys
        foreign_keys = {f.name: f.attname for f in meta.concrete_fields if f.is_relation}
        plan = []
        for field in self._readable_fields:
            kind = type(field)
            attribute = field.source_attrs[0] if len(field.source_attrs) == 1 else None
            if attribute in columns and kind.get_attribute is Field.get_attribute:
                # A column: read as DRF reads it (getattr; a column's value is not callable).
                plan.append(
                    (field.field_name, attrgetter(attribute), self._converter(field), False)
                )
            elif (
                attribute in foreign_keys
                and isinstance(field, PrimaryKeyRelatedField)
                and field.pk_field is None
                and kind.get_attribute is PrimaryKeyRelatedField.get_attribute
                and kind.to_representation is PrimaryKeyRelatedField.to_representation
            ):
                # A foreign key shown as its id: DRF's PKOnlyObject reads the id column too.
                plan.append(
                    (field.field_name, attrgetter(foreign_keys[attribute]), _identity, False)
                )
            elif attribute in foreign_keys and kind.get_attribute is Field.get_attribute:
                # The related record (a nested summary): read as DRF reads it.
                read = partial(_related_record, name=attribute)
                plan.append((field.field_name, read, self._converter(field), False))
            else:
                plan.append((field.field_name, field.get_attribute, self._converter(field), True))
        return plan

    @staticmethod
    def _converter(field: Field):
        method = type(field).to_representation
        if method in _PLAIN:
            return _PLAIN[method]
        if (
            method is serializers.DateTimeField.to_representation
            and type(field).enforce_timezone is serializers.DateTimeField.enforce_timezone
            and type(field).default_timezone is serializers.DateTimeField.default_timezone
            and not hasattr(field, "timezone")
            and getattr(field, "format", api_settings.DATETIME_FORMAT) == ISO_8601
        ):
            # DRF looks the current timezone up for every value; it is fixed for a request.
            zone = field.default_timezone()
            if zone is not None:
                return partial(_iso_datetime, zone=zone, fallback=field.to_representation)
        return field.to_representation


def _related_record(instance, *, name):
    try:
        return getattr(instance, name)
    except ObjectDoesNotExist:  # an id without its row: DRF shows None too
        return None


def _iso_datetime(value, *, zone, fallback):
    """DRF's ISO 8601 of an aware datetime in `zone` ("Z" for UTC); anything else is DRF's."""
    if value.__class__ is not datetime or value.tzinfo is None:
        return fallback(value)
    try:
        text = value.astimezone(zone).isoformat()
    except OverflowError:
        return fallback(value)  # DRF's error
    return text[:-6] + "Z" if text.endswith("+00:00") else text
