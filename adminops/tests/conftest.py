import logging

import pytest


@pytest.fixture(autouse=True)
def adminops_log(caplog, monkeypatch):
    """Everything the "adminops" loggers write, caught by caplog and nowhere else.

    The project's "adminops" logger does not propagate to the root logger, where caplog
    listens, and it writes to the real files under LOG_DIR; swapping its handlers for caplog's
    makes log output assertable and keeps test noise out of var/logs.
    """
    logger = logging.getLogger("adminops")
    monkeypatch.setattr(logger, "handlers", [caplog.handler])
    with caplog.at_level(logging.DEBUG, logger="adminops"):
        yield caplog


@pytest.fixture(autouse=True)
def fresh_health_checks():
    """Each test sees its own health checks, not a report shared from an earlier test."""
    from adminops import selectors

    selectors._health_memo.clear()
    yield
    selectors._health_memo.clear()
