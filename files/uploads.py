"""Receiving an upload: streamed to a temporary file while its SHA-256 and size are counted,
then checked — extension from the contract's families, content sniffed by libmagic and
matching the extension's family. The client's content type and name prove nothing.
"""

from __future__ import annotations

import hashlib
import os
import re
import unicodedata

import magic
from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler

from medikeep.api.exceptions import FieldValidationError, PayloadTooLarge

# Extension -> family. A family admits the MIME types libmagic reports for genuine files of
# its kind; HTML, SVG, scripts and executables belong to none, whatever they are named.
FAMILIES: dict[str, tuple[str, ...]] = {
    "pdf": ("pdf",),
    "image": ("jpg", "jpeg", "png", "gif", "bmp", "tif", "tiff", "webp", "heic", "heif"),
    "document": (
        "txt",
        "csv",
        "json",
        "xml",
        "rtf",
        "doc",
        "docx",
        "xls",
        "xlsx",
        "odt",
        "ods",
    ),
    "imaging": ("dcm", "dicom", "nii", "nii.gz", "nrrd", "stl"),
    "video": ("mp4", "m4v", "mov", "avi", "webm", "mkv"),
    "audio": ("mp3", "wav", "m4a", "aac", "ogg", "flac"),
    "archive": ("zip", "7z", "rar", "gz", "tar", "iso"),
}
_EXTENSIONS = {ext: family for family, exts in FAMILIES.items() for ext in exts}

_TEXT = {"text/plain", "text/csv", "application/csv"}
_OFFICE = {
    "application/msword",
    "application/vnd.ms-excel",
    "application/vnd.ms-office",
    "application/CDFV2",
    "application/x-ole-storage",
    "application/rtf",
    "text/rtf",
    "application/zip",  # OOXML and ODF are zip containers; libmagic cannot always tell
    "application/octet-stream",
}
_ARCHIVES = {
    "application/zip",
    "application/x-7z-compressed",
    "application/x-rar",
    "application/vnd.rar",
    "application/x-rar-compressed",
    "application/gzip",
    "application/x-gzip",
    "application/x-tar",
    "application/x-iso9660-image",
}


def _accepts(family: str, mime: str) -> bool:
    major = mime.split("/")[0]
    if family == "pdf":
        return mime == "application/pdf"
    if family == "image":
        return major == "image" and mime != "image/svg+xml"
    if family == "document":
        return (
            mime in _TEXT
            or mime in _OFFICE
            or mime in {"application/json", "text/xml", "application/xml"}
            or mime.startswith("application/vnd.openxmlformats-officedocument.")
            or mime.startswith("application/vnd.oasis.opendocument.")
        )
    if family == "imaging":
        # DICOM is recognised; NIfTI, NRRD and STL are raw data to libmagic.
        return mime in {"application/dicom", "application/octet-stream", "text/plain"} or (
            mime in {"application/gzip", "application/x-gzip", "model/stl", "model/x.stl-binary"}
        )
    if family == "video":
        return major == "video" or mime == "application/x-matroska"
    if family == "audio":
        return major == "audio" or mime in {"video/mp4", "application/ogg"}
    if family == "archive":
        return mime in _ARCHIVES
    return False


def extension_of(file_name: str) -> str:
    lowered = file_name.lower()
    if lowered.endswith(".nii.gz"):
        return "nii.gz"
    return os.path.splitext(lowered)[1].lstrip(".")


_UNSAFE = re.compile(r'[<>:"/\\|?*\x00-\x1f\x7f]')


def clean_file_name(raw: str) -> str:
    """A display name: no folders, no control or markup characters, at most 255 characters
    (keeping the extension)."""
    name = unicodedata.normalize("NFC", str(raw or ""))
    name = re.split(r"[/\\]", name)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    if len(name) > 255:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 254 - len(ext)] + dot + ext) if dot and len(ext) < 20 else name[:255]
    return name or "file"


def sniff(upload) -> str:
    """The MIME type libmagic finds in the content (reading only what it needs)."""
    path = getattr(upload, "temporary_file_path", None)
    if path is not None:
        return magic.from_file(path(), mime=True)
    upload.seek(0)
    head = upload.read(256 * 1024)
    upload.seek(0)
    return magic.from_buffer(head, mime=True)


def check_upload(upload, file_name: str) -> tuple[str, str]:
    """Refuses what may not be stored (422); returns (extension, detected MIME type)."""
    if upload.size == 0:
        raise FieldValidationError("file", "The file is empty.")
    if upload.size > settings.FILES_MAX_UPLOAD_BYTES:
        raise PayloadTooLarge(too_large_message())
    extension = extension_of(file_name)
    family = _EXTENSIONS.get(extension)
    if family is None:
        allowed = ", ".join(f".{ext}" for ext in sorted(_EXTENSIONS))
        raise FieldValidationError(
            "file", f"Files of this type are not accepted. Accepted extensions: {allowed}."
        )
    mime = sniff(upload)
    if not _accepts(family, mime):
        raise FieldValidationError(
            "file",
            f"The content of the file ({mime}) does not match its .{extension} extension.",
        )
    return extension, mime


def too_large_message() -> str:
    limit = settings.FILES_MAX_UPLOAD_BYTES
    return f"The file is too large: at most {limit / 1024 / 1024:.0f} MB are accepted."


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Writes each uploaded file to a temporary file as it arrives (memory stays flat),
    counting its SHA-256 and size on the way, and stops at the size limit."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self.digest = hashlib.sha256()
        self.received = 0

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > settings.FILES_MAX_UPLOAD_BYTES:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=True)
        self.digest.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        upload = super().file_complete(file_size)
        upload.sha256 = self.digest.hexdigest()
        return upload


def prepare_request(request) -> None:
    """Before the body is read: refuse a declared size over the limit at once, and stream
    files through the hashing handler."""
    django_request = getattr(request, "_request", request)
    try:
        declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > settings.FILES_MAX_UPLOAD_BYTES + 64 * 1024:
        raise PayloadTooLarge(too_large_message())
    django_request.upload_handlers = [HashingUploadHandler(django_request)]


def received_upload(request, field: str = "file"):
    """The uploaded file of `field` after parsing, or a clear error."""
    upload = request.FILES.get(field)
    if getattr(getattr(request, "_request", request), "upload_too_large", False):
        raise PayloadTooLarge(too_large_message())
    if upload is None:
        raise FieldValidationError(field, "A file is required (multipart field 'file').")
    if not hasattr(upload, "sha256"):  # parsed by another handler: count it now
        digest = hashlib.sha256()
        for chunk in upload.chunks():
            digest.update(chunk)
        upload.sha256 = digest.hexdigest()
    return upload
