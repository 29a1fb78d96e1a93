"""The serializer base of every patient-owned record type."""

from __future__ import annotations

import copy
import re
from functools import partial

from django.core.exceptions import NON_FIELD_ERRORS
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.http import QueryDict
from django.utils.functional import SimpleLazyObject
from rest_framework import serializers
from rest_framework.fields import get_error_detail
from rest_framework.settings import api_settings

from medikeep.api.exceptions import BusinessRuleError
from medikeep.api.representation import FastModelSerializer
from patients.access import Level, require_patient_access
from patients.models import Patient, PatientOwnedModel

BASE_FIELDS = ["id", "patient_id"]
TIMESTAMP_FIELDS = ["created_at", "updated_at"]


def choice_key(text: str) -> str:
    """A choice's comparison key: "Life Threatening" and "life_threatening" match."""
    return re.sub(r"[\s_-]+", "_", text.strip().lower())


def match_choice(text: str, values) -> str:
    """The stored choice value `text` means, or `text` lower-cased when none matches."""
    wanted = choice_key(text)
    return next((v for v in values if choice_key(str(v)) == wanted), text.strip().lower())


class LenientChoiceField(serializers.ChoiceField):
    """A choice read case-insensitively, with "-", "_" and spaces alike.

    The reference lower-cases these values and the contract's own examples send
    "Intramuscular"; unknown values are still refused (422).
    """

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip():
            data = match_choice(data, self.choice_strings_to_values.values())
        return super().to_internal_value(data)


def tags_field():
    return serializers.ListField(
        child=serializers.CharField(max_length=200), required=False, max_length=100
    )


class LenientModelSerializer(FastModelSerializer):
    # Reads input as the reference's clients send it: choices in any case or spelling of
    # "-", "_" and spaces, and null or "" for an empty optional field (prepare_input). Every
    # `<relation>_id` in Meta.fields is the relation's writable id (422 for an unknown one).
    # (A comment, not a docstring: the schema would show a docstring on every subclass.)

    serializer_choice_field = LenientChoiceField

    def build_field(self, field_name, info, model_class, nested_depth):
        relation = info.relations.get(field_name.removesuffix("_id"))
        if field_name.endswith("_id") and relation is not None and not relation.to_many:
            model_field = relation.model_field
            return serializers.PrimaryKeyRelatedField, {
                "source": model_field.name,
                "queryset": relation.related_model._default_manager.all(),
                "required": not (model_field.null or model_field.blank),
                "allow_null": model_field.null,
                "error_messages": {
                    "does_not_exist": f"No {relation.related_model._meta.verbose_name} "
                    "has the id {pk_value}."
                },
            }
        return super().build_field(field_name, info, model_class, nested_depth)

    def to_internal_value(self, data):
        if isinstance(data, dict) and not isinstance(data, QueryDict):
            data = self.prepare_input(dict(data))
        return super().to_internal_value(data)

    def prepare_input(self, data: dict) -> dict:
        """Reads the empty values clients send for fields they leave empty (§1.7 of the web
        client document): null for text means "" (or "not given" when the field takes no
        blank), "" for a date, number, choice or id means null (or "not given"). A required
        field keeps the value, so its error stays "required"."""
        for name, field in self.fields.items():
            if name not in data or field.read_only:
                continue
            value = data[name]
            if value is None and not field.allow_null:
                if getattr(field, "allow_blank", False):
                    data[name] = ""
                elif not field.required:
                    del data[name]
            elif is_blank(value) and not isinstance(field, TEXT_FIELDS):
                if getattr(field, "allow_blank", False):
                    continue
                if field.allow_null:
                    data[name] = None
                elif not field.required:
                    del data[name]
        return data


# Fields whose "" is a value of its own (text); for every other field "" means "no value".
TEXT_FIELDS = (serializers.CharField,)


def is_blank(value) -> bool:
    return isinstance(value, str) and not value.strip()


def is_empty(value) -> bool:
    return value is None or is_blank(value)


def alias_field(field: serializers.Field, canonical: str) -> serializers.Field:
    """A second name of `field`: the same type, limits and validators, reading and writing
    the canonical field's attribute."""
    kwargs = {
        **field._kwargs,
        "source": field._kwargs.get("source") or canonical,
        "help_text": f"Another name of {canonical}.",
    }
    if not kwargs.get("read_only"):
        kwargs["required"] = False
    return type(field)(*field._args, **kwargs)


