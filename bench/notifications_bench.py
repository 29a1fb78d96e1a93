"""Measure issue 14's three notification targets on PostgreSQL and Redis.

Usage: .venv/bin/python bench/notifications_bench.py [--phases plan,deliver,history]

- plan: one per-minute planner tick (what notifications.tasks.plan_reminders runs:
  reminders.plan, then delivery.enqueue) that finds --users x --meds x --channels plus
  --shared x --meds x --channels due rows (100,000 by default); --runs ticks on fresh rows
  (the outbox emptied before each), then a second tick at the same minute (inserts nothing).
- deliver: --deliveries planned reminder rows queued through delivery.enqueue to one real
  worker (`celery -A medikeep worker --concurrency 2`, as `manage.py serve` starts it, without
  beat), sending to a loopback webhook sink (asyncio, its own process) that counts requests
  and repeated X-MediKeep-Delivery keys; messages/s from the sink's first to last request.
- history: --history-rows rows for one user (beside the planner's rows of other users),
  then wrk on /api/v1/notifications/history through `manage.py serve --no-worker`, and
  EXPLAIN ANALYZE of the SQL each request runs.

Its own database (--database-url, created if missing) and Redis database; it wipes and seeds
them as needed. The facility time zone is TZ (default here Europe/Berlin).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import asdict
from pathlib import Path
from urllib.parse import urlencode

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
from bench.compare import LUA, RATES, call, loadavg, start, stop, wait_ready  # noqa: E402
from bench.files_bench import process_tree  # noqa: E402
from bench.notifications_seed import (  # noqa: E402
    HISTORY_USER,
    Population,
    clear_deliveries,
    ensure_database,
    ensure_history_user,
    local_hhmm,
    minute_now,
    point_channels_at,
    population_exists,
    schedule_due,
    seed_history,
    seed_population,
    wipe_bench_users,
)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/medikeep_bench_notif"
DEFAULT_REDIS = "redis://127.0.0.1:6379/6"


def tick(now, *, enqueue: bool = True) -> dict:
    """One planner tick as notifications.tasks.plan_reminders runs it, timed in two parts.
    `queries` counts statements through Django's cursor (the COPY of rows is one more)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from notifications import delivery, reminders

    with CaptureQueriesContext(connection) as queries:
        began = time.perf_counter()
        ids = reminders.plan(now)
        planned = time.perf_counter()
        if enqueue:
            delivery.enqueue(ids)
        done = time.perf_counter()
    return {
        "rows": len(ids),
        "plan_s": round(planned - began, 3),
        "enqueue_s": round(done - planned, 3),
        "total_s": round(done - began, 3),
        "queries": len(queries),
    }


# --- the webhook sink -----------------------------------------------------------------------


class _SinkProtocol(asyncio.Protocol):
    """Minimal HTTP/1.1: reads each request's head and Content-Length body, answers 200 "ok"
    (keep-alive unless the client says close) and records the delivery key."""

    def __init__(self, stats: dict):
        self.stats, self.buffer, self.transport = stats, b"", None

    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while (end := self.buffer.find(b"\r\n\r\n")) >= 0:
            head = self.buffer[:end].decode("latin-1").lower().split("\r\n")
            fields = dict(line.split(":", 1) for line in head[1:] if ":" in line)
            length = int(fields.get("content-length", "0").strip() or 0)
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length :]
            stats, now = self.stats, time.time()
            stats["count"] += 1
            stats["first"] = stats["first"] or now
            stats["last"] = now
            key = fields.get("x-medikeep-delivery", "").strip()
            if key in stats["keys"]:
                stats["repeats"] += 1
            stats["keys"].add(key)
            close = fields.get("connection", "").strip() == "close"
            self.transport.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n"
                + (b"Connection: close\r\n" if close else b"")
                + b"\r\nok"
            )
            if close:
                self.transport.close()
                return


def _fresh_stats() -> dict:
    return {"count": 0, "first": 0.0, "last": 0.0, "repeats": 0, "keys": set()}


