"""skip/limit: plain numbers are read without the serializer, with the serializer's result."""

from __future__ import annotations

import pytest
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from medikeep.api.pagination import SkipLimitParams, skip_limit

QUERIES = [
    "",
    "skip=0",
    "skip=7&limit=3",
    "limit=1",
    "limit=100",
    "limit=500",  # capped
    "skip=1000000000&limit=1000000000",
    "skip=007&limit=010",
    "skip=&limit=",
    "limit= 5",
    "limit=5.0",
    "skip=2&skip=4",  # the last one counts
    "limit=0",
    "skip=-1",
    "limit=-5",
    "limit=abc",
    "skip=1000000001",
    "limit=99999999999",
    "limit=٣",  # a digit, but not an ASCII one
    "limit=" + "9" * 2000,
]


def request_for(query: str) -> Request:
    return Request(APIRequestFactory().get(f"/api/v1/medications?{query}"))


def through_the_serializer(request, default_limit=20, max_limit=100):
    params = SkipLimitParams(data=request.query_params)
    params.is_valid(raise_exception=True)
    limit = params.validated_data.get("limit") or default_limit
    return params.validated_data["skip"], min(limit, max_limit)


def outcome(read, request):
    try:
        return read(request)
    except ValidationError as exc:
        return exc.detail


@pytest.mark.parametrize("query", QUERIES)
def test_same_answer_as_the_serializer(query):
    request = request_for(query)
    fast = outcome(lambda r: skip_limit(r, default_limit=20, max_limit=100), request)
    assert fast == outcome(through_the_serializer, request)


def test_defaults_and_cap():
    assert skip_limit(request_for(""), default_limit=20, max_limit=100) == (0, 20)
    assert skip_limit(request_for("limit=500"), default_limit=20, max_limit=100) == (0, 100)


@pytest.mark.parametrize("query", ["limit=0", "skip=-1", "limit=abc"])
def test_junk_is_a_422_naming_the_parameter(alice_api, patient, query):
    response = alice_api.get(f"/api/v1/medications?{query}")
    assert response.status_code == 422
    assert set(response.json()["errors"]) == {query.split("=")[0]}
