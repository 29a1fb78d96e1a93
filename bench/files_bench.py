"""Upload and download big entity files on loopback: throughput and the server's peak memory.

Usage: .venv/bin/python bench/files_bench.py --sizes 64M,256M,1G

It starts the project as `make run` does (`manage.py serve --no-worker`, plus --serve-args)
with MEDIKEEP_VAR_DIR (database, media, the upload spool) and TMPDIR in a fresh folder under
--workdir, migrates, seeds a user with a patient and one medication (bench/seed.py; the
environment's DATABASE_URL, if any, is used), then per size:
writes a PDF of that size to --workdir in chunks, uploads it to the medication as multipart
with a streaming client, downloads it, asks for its last MiB with a Range request, checks
the SHA-256 of both directions, and deletes the file again. A sampler reads the VmRSS of the
serve process and all its children every --interval seconds; the table gives each phase's
peak (the tree's sum and the largest single process) beside the idle baseline. The answer
the issue asks of it: the peak must not grow with the file's size (exit 1 when it does).
"""

from __future__ import annotations

import argparse
import hashlib
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

REPO_ROOT = Path(__file__).resolve().parents[1]
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))
from bench.compare import RATES, call, loadavg, start, stop, wait_ready  # noqa: E402
from bench.load import resolve_loopback  # noqa: E402  (only loopback targets)

MiB = 1024 * 1024
GiB = 1024 * MiB
CHUNK = MiB  # what the client reads and sends at a time
PDF_HEAD, PDF_TAIL = b"%PDF-1.4\n", b"\n%%EOF\n"
DEFAULT_LIMIT = GiB  # FILES_MAX_UPLOAD_BYTES when the environment does not set it
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMG]?)(?:i?B)?\s*$", re.IGNORECASE)


def parse_size(text: str) -> int:
    """'64M' -> 67108864: K, M and G are binary units; a plain number is bytes."""
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"not a size: {text!r} (examples: 65536, 64M, 1G)")
    factor = {"": 1, "K": 1024, "M": MiB, "G": GiB}[match[2].upper()]
    size = int(float(match[1]) * factor)
    if size < len(PDF_HEAD) + len(PDF_TAIL):
        raise ValueError(f"{text!r} is smaller than a PDF's header and trailer")
    return size


def human(size: int) -> str:
    for unit, factor in (("GiB", GiB), ("MiB", MiB), ("KiB", 1024)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def make_pdf(path: Path, size: int) -> str:
    """Writes `size` bytes that libmagic takes for a PDF (its header, random bytes, its
    trailer), a chunk at a time; returns their SHA-256."""
    digest = hashlib.sha256()
    middle = size - len(PDF_HEAD) - len(PDF_TAIL)
    with path.open("wb") as out:
        out.write(PDF_HEAD)
        digest.update(PDF_HEAD)
        while middle > 0:
            piece = os.urandom(min(CHUNK, middle))
            out.write(piece)
            digest.update(piece)
            middle -= len(piece)
        out.write(PDF_TAIL)
        digest.update(PDF_TAIL)
    return digest.hexdigest()


def multipart_frame(field: str, file_name: str, content_type: str) -> tuple[bytes, bytes, str]:
    """(bytes before the file, bytes after it, the request's Content-Type)."""
    boundary = f"bench-{uuid.uuid4().hex}"
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{file_name}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    return head, tail, f"multipart/form-data; boundary={boundary}"


def _connection(base: str, timeout: float) -> http.client.HTTPConnection:
    parts = urlsplit(base)
    return http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)


def upload(base: str, path: str, source: Path, token: str, timeout: float = 600) -> dict:
    """POSTs `source` as the multipart field `file`, read and sent a chunk at a time with an
    exact Content-Length. Returns status, the parsed answer and the seconds it took."""
    head, tail, content_type = multipart_frame("file", source.name, "application/pdf")
    size = source.stat().st_size
    conn = _connection(base, timeout)
    began = time.perf_counter()
    try:
        conn.putrequest("POST", path)
        conn.putheader("Authorization", f"Bearer {token}")
        conn.putheader("Content-Type", content_type)
        conn.putheader("Content-Length", str(len(head) + size + len(tail)))
        conn.endheaders()
        try:
            conn.send(head)
            with source.open("rb") as f:
                while piece := f.read(CHUNK):
                    conn.send(piece)
            conn.send(tail)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered before the end (a refusal): read that answer
        response = conn.getresponse()
        body = response.read()
        seconds = time.perf_counter() - began
    finally:
        conn.close()
    try:
        data = json.loads(body or b"null")
    except ValueError:
        data = body[:500].decode(errors="replace")
    return {"status": response.status, "data": data, "seconds": seconds}