class PatientOwnedSerializer(LenientModelSerializer):
    """Validates through the model (`full_clean`), so API, admin and commands share rules.

    - `patient_id` defaults to the request's target patient and must be EDIT-able by the user;
      records never move between patients on update.
    - Every `<relation>_id` in Meta.fields is a writable id of that relation; ids of other
      patients' records are invisible (422) and ids of the user's other patients refused (400).
    """

    patient_id = serializers.IntegerField(required=False)

    # {alias: canonical}: a second name the reference's clients use for a field. The base
    # builds the alias from the canonical field (same type and limits, source=canonical), so
    # it is declared only here: both names are accepted and returned, sending both with
    # different values is a 422, and a canonical field the model requires is required on
    # create under either name.
    field_aliases: dict[str, str] = {}
    # Canonical names a create must give (under either name).
    required_on_create: tuple[str, ...] = ()
    # Canonical names made optional because they may come under their alias (set by
    # _with_aliases when the class's fields are built).
    _required_by_alias: tuple[str, ...] = ()

    def prepare_input(self, data: dict) -> dict:
        data = super().prepare_input(data)
        for alias, canonical in self.field_aliases.items():
            if alias not in data or canonical not in data:
                continue
            if is_empty(data[alias]) and not is_empty(data[canonical]):
                del data[alias]  # the other name carries the value
            elif is_empty(data[canonical]) and not is_empty(data[alias]):
                del data[canonical]
            elif data[alias] != data[canonical]:
                unchanged = self._unchanged_name(data, alias, canonical)
                if unchanged is None:
                    raise serializers.ValidationError(
                        {alias: [f"{alias} and {canonical} name the same field; send one value."]}
                    )
                del data[unchanged]
        return data

    def _unchanged_name(self, data: dict, alias: str, canonical: str) -> str | None:
        """On an update, the name still carrying the stored value, when the other carries a
        new one: an edit form sends back every field it loaded and changes one name of it."""
        if self.instance is None:
            return None
        field = self.fields[canonical]
        stored = field.to_representation(field.get_attribute(self.instance))
        same = [name for name in (alias, canonical) if str(data[name]) == str(stored)]
        return same[0] if len(same) == 1 else None

    @classmethod
    def _build_field_template(cls, serializer):
        return cls._with_aliases(super()._build_field_template(serializer))

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None:
            return fields
        for field in fields.values():
            queryset = getattr(field, "queryset", None)
            if queryset is not None and issubclass(queryset.model, PatientOwnedModel):
                # Built when an id is looked up (input, forms), not for every response.
                field.queryset = SimpleLazyObject(partial(visible_records, queryset.model, request))
        return fields

    @classmethod
    def _with_aliases(cls, fields):
        # Built once per class (with the other fields), so canonical names that became
        # optional here are the class's too.
        if not cls.field_aliases:
            cls._required_by_alias = ()
            return fields
        required_by_alias = []
        aliases = {}
        for alias, canonical in cls.field_aliases.items():
            field = fields[canonical]
            if field.required:  # it may now come under the alias: checked in validate()
                field.required = False
                field.help_text = field.help_text or f"Required on create (or give {alias})."
                required_by_alias.append(canonical)
            aliases.setdefault(canonical, []).append((alias, alias_field(field, canonical)))
        cls._required_by_alias = tuple(required_by_alias)
        ordered = {}
        for name, field in fields.items():
            ordered[name] = field
            ordered.update(aliases.get(name, ()))
        return ordered

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if self.instance is None:
            required = (*self.required_on_create, *self._required_by_alias)
            missing = {
                name: ["This field is required."]
                for name in dict.fromkeys(required)
                if attrs.get(self.fields[name].source if name in self.fields else name)
                in (None, "")
            }
            if missing:
                raise serializers.ValidationError(missing)
            view = self.context["view"]
            # Values the URL fixes (the parent record of a nested path) win over the body.
            attrs.update(getattr(view, "implied_values", dict)())
            requested = attrs.pop("patient_id", None) or view.default_patient_id()
            attrs["patient_id"] = require_patient_access(
                self.context["request"].user, requested, Level.EDIT
            )
            patient_id = attrs["patient_id"]
        else:
            attrs.pop("patient_id", None)
            patient_id = self.instance.patient_id
        self._check_same_patient(attrs, patient_id)
        return self._full_clean(attrs)

    @staticmethod
    def _check_same_patient(attrs, patient_id: int) -> None:
        for name, value in attrs.items():
            if isinstance(value, PatientOwnedModel) and value.patient_id != patient_id:
                label = value._meta.verbose_name
                raise BusinessRuleError(
                    f"The {label} {value.pk} belongs to another patient ({name})."
                )

    def _full_clean(self, attrs: dict) -> dict:
        return clean_through_model(self.Meta.model, self.instance, attrs, exclude=["patient"])


def visible_records(model, request):
    return model.objects.visible_to(request.user)


def clean_through_model(model, instance, attrs: dict, *, exclude=(), uniqueness=True) -> dict:
    """Runs the model's full_clean on `attrs` applied to a copy of `instance` (or a new row)
    and returns the attrs as clean() normalised them; model errors become a 422.

    The one way serializers validate through the model, so API, admin and commands share
    every rule. `uniqueness=False` skips unique and constraint checks, for serializers that
    answer a clash themselves (409, not 422)."""
    candidate = copy.copy(instance) if instance is not None else model()
    concrete = {f.name for f in model._meta.concrete_fields} | {
        f.attname for f in model._meta.concrete_fields
    }
    for name, value in attrs.items():
        if name in concrete:
            setattr(candidate, name, value)
    try:
        candidate.full_clean(
            exclude=list(exclude), validate_unique=uniqueness, validate_constraints=uniqueness
        )
    except DjangoValidationError as exc:
        detail = get_error_detail(exc)
        if isinstance(detail, dict) and NON_FIELD_ERRORS in detail:
            detail[api_settings.NON_FIELD_ERRORS_KEY] = detail.pop(NON_FIELD_ERRORS)
        raise serializers.ValidationError(detail) from exc
    # clean() may normalise values (tags, codes, names): keep what the model made of them.
    return {name: getattr(candidate, name) if name in concrete else v for name, v in attrs.items()}


class PatientBriefSerializer(FastModelSerializer):
    """The patient a record belongs to, as records show it."""

    name = serializers.CharField(source="full_name", read_only=True)

    class Meta:
        model = Patient
        fields = ["id", "name"]
        read_only_fields = fields


def model_snapshot(instance: models.Model) -> dict:
    """Field values of a row for the activity log (before/after)."""
    return {
        field.attname: getattr(instance, field.attname) for field in instance._meta.concrete_fields
    }
