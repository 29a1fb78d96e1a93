"""What the record serializer base gives every record type (patients/core/serializers.py):
empty values read as "not given" (§1.7 of the web-client document) and second field names
declared once, in `field_aliases`."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from patients.core.serializers import PatientOwnedSerializer
from records.tests.test_contract import CASES, url

pytestmark = pytest.mark.django_db


def writable_fields(case) -> dict[str, serializers.Field]:
    serializer_class = next(
        route.viewset.serializer_class for route in ROUTES if route.prefix == case.prefix
    )
    return {name: f for name, f in serializer_class().fields.items() if not f.read_only}


def _routes():
    from django.urls import get_resolver

    from patients.core.routing import RECORD_ROUTES

    get_resolver().url_patterns  # noqa: B018  (importing the URLconf registers the routes)
    return list(RECORD_ROUTES)


ROUTES = _routes()
SERIALIZERS = sorted(
    {route.viewset.serializer_class for route in ROUTES}, key=lambda cls: cls.__name__
)
ALIASED = [cls for cls in SERIALIZERS if cls.field_aliases]


def optional(field) -> bool:
    return not field.required and field.field_name not in ("patient_id", "tags")


@pytest.fixture(params=CASES, ids=lambda case: case.prefix)
def case(request):
    return request.param


class TestEmptyValues:
    """An empty value means what leaving the key out means: the answer is the same."""

    SKIP = ("id", "created_at", "updated_at")

    def post_both_ways(self, case, api, patient, empties: dict):
        body = case.body(patient)
        empties = {k: v for k, v in empties.items() if k not in body}
        without = api.post(url(case), body, format="json")
        with_empties = api.post(url(case), {**body, **empties}, format="json")
        assert without.status_code == 201, without.content
        assert with_empties.status_code == 201, (list(empties), with_empties.content)
        plain, emptied = without.json(), with_empties.json()
        fields = writable_fields(case)
        for name in empties:
            if isinstance(fields[name], serializers.DateTimeField):  # may default to "now"
                assert (emptied[name] is None) == (plain[name] is None), name
            elif name in plain:
                assert emptied[name] == plain[name], name

    def test_null_for_every_optional_text_field_is_not_given(self, case, alice_api, patient):
        texts = [
            name
            for name, field in writable_fields(case).items()
            if isinstance(field, serializers.CharField) and not field.allow_null and optional(field)
        ]
        self.post_both_ways(case, alice_api, patient, dict.fromkeys(texts))

    def test_blank_for_every_optional_other_field_is_no_value(self, case, alice_api, patient):
        others = [
            name
            for name, field in writable_fields(case).items()
            if not isinstance(field, serializers.CharField | serializers.BooleanField)
            and optional(field)
            and not getattr(field, "allow_blank", False)
        ]
        self.post_both_ways(case, alice_api, patient, dict.fromkeys(others, ""))

    def test_a_put_with_blank_dates_clears_them(self, alice_api, patient):
        # The insurance page's PUT: every key, "" for empty ones, no patient_id.
        from records.tests.factories import InsuranceFactory

        insurance = InsuranceFactory(patient=patient, expiration_date="2030-01-01")
        response = alice_api.put(
            f"/api/v1/insurances/{insurance.pk}",
            {"expiration_date": "", "group_number": "", "notes": None, "status": ""},
            format="json",
        )
        assert response.status_code == 200, response.content
        assert response.json()["expiration_date"] is None
        assert response.json()["status"] == insurance.status  # no value: unchanged

    def test_a_required_field_still_says_required(self, alice_api, patient):
        response = alice_api.post(
            "/api/v1/procedures/",
            {"procedure_name": "Colonoscopy", "status": "completed", "date": None},
            format="json",
        )
        assert response.status_code == 422
        assert response.json()["errors"] == {"procedure_date": ["This field is required."]}


class TestAliases:
    @pytest.mark.parametrize("serializer_class", ALIASED, ids=lambda cls: cls.__name__)
    def test_an_alias_is_declared_once(self, serializer_class):
        fields = serializer_class().fields
        for alias, canonical in serializer_class.field_aliases.items():
            assert alias not in serializer_class._declared_fields, alias
            assert alias not in serializer_class.Meta.fields, alias
            field, original = fields[alias], fields[canonical]
            assert type(field) is type(original)
            assert field.source == original.source
            assert field.help_text == f"Another name of {canonical}."
            for limit in ("max_length", "min_length", "allow_null", "allow_blank"):
                assert getattr(field, limit, None) == getattr(original, limit, None), limit
            assert list(fields).index(alias) == list(fields).index(canonical) + 1

    @pytest.mark.parametrize("serializer_class", SERIALIZERS, ids=lambda cls: cls.__name__)
    def test_no_field_is_written_under_two_names_but_through_field_aliases(self, serializer_class):
        seen: dict[str, str] = {}
        aliases = serializer_class.field_aliases
        for name, field in serializer_class().fields.items():
            if field.read_only or name in aliases:
                continue
            assert field.source not in seen, f"{name} and {seen[field.source]}"
            seen[field.source] = name

    def test_the_base_builds_aliases_from_field_aliases(self):
        from records.models import Condition

        class Sample(PatientOwnedSerializer):
            field_aliases = {"title": "condition_name", "noted_on": "onset_date"}

            class Meta:
                model = Condition
                fields = ["id", "condition_name", "onset_date"]

        fields = Sample().fields
        assert list(fields) == ["id", "condition_name", "title", "onset_date", "noted_on"]
        assert not fields["condition_name"].required and not fields["title"].required
        assert isinstance(fields["noted_on"], serializers.DateField)
        assert fields["noted_on"].allow_null
        assert fields["title"].max_length == 500

    @pytest.mark.parametrize(
        ("prefix", "body", "alias", "canonical"),
        [
            (
                "procedures",
                {"procedure_name": "Biopsy", "status": "completed"},
                "date",
                "procedure_date",
            ),
            ("conditions", {"status": "active"}, "diagnosis", "condition_name"),
            ("encounters", {"reason": "Checkup"}, "encounter_date", "date"),
            (
                "insurances",
                {"insurance_type": "medical", "effective_date": "2024-01-01"},
                "provider_name",
                "company_name",
            ),
        ],
    )
    def test_either_name_both_returned_and_a_clash_is_422(
        self, alice_api, patient, prefix, body, alias, canonical
    ):
        value = "2024-02-03" if "date" in canonical else "Acme Health"
        other = "2024-02-04" if "date" in canonical else "Other Name"
        created = alice_api.post(f"/api/v1/{prefix}/", {**body, alias: value}, format="json")
        assert created.status_code == 201, created.content
        assert created.json()[alias] == created.json()[canonical] == value
        same = alice_api.post(
            f"/api/v1/{prefix}/", {**body, alias: value, canonical: value}, format="json"
        )
        assert same.status_code == 201, same.content
        clash = alice_api.post(
            f"/api/v1/{prefix}/", {**body, alias: value, canonical: other}, format="json"
        )
        assert clash.status_code == 422
        assert alias in clash.json()["errors"]
        missing = alice_api.post(f"/api/v1/{prefix}/", body, format="json")
        assert missing.status_code == 422
        assert canonical in missing.json()["errors"]
        record_id = created.json()["id"]
        renamed = alice_api.put(f"/api/v1/{prefix}/{record_id}", {alias: other}, format="json")
        assert renamed.status_code == 200 and renamed.json()[canonical] == other
