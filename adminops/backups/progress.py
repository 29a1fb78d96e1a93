"""A progress bar on stderr for the backup commands (long runs: gigabytes of files)."""

from __future__ import annotations

import sys
import time


def _size(count: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count:.0f} {unit}" if unit == "B" else f"{count:.1f} {unit}"
        count /= 1024
    return f"{count:.1f} GB"


class ProgressBar:
    """Call with (done_bytes, total_bytes or None, label). On a terminal the bar redraws in
    place at most ten times a second; elsewhere (logs, cron mail) a line every 10 %."""

    WIDTH = 30

    def __init__(self, stream=None, *, title: str = ""):
        self.stream = stream or sys.stderr
        self.title = title
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self._last_draw = 0.0
        self._last_tenth = -1
        self._label = ""

    def __call__(self, done: int, total: int | None, label: str) -> None:
        now = time.monotonic()
        if not total:
            if label != self._label:
                self._label = label
                self._write(f"{self.title}{label}…", final=not self.tty)
            return
        fraction = min(1.0, done / total)
        finished = done >= total and label == "done"
        if self.tty:
            if finished or now - self._last_draw >= 0.1:
                self._last_draw = now
                filled = int(fraction * self.WIDTH)
                bar = "#" * filled + "-" * (self.WIDTH - filled)
                text = f"{self.title}[{bar}] {fraction:4.0%} {_size(done)}/{_size(total)}"
                self._write(text, final=finished)
            return
        tenth = int(fraction * 10)
        if tenth > self._last_tenth:
            self._last_tenth = tenth
            self._write(f"{self.title}{fraction:.0%} ({_size(done)} of {_size(total)})", final=True)

    def _write(self, text: str, *, final: bool) -> None:
        if self.tty:
            self.stream.write("\r\x1b[K" + text + ("\n" if final else ""))
        else:
            self.stream.write(text + "\n")
        self.stream.flush()
