"""The helpers of bench/notifications_bench.py at tiny sizes: the seeded population gives the
planner exactly the due rows it promises, the history seed its exact mix, and the webhook sink
counts what Apprise really sends it. No timing here: the script measures."""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest

from bench.notifications_bench import Sink, cpu_seconds, history_queries, parse_wrk, tick
from bench.notifications_seed import (
    DUE,
    Population,
    ensure_history_user,
    history_mix,
    minute_now,
    population_exists,
    schedule_due,
    seed_history,
    seed_population,
)


@pytest.mark.django_db
def test_one_tick_plans_exactly_the_promised_rows_and_a_second_tick_none():
    from notifications.models import Delivery
    from records.models import Medication

    pop = Population(users=3, meds=2, channels=2, shared=1, idle_meds=2)
    seed_population(pop)
    assert population_exists(pop)
    assert not population_exists(Population(users=3, meds=2, channels=2, shared=2, idle_meds=2))
    now = minute_now()
    schedule_due(now)

    first = tick(now, enqueue=False)
    assert first["rows"] == pop.due_rows == 16
    rows = Delivery.objects.all()
    assert rows.count() == 16
    assert {row.scheduled_for for row in rows} == {now}
    due_ids = set(Medication.objects.filter(indication=DUE).values_list("id", flat=True))
    assert {row.event_data["medication_id"] for row in rows} == due_ids  # no stopped, no other
    # The shared patient's medications reach its grantee (user 1) on both of their channels.
    shared_patient = Medication.objects.get(pk=min(due_ids)).patient
    grantee = shared_patient.shares.get().grantee
    assert rows.filter(user=grantee).count() == (pop.meds + pop.meds) * pop.channels

    second = tick(now, enqueue=False)
    assert second["rows"] == 0 and Delivery.objects.count() == 16
    assert tick(now + timedelta(minutes=1), enqueue=False)["rows"] == 0  # due minute passed


@pytest.mark.django_db
def test_history_seed_has_the_exact_mix_spread_over_ninety_days():
    from notifications.models import Delivery

    user, channel = ensure_history_user("bench-Passw0rd!")
    now = minute_now()
    seed_history(user, channel, 200, now)
    rows = Delivery.objects.filter(user=user)
    assert rows.count() == 200
    by_status = {s: rows.filter(status=s).count() for s in ("sent", "failed", "cancelled")}
    assert by_status == {"sent": 186, "failed": 6, "cancelled": 6}  # twice the shares
    assert rows.filter(event_type="lab_result_available").count() == 16
    newest, oldest = rows.order_by("-created_at")[0], rows.order_by("created_at")[0]
    assert newest.created_at == now
    assert timedelta(days=89) < now - oldest.created_at < timedelta(days=90)
    assert Delivery._meta.get_field("created_at").auto_now_add  # put back after seeding
    deep = history_queries(100_000)
    assert [q.get("page") for q in deep.values()][:2] == [1, 4000]


def test_history_mix_crosses_events_and_statuses_in_proportion():
    from collections import Counter

    mix = Counter(history_mix(i) for i in range(10_000))
    assert mix[("lab_result_available", "failed")] == 24  # 8% of 3% of 10,000
    assert mix[("lab_result_available", "sent")] == 744
    assert mix[("medication_reminder_due", "pending")] == 85
    assert sum(mix.values()) == 10_000


def _post(conn: http.client.HTTPConnection, key: str, close: bool = False) -> int:
    headers = {"X-MediKeep-Delivery": key, "Content-Type": "application/json"}
    if close:
        headers["Connection"] = "close"
    conn.request("POST", "/hook", body=b'{"title": "t", "body": "b"}', headers=headers)
    response = conn.getresponse()
    assert response.read() == b"ok"
    return response.status


def test_sink_counts_requests_and_repeated_keys_over_kept_alive_and_closed_connections():
    sink = Sink()
    try:
        kept = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=5)
        assert [_post(kept, "a"), _post(kept, "b")] == [200, 200]  # one connection, two posts
        kept.close()
        closing = http.client.HTTPConnection("127.0.0.1", sink.port, timeout=5)
        assert _post(closing, "a", close=True) == 200
        stats = sink.stats()
        assert (stats["count"], stats["distinct"], stats["repeats"]) == (3, 2, 1)
        assert 0 < stats["first"] <= stats["last"]
        assert sink.reset()["count"] == 0 and sink.stats()["distinct"] == 0
    finally:
        sink.close()
    assert not sink.process.is_alive()


def test_sink_receives_what_the_webhook_channel_sends():
    from notifications import sending

    sink = Sink()
    try:
        config = {"url": f"{sink.url}/hook", "method": "POST"}
        for key in ("reminder:1", "reminder:2"):
            result = sending.send("webhook", config, title="T", body="B", idempotency_key=key)
            assert result.ok, result.error
        stats = sink.stats()
        assert (stats["count"], stats["distinct"], stats["repeats"]) == (2, 2, 0)
    finally:
        sink.close()


def test_parse_wrk_reads_the_done_line_and_refuses_output_without_it():
    out = "Running 10s test\nWRK 1000 10000000 1500 42000 3\n"
    assert parse_wrk(out) == {
        "rps": 100.0,
        "p50_ms": 1.5,
        "p99_ms": 42.0,
        "requests": 1000,
        "errors": 3,
    }
    with pytest.raises(ValueError):
        parse_wrk("unable to connect to 127.0.0.1:8103")


def test_cpu_seconds_grow_with_work_and_are_zero_for_a_gone_process():
    before = cpu_seconds([os.getpid()])
    until = time.process_time() + 0.2
    while time.process_time() < until:
        pass
    assert cpu_seconds([os.getpid()]) - before >= 0.1
    assert cpu_seconds([2**22 + 12345]) == 0


def test_cpu_seconds_keep_the_time_of_children_that_ended():
    before = cpu_seconds([os.getpid()])
    burn = "import time\nt = time.process_time() + 0.3\nwhile time.process_time() < t: pass"
    subprocess.run([sys.executable, "-c", burn], check=True)
    assert cpu_seconds([os.getpid()]) - before >= 0.25
