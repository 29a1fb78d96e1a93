"""Log output: JSON lines (LOG_FORMAT=json) and the worker's routine lines kept at DEBUG."""

import io
import json
import logging

import pytest
from django.conf import settings

from medikeep import celery as celery_module
from medikeep.logs import JsonLineFormatter, RoutineNoticeFilter, frequent_task_names


def record(name="medikeep.test", level=logging.INFO, msg="hello %s", args=("world",), **extra):
    made = logging.LogRecord(name, level, __file__, 1, msg, args, None)
    made.__dict__.update(extra)
    return made


class TestJsonLines:
    def test_one_object_per_line_with_the_main_fields(self):
        line = JsonLineFormatter().format(record(request_id="abc-123"))
        assert "\n" not in line
        body = json.loads(line)
        assert body["level"] == "INFO" and body["logger"] == "medikeep.test"
        assert body["message"] == "hello world" and body["request_id"] == "abc-123"
        assert body["time"].endswith("+00:00") and "T" in body["time"]

    def test_no_request_id_when_there_is_none(self):
        assert "request_id" not in json.loads(JsonLineFormatter().format(record()))

    def test_multi_line_messages_and_exceptions_stay_on_one_line(self):
        try:
            raise ValueError("bad\nvalue")
        except ValueError:
            import sys

            made = record(msg="first\nsecond", args=None)
            made.exc_info = sys.exc_info()
        line = JsonLineFormatter().format(made)
        assert "\n" not in line
        body = json.loads(line)
        assert body["message"] == "first\nsecond"
        assert "ValueError: bad" in body["exception"]

    def test_extras_are_kept_and_made_json_safe(self):
        body = json.loads(JsonLineFormatter().format(record(user_id=7, thing=object())))
        assert body["user_id"] == 7 and body["thing"].startswith("<object")

    def test_settings_pick_the_formatter(self):
        assert settings.LOGGING["formatters"]["json"]["()"] == "medikeep.logs.JsonLineFormatter"
        console = settings.LOGGING["handlers"]["console"]["formatter"]
        assert console == settings.LOG_FORMAT

    def test_the_configured_json_console_writes_json(self):
        stream = io.StringIO()
        handler = logging.StreamHandler(stream)
        handler.setFormatter(JsonLineFormatter())
        logger = logging.getLogger("medikeep.tests.json")
        logger.addHandler(handler)
        try:
            logger.warning("disk %s%% full", 91)
        finally:
            logger.removeHandler(handler)
        assert json.loads(stream.getvalue())["message"] == "disk 91% full"


class TestRoutineNotices:
    def test_frequent_tasks_come_from_the_beat_schedule(self):
        names = frequent_task_names()
        assert "adminops.tasks.record_worker_heartbeat" in names
        assert "worker-heartbeat" in names
        # A nightly job is not routine chatter.
        assert "medikeep.accounts.tasks.flush_expired_tokens" not in names

    @pytest.mark.parametrize(
        "made",
        [
            record(
                "celery.beat",
                msg="Scheduler: Sending due task %s (%s)",
                args=("worker-heartbeat", "adminops.tasks.record_worker_heartbeat"),
            ),
            record(
                "celery.worker.strategy",
                msg="Task %(name)s[%(id)s] received",
                args=({"name": "adminops.tasks.record_worker_heartbeat", "id": "1"},),
            ),
            record(
                "celery.app.trace",
                msg="Task %(name)s[%(id)s] succeeded",
                args=({"name": "notifications.tasks.plan_reminders", "id": "2"},),
            ),
            record(
                "kombu.connection",
                level=logging.WARNING,
                msg="No hostname was supplied. Reverting to default 'localhost'",
                args=None,
            ),
        ],
    )
    def test_routine_lines_go_to_debug(self, made):
        assert RoutineNoticeFilter().filter(made) is False  # the worker logs at INFO
        assert made.levelno == logging.DEBUG and made.levelname == "DEBUG"

    def test_routine_lines_show_when_debugging(self):
        logger = logging.getLogger("celery.beat")
        previous = logger.level
        logger.setLevel(logging.DEBUG)
        try:
            made = record(
                "celery.beat",
                msg="Scheduler: Sending due task %s (%s)",
                args=("worker-heartbeat", "adminops.tasks.record_worker_heartbeat"),
            )
            assert RoutineNoticeFilter().filter(made) is True
        finally:
            logger.setLevel(previous)

    @pytest.mark.parametrize(
        "made",
        [
            record(
                "celery.worker.strategy",
                msg="Task %(name)s[%(id)s] received",
                args=({"name": "records.tasks.generate_report", "id": "3"},),
            ),
            record(
                "celery.app.trace",
                level=logging.ERROR,
                msg="Task %(name)s[%(id)s] raised",
                args=({"name": "adminops.tasks.record_worker_heartbeat", "id": "4"},),
            ),
            record("kombu.connection", level=logging.WARNING, msg="Connection lost", args=None),
        ],
    )
    def test_other_lines_are_left_alone(self, made):
        level = made.levelno
        assert RoutineNoticeFilter().filter(made) is True and made.levelno == level

    def test_the_worker_loggers_carry_the_filter(self):
        for name in settings.QUIETED_LOGGERS:
            filters = logging.getLogger(name).filters
            assert any(isinstance(f, RoutineNoticeFilter) for f in filters), name


class TestRootWorker:
    def test_one_line_when_running_as_root(self, monkeypatch, caplog):
        monkeypatch.setattr(celery_module.os, "geteuid", lambda: 0)
        with caplog.at_level(logging.WARNING, logger="medikeep.worker"):
            assert celery_module.worker_as_root() is True
        lines = [r for r in caplog.records if r.name == "medikeep.worker"]
        assert len(lines) == 1 and "\n" not in lines[0].getMessage()

    def test_nothing_otherwise(self, monkeypatch, caplog):
        monkeypatch.setattr(celery_module.os, "geteuid", lambda: 1000)
        assert celery_module.worker_as_root() is False
        assert not [r for r in caplog.records if r.name == "medikeep.worker"]

    def test_celerys_own_warning_is_silenced(self):
        import warnings

        from celery.exceptions import SecurityWarning

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            celery_module.silence_root_warning()
            warnings.warn(
                SecurityWarning("You're running the worker with superuser privileges: this is"),
                stacklevel=1,
            )
            assert not caught
            warnings.warn(SecurityWarning("Some other security concern"), stacklevel=1)
        assert len(caught) == 1
