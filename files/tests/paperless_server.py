"""A Paperless-ngx-compatible HTTP server on loopback for the tests: the REST calls our client
makes, with Paperless-ngx's documented shapes, over a real socket.

- auth: `Authorization: Token <token>` or basic auth (username/password); else 401
  {"detail": "Invalid token."};
- `GET /api/` (X-Version / X-Api-Version headers), `POST /api/documents/post_document/`
  (multipart `document`, `title`; answers the task UUID as a JSON string), `GET /api/tasks/
  ?task_id=`, `GET /api/documents/` (query, page, page_size, id__in), `GET /api/documents/{id}/`,
  `.../metadata/` (original_checksum = MD5, original_size, original_mime_type),
  `.../download/`, `GET /api/{correspondents,document_types,tags}/?id__in=|name__iexact=` and
  `POST /api/{correspondents,tags}/ {name}`; post_document takes `tags` (repeated) and
  `correspondent` ids.

The consumer "runs" when a task is polled: after `polls_before_done` polls the task ends in
SUCCESS (a new document) or FAILURE (a duplicate of a document with the same MD5, as
Paperless refuses). `delay` makes every answer that slow; `fail_with` answers every call with
that status.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import threading
import time
import uuid
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

TOKEN = "pl-test-token-5f0c2d9e"
USERNAME, PASSWORD = "paper", "less-secret-pw"
VERSION = "2.14.7"


class PaperlessState:
    def __init__(self):
        self.lock = threading.Lock()
        self.documents: dict[int, dict] = {}
        self.tasks: dict[str, dict] = {}
        self.correspondents = {1: "City Lab"}
        self.document_types = {1: "Lab report"}
        self.tags = {1: "medical", 2: "lab-results"}
        self.next_id = 1
        self.polls_before_done = 0
        self.delay = 0.0
        self.fail_with: int | None = None
        self.requests: list[tuple[str, str, dict]] = []  # method, path, headers

    def add_document(
        self, content: bytes, *, title: str, file_name: str, mime="application/pdf", **extra
    ):
        with self.lock:
            doc_id = self.next_id
            self.next_id += 1
            self.documents[doc_id] = {
                "id": doc_id,
                "title": title,
                "original_file_name": file_name,
                "created": "2026-11-02T09:30:00+00:00",
                "correspondent": extra.get("correspondent"),
                "document_type": extra.get("document_type"),
                "tags": extra.get("tags", []),
                "content": extra.get("text", ""),
                "_bytes": content,
                "_mime": mime,
            }
            return doc_id

    def _consume(self, task: dict) -> None:
        """What Paperless' consumer does with a queued file (under the lock)."""
        content = task.pop("_bytes")
        checksum = hashlib.md5(content).hexdigest()
        duplicate = next(
            (
                d
                for d in self.documents.values()
                if hashlib.md5(d["_bytes"]).hexdigest() == checksum
            ),
            None,
        )
        task["date_done"] = "2026-12-05T02:00:00+00:00"
        if duplicate is not None:
            task["status"] = "FAILURE"
            task["result"] = (
                f"{task['task_file_name']}: Not consuming {task['task_file_name']}: It is a "
                f"duplicate of {duplicate['title']} (#{duplicate['id']})."
            )
            return
        doc_id = self.next_id
        self.next_id += 1
        self.documents[doc_id] = {
            "id": doc_id,
            "title": task["_title"],
            "original_file_name": task["task_file_name"],
            "created": "2026-12-05T02:00:00+00:00",
            "correspondent": task["_correspondent"],
            "document_type": None,
            "tags": task["_tags"],
            "content": "",
            "_bytes": content,
            "_mime": task["_mime"],
        }
        task["status"] = "SUCCESS"
        task["result"] = f"Success. New document id {doc_id} created"
        task["related_document"] = str(doc_id)


