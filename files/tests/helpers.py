"""Sample files and record factories for the files tests."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from files.entity_types import canonical_types

PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
HTML = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>\n"


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return buffer.getvalue()


def upload_of(name: str, content: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def factory_for(model):
    """The factory_boy factory that makes `model`, found among the record factories."""
    from records.tests import factories

    factory = getattr(factories, f"{model.__name__}Factory", None)
    if factory is not None and factory._meta.model is model:
        return factory
    raise LookupError(f"no factory for {model.__name__}")


def record_of_each_type(patient):
    """{stored entity-type name: a record of that type for `patient`}."""
    return {et.name: factory_for(et.model)(patient=patient) for et in canonical_types()}
