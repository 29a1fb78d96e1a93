"""Measure the project against the raw floor (bench/floor.py), side by side, with wrk.

Usage: .venv/bin/python bench/compare.py --username bench --password 'bench-Passw0rd!'
It starts the project (`manage.py serve --no-worker`, plus --serve-args) and the floor on
loopback ports, or measures servers already running (--project-url and --floor-url). Each
round measures every endpoint on both servers back to back (the order alternates), and the
table gives the medians over the rounds, the ratio to the floor and the machine's load.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
from bench.load import resolve_loopback  # noqa: E402  (only loopback targets)

# The project's WSGI module, and the floor's, which also names its app `application`.
PROJECT_APP, FLOOR_APP = "medikeep.wsgi", "bench.floor"
FALLBACK_FLOOR_CMD = (
    "{python} -m granian --interface wsgi --host {host} --port {port} --workers 2"
    " --blocking-threads 1 bench.floor:application"
)
# High enough that the throttle never refuses the load (the scopes of medikeep/settings.py).
RATES = {f"API_RATE_{s}": "1000000/s" for s in ("STANDARD", "AUTH", "SYSTEM", "SEARCH", "UPLOAD")}
NEW_MED = {"medication_name": "Bench create", "dosage": "10mg", "status": "active"}
# name -> (method, path, expected status); {P} is the patient, {M} a medication of P.
ENDPOINTS = {
    "health": ("GET", "/api/v1/system/health", 200),
    "me": ("GET", "/api/v1/users/me", 200),
    "medications": ("GET", "/api/v1/medications/?patient_id={P}&limit=100", 200),
    "medication": ("GET", "/api/v1/medications/{M}", 200),
    "vitals_stats": ("GET", "/api/v1/vitals/patient/{P}/stats", 200),
    "dashboard": ("GET", "/api/v1/patients/me/dashboard-stats", 200),
    "medication_create": ("POST", "/api/v1/medications/", 201),
}
LUA = """wrk.method = {method}
wrk.body = {body}
wrk.headers["Authorization"] = {auth}
wrk.headers["Content-Type"] = "application/json"
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("WRK %.0f %.0f %.0f %.0f %.0f\\n", summary.requests, summary.duration,
    latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.status + e.timeout))
