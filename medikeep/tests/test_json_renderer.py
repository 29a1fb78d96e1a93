"""The API's orjson renderer writes the bytes DRF's JSONRenderer writes."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.serializer_helpers import ReturnDict, ReturnList

from medikeep.api.renderers import FastJSONRenderer

NEW_YORK = ZoneInfo("America/New_York")

VALUES = {
    "none": None,
    "bools": [True, False],
    "ints": [0, -1, 2**63 - 1, -(2**63)],
    "floats": [0.1, 1.0, -0.0, 98.6, 1e16, 1.5e300, 12345.678, 0.0001],
    "decimals": [
        Decimal("98.6"),
        Decimal("0.10"),
        Decimal("-3"),
        Decimal("1E+2"),
        Decimal("0.00001"),
    ],
    "text": ["", "plain", "Zolpidème – 5 mg", "中文", "emoji 🙂", 'quote " slash \\ /'],
    "controls": "\x00\x01\x1f\t\n\r\b\f\x7f",
    "separators": "line\u2028paragraph\u2029end",
    "utc": dt.datetime(2024, 3, 1, 8, 30, 0, 123456, tzinfo=dt.UTC),
    "utc_no_micro": dt.datetime(2024, 3, 1, 8, 30, tzinfo=dt.UTC),
    "zoned": dt.datetime(2024, 7, 1, 8, 30, tzinfo=NEW_YORK),
    "naive": dt.datetime(2024, 3, 1, 8, 30),
    "date": dt.date(2024, 2, 29),
    "time": dt.time(7, 5, 9, 1000),
    "duration": dt.timedelta(hours=1, seconds=3),
    "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
    "lazy": gettext_lazy("This field is required."),
    "bytes": b"raw",
    "tuple": (1, "two", None),
    "set": {"only"},
    "nested": {"a": [{"b": {"c": []}}, {}]},
    "drf": ReturnDict({"x": ReturnList([1, 2], serializer=None)}, serializer=None),
}


def both(data, media_type=None, context=None) -> tuple[bytes, bytes]:
    return (
        FastJSONRenderer().render(data, media_type, context),
        JSONRenderer().render(data, media_type, context),
    )


@pytest.mark.parametrize("name", list(VALUES))
def test_each_kind_of_value_is_written_as_drf_writes_it(name):
    fast, drf = both({name: VALUES[name]})
    assert fast == drf


def test_a_whole_body_is_written_as_drf_writes_it():
    fast, drf = both([VALUES, VALUES])
    assert fast == drf
    assert b"\\u2028" in fast and "è".encode() in fast  # escaped as DRF does; text as is


@pytest.mark.parametrize(
    "data",
    [
        {"big": 2**64},  # beyond orjson's integers
        {2: "non-string key", None: "x", False: "y"},
        {"deep": json.loads("[" * 300 + "]" * 300)},  # beyond orjson's nesting
    ],
    ids=["big-int", "non-str-keys", "deep"],
)
def test_what_orjson_cannot_write_falls_back_to_drf(data):
    fast, drf = both(data)
    assert fast == drf


def test_an_indented_body_on_request_is_drfs():
    fast, drf = both(VALUES, "application/json; indent=4")
    assert fast == drf and b"\n    " in fast


def test_nothing_is_an_empty_body():
    assert both(None) == (b"", b"")


@pytest.mark.parametrize(
    "bad", [Decimal("NaN"), Decimal("Infinity"), object()], ids=["nan", "inf", "object"]
)
def test_what_drf_refuses_is_refused_the_same_way(bad):
    with pytest.raises(Exception) as drf_error:
        JSONRenderer().render({"v": bad})
    with pytest.raises(type(drf_error.value)):
        FastJSONRenderer().render({"v": bad})


def test_tiny_floats_are_the_same_numbers():
    # The one documented difference: Python writes 3e-05, orjson 0.00003 (the same value).
    values = [3e-05, 1.5e-07, -2.5e-300]
    fast, drf = both(values)
    assert json.loads(fast) == json.loads(drf) == values


def test_the_api_answers_with_it(alice_api):
    response = alice_api.get("/api/v1/users/me")
    assert isinstance(response.accepted_renderer, FastJSONRenderer)
    assert response["Content-Type"] == "application/json"
