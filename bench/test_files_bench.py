"""The helpers of bench/files_bench.py at tiny sizes: the PDF it writes, the streaming client
against a real HTTP server on loopback, and the memory sampler on real processes. No timing
here: speed and memory are measured by running the script."""

from __future__ import annotations

import email
import hashlib
import http.server
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

import magic
import pytest

from bench.files_bench import (
    PDF_HEAD,
    PDF_TAIL,
    MiB,
    RssSampler,
    download,
    make_pdf,
    parse_size,
    process_tree,
    upload,
)


def test_parse_size_reads_binary_units_and_refuses_nonsense():
    assert parse_size("64M") == 64 * MiB
    assert parse_size("1G") == 1024 * MiB
    assert parse_size("1GiB") == 1024 * MiB
    assert parse_size("1.5k") == 1536
    assert parse_size("65536") == 65536
    for bad in ("", "abc", "1T", "-5M", "3"):  # "3": smaller than a PDF's header and trailer
        with pytest.raises(ValueError):
            parse_size(bad)


def test_make_pdf_writes_exactly_the_size_as_a_pdf_and_returns_its_hash(tmp_path):
    path = tmp_path / "x.pdf"
    size = 3 * MiB + 17  # more than one chunk, not a whole number of them
    sha = make_pdf(path, size)
    data = path.read_bytes()
    assert len(data) == size
    assert data.startswith(PDF_HEAD) and data.endswith(PDF_TAIL)
    assert sha == hashlib.sha256(data).hexdigest()
    assert magic.from_file(str(path), mime=True) == "application/pdf"
    assert make_pdf(tmp_path / "y.pdf", size) != sha  # random bytes, not a fixed pattern


class _Peer(http.server.BaseHTTPRequestHandler):
    """POST: parses the multipart body and answers the file part's name, size and hash.
    GET: serves `content` with a Range of the form bytes=-N."""

    content = b""

    def log_message(self, *args):
        pass

    def do_POST(self):
        length = int(self.headers["Content-Length"])
        body = b""
        while len(body) < length:
            body += self.rfile.read(min(65536, length - len(body)))
        message = email.message_from_bytes(
            f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
        )
        (part,) = message.get_payload()
        payload = part.get_payload(decode=True)
        self._answer(
            200,
            json.dumps(
                {
                    "name": part.get_param("name", header="content-disposition"),
                    "filename": part.get_filename(),
                    "file_size": len(payload),
                    "sha256": hashlib.sha256(payload).hexdigest(),
                    "authorization": self.headers["Authorization"],
                }
            ).encode(),
        )

    def do_GET(self):
        wanted = re.fullmatch(r"bytes=-(\d+)", self.headers.get("Range") or "")
        if wanted:
            start = len(self.content) - int(wanted[1])
            self._answer(206, self.content[start:], {"Content-Range": f"bytes {start}-"})
        else:
            self._answer(200, self.content)

    def _answer(self, status, body, headers=None):
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def peer():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Peer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_upload_sends_the_file_as_the_multipart_field_file(peer, tmp_path):
    path = tmp_path / "report.pdf"
    sha = make_pdf(path, 2 * MiB + 5)
    answer = upload(peer, "/files", path, "tok")
    assert answer["status"] == 200
    assert answer["data"] == {
        "name": "file",
        "filename": "report.pdf",
        "file_size": 2 * MiB + 5,
        "sha256": sha,
        "authorization": "Bearer tok",
    }


def test_download_hashes_the_whole_body_and_passes_the_range(peer, tmp_path):
    content = bytes(range(256)) * (12 * 1024)  # 3 MiB: more than the 2 MiB kept
    _Peer.content = content
    whole = download(peer, "/f", "tok")
    assert (whole["status"], whole["bytes"]) == (200, len(content))
    assert whole["sha256"] == hashlib.sha256(content).hexdigest()
    assert whole["body"] is None
    tail = download(peer, "/f", "tok", "bytes=-1000")
    assert (tail["status"], tail["body"]) == (206, content[-1000:])
    assert tail["headers"]["content-range"] == f"bytes {len(content) - 1000}-"


GROW_AND_SHRINK = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
print(child.pid, flush=True)
sys.stdin.readline()
block = b"x" * (96 << 20)  # touched, so resident
print("big", flush=True)
sys.stdin.readline()
del block
print("small", flush=True)
sys.stdin.readline()
"""


def test_sampler_sees_the_tree_and_restarts_its_peaks_at_each_take():
    proc = subprocess.Popen(
        [sys.executable, "-c", GROW_AND_SHRINK],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    child = int(proc.stdout.readline())
    try:
        assert set(process_tree(proc.pid)) >= {proc.pid, child}
        sampler = RssSampler(proc.pid, interval=0.01)
        sampler.start()
        baseline = sampler.take()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "big\n"
        time.sleep(0.1)
        big = sampler.take()
        proc.stdin.write("\n")
        proc.stdin.flush()
        assert proc.stdout.readline() == "small\n"
        sampler.take()  # the phase of the free: its peak is still the big one
        time.sleep(0.1)
        small = sampler.take()
        sampler.halt()
    finally:
        for pid in (child, proc.pid):
            os.kill(pid, signal.SIGKILL)
        proc.wait()
    assert big["hwm_mib"] >= baseline["hwm_mib"] + 90
    assert big["total_mib"] >= baseline["total_mib"] + 90  # the sum includes the child's RSS
    assert small["hwm_mib"] <= big["hwm_mib"] - 80  # the peak was reset by the last take()
    assert big["samples"] >= 2