def _sink_main(conn) -> None:
    """The sink process: serves on 127.0.0.1 and answers the parent's commands on `conn`."""
    stats = _fresh_stats()

    async def serve():
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: _SinkProtocol(stats), "127.0.0.1", 0)
        conn.send(server.sockets[0].getsockname()[1])
        stopped = loop.create_future()

        def command():
            what = conn.recv()
            if what == "stop":
                stopped.set_result(None)
                return
            if what == "reset":
                stats.update(_fresh_stats())
            conn.send({**{k: v for k, v in stats.items() if k != "keys"},
                       "distinct": len(stats["keys"])})  # fmt: skip

        loop.add_reader(conn.fileno(), command)
        await stopped
        server.close()

    asyncio.run(serve())


class Sink:
    """A loopback webhook sink in its own process (so its CPU is counted apart)."""

    def __init__(self):
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self.process = multiprocessing.get_context("spawn").Process(
            target=_sink_main, args=(child,), daemon=True
        )
        self.process.start()
        if not self._conn.poll(30):  # the child failed to start: do not wait for ever
            self.process.kill()
            raise RuntimeError("the webhook sink did not start")
        self.port = self._conn.recv()
        self.url = f"http://127.0.0.1:{self.port}"

    def stats(self) -> dict:
        self._conn.send("stats")
        return self._conn.recv()

    def reset(self) -> dict:
        self._conn.send("reset")
        return self._conn.recv()

    def close(self) -> None:
        if self.process.is_alive():
            self._conn.send("stop")
            self.process.join(10)
        if self.process.is_alive():
            self.process.kill()


# --- CPU accounting ---------------------------------------------------------------------------


def cpu_seconds(pids) -> float:
    """CPU seconds (user + system) of these processes and of their children that have ended
    (PostgreSQL's connections end with each Celery task: the postmaster holds their time)."""
    return sum(_cpu_of(pid) for pid in pids)