end
"""


def call(
    base: str, method: str, path: str, token: str = "", body: bytes | None = None,
    content_type: str = "application/json",
):  # fmt: skip
    """One request for the setup: (status, parsed JSON or None)."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if body is not None:
        headers["Content-Type"] = content_type
    request = urllib.request.Request(base + path, body, headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, None
    except (OSError, ValueError):
        return 0, None


def wait_ready(base: str, proc: subprocess.Popen | None, log: Path | None) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            tail = log.read_text()[-2000:] if log else ""
            raise SystemExit(f"server for {base} exited ({proc.returncode}):\n{tail}")
        if call(base, "GET", "/api/v1/system/health")[0] == 200:
            return
        time.sleep(0.5)
    raise SystemExit(f"{base} did not answer /api/v1/system/health with 200 within 60 s")


def start(cmd: list[str], log: Path, env: dict) -> subprocess.Popen:
    # Its own process group, so that stopping it stops its workers too.
    with log.open("w") as out:
        return subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def server_cmdline(root_pid: int) -> list[str] | None:
    """The command line of the process under root_pid that serves the project's WSGI app."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            pid, rest = stat.read_text().split(" ", 1)
            parent = int(rest.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(parent, []).append(int(pid))
    todo = [root_pid]
    while todo:
        pid = todo.pop(0)
        try:
            argv = (Path(f"/proc/{pid}/cmdline").read_bytes()).split(b"\0")[:-1]
        except OSError:
            argv = []
        args = [a.decode() for a in argv]
        if any(PROJECT_APP in a for a in args):
            return args
        todo += children.get(pid, [])
    return None


def floor_cmd_like(project_args: list[str], project_bind: str, floor_bind: str) -> list[str]:
    """The project's server command with the floor's app and address in place of its own."""
    project_port, floor_port = project_bind.rsplit(":", 1)[1], floor_bind.rsplit(":", 1)[1]
    cmd = []
    for arg in project_args:
        arg = arg.replace(PROJECT_APP, FLOOR_APP).replace(project_bind, floor_bind)
        cmd.append(floor_port if arg == project_port else arg)
    return cmd


def loadavg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def run_wrk(args, base: str, name: str, path: str, token: str, seconds: int) -> dict:
    method = ENDPOINTS[name][0]
    body = json.dumps(NEW_MED) if method == "POST" else ""
    script = LUA.format(
        method=json.dumps(method), body=json.dumps(body), auth=json.dumps(f"Bearer {token}")
    )
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    try:
        out = subprocess.run(
            [args.wrk, f"-t{args.wrk_threads}", f"-c{args.connections}", f"-d{seconds}s",
             "--timeout", "10s", "-s", f.name, base + path],
            capture_output=True, text=True, timeout=seconds + 60, check=False,
        ).stdout  # fmt: skip
    finally:
        os.unlink(f.name)
    line = next((x for x in out.splitlines() if x.startswith("WRK ")), None)
    if line is None:
        raise SystemExit(f"wrk gave no result for {name} at {base}:\n{out[-1000:]}")
    requests, duration_us, p50, p99, errors = (float(x) for x in line.split()[1:])
    return {
        "rps": round(requests / (duration_us / 1e6), 1),
        "p50_ms": round(p50 / 1000, 2),
        "p99_ms": round(p99 / 1000, 2),
        "requests": int(requests),
        "errors": int(errors),
    }


def setup(project: str, floor: str, args) -> tuple[str, dict[str, str]]:
    """Log in once; find the patient and a medication of theirs; check both servers answer."""
    form = urlencode({"username": args.username, "password": args.password}).encode()
    status, data = call(
        project, "POST", "/api/v1/auth/login", body=form,
        content_type="application/x-www-form-urlencoded",
    )  # fmt: skip
    if status != 200 or not isinstance(data, dict):
        raise SystemExit(f"login failed: HTTP {status} (seed the user with bench/seed.py)")
    token = data["access_token"]
    me = call(project, "GET", "/api/v1/users/me", token)[1] or {}
    patient = me.get("active_patient_id")
    if patient is None:
        patient = (call(project, "GET", "/api/v1/patients/me", token)[1] or {}).get("id")
    _, meds = call(project, "GET", f"/api/v1/medications/?patient_id={patient}&limit=1", token)
    if not patient or not meds:
        raise SystemExit("the user has no patient or no medications: run bench/seed.py first")
    _, floor_me = call(floor, "GET", "/api/v1/users/me")
    if not floor_me or floor_me.get("id") != me["id"]:
        raise SystemExit(
            f"the floor acts as user {floor_me and floor_me.get('id')}, not {me['id']}"
        )
    ids = {"P": str(patient), "M": str(meds[0]["id"])}
    for name in args.endpoints:
        method, path, want = ENDPOINTS[name]
        body = json.dumps(NEW_MED).encode() if method == "POST" else None
        for base in (project, floor):
            got = call(base, method, path.format(**ids), token, body)[0]
            if got != want:
                raise SystemExit(f"{name}: {base} answered HTTP {got}, not {want}")
    return token, ids


def measure(args, project: str, floor: str) -> dict:
    token, ids = setup(project, floor, args)
    paths = {name: ENDPOINTS[name][1].format(**ids) for name in args.endpoints}
    if args.warmup:
        for name in args.endpoints:
            for base in (project, floor):
                run_wrk(args, base, name, paths[name], token, args.warmup)
    rounds = []
    for r in range(args.rounds):
        before, results = loadavg(), {}
        for i, name in enumerate(args.endpoints):
            order = ("project", "floor") if (r + i) % 2 == 0 else ("floor", "project")
            results[name] = {
                side: run_wrk(args, {"project": project, "floor": floor}[side], name,
                              paths[name], token, args.duration)
                for side in order
            }  # fmt: skip
        after = loadavg()
        rounds.append(
            {"load_before": before, "load_after": after, "cpus": os.cpu_count(), "results": results}
        )
        print(f"round {r + 1}: loadavg {before} -> {after}", file=sys.stderr)
    medians = {}
    for name in args.endpoints:
        row = {}
        for side in ("project", "floor"):
            runs = [rd["results"][name][side] for rd in rounds]
            row[side] = {
                key: round(statistics.median(run[key] for run in runs), 2)
                for key in ("rps", "p50_ms", "p99_ms")
            }
            row[side]["errors"] = sum(run["errors"] for run in runs)
        floor_rps = row["floor"]["rps"]
        row["ratio"] = round(row["project"]["rps"] / floor_rps, 3) if floor_rps else None
        medians[name] = row
    return {"ids": ids, "rounds": rounds, "medians": medians}


def print_table(report: dict) -> None:
    s = report["settings"]
    print(
        f"{s['rounds']} round(s) of {s['duration']} s per endpoint and server,"
        f" wrk -t{s['wrk_threads']} -c{s['connections']}; {s['cpus']} CPUs; medians of the rounds"
    )
    for name in ("project_cmd", "floor_cmd"):
        print(f"{name}: {s[name]}")
    for i, rd in enumerate(report["rounds"], 1):
        print(f"round {i}: loadavg before {rd['load_before']} after {rd['load_after']}")
    head = (
        "endpoint",
        "rps",
        "p50 ms",
        "p99 ms",
        "floor rps",
        "p50 ms",
        "p99 ms",
        "ratio",
        "errors",
    )
    print("{:<18} {:>9} {:>8} {:>8} | {:>9} {:>8} {:>8} | {:>6} {}".format(*head))
    for name, row in report["medians"].items():
        p, f = row["project"], row["floor"]
        ratio = f"{row['ratio']:.2f}" if row["ratio"] is not None else "-"
        print(
            f"{name:<18} {p['rps']:9.1f} {p['p50_ms']:8.2f} {p['p99_ms']:8.2f} |"
            f" {f['rps']:9.1f} {f['p50_ms']:8.2f} {f['p99_ms']:8.2f} | {ratio:>6}"
            f" {p['errors']}/{f['errors']}"
        )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--username", default="bench")
    ap.add_argument("--password", default="bench-Passw0rd!")
    ap.add_argument("--project-url", help="a running project (default: start one)")
    ap.add_argument("--floor-url", help="a running floor (default: start one)")
    ap.add_argument("--project-bind", default="127.0.0.1:8101")
    ap.add_argument("--floor-bind", default="127.0.0.1:8102")
    ap.add_argument(
        "--serve-args", default="", help="more options for `manage.py serve` (one string)"
    )
    ap.add_argument(
        "--floor-cmd",
        default="auto",
        help="how to serve the floor: 'auto' = the project's own server command with the"
        " floor's app and address; otherwise a command with {python} and {bind}"
        f" (used when auto finds nothing: {FALLBACK_FLOOR_CMD!r})",
    )
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=10, help="seconds per measurement")
    ap.add_argument("--warmup", type=int, default=2, help="seconds per endpoint first, 0: none")
    ap.add_argument("--connections", type=int, default=8)
    ap.add_argument("--wrk-threads", type=int, default=2)
    ap.add_argument("--endpoints", default=",".join(ENDPOINTS))
    ap.add_argument("--wrk", default="wrk")
    ap.add_argument("--json", help="also write the report to this file")
    args = ap.parse_args(argv)
    args.endpoints = [e for e in args.endpoints.split(",") if e]
    unknown = set(args.endpoints) - set(ENDPOINTS)
    if unknown or not 1 <= args.rounds <= 20 or not 1 <= args.duration <= 120:
        ap.error(f"unknown endpoints {sorted(unknown)}, or rounds/duration out of range")
    if not 1 <= args.connections <= 256:
        ap.error("--connections must be 1..256")

    env = {**os.environ, **RATES}
    logs = Path(tempfile.mkdtemp(prefix="bench-compare-"))
    procs: list[subprocess.Popen] = []
    project_cmd = floor_cmd = "(given by URL)"
    mirrored = None
    for url in (args.project_url, args.floor_url):
        if url:
            resolve_loopback(url)
    for bind in (args.project_bind, args.floor_bind):
        resolve_loopback(f"http://{bind}")
    try:
        if args.project_url:
            project = args.project_url.rstrip("/")
        else:
            cmd = [sys.executable, "manage.py", "serve", "--no-worker", "--bind", args.project_bind]
            cmd += shlex.split(args.serve_args)
            procs.append(start(cmd, logs / "project.log", env))
            project = f"http://{args.project_bind}"
            wait_ready(project, procs[-1], logs / "project.log")
            mirrored = server_cmdline(procs[-1].pid)
            project_cmd = shlex.join(cmd) + (
                f"  [runs: {shlex.join(mirrored)}]" if mirrored else ""
            )
        if args.floor_url:
            floor = args.floor_url.rstrip("/")
        else:
            if args.floor_cmd == "auto" and not args.project_url and mirrored:
                cmd = floor_cmd_like(mirrored, args.project_bind, args.floor_bind)
            else:
                if args.floor_cmd == "auto" and not args.project_url:
                    print("no server command found under manage.py serve:", file=sys.stderr)
                    print(f"serving the floor with {FALLBACK_FLOOR_CMD}", file=sys.stderr)
                template = FALLBACK_FLOOR_CMD if args.floor_cmd == "auto" else args.floor_cmd
                host, port = args.floor_bind.rsplit(":", 1)
                cmd = shlex.split(
                    template.format(
                        python=sys.executable, bind=args.floor_bind, host=host, port=port
                    )
                )
            floor_env = {**env, "FLOOR_USERNAME": args.username}
            procs.append(start(cmd, logs / "floor.log", floor_env))
            floor = f"http://{args.floor_bind}"
            wait_ready(floor, procs[-1], logs / "floor.log")
            floor_cmd = shlex.join(cmd)
        report = measure(args, project, floor)
    finally:
        for proc in reversed(procs):
            stop(proc)
    report["settings"] = {
        "rounds": args.rounds,
        "duration": args.duration,
        "connections": args.connections,
        "wrk_threads": args.wrk_threads,
        "cpus": os.cpu_count(),
        "project_cmd": project_cmd,
        "floor_cmd": floor_cmd,
        "database": "postgresql" if env.get("DATABASE_URL", "").startswith("postg") else "sqlite",
    }
    shutil.rmtree(logs)  # only needed to show why a server did not start
    print_table(report)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    rows = report["medians"].values()
    errors = sum(row[side]["errors"] for row in rows for side in ("project", "floor"))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
