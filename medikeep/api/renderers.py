"""The API's JSON renderer: orjson, writing what DRF's JSONRenderer writes."""

from __future__ import annotations

import decimal
import math

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_DRF_ENCODER = JSONEncoder()
# orjson writes datetimes in its own form ("+00:00", not "Z"): they go through DRF's encoder.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME
# DRF escapes these two (valid JSON, but line breaks to older JavaScript engines). Both are
# encoded as E2 80 A8/A9: the one-byte search for E2 is what every body pays.
_LINE_SEPARATOR = "\u2028".encode()
_PARAGRAPH_SEPARATOR = "\u2029".encode()


def _default(value):
    if isinstance(value, decimal.Decimal):
        # DRF writes a Decimal as the float Python prints; non-finite ones are an error.
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("Out of range float values are not JSON compliant")
        return orjson.Fragment(repr(number))
    return _DRF_ENCODER.default(value)


class FastJSONRenderer(JSONRenderer):
    """Compact UTF-8 JSON as DRF writes it (Decimal as a number, datetimes in ISO 8601 with
    "Z", lazy strings, UUIDs, text unescaped), several times faster.

    What orjson cannot write DRF's way (an indented body on request, integers beyond 64
    bits, keys that are not strings, anything orjson refuses) is left to DRF's renderer.
    Two differences remain, both in float values a record never holds: a float below 1e-4
    is written 0.00003 or 3e-7 where Python writes 3e-05 or 3e-07 (the same number), and
    NaN or an infinity is written null where DRF fails.
    """

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if (
            not self.compact
            or self.ensure_ascii
            or self.get_indent(accepted_media_type, renderer_context or {}) is not None
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            body = orjson.dumps(data, default=_default, option=_OPTIONS)
        except TypeError:  # orjson.JSONEncodeError, whatever the cause
            return super().render(data, accepted_media_type, renderer_context)
        if b"\xe2" in body and (_LINE_SEPARATOR in body or _PARAGRAPH_SEPARATOR in body):
            body = body.replace(_LINE_SEPARATOR, b"\\u2028").replace(
                _PARAGRAPH_SEPARATOR, b"\\u2029"
            )
        return body
