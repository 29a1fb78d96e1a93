"""Serving a stored file: streamed from storage, with validators, byte ranges and the
headers that keep a browser from treating it as a page of ours."""

from __future__ import annotations

import itertools
import re

from django.http import HttpResponse, StreamingHttpResponse
from django.utils.http import content_disposition_header, http_date, parse_http_date_safe

from files import storage
from files.models import EntityFile

# Types a browser could run as a document of our origin if shown inline are sent as text.
_AS_TEXT = ("text/", "application/json", "application/xml", "application/csv")
# Inline views cannot run script or reach anything: PDFs are left out of the sandbox because
# browsers refuse to start their PDF viewer inside one; their own viewer isolates them.
_SANDBOX = (
    "sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"
)
_PDF_POLICY = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; object-src 'self'"
)

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _wanted_range(header: str, size: int) -> tuple[int, int] | str | None:
    """(start, end) inclusive, "unsatisfiable", or None to send the whole file (no header,
    a malformed one or several ranges: RFC 9110 lets a server answer those in full)."""
    match = _RANGE.match(header.replace(" ", ""))
    if not match or (not match[1] and not match[2]):
        return None
    first, last = match[1], match[2]
    if not first:  # "-500": the last 500 bytes
        length = int(last)
        if length == 0:
            return "unsatisfiable"
        return max(0, size - length), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size:
        return "unsatisfiable"
    if end < start:
        return None
    return start, end


def _content_type(entity_file: EntityFile) -> str:
    mime = entity_file.file_type or "application/octet-stream"
    if mime.startswith(_AS_TEXT):
        return "text/plain; charset=utf-8"
    return mime


def file_response(request, entity_file: EntityFile, *, as_attachment: bool) -> HttpResponse:
    size = entity_file.file_size
    etag = f'"{entity_file.sha256}"'
    modified = entity_file.uploaded_at.timestamp()
    headers = {
        "Content-Type": _content_type(entity_file),
        "Accept-Ranges": "bytes",
        "ETag": etag,
        "Last-Modified": http_date(modified),
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": content_disposition_header(as_attachment, entity_file.file_name),
    }
    if not as_attachment:
        headers["Content-Security-Policy"] = (
            _PDF_POLICY if entity_file.file_type == "application/pdf" else _SANDBOX
        )

    if _not_modified(request, etag, modified):
        response = HttpResponse(status=304)
        for name in ("ETag", "Last-Modified", "Accept-Ranges"):
            response[name] = headers[name]
        return response

    wanted = None
    range_header = request.headers.get("Range")
    if range_header and _if_range_holds(request, etag, modified):
        wanted = _wanted_range(range_header, size)
    if wanted == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
        return response

    start, end = wanted if wanted else (0, size - 1)
    length = end - start + 1
    status = 206 if wanted else 200
    if request.method == "HEAD":
        response = HttpResponse(status=status)
    else:
        response = StreamingHttpResponse(_opened(entity_file, start, end), status=status)
    for name, value in headers.items():
        response[name] = value
    response["Content-Length"] = str(length)
    if wanted:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    return response


def remote_file_response(request, entity_file: EntityFile, *, as_attachment: bool):
    """A file kept on a document back-end, streamed through our server with the uploader's
    saved credentials (files.backends.remote). The same type, disposition and sandbox headers
    as a local file; no byte ranges, validators or 304s (the back-end's document may change
    under the same row), so Accept-Ranges says none."""
    from files.backends.remote import open_remote

    headers = {
        "Content-Type": _content_type(entity_file),
        "Accept-Ranges": "none",
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff",
        "Content-Disposition": content_disposition_header(as_attachment, entity_file.file_name),
    }
    if not as_attachment:
        headers["Content-Security-Policy"] = (
            _PDF_POLICY if entity_file.file_type == "application/pdf" else _SANDBOX
        )
    if request.method == "HEAD":
        response = HttpResponse(status=200)
        if entity_file.file_size:
            response["Content-Length"] = str(entity_file.file_size)
    else:
        content = open_remote(entity_file)  # raises (502/504/404) before the status line
        response = StreamingHttpResponse(content.chunks, status=200)
        if content.size is not None:
            response["Content-Length"] = str(content.size)
    for name, value in headers.items():
        response[name] = value
    return response


class StoredFileMissing(Exception):
    pass


def _opened(entity_file: EntityFile, start: int, end: int):
    """The byte stream, with its first chunk already read: a missing object must turn into
    an error answer before the status line goes out, not into a truncated 200."""
    try:
        chunks = storage.stream(entity_file.stored_name, start, end)
        first = next(chunks, b"")
    except FileNotFoundError as exc:
        raise StoredFileMissing(entity_file.pk) from exc
    return itertools.chain([first], chunks)


def _not_modified(request, etag: str, modified: float) -> bool:
    if_none_match = request.headers.get("If-None-Match")
    if if_none_match is not None:
        tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
        return "*" in tags or etag in tags
    since = parse_http_date_safe(request.headers.get("If-Modified-Since") or "")
    return since is not None and int(modified) <= since


def _if_range_holds(request, etag: str, modified: float) -> bool:
    if_range = request.headers.get("If-Range")
    if if_range is None:
        return True
    if if_range.startswith(('"', "W/")):
        return if_range == etag
    date = parse_http_date_safe(if_range)
    return date is not None and int(modified) <= date
