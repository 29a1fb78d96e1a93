"""Small load driver for the MediKeep API: stdlib only, keep-alive HTTP/1.1 over asyncio.

Usage: python bench/load.py --base-url http://127.0.0.1:8000 --username U --password P
It starts no server; it only talks to one already running on a loopback address.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import json
import socket
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode, urlsplit

# Hard caps so a typo can never turn into an unbounded load run.
MAX_REQUESTS = 100_000
MAX_DURATION = 300.0
MAX_CONCURRENCY = 256
REQUEST_TIMEOUT = 30.0
HINT = (
    "hint: HTTP 429 means the server throttled us; restart it with raised rates, e.g. "
    "API_RATE_AUTH=100000/s API_RATE_STANDARD=100000/s API_RATE_SEARCH=100000/s"
)

Target = tuple[str, int, str]  # host, port, Host header value


@dataclass
class Ctx:
    username: str
    password: str
    token: str = ""
    vars: dict[str, str] = field(default_factory=dict)  # filled by setup hooks, used in paths


@dataclass
class Scenario:
    method: str
    path: str
    build: Callable[[Ctx], tuple[bytes, dict[str, str]]]  # -> (body, extra headers)
    expect: int = 200
    check: Callable[[bytes], str | None] = lambda body: None  # -> error reason or None
    needs_token: bool = False
    setup: Callable[[Target, Ctx], Awaitable[None]] | None = None  # runs once, before timing


def _login_body(ctx: Ctx) -> tuple[bytes, dict[str, str]]:
    body = urlencode({"username": ctx.username, "password": ctx.password}).encode()
    return body, {"Content-Type": "application/x-www-form-urlencoded"}


def _has_token(body: bytes) -> str | None:
    try:
        return None if json.loads(body).get("access_token") else "no access_token in body"
    except (ValueError, AttributeError):
        return "login body is not a JSON object"


def _bearer(ctx: Ctx) -> tuple[bytes, dict[str, str]]:
    return b"", {"Authorization": f"Bearer {ctx.token}"}


def _json(payload: dict[str, object]) -> Callable[[Ctx], tuple[bytes, dict[str, str]]]:
    body = json.dumps(payload).encode()

    def build(ctx: Ctx) -> tuple[bytes, dict[str, str]]:
        return body, {"Authorization": f"Bearer {ctx.token}", "Content-Type": "application/json"}

    return build


async def _get_json(target: Target, ctx: Ctx, path: str, what: str) -> tuple[int, object]:
    """One authenticated GET for a setup hook: (status, parsed JSON or None)."""
    conn = Conn(target)
    try:
        status, data = await conn.request("GET", path, *_bearer(ctx))
        return status, json.loads(data) if status == 200 else None
    except (OSError, ValueError) as e:
        raise SystemExit(f"setup for {what} failed: {e}") from None
    finally:
        await conn.close()


def _first_id(var: str, path: str, what: str) -> Callable[[Target, Ctx], Awaitable[None]]:
    """A setup hook that stores the id of the first row `path` lists in ctx.vars[var]."""

    async def setup(target: Target, ctx: Ctx) -> None:
        status, rows = await _get_json(target, ctx, path, what)
        if not isinstance(rows, list) or not rows:
            raise SystemExit(
                f"setup: no {what} to fetch (HTTP {status}, {rows!r:.120}); seed first"
            )
        ctx.vars[var] = str(rows[0]["id"])

    return setup


async def _active_patient(target: Target, ctx: Ctx) -> None:
    """Setup for the /vitals/patient/{patient_id}/… scenarios: the active patient's id."""
    for path in ("/api/v1/patient-management/active/current", "/api/v1/patients/me"):
        status, patient = await _get_json(target, ctx, path, "patient_id")
        if isinstance(patient, dict) and patient.get("id"):
            ctx.vars["patient_id"] = str(patient["id"])
            return
    raise SystemExit(f"setup: the user has no active patient (HTTP {status}); seed first")


def _has_items(body: bytes) -> str | None:
    """A /paginated page must not be empty: an empty one means too few rows were seeded."""
    try:
        return None if json.loads(body).get("items") else "empty page (seed more vitals)"
    except (ValueError, AttributeError):
        return "page body is not a JSON object"


def _non_empty_list(body: bytes) -> str | None:
    try:
        return None if json.loads(body) else "empty list"
    except ValueError:
        return "body is not JSON"