def download(
    base: str, path: str, token: str, range_header: str | None = None, timeout: float = 600
) -> dict:
    """GETs `path`, hashing the body as it arrives (nothing kept). Returns status, headers,
    byte count, SHA-256, seconds, and the body itself when it is at most 2 MiB."""
    conn = _connection(base, timeout)
    headers = {"Authorization": f"Bearer {token}"}
    if range_header:
        headers["Range"] = range_header
    digest, received, small = hashlib.sha256(), 0, bytearray()
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    began = time.perf_counter()
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        while n := response.readinto(buffer):
            digest.update(view[:n])
            if received + n <= 2 * MiB:
                small += view[:n]
            received += n
        seconds = time.perf_counter() - began
    finally:
        conn.close()
    return {
        "status": response.status,
        "headers": {k.lower(): v for k, v in response.getheaders()},
        "bytes": received,
        "sha256": digest.hexdigest(),
        "seconds": seconds,
        "body": bytes(small) if received <= 2 * MiB else None,
    }


# --- memory -----------------------------------------------------------------------------------


def process_tree(root: int) -> list[int]:
    """root and all its descendants (through /proc/<pid>/task/<tid>/children)."""
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    todo += [int(child) for child in f.read().split()]
            except OSError:
                continue
    return found


def status_kib(pid: int, field: str) -> int:
    """A kB field of /proc/<pid>/status (VmRSS, VmHWM); 0 when the process is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def reset_peak(pid: int) -> None:
    """Restarts the kernel's peak RSS count (VmHWM) of a process of ours (Linux 4.0+)."""
    try:
        with open(f"/proc/{pid}/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass


class RssSampler(threading.Thread):
    """Polls the VmRSS of a process tree every `interval` seconds. take() closes a phase:
    it returns the polled peaks and, exact, the kernel's own peak (VmHWM) of each process
    since the previous take(), then starts both counts over."""

    def __init__(self, root: int, interval: float = 0.05, rescan: float = 1.0):
        super().__init__(daemon=True)
        self.root, self.interval, self.rescan = root, interval, rescan
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self.pids, self._scanned = process_tree(root), time.monotonic()
        self._reset()

    def _reset(self) -> None:
        self.peak_total = self.peak_single = self.samples = 0

    def poll(self) -> None:
        with self._lock:
            if time.monotonic() - self._scanned > self.rescan:  # workers may be respawned
                self.pids, self._scanned = process_tree(self.root), time.monotonic()
            sizes = [status_kib(pid, "VmRSS") for pid in self.pids]
            self.peak_total = max(self.peak_total, sum(sizes))
            self.peak_single = max(self.peak_single, max(sizes, default=0))
            self.samples += 1

    def run(self) -> None:
        while not self._halt.is_set():
            self.poll()
            self._halt.wait(self.interval)

    def take(self) -> dict:
        """{total_mib, single_mib, hwm_mib, samples} since the last take()."""
        self.poll()  # a phase shorter than the interval still gets its end sampled
        with self._lock:
            hwm = max((status_kib(pid, "VmHWM") for pid in self.pids), default=0)
            result = {
                "total_mib": round(self.peak_total / 1024, 1),
                "single_mib": round(self.peak_single / 1024, 1),
                "hwm_mib": round(hwm / 1024, 1),
                "samples": self.samples,
            }
            for pid in self.pids:
                reset_peak(pid)
            self._reset()
        self.poll()
        return result

    def halt(self) -> None:
        self._halt.set()
        self.join()


def settle(sampler: RssSampler, seconds: float) -> dict:
    """The peaks of `seconds` without requests (the idle baseline)."""
    sampler.take()
    time.sleep(seconds)
    return sampler.take()


# --- the run ----------------------------------------------------------------------------------


def prepare(env: dict, username: str, password: str) -> None:
    for cmd in (
        [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
        [sys.executable, "bench/seed.py", "--username", username, "--password", password,
         "--medications", "1"],
    ):  # fmt: skip
        done = subprocess.run(cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
        if done.returncode:
            raise SystemExit(f"{' '.join(cmd[1:3])} failed:\n{done.stdout}{done.stderr}")


def sign_in(base: str, username: str, password: str) -> tuple[str, int]:
    """The bearer token and the id of a medication of the user's patient."""
    body = json.dumps({"username": username, "password": password}).encode()
    status, data = call(base, "POST", "/api/v1/auth/login", body=body)
    if status != 200 or not isinstance(data, dict):
        raise SystemExit(f"login failed: HTTP {status}")
    token = data["access_token"]
    patient = (call(base, "GET", "/api/v1/users/me", token)[1] or {}).get("active_patient_id")
    _, meds = call(base, "GET", f"/api/v1/medications/?patient_id={patient}&limit=1", token)
    if not meds:
        raise SystemExit("the seeded user has no medication")
    return token, meds[0]["id"]


def upload_checked(base: str, token: str, medication: int, source: Path, sha256: str) -> dict:
    """Uploads `source` to the medication; stops the run unless the server kept its bytes."""
    size = source.stat().st_size
    up = upload(base, f"/api/v1/entity-files/medication/{medication}/files", source, token)
    if up["status"] != 200 or not isinstance(up["data"], dict):
        raise SystemExit(f"upload of {human(size)}: HTTP {up['status']}: {up['data']}")
    if up["data"].get("sha256") != sha256 or up["data"].get("file_size") != size:
        raise SystemExit(f"the server stored other bytes: {up['data']}")
    return up


def download_checked(base: str, token: str, file_id: int, size: int, sha256: str) -> dict:
    down = download(base, f"/api/v1/entity-files/files/{file_id}/download", token)
    if down["status"] != 200 or down["bytes"] != size or down["sha256"] != sha256:
        raise SystemExit(
            f"download of {human(size)}: HTTP {down['status']}, {down['bytes']} bytes,"
            f" sha256 {down['sha256']} (uploaded {sha256})"
        )
    return down


def check_range(base: str, token: str, file_id: int, source: Path) -> dict:
    size = source.stat().st_size
    length = min(MiB, size)
    got = download(
        base, f"/api/v1/entity-files/files/{file_id}/download", token, f"bytes=-{length}"
    )
    with source.open("rb") as f:
        f.seek(size - length)
        want = f.read(length)
    expected_range = f"bytes {size - length}-{size - 1}/{size}"
    if (
        got["status"] != 206
        or got["headers"].get("content-range") != expected_range
        or got["body"] != want
    ):
        raise SystemExit(
            f"range of the last {length} bytes: HTTP {got['status']},"
            f" Content-Range {got['headers'].get('content-range')!r}, {got['bytes']} bytes"
        )
    return got


def measure(args, base: str, sampler: RssSampler, var_dir: Path) -> dict:
    token, medication = sign_in(base, args.username, args.password)
    # A small round trip first, so that lazy imports and libmagic's database are loaded
    # before the baseline is taken.
    # Several, because each web worker process gets only some of the connections.
    warm = Path(args.workdir) / f"files-bench-warmup-{os.getpid()}.pdf"
    try:
        warm_sha = make_pdf(warm, 64 * 1024)
        for _ in range(6):
            file_id = upload_checked(base, token, medication, warm, warm_sha)["data"]["id"]
            download_checked(base, token, file_id, 64 * 1024, warm_sha)
            check_range(base, token, file_id, warm)
    finally:
        warm.unlink(missing_ok=True)
    idle = settle(sampler, args.idle)
    rows = []
    for size in args.sizes:
        source = Path(args.workdir) / f"files-bench-{os.getpid()}-{size}.pdf"
        try:
            t0 = time.perf_counter()
            sha256 = make_pdf(source, size)
            print(f"{human(size)}: written in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
            before = settle(sampler, args.idle)
            load = loadavg()
            up = upload_checked(base, token, medication, source, sha256)
            up_mem = sampler.take()
            file_id = up["data"]["id"]
            down = download_checked(base, token, file_id, size, sha256)
            down_mem = sampler.take()
            ranged = check_range(base, token, file_id, source)
            range_mem = sampler.take()
            rows.append(
                {
                    "size": size,
                    "load_before": load,
                    "idle_before": before,
                    "upload": {"seconds": round(up["seconds"], 3), **up_mem},
                    "download": {"seconds": round(down["seconds"], 3), **down_mem},
                    "range": {"seconds": round(ranged["seconds"], 4), **range_mem},
                }
            )
            call(base, "DELETE", f"/api/v1/entity-files/files/{file_id}", token)
        finally:
            source.unlink(missing_ok=True)
            for stored in (var_dir / "media" / "files").rglob("*.pdf"):
                stored.unlink()  # the trashed bytes of this run's throwaway database
        print(f"{human(size)}: done", file=sys.stderr)
    return {"idle": idle, "rows": rows}


def mib_per_s(size: int, seconds: float) -> float:
    return size / MiB / seconds if seconds else 0.0


def print_table(report: dict) -> None:
    s = report["settings"]
    print(f"server: {s['serve_cmd']}")
    print(
        f"{s['cpus']} CPUs; database {s['database']}; upload limit {human(s['upload_limit'])};"
        f" RSS polled every {s['interval']} s"
    )
    idle = report["idle"]
    print(
        f"idle after warm-up: tree {idle['total_mib']} MiB, largest process"
        f" {idle['hwm_mib']} MiB (VmHWM)"
    )
    print("tree = peak of the polled sum of VmRSS over the serve process and its children;")
    print("proc = peak of the largest single process (VmHWM, reset before each phase)")
    head = ("size", "up s", "MiB/s", "tree", "proc", "down s", "MiB/s", "tree", "proc",
            "range ms", "proc", "loadavg before")  # fmt: skip
    print(
        "{:>8} | {:>7} {:>7} {:>7} {:>7} | {:>7} {:>7} {:>7} {:>7} | {:>8} {:>7} | {}".format(*head)
    )
    for row in report["rows"]:
        size, up, down, ranged = row["size"], row["upload"], row["download"], row["range"]
        print(
            f"{human(size):>8} | {up['seconds']:7.2f} {mib_per_s(size, up['seconds']):7.1f}"
            f" {up['total_mib']:7.1f} {up['hwm_mib']:7.1f} |"
            f" {down['seconds']:7.2f} {mib_per_s(size, down['seconds']):7.1f}"
            f" {down['total_mib']:7.1f} {down['hwm_mib']:7.1f} |"
            f" {ranged['seconds'] * 1000:8.1f} {ranged['hwm_mib']:7.1f} | {row['load_before']}"
        )


def growth(report: dict) -> float:
    """How much higher the largest process peaked at the biggest size than at the smallest."""
    rows = sorted(report["rows"], key=lambda row: row["size"])
    if len(rows) < 2:
        return 0.0

    def peak(row):
        return max(row["upload"]["hwm_mib"], row["download"]["hwm_mib"])

    return round(peak(rows[-1]) - peak(rows[0]), 1)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1G", help="one file size (default 1G = 1 GiB)")
    ap.add_argument("--sizes", help="several sizes, comma-separated (e.g. 64M,256M,1G)")
    ap.add_argument("--bind", default="127.0.0.1:8103")
    ap.add_argument("--serve-args", default="", help="more options for `manage.py serve`")
    ap.add_argument("--workdir", default=tempfile.gettempdir(), help="where the files go")
    ap.add_argument("--interval", type=float, default=0.05, help="RSS poll, seconds")
    ap.add_argument("--idle", type=float, default=2.0, help="seconds of idle sampling")
    ap.add_argument(
        "--tolerance", type=float, default=32.0, help="MiB of peak growth still called flat"
    )
    ap.add_argument("--username", default="bench")
    ap.add_argument("--password", default="bench-Passw0rd!")
    ap.add_argument("--json", help="also write the report to this file")
    args = ap.parse_args(argv)
    try:
        args.sizes = [parse_size(x) for x in (args.sizes or args.size).split(",") if x.strip()]
    except ValueError as exc:
        ap.error(str(exc))
    if not 0.005 <= args.interval <= 1:
        ap.error("--interval must be 0.005..1 s")
    resolve_loopback(f"http://{args.bind}")

    # The source file and the server's copy (the spooled upload is moved, not copied).
    free = shutil.disk_usage(args.workdir).free
    need = 2 * max(args.sizes) + GiB
    if free < need:
        raise SystemExit(f"{args.workdir} has {human(free)} free; this run needs {human(need)}")

    var_dir = Path(tempfile.mkdtemp(prefix="files-bench-", dir=args.workdir))
    (var_dir / "tmp").mkdir()
    env = {**os.environ, **RATES, "MEDIKEEP_VAR_DIR": str(var_dir), "TMPDIR": str(var_dir / "tmp")}
    limit = int(env.get("FILES_MAX_UPLOAD_BYTES") or DEFAULT_LIMIT)
    if max(args.sizes) > limit:
        env["FILES_MAX_UPLOAD_BYTES"] = str(max(args.sizes))
    cmd = [sys.executable, "manage.py", "serve", "--no-worker", "--bind", args.bind]
    cmd += args.serve_args.split()
    base = f"http://{args.bind}"
    proc = None
    try:
        prepare(env, args.username, args.password)
        proc = start(cmd, var_dir / "serve.log", env)
        wait_ready(base, proc, var_dir / "serve.log")
        sampler = RssSampler(proc.pid, args.interval)
        sampler.start()
        try:
            report = measure(args, base, sampler, var_dir)
        finally:
            sampler.halt()
    finally:
        if proc is not None:
            stop(proc)
        shutil.rmtree(var_dir, ignore_errors=True)
    report["settings"] = {
        "serve_cmd": " ".join(cmd[1:]),
        "cpus": os.cpu_count(),
        "interval": args.interval,
        "database": "postgresql" if env.get("DATABASE_URL", "").startswith("postg") else "sqlite",
        "upload_limit": int(env.get("FILES_MAX_UPLOAD_BYTES") or DEFAULT_LIMIT),
    }
    report["growth_mib"] = growth(report)
    print_table(report)
    flat = report["growth_mib"] <= args.tolerance
    print(
        f"largest process's peak at the biggest size minus at the smallest:"
        f" {report['growth_mib']} MiB ({'flat' if flat else 'GROWS'};"
        f" tolerance {args.tolerance} MiB)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")
    return 0 if flat else 1


if __name__ == "__main__":
    sys.exit(main())
