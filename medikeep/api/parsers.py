"""Request parsers that refuse pathological bodies with a 400 instead of crashing."""

import codecs

from rest_framework.exceptions import ParseError
from rest_framework.parsers import (
    DataAndFiles,
    FormParser,
    JSONParser,
    MultiPartParser,
    get_encoding,
)
from rest_framework.utils import json  # refuses NaN and Infinity, as DRF's own parser does

NUL_REFUSED = "Text in the body may not contain NUL characters."


def _int_or_text(digits: str):
    # Python refuses to convert integers of more than a few thousand digits (a guard against
    # slow conversions) and its error names interpreter internals. Such a number is kept as
    # its text, so the field it was sent for refuses it like any other invalid value (422).
    try:
        return int(digits)
    except ValueError:
        return digits


class SafeJSONParser(JSONParser):
    """JSON whose nesting exhausts the interpreter's recursion limit is malformed input, and
    so is a NUL character in any string: PostgreSQL stores none (in text or JSON columns),
    and no field of this API has a use for one."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            text = codecs.getreader(get_encoding(parser_context or {}))(stream)
            data = json.load(text, parse_int=_int_or_text)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if _has_nul(data):
            raise ParseError(NUL_REFUSED)
        return data


class SafeFormParser(FormParser):
    """Form bodies get the JSON body's NUL rule: a field may carry JSON text that a JSON
    field decodes later (`answers={"q": "\\u0000"}`), so decodable JSON values are checked
    after decoding too."""

    def parse(self, stream, media_type=None, parser_context=None):
        data = super().parse(stream, media_type, parser_context)
        _refuse_nul_in_form(data)
        return data


class SafeMultiPartParser(MultiPartParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parsed: DataAndFiles = super().parse(stream, media_type, parser_context)
        _refuse_nul_in_form(parsed.data)
        return parsed


def _refuse_nul_in_form(data) -> None:
    # Uploaded files' names are not checked here: they are never stored as given.
    for value in _all_values(data):
        if "\x00" in value or _json_with_nul(value):
            raise ParseError(NUL_REFUSED)


def _all_values(query_dict):
    for _key, values in query_dict.lists():
        yield from values


def _json_with_nul(value: str) -> bool:
    if not value.lstrip().startswith(("{", "[", '"')):
        return False
    try:
        decoded = json.loads(value, parse_int=_int_or_text)
    except (ValueError, RecursionError):
        return False  # not JSON: a JSON field would refuse it on its own
    return _has_nul(decoded)


def _has_nul(data) -> bool:
    pending = [data]  # a loop, not recursion: the depth is whatever the client sent
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False