def _finds(want: str, field: str, key: str | None = None) -> Callable[[bytes], str | None]:
    """A check that a catalogue result list (body[key], or the body itself) has the entry whose
    `field` is `want`: a fast empty answer must not pass for a fast search."""

    def check(body: bytes) -> str | None:
        try:
            data = json.loads(body)
            rows = data[key] if key else data
            found = {row.get(field) for row in rows}
        except (ValueError, KeyError, TypeError, AttributeError):
            return "body is not the expected JSON"
        if not rows:
            return "no results (catalogue not loaded? run manage.py load_reference_data)"
        return None if want in found else f"{want} not among the {len(rows)} results"

    return check


def _catalogue(
    name: str, base: str, key: str, field: str, queries: dict[str, tuple[str, str]]
) -> dict[str, Scenario]:
    """{name}_search_{kind} and {name}_autocomplete_{kind} for each (query, expected entry):
    one scenario per query kind, so a slow ranking path shows up under its own name."""
    scenarios = {}
    for kind, (text, want) in queries.items():
        search = urlencode({"query": text, "limit": 20})
        scenarios[f"{name}_search_{kind}"] = Scenario(
            "GET",
            f"{base}/search?{search}",
            _bearer,
            check=_finds(want, field, key),
            needs_token=True,
        )
        typed = urlencode({"q": text, "limit": 10})
        scenarios[f"{name}_autocomplete_{kind}"] = Scenario(
            "GET",
            f"{base}/autocomplete?{typed}",
            _bearer,
            check=_finds(want, field),
            needs_token=True,
        )
    return scenarios


# One query per ranking path: kind -> (query, LOINC code or short name that must be found).
LOINC_QUERIES = {
    "code": ("2345-7", "2345-7"),  # the exact LOINC code (tier 0)
    "prefix": ("hemo", "718-7"),  # names starting with it (tier 2), 18 matches
    "synonym": ("blood sugar", "2345-7"),  # a common name, two words (tier 3)
    "typo": ("hemoglobn", "718-7"),  # the LIKE misses it; only the typo comparison finds it
}
# The vaccine search has no typo tolerance, so no typo kind here.
VACCINE_QUERIES = {
    "code": ("HepB", "HepB"),  # exact short name (rank 0)
    "prefix": ("influ", "IIV4"),  # names starting with it (rank 1)
    "brand": ("fluzone", "IIV4"),  # a brand name (rank 2)
    "disease": ("pertussis", "Tdap"),  # a covered disease (rank 3), 11 matches
}

MED = "/api/v1/medications"
NEW_MED = {"medication_name": "Bench create", "dosage": "10mg", "status": "active"}
VITALS = "/api/v1/vitals"
LABS = "/api/v1/lab-results"
_first_medication = _first_id("medication_id", f"{MED}?limit=1", "medication")
_first_lab_result = _first_id("lab_result_id", f"{LABS}?limit=1", "lab result")

# Registry: adding an endpoint is one line here. Paths may use {names} that a setup hook sets.
SCENARIOS: dict[str, Scenario] = {
    "login": Scenario("POST", "/api/v1/auth/login", _login_body, check=_has_token),
    "me": Scenario("GET", "/api/v1/users/me", _bearer, needs_token=True),
    "medications": Scenario("GET", f"{MED}?limit=100", _bearer, needs_token=True),
    "medication": Scenario(
        "GET", MED + "/{medication_id}", _bearer, needs_token=True, setup=_first_medication
    ),
    "medication_create": Scenario("POST", MED, _json(NEW_MED), expect=201, needs_token=True),
    "dashboard": Scenario("GET", "/api/v1/patients/me/dashboard-stats", _bearer, needs_token=True),
    "vitals_stats": Scenario("GET", f"{VITALS}/stats", _bearer, needs_token=True),
    "vitals_page": Scenario(
        "GET",
        VITALS + "/patient/{patient_id}/paginated?skip=50000&limit=100",
        _bearer,
        check=_has_items,
        needs_token=True,
        setup=_active_patient,
    ),
    "vitals_patient_stats": Scenario(
        "GET",
        VITALS + "/patient/{patient_id}/stats",
        _bearer,
        needs_token=True,
        setup=_active_patient,
    ),
    "lab_results": Scenario("GET", f"{LABS}?limit=100", _bearer, needs_token=True),
    "lab_components": Scenario(
        "GET",
        "/api/v1/lab-test-components/lab-result/{lab_result_id}/components",
        _bearer,
        check=_non_empty_list,
        needs_token=True,
        setup=_first_lab_result,
    ),
    **_catalogue("loinc", "/api/v1/standardized-tests", "tests", "loinc_code", LOINC_QUERIES),
    **_catalogue(
        "vaccine", "/api/v1/standardized-vaccines", "vaccines", "short_name", VACCINE_QUERIES
    ),
}