def _cpu_of(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return sum(map(int, fields[11:15])) / os.sysconf("SC_CLK_TCK")


def pids_named(name: str) -> list[int]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() == name:
                found.append(int(comm.parent.name))
        except OSError:
            continue
    return found


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent not idle since boot (/proc/stat)."""
    user, nice, system, idle, iowait, *rest = map(int, Path("/proc/stat").read_text().split()[1:9])
    return (user + nice + system + sum(rest)) / os.sysconf("SC_CLK_TCK")


class CpuWatch:
    """CPU seconds each group of processes uses between start and take(); `groups` maps a
    name to a function listing its pids now (processes that appear meanwhile count whole)."""

    def __init__(self, groups: dict):
        self.groups = groups
        self.before = {name: {pid: _cpu_of(pid) for pid in find()} for name, find in groups.items()}
        self.machine = machine_busy_seconds()

    def take(self) -> dict:
        used = {}
        for name, find in self.groups.items():
            pids = set(find()) | set(self.before[name])
            used[name] = round(sum(_cpu_of(p) - self.before[name].get(p, 0.0) for p in pids), 1)
        used["machine"] = round(machine_busy_seconds() - self.machine, 1)
        return used


# --- phases ------------------------------------------------------------------------------------


def run_plan(args, pop: Population, queue: str) -> dict:
    from medikeep.celery import app
    from notifications.models import Delivery

    now = minute_now()
    schedule_due(now)
    runs = []
    for _ in range(args.runs):
        clear_deliveries()
        result = tick(now)
        purge(app, queue)
        result["rows_in_table"] = Delivery.objects.count()
        runs.append(result)
        print(f"plan tick: {result}", file=sys.stderr)
    second = tick(now)
    purge(app, queue)
    bad = [r for r in runs if r["rows"] != pop.due_rows or r["rows_in_table"] != pop.due_rows]
    if bad or second["rows"]:
        raise SystemExit(f"expected {pop.due_rows} rows then 0: {runs} {second}")
    return {
        "tick_local_time": local_hhmm(now),
        "due_rows": pop.due_rows,
        "runs": runs,
        "median": {k: statistics.median(r[k] for r in runs) for k in ("plan_s", "enqueue_s",
                                                                       "total_s")},
        "second_tick": second,
    }  # fmt: skip


def purge(app, queue: str) -> None:
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(queue)


def start_worker(app, queue: str, log: Path, concurrency: int = 2) -> subprocess.Popen:
    """The worker `manage.py serve` starts (prefork, 2 processes), on a queue of our own."""
    node = f"{queue}@{os.uname().nodename}"
    cmd = [sys.executable, "-m", "celery", "-A", "medikeep", "worker", "--loglevel", "info",
           "--concurrency", str(concurrency), "--without-mingle", "--without-gossip",
           "-Q", queue, "-n", node]  # fmt: skip
    proc = start(cmd, log, dict(os.environ))
    deadline = time.monotonic() + 60
    while not app.control.ping(destination=[node], timeout=1):
        if proc.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the worker did not start:\n{log.read_text()[-2000:]}")
    return proc


def run_deliver(args, pop: Population, queue: str, logs: Path) -> dict:
    from django.db import connection
    from django.db.models import Count

    from medikeep.celery import app
    from notifications import delivery, reminders
    from notifications.models import Delivery

    sink = Sink()
    worker = None
    try:
        point_channels_at(sink.url + "/hook")
        now = minute_now()
        schedule_due(now)
        clear_deliveries()
        ids = reminders.plan(now)[: args.deliveries]
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM notifications_delivery WHERE id > %s", [ids[-1]])
        worker = start_worker(app, queue, logs / "worker.log", args.concurrency)
        sink.reset()
        watch = CpuWatch({
            "worker": lambda: process_tree(worker.pid), "sink": lambda: [sink.process.pid],
            "bench": lambda: [os.getpid()], "postgres": lambda: pids_named("postgres"),
            "redis": lambda: pids_named("redis-server"),
        })  # fmt: skip
        load_before, began = loadavg(), time.time()
        delivery.enqueue(ids)
        enqueued = time.time()
        deadline = enqueued + args.deliver_timeout
        while time.time() < deadline:
            if sink.stats()["count"] >= len(ids):
                break
            time.sleep(0.5)
        stats = sink.stats()
        cpu = watch.take()
        states = dict(Delivery.objects.values_list("status").annotate(n=Count("id")))
    finally:
        if worker is not None:
            stop(worker)
        sink.close()
    span = stats["last"] - stats["first"]
    return {
        "concurrency": args.concurrency,
        "messages": len(ids),
        "received": stats["count"],
        "distinct_keys": stats["distinct"],
        "repeats": stats["repeats"],
        "enqueue_s": round(enqueued - began, 2),
        "first_to_last_s": round(span, 2),
        "per_s": round((stats["count"] - 1) / span, 1) if span > 0 else None,
        "enqueue_to_last_per_s": round(stats["count"] / (stats["last"] - began), 1)
        if stats["last"]
        else None,
        "cpu_s": cpu,
        "statuses": states,
        "load": [load_before, loadavg()],
    }


def history_queries(rows: int) -> dict[str, dict]:
    deep = max(1, rows // 20 * 4 // 5)  # 80% of the way down
    return {
        "page1": {"page": 1, "page_size": 20},
        f"page{deep}": {"page": deep, "page_size": 20},
        "status_failed": {"page": 1, "page_size": 20, "status_filter": "failed"},
        "event_lab": {"page": 1, "page_size": 20, "event_type": "lab_result_available"},
        "lab_sent_100": {"page": 1, "page_size": 100, "event_type": "lab_result_available",
                         "status_filter": "sent"},
    }  # fmt: skip


def expected_total(user, query: dict) -> int:
    from notifications.models import Delivery

    rows = Delivery.objects.filter(user=user)
    if query.get("status_filter"):
        rows = rows.filter(status=query["status_filter"])
    if query.get("event_type"):
        rows = rows.filter(event_type=query["event_type"])
    return rows.count()


def explain_history(user, query: dict) -> list[dict]:
    """EXPLAIN ANALYZE of each statement the history view runs on the outbox for `query`."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIRequestFactory, force_authenticate

    from notifications.api.history import HistoryView

    request = APIRequestFactory().get("/api/v1/notifications/history", query)
    force_authenticate(request, user=user)
    with CaptureQueriesContext(connection) as captured:
        response = HistoryView.as_view()(request)
    assert response.status_code == 200, response.data
    plans = []
    with connection.cursor() as cursor:
        for sql in (q["sql"] for q in captured if "notifications_delivery" in q["sql"]):
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
            lines = [row[0] for row in cursor.fetchall()]
            ms = next((ln.split(":")[1].strip() for ln in lines if ln.startswith("Execution")), "")
            plans.append({"sql": sql, "execution": ms, "plan": lines})
    return plans


WRK_LINE = "WRK "


def parse_wrk(output: str) -> dict:
    """The numbers of compare.LUA's done() line: rps, p50/p99 in ms, requests, errors."""
    line = next((x for x in output.splitlines() if x.startswith(WRK_LINE)), None)
    if line is None:
        raise ValueError(f"no result line in wrk's output:\n{output[-1000:]}")
    requests, duration_us, p50, p99, errors = (float(x) for x in line.split()[1:])
    return {
        "rps": round(requests / (duration_us / 1e6), 1),
        "p50_ms": round(p50 / 1000, 2),
        "p99_ms": round(p99 / 1000, 2),
        "requests": int(requests),
        "errors": int(errors),
    }


def run_wrk(args, url: str, token: str, seconds: int) -> dict:
    script = LUA.format(method='"GET"', body='""', auth=json.dumps(f"Bearer {token}"))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [args.wrk, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds}s",
             "--timeout", "10s", "-s", f.name, url],
            capture_output=True, text=True, timeout=seconds + 60, check=False,
        ).stdout  # fmt: skip
    finally:
        os.unlink(f.name)
    return parse_wrk(out)


