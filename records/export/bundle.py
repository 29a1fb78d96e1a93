"""Zip bundles written while they are sent: each member is compressed as its bytes arrive and
handed on, so neither the export nor the attached files are ever whole in memory.

zipfile writes to a stream it cannot seek with data descriptors after each member (sizes and
CRC follow the data), which every unzip tool reads.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from django.utils import timezone

ZIP64_FROM = 1 << 30  # members that may pass 2 GiB need zip64 headers from the start


@dataclass
class Member:
    name: str
    chunks: Callable[[], Iterable[bytes]]
    compress: bool = True  # attached files (PDFs, images) are already compressed
    size: int | None = None


class _Sink:
    """The file object zipfile writes to: it only collects bytes until they are taken."""

    def __init__(self):
        self.parts: list[bytes] = []

    def write(self, data) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        taken = b"".join(self.parts)
        self.parts.clear()
        return taken


def safe_member_name(name: str) -> str:
    """A name that stays inside its folder when unpacked."""
    cleaned = name.replace("\\", "_").replace("/", "_").replace("\x00", "").strip()
    return cleaned.lstrip(".") or "file"


def zip_chunks(
    members: Iterable[Member], manifest: Callable[[], dict] | None = None
) -> Iterator[bytes]:
    """The zip archive of `members`, in pieces; `manifest()` is written last as manifest.json
    (it may report what happened while the members were written)."""
    sink = _Sink()
    stamp = timezone.localtime().timetuple()[:6]
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for member in members:
            info = zipfile.ZipInfo(member.name, date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED if member.compress else zipfile.ZIP_STORED
            info.external_attr = 0o644 << 16
            big = member.size is not None and member.size >= ZIP64_FROM
            with archive.open(info, "w", force_zip64=big) as target:
                for chunk in member.chunks():
                    target.write(chunk)
                    if sink.parts:
                        yield sink.take()
            yield sink.take()
        if manifest is not None:
            info = zipfile.ZipInfo("manifest.json", date_time=stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            archive.writestr(info, json.dumps(manifest(), indent=2, ensure_ascii=False))
    yield sink.take()
