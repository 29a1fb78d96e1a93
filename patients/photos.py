"""Checking and normalising patient photos with Pillow.

The client's content type and file name prove nothing: the bytes are opened as an image and
must be a JPEG, PNG, GIF or BMP. What is stored is always a fresh JPEG made from the decoded
pixels (EXIF orientation applied, at most 1000x1000), so nothing the client embedded survives.
"""

from __future__ import annotations

import os
import re
import warnings
from io import BytesIO

from django.core.exceptions import ValidationError
from PIL import Image, ImageOps, UnidentifiedImageError
from rest_framework import status

from medikeep.api.exceptions import ApiError

MAX_PHOTO_BYTES = 15 * 1024 * 1024
# Room for the multipart framing and form fields around the file itself.
MULTIPART_OVERHEAD = 64 * 1024
MAX_DIMENSION = 1000
# Far above any camera, far below what would exhaust memory while decoding.
MAX_PIXELS = 60_000_000
ACCEPTED_FORMATS = {"JPEG", "PNG", "GIF", "BMP"}
JPEG_QUALITY = 90
NOT_AN_IMAGE = "The file is not a readable JPEG, PNG, GIF or BMP image."

# Everything Pillow raises on damaged or hostile input.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    TypeError,
    IndexError,
    EOFError,
    MemoryError,
    Image.DecompressionBombError,
    Image.DecompressionBombWarning,
)


class FileTooLargeError(ApiError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The file is too large."
    error_code = "SIZE-413"


def check_size(upload) -> None:
    if upload.size > MAX_PHOTO_BYTES:
        raise FileTooLargeError(
            f"The photo is {upload.size / 1024 / 1024:.1f} MB; at most "
            f"{MAX_PHOTO_BYTES // 1024 // 1024} MB are accepted."
        )


def check_request_size(request) -> None:
    """Refuses a body that cannot hold an acceptable photo before it is read at all."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return
    if length > MAX_PHOTO_BYTES + MULTIPART_OVERHEAD:
        raise FileTooLargeError(
            f"The upload is {length / 1024 / 1024:.1f} MB; photos may be at most "
            f"{MAX_PHOTO_BYTES // 1024 // 1024} MB."
        )


def _open(upload) -> Image.Image:
    upload.seek(0)
    image = Image.open(upload)
    if image.format not in ACCEPTED_FORMATS:
        raise ValidationError(
            f"Images of type {image.format or 'unknown'} are not accepted; "
            "send a JPEG, PNG, GIF or BMP image."
        )
    if image.width * image.height > MAX_PIXELS:
        raise ValidationError("The image has too many pixels.")
    return image


def check_image(upload) -> str:
    """The image format, after Pillow verified the file; ValidationError otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(upload) as image:
                found = image.format
                image.verify()
    except _DECODE_ERRORS as exc:
        raise ValidationError(NOT_AN_IMAGE) from exc
    finally:
        upload.seek(0)
    return found


def _flatten_to_rgb(image: Image.Image) -> Image.Image:
    has_alpha = image.mode in {"RGBA", "LA", "PA"} or (
        image.mode == "P" and "transparency" in image.info
    )
    if has_alpha:
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image if image.mode == "RGB" else image.convert("RGB")


def render_jpeg(upload) -> tuple[bytes, int, int]:
    """(JPEG bytes, width, height) of the upright image fitted into 1000x1000."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with _open(upload) as source:
                image = ImageOps.exif_transpose(source) or source
                image = _flatten_to_rgb(image)
                image.thumbnail((MAX_DIMENSION, MAX_DIMENSION))
                buffer = BytesIO()
                image.save(buffer, "JPEG", quality=JPEG_QUALITY, optimize=True)
    except _DECODE_ERRORS as exc:
        raise ValidationError(NOT_AN_IMAGE) from exc
    finally:
        upload.seek(0)
    return buffer.getvalue(), image.width, image.height


def display_name(name: str | None) -> str:
    """The client's file name reduced to a harmless label (never used as a path)."""
    base = os.path.basename((name or "").replace("\\", "/"))
    return re.sub(r"[\x00-\x1f\x7f]", "", base).strip()[:255]