class Conn:
    """One keep-alive connection; reopens transparently when the server closes it."""

    def __init__(self, target: Target) -> None:
        self.host, self.port, self.netloc = target
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
        self.reader = self.writer = None

    async def request(
        self, method: str, path: str, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        hdrs = {"Host": self.netloc, "Content-Length": str(len(body)), **headers}
        head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
        self.writer.write(head.encode("latin-1") + b"\r\n" + body)
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("server closed connection")
        version, status = status_line.split(b" ", 2)[:2]
        resp: dict[str, str] = {}
        while (line := await self.reader.readline()) not in (b"\r\n", b"\n", b""):
            k, _, v = line.decode("latin-1").partition(":")
            resp[k.strip().lower()] = v.strip()
        if resp.get("transfer-encoding", "").lower() == "chunked":
            data = b""
            while size := int((await self.reader.readline()).split(b";")[0], 16):
                data += (await self.reader.readexactly(size + 2))[:-2]  # drop chunk CRLF
            await self.reader.readline()  # CRLF after the last (empty) chunk
        elif "content-length" in resp:
            data = await self.reader.readexactly(int(resp["content-length"]))
        else:  # body delimited by EOF: connection cannot be reused
            data = await self.reader.read()
            resp["connection"] = "close"
        if resp.get("connection", "").lower() == "close" or version == b"HTTP/1.0":
            await self.close()
        return int(status), data


@dataclass
class Result:
    name: str
    requests: int = 0
    errors: int = 0
    throttled: int = 0
    elapsed: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)  # successful requests only
    reasons: dict[str, int] = field(default_factory=dict)

    def fail(self, reason: str) -> None:
        self.errors += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def summary(self) -> dict[str, object]:
        lat = sorted(self.latencies_ms)

        def pct(p: float) -> float:  # nearest-rank percentile
            return round(lat[max(0, int(-(-p * len(lat) // 100)) - 1)], 2) if lat else 0.0

        return {
            "scenario": self.name,
            "requests": self.requests,
            "errors": self.errors,
            "429": self.throttled,
            "rps": round(self.requests / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": pct(50),
            "p90_ms": pct(90),
            "p99_ms": pct(99),
            "max_ms": round(lat[-1], 2) if lat else 0.0,
            "first_errors": [f"{r} (x{n})" for r, n in list(self.reasons.items())[:5]],
        }


async def run_scenario(
    name: str, target: Target, ctx: Ctx, conc: int, total: int, duration: float | None
) -> Result:
    sc, res = SCENARIOS[name], Result(name)
    if sc.setup is not None:
        await sc.setup(target, ctx)
    path = sc.path.format(**ctx.vars)
    remaining = total
    deadline = time.perf_counter() + duration if duration else None

    async def worker() -> None:
        nonlocal remaining
        conn = Conn(target)
        try:
            while remaining > 0 and (deadline is None or time.perf_counter() < deadline):
                remaining -= 1  # safe: no await between check and decrement
                body, headers = sc.build(ctx)
                t0 = time.perf_counter()
                try:
                    status, data = await asyncio.wait_for(
                        conn.request(sc.method, path, body, headers), REQUEST_TIMEOUT
                    )
                except (TimeoutError, OSError, ValueError, asyncio.IncompleteReadError) as e:
                    res.requests += 1
                    res.fail(f"{type(e).__name__}: {e}"[:120])
                    await conn.close()
                    continue
                ms = (time.perf_counter() - t0) * 1000
                res.requests += 1
                if status == 429:
                    res.throttled += 1
                    res.fail("HTTP 429")
                elif status != sc.expect:
                    res.fail(f"HTTP {status}: {data[:80]!r}")
                elif reason := sc.check(data):
                    res.fail(reason)
                else:
                    res.latencies_ms.append(ms)
        finally:
            await conn.close()

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(conc)))
    res.elapsed = time.perf_counter() - start
    return res


async def obtain_token(target: Target, ctx: Ctx) -> None:
    """Log in once so token-based scenarios measure the endpoint, not the login."""
    conn, sc = Conn(target), SCENARIOS["login"]
    try:
        status, data = await conn.request(sc.method, sc.path, *sc.build(ctx))
    except OSError as e:
        raise SystemExit(f"setup login failed: {e}") from None
    finally:
        await conn.close()
    if status != 200:
        hint = "\n" + HINT if status == 429 else ""
        raise SystemExit(f"setup login failed: HTTP {status} {data[:200]!r}{hint}")
    ctx.token = json.loads(data)["access_token"]


def resolve_loopback(base_url: str) -> Target:
    """Refuse non-loopback targets: load may only be generated against this machine."""
    u = urlsplit(base_url)
    if u.scheme != "http" or not u.hostname:
        raise SystemExit(f"--base-url must look like http://127.0.0.1:8000, got {base_url!r}")
    port = u.port or 80
    try:
        infos = socket.getaddrinfo(u.hostname, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise SystemExit(f"cannot resolve {u.hostname!r}: {e}") from None
    addrs = {ai[4][0] for ai in infos}
    if not addrs or not all(ipaddress.ip_address(a.split("%")[0]).is_loopback for a in addrs):
        raise SystemExit(f"refusing {u.hostname!r}: only loopback/localhost targets are allowed")
    return u.hostname, port, u.netloc.rpartition("@")[2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base-url", required=True)
    ap.add_argument("--username", required=True)
    ap.add_argument("--password", required=True)
    ap.add_argument("--concurrency", type=int, default=10)
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--requests", type=int, help="requests per scenario (default 500)")
    mode.add_argument("--duration", type=float, help="seconds per scenario")
    ap.add_argument("--scenario", default="login,me", help=f"comma list of {','.join(SCENARIOS)}")
    ap.add_argument("--json", help="also write results to this JSON file")
    a = ap.parse_args(argv)

    names = [n.strip() for n in a.scenario.split(",") if n.strip()]
    if unknown := [n for n in names if n not in SCENARIOS]:
        ap.error(f"unknown scenario(s) {unknown}; known: {list(SCENARIOS)}")
    if not 1 <= a.concurrency <= MAX_CONCURRENCY:
        ap.error(f"--concurrency must be 1..{MAX_CONCURRENCY}")
    if a.requests is not None and not 1 <= a.requests <= MAX_REQUESTS:
        ap.error(f"--requests must be 1..{MAX_REQUESTS}")
    if a.duration is not None and not 0 < a.duration <= MAX_DURATION:
        ap.error(f"--duration must be in (0, {MAX_DURATION:g}]")
    total = a.requests if a.requests is not None else (MAX_REQUESTS if a.duration else 500)
    target = resolve_loopback(a.base_url)
    ctx = Ctx(a.username, a.password)

    async def run_all() -> list[Result]:
        if any(SCENARIOS[n].needs_token for n in names):
            await obtain_token(target, ctx)
        return [await run_scenario(n, target, ctx, a.concurrency, total, a.duration) for n in names]

    try:
        rows = [r.summary() for r in asyncio.run(run_all())]
    except KeyboardInterrupt:
        return 130
    cols = ["scenario", "requests", "errors", "429", "rps", "p50_ms", "p90_ms", "p99_ms", "max_ms"]
    width = max(10, *(len(n) for n in names))  # scenario names may be wider than the numbers
    print(f"{cols[0]:>{width}}  " + "  ".join(f"{c:>10}" for c in cols[1:]))
    for row in rows:
        print(f"{row['scenario']!s:>{width}}  " + "  ".join(f"{row[c]!s:>10}" for c in cols[1:]))
        for reason in row["first_errors"]:  # type: ignore[attr-defined]
            print(f"    {row['scenario']} error: {reason}")
    if any(row["429"] for row in rows):
        print(HINT)
    if a.json:
        meta = {"base_url": a.base_url, "concurrency": a.concurrency, "duration": a.duration}
        with open(a.json, "w") as f:
            json.dump({**meta, "requests_cap": total, "results": rows}, f, indent=2)
    return 1 if any(row["errors"] for row in rows) else 0


if __name__ == "__main__":
    sys.exit(main())