def run_history(args, logs: Path) -> dict:
    from django.db import connection

    from notifications import reminders

    user, channel = ensure_history_user(args.password)
    now = minute_now()
    schedule_due(now)
    clear_deliveries()
    others = len(reminders.plan(now)) if args.history_others else 0
    began = time.perf_counter()
    seed_history(user, channel, args.history_rows, now)
    seeded = round(time.perf_counter() - began, 1)
    with connection.cursor() as cursor:  # what autovacuum does to a table that grew
        cursor.execute("VACUUM ANALYZE notifications_delivery")
    queries = history_queries(args.history_rows)
    server = start([sys.executable, "manage.py", "serve", "--no-worker", "--bind", args.bind],
                   logs / "server.log", dict(os.environ))  # fmt: skip
    base = f"http://{args.bind}"
    results = {}
    try:
        wait_ready(base, server, logs / "server.log")
        form = urlencode({"username": HISTORY_USER, "password": args.password}).encode()
        status, data = call(base, "POST", "/api/v1/auth/login", body=form,
                            content_type="application/x-www-form-urlencoded")  # fmt: skip
        if status != 200:
            raise SystemExit(f"login failed: HTTP {status}")
        token = data["access_token"]
        for name, query in queries.items():
            path = "/api/v1/notifications/history?" + urlencode(query)
            status, page = call(base, "GET", path, token)
            want = expected_total(user, query)
            if status != 200 or page["total"] != want or not page["items"]:
                raise SystemExit(f"{name}: HTTP {status}, total {page and page['total']} != {want}")
            if args.warmup:
                run_wrk(args, base + path, token, args.warmup)
            load = loadavg()
            results[name] = {"path": path, "total": want, **run_wrk(args, base + path, token,
                                                                     args.duration)}  # fmt: skip
            results[name]["load_before"] = load
            print(f"history {name}: {results[name]}", file=sys.stderr)
    finally:
        stop(server)
    for name, query in queries.items():
        results[name]["sql"] = explain_history(user, query)
    return {"rows_for_user": args.history_rows, "rows_of_others": others, "seed_s": seeded,
            "results": results}  # fmt: skip


# --- main --------------------------------------------------------------------------------------


def wait_for_quiet(below: float, longest: float) -> list[float]:
    """Waits (up to `longest` s) until the 1-minute load average is under `below`: the
    machine is shared, and a measurement taken beside other work says little."""
    deadline = time.monotonic() + longest
    while os.getloadavg()[0] >= below and time.monotonic() < deadline:
        time.sleep(5)
    return loadavg()


