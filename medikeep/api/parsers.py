"""Request parsers that refuse pathological bodies with a 400 instead of crashing."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

NUL_REFUSED = "Text in the body may not contain NUL characters."


class SafeJSONParser(JSONParser):
    """JSON whose nesting exhausts the interpreter's recursion limit is malformed input, and
    so is a NUL character in any string: PostgreSQL stores none (in text or JSON columns),
    and no field of this API has a use for one."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - the body is nested too deeply.") from exc
        if _has_nul(data):
            raise ParseError(NUL_REFUSED)
        return data


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