class _Handler(BaseHTTPRequestHandler):
    server_version = "paperless-test"
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # quiet
        pass

    @property
    def state(self) -> PaperlessState:
        return self.server.state

    def _send(
        self, status: int, body, *, headers=None, raw: bytes | None = None, mime="application/json"
    ):
        data = raw if raw is not None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", mime)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(data)

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        if header == f"Token {TOKEN}":
            return True
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode(errors="replace")
            return decoded == f"{USERNAME}:{PASSWORD}"
        return False

    def _begin(self):
        state = self.state
        state.requests.append((self.command, self.path, dict(self.headers)))
        if state.delay:
            time.sleep(state.delay)
        if state.fail_with:
            self._send(state.fail_with, {"detail": "Server error"})
            return None
        if not self._authorised():
            self._send(401, {"detail": "Invalid token."})
            return None
        url = urlsplit(self.path)
        return url.path, {k: v[-1] for k, v in parse_qs(url.query).items()}

    def do_GET(self):
        begun = self._begin()
        if begun is None:
            return
        path, query = begun
        state = self.state
        parts = [p for p in path.split("/") if p]
        if parts == ["api"]:
            return self._send(
                200,
                {"documents": "/api/documents/", "tasks": "/api/tasks/"},
                headers={"X-Version": VERSION, "X-Api-Version": "7"},
            )
        if parts == ["api", "tasks"]:
            with state.lock:
                task = state.tasks.get(query.get("task_id", ""))
                if task is None:
                    return self._send(200, [])
                task["_polls"] += 1
                if task["status"] in ("PENDING", "STARTED"):
                    if task["_polls"] > state.polls_before_done:
                        state._consume(task)
                    else:
                        task["status"] = "STARTED" if task["_polls"] > 1 else "PENDING"
                shown = {k: v for k, v in task.items() if not k.startswith("_")}
            return self._send(200, [shown])
        if parts == ["api", "documents"]:
            return self._send(200, self._document_list(query))
        if len(parts) in (3, 4) and parts[:2] == ["api", "documents"] and parts[2].isdigit():
            document = state.documents.get(int(parts[2]))
            if document is None:
                return self._send(404, {"detail": "No Document matches the given query."})
            if len(parts) == 3:
                return self._send(200, _public(document))
            if parts[3] == "metadata":
                return self._send(
                    200,
                    {
                        "original_checksum": hashlib.md5(document["_bytes"]).hexdigest(),
                        "original_size": len(document["_bytes"]),
                        "original_mime_type": document["_mime"],
                        "media_filename": f"{document['id']:07}.pdf",
                        "has_archive_version": False,
                        "original_metadata": [],
                        "original_filename": document["original_file_name"],
                    },
                )
            if parts[3] == "download":
                return self._send(
                    200,
                    None,
                    raw=document["_bytes"],
                    mime=document["_mime"],
                    headers={"Content-Disposition": f'attachment; filename="{document["id"]}.pdf"'},
                )
        if len(parts) == 2 and parts[1] in ("correspondents", "document_types", "tags"):
            names = {
                "correspondents": state.correspondents,
                "document_types": state.document_types,
                "tags": state.tags,
            }[parts[1]]
            wanted = {int(i) for i in query.get("id__in", "").split(",") if i.isdigit()}
            results = [{"id": i, "name": n} for i, n in names.items() if not wanted or i in wanted]
            if "name__iexact" in query:
                results = [r for r in results if r["name"].lower() == query["name__iexact"].lower()]
            return self._send(
                200, {"count": len(results), "next": None, "previous": None, "results": results}
            )
        self._send(404, {"detail": "Not found."})

    def _document_list(self, query: dict) -> dict:
        documents = sorted(self.state.documents.values(), key=lambda d: d["id"], reverse=True)
        text = query.get("query", "").lower()
        if text.startswith("title:"):
            text = text[6:]
            documents = [d for d in documents if text in d["title"].lower()]
        elif text:
            documents = [
                d
                for d in documents
                if text in f"{d['title']} {d['original_file_name']} {d['content']}".lower()
            ]
        if "id__in" in query:
            ids = {int(i) for i in query["id__in"].split(",") if i.isdigit()}
            documents = [d for d in documents if d["id"] in ids]
        page = int(query.get("page", 1))
        size = int(query.get("page_size", 25))
        chosen = documents[(page - 1) * size : page * size]
        return {
            "count": len(documents),
            "next": None,
            "previous": None,
            "all": [d["id"] for d in documents],
            "results": [_public(d) for d in chosen],
        }

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        begun = self._begin()
        if begun is None:
            return
        path, _ = begun
        if path in ("/api/tags/", "/api/correspondents/"):
            return self._new_label(path.split("/")[2], body)
        if path != "/api/documents/post_document/":
            return self._send(404, {"detail": "Not found."})
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + body
        )
        fields, tags, document = {}, [], None
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if name == "document":
                document = (
                    part.get_filename(),
                    part.get_content_type(),
                    part.get_payload(decode=True),
                )
            elif name == "tags":
                tags.append(int(part.get_payload(decode=True).decode()))
            else:
                fields[name] = part.get_payload(decode=True).decode()
        if document is None:
            return self._send(400, {"document": ["No file was submitted."]})
        task_id = str(uuid.uuid4())
        with self.state.lock:
            self.state.tasks[task_id] = {
                "id": len(self.state.tasks) + 1,
                "task_id": task_id,
                "task_file_name": document[0],
                "date_created": "2026-12-05T02:00:00+00:00",
                "date_done": None,
                "type": "file",
                "status": "PENDING",
                "result": None,
                "acknowledged": False,
                "related_document": None,
                "_bytes": document[2],
                "_mime": document[1],
                "_title": fields.get("title") or document[0],
                "_tags": tags,
                "_correspondent": int(fields["correspondent"])
                if "correspondent" in fields
                else None,
                "_polls": 0,
            }
        self._send(200, task_id)

    def _new_label(self, kind: str, body: bytes):
        name = json.loads(body or b"{}").get("name", "")
        labels = self.state.tags if kind == "tags" else self.state.correspondents
        with self.state.lock:
            if not name or any(n.lower() == name.lower() for n in labels.values()):
                return self._send(400, {"name": ["A label with this name already exists."]})
            label_id = max(labels, default=0) + 1
            labels[label_id] = name
        self._send(201, {"id": label_id, "name": name})


def _public(document: dict) -> dict:
    return {k: v for k, v in document.items() if not k.startswith("_")}


class PaperlessServer:
    def __init__(self):
        self.state = PaperlessState()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.state = self.state
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def paperless_server():
    """A fresh Paperless-ngx test server for one test (its own documents and tasks)."""
    with PaperlessServer() as server:
        yield server


def configure_paperless(user, url: str, *, token: str = TOKEN, **secrets) -> None:
    """Saves Paperless settings for `user` as the settings endpoint would (encrypted)."""
    from medikeep.accounts.models import UserPreference
    from medikeep.crypto import encrypt_json

    preference, _ = UserPreference.objects.get_or_create(user=user)
    preference.paperless_enabled = True
    preference.paperless_url = url
    preference.paperless_secrets = encrypt_json({"api_token": token, **secrets})
    preference.save()


@pytest.fixture
def paperless_for(paperless_server):
    """paperless_for(user) gives `user` working settings for the test server."""

    def configure(user, **kwargs):
        configure_paperless(user, paperless_server.url, **kwargs)
        return paperless_server

    return configure
