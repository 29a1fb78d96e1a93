"""Runs the web server and a Celery worker with beat together; Ctrl-C stops all of them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management.base import BaseCommand

from medikeep.env import env_bool, env_int


def web_command(*, bind: str, workers: int, threads: int, access_log: bool) -> list[str]:
    """Granian serving the WSGI app: its HTTP layer (keep-alive, parsing) runs in Rust, outside
    the interpreter, and measured 1.4-1.7x gunicorn's sync and gthread workers on this
    machine's 2 cores (docs/benchmarks.md, "Choosing the server")."""
    host, _, port = bind.rpartition(":")
    command = [
        sys.executable,
        "-m",
        "granian",
        "--interface",
        "wsgi",
        "--host",
        host.strip("[]") or "127.0.0.1",
        "--port",
        port,
        "--workers",
        str(workers),
        "--blocking-threads",
        str(threads),
        "--respawn-failed-workers",
        "--workers-kill-timeout",
        "10",
    ]
    if access_log:
        command.append("--access-log")
    return [*command, "medikeep.wsgi:application"]


class Command(BaseCommand):
    help = "Serve the API (granian) with a Celery worker and beat, as one foreground process."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default="127.0.0.1:8000")
        parser.add_argument(
            "--web-workers",
            type=int,
            default=env_int("WEB_WORKERS", os.cpu_count() or 1),
            help="Web server processes (env WEB_WORKERS; default: one per CPU core).",
        )
        parser.add_argument(
            "--web-threads",
            type=int,
            default=env_int("WEB_THREADS", 1),
            help="Threads per web process (env WEB_THREADS; default 1: the work is CPU-bound).",
        )
        parser.add_argument(
            "--no-access-log",
            action="store_true",
            default=not env_bool("WEB_ACCESS_LOG", True),
            help="No line per request on stdout (env WEB_ACCESS_LOG=false).",
        )
        parser.add_argument("--no-worker", action="store_true", help="Serve the API only.")

    def handle(self, *args, bind, web_workers, web_threads, no_access_log, no_worker, **options):
        commands = {
            "web": web_command(
                bind=bind,
                workers=max(1, web_workers),
                threads=max(1, web_threads),
                access_log=not no_access_log,
            ),
        }
        if not no_worker:
            commands["worker"] = [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "medikeep",
                "worker",
                "--beat",
                "--loglevel",
                "info",
                "--concurrency",
                "2",
                "--without-mingle",
                "--without-gossip",
                "--schedule",
                settings.CELERY_BEAT_SCHEDULE_FILENAME,
            ]
        children = {name: subprocess.Popen(cmd) for name, cmd in commands.items()}
        self.stdout.write(f"MediKeep is serving on http://{bind}/ (API docs at /api/v1/docs)")

        stopping = False

        def stop(signum, frame):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        exit_code = 0
        while not stopping:
            for name, child in children.items():
                if child.poll() is not None:
                    self.stderr.write(f"{name} exited with {child.returncode}; stopping.")
                    exit_code = child.returncode or 1
                    stopping = True
            time.sleep(0.5)
        self._stop_all(children.values())
        sys.exit(exit_code)

    @staticmethod
    def _stop_all(children) -> None:
        for child in children:
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + 15
        for child in children:
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