def print_report(report: dict) -> None:
    s = report["settings"]
    print(f"{s['cpus']} CPUs, load {s['load']}, TZ {s['tz']}, population {s['population']}")
    if "plan" in report:
        p = report["plan"]
        print(f"plan: {p['due_rows']} due rows at local {p['tick_local_time']}; median "
              f"{p['median']}; runs {[r['total_s'] for r in p['runs']]}; queries "
              f"{[r['queries'] for r in p['runs']]}; second tick {p['second_tick']}")  # fmt: skip
    if "deliver" in report:
        d = {k: v for k, v in report["deliver"].items()}
        print(f"deliver: {d}")
    if "history" in report:
        h = report["history"]
        print(f"history: {h['rows_for_user']} rows for the user, {h['rows_of_others']} of others")
        head = ("query", "total", "rps", "p50 ms", "p99 ms", "errors")
        print("{:<16} {:>7} {:>8} {:>8} {:>8} {:>6}  SQL ms".format(*head))
        for name, r in h["results"].items():
            sql = " + ".join(p["execution"].replace(" ms", "") for p in r["sql"])
            print(f"{name:<16} {r['total']:>7} {r['rps']:>8.1f} {r['p50_ms']:>8.2f} "
                  f"{r['p99_ms']:>8.2f} {r['errors']:>6}  {sql}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--phases", default="plan,deliver,history")
    ap.add_argument("--database-url", default=DEFAULT_DB)
    ap.add_argument("--redis-url", default=DEFAULT_REDIS)
    ap.add_argument("--tz", default=os.environ.get("TZ") or "Europe/Berlin")
    for name, value in asdict(Population()).items():
        ap.add_argument(f"--{name.replace('_', '-')}", type=int, default=value)
    ap.add_argument("--reseed", action="store_true", help="wipe and seed the population again")
    ap.add_argument("--runs", type=int, default=3, help="planner ticks on fresh rows")
    ap.add_argument("--deliveries", type=int, default=20_000)
    ap.add_argument("--deliver-timeout", type=int, default=600)
    ap.add_argument("--concurrency", type=int, default=2, help="worker processes (serve: 2)")
    ap.add_argument("--history-rows", type=int, default=100_000)
    ap.add_argument("--no-history-others", dest="history_others", action="store_false")
    ap.add_argument("--password", default="bench-Passw0rd!")
    ap.add_argument("--bind", default="127.0.0.1:8103")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--json", help="also write the report here")
    ap.add_argument(
        "--quiet-below",
        type=float,
        default=1.0,
        help="start a phase once the 1-minute load is under this (0: at once) …",
    )
    ap.add_argument("--quiet-wait", type=float, default=300, help="… or after this many s")
    args = ap.parse_args(argv)
    phases = [p for p in args.phases.split(",") if p]
    pop = Population(args.users, args.meds, args.channels, args.shared, args.idle_meds)
    pop.check()
    if set(phases) - {"plan", "deliver", "history"} or args.deliveries > pop.due_rows:
        ap.error("phases are plan, deliver, history; --deliveries at most the due rows")

    os.environ.update(RATES, DATABASE_URL=args.database_url, REDIS_URL=args.redis_url, TZ=args.tz)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "medikeep.settings")
    ensure_database(args.database_url)
    import django

    django.setup()
    from django.core.management import call_command

    from medikeep.celery import app

    call_command("migrate", verbosity=0)
    queue = f"nb-{uuid.uuid4().hex[:8]}"  # no other worker takes these tasks
    app.conf.task_default_queue = queue
    report = {"settings": {"cpus": os.cpu_count(), "load": loadavg(), "tz": args.tz,
                           "population": asdict(pop), "database": args.database_url}}  # fmt: skip
    if args.reseed or not population_exists(pop):
        began = time.perf_counter()
        wipe_bench_users()
        seed_population(pop)
        report["settings"]["seed_s"] = round(time.perf_counter() - began, 1)
        print(f"seeded {asdict(pop)} in {report['settings']['seed_s']} s", file=sys.stderr)
    logs = Path(tempfile.mkdtemp(prefix="bench-notif-"))
    try:
        for phase in ("plan", "deliver", "history"):
            if phase not in phases:
                continue
            load = wait_for_quiet(args.quiet_below, args.quiet_wait)
            print(f"{phase}: starting at load {load}", file=sys.stderr)
            if phase == "plan":
                report["plan"] = run_plan(args, pop, queue)
            elif phase == "deliver":
                report["deliver"] = run_deliver(args, pop, queue, logs)
            else:
                report["history"] = run_history(args, logs)
            report[phase]["load_at_start"] = load
    finally:
        purge(app, queue)
        print(f"logs: {logs}", file=sys.stderr)
    report["settings"]["load_after"] = loadavg()
    print_report(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
