"""Log output: JSON lines for log collectors (LOG_FORMAT=json), and a quieter console for the
worker (routine periodic tasks and the embedded broker's notices only at DEBUG).

Both are named in settings.LOGGING; the worker applies that configuration too (Celery's Django
fix-up runs django.setup()), and attaches nothing of its own to these loggers.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

# Attributes every LogRecord has; anything else on a record came from `extra=` and is kept.
_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
# Extras Celery puts on its own records (the whole task message): noise in one line.
_DROPPED_EXTRAS = frozenset({"data"})


class JsonLineFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the request id
    when the record carries one, the exception text when there is one, and other `extra=`
    values that JSON can hold."""

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None)
        if request_id:
            line["request_id"] = str(request_id)
        for name, value in record.__dict__.items():
            if name in _STANDARD_ATTRIBUTES or name in _DROPPED_EXTRAS or name in line:
                continue
            line[name] = (
                value if isinstance(value, str | int | float | bool | None) else repr(value)
            )
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)


def frequent_task_names() -> frozenset[str]:
    """Beat entries (and their task names) that run more often than hourly: the worker
    heartbeat, the reminder planner, the delivery sweeper and their like."""
    from django.conf import settings

    from medikeep.schedule import shortest_gap_seconds

    names = set()
    for entry_name, entry in getattr(settings, "CELERY_BEAT_SCHEDULE", {}).items():
        if shortest_gap_seconds(entry["schedule"]) < 3600:
            names.update((entry_name, entry["task"]))
    return frozenset(names)


class RoutineNoticeFilter(logging.Filter):
    """Moves routine lines to DEBUG, so `make run` shows what happens rather than a clock.

    - "Scheduler: Sending due task …", "Task … received" and "Task … succeeded" of the
      periodic tasks that run more often than hourly (a failure is still an ERROR line);
    - kombu's "No hostname was supplied", which the embedded file-system broker always
      causes (it has no host).
    A worker started with `--loglevel debug` still shows them, as DEBUG lines.
    """

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._frequent: frozenset[str] | None = None

    def frequent(self) -> frozenset[str]:
        if self._frequent is None:
            self._frequent = frequent_task_names()
        return self._frequent

    def is_routine(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.WARNING:
            return False
        if record.name == "kombu.connection":
            return str(record.msg).startswith("No hostname was supplied")
        args = record.args
        if isinstance(args, dict):  # celery.app.trace and celery.worker.strategy
            return args.get("name") in self.frequent()
        if isinstance(args, tuple) and args:  # celery.beat: (entry name, task name)
            return str(args[0]) in self.frequent()
        return False

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.is_routine(record):
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)
