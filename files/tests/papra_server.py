"""A Papra-compatible HTTP server on loopback for the Papra tests (real sockets, no mocks).

It answers the calls our client makes with the shapes Papra's server uses (papra-hq/papra,
apps/papra-server: organizations, documents, config routes):

- `GET /api/config` (public) -> {config: {version, ...}}
- `GET /api/organizations` -> {organizations: [{id, name, createdAt, updatedAt}]}
- `GET /api/organizations/{org}/documents?searchQuery=&pageIndex=&pageSize=`
  -> {documents: [...], documentsCount} (documents in the trash are left out; unknown query
  keys are refused with 400, as Papra's strict schema does)
- `POST /api/organizations/{org}/documents` (multipart `file`) -> {document}
- `GET /api/organizations/{org}/documents/{doc}` -> {document}; a document in Papra's trash
  still answers, with isDeleted true; one removed for good answers 404
- `GET /api/organizations/{org}/documents/{doc}/file` -> the bytes (octet-stream, attachment)

Every call but the config needs `Authorization: Bearer <api key>` (401 otherwise, Papra's
error body {error: {message, code}}); an organization the key's user is not in answers 403.
Tests change `delay` to make it slow and read `requests` to see what was sent.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import string
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

VERSION = "0.9.6"
API_KEY = "ppapi_" + "k" * 60 + "T0k3"  # Papra's key format: ppapi_ + 64 letters/digits
_ID_PART = re.compile(r"^[a-z0-9]{24}$")
_DOCUMENTS = re.compile(
    r"^/api/organizations/(?P<org>[^/]+)/documents(?:/(?P<doc>[^/]+))?(?P<file>/file)?$"
)
_LIST_KEYS = {"searchQuery", "pageIndex", "pageSize", "sortField", "sortOrder"}


def new_id(prefix: str) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return f"{prefix}_" + "".join(secrets.choice(alphabet) for _ in range(24))


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _error(status: int, message: str, code: str) -> Response:
    body = json.dumps({"error": {"message": message, "code": code}})
    return Response(body, status=status, content_type="application/json")


def _json(payload) -> Response:
    return Response(json.dumps(payload), content_type="application/json")


@dataclass
class StoredDocument:
    id: str
    organization_id: str
    name: str
    mime_type: str
    content: bytes
    created_at: str = field(default_factory=_now)
    deleted_at: str | None = None

    def as_api(self) -> dict:
        return {
            "id": self.id,
            "organizationId": self.organization_id,
            "name": self.name,
            "originalName": self.name,
            "mimeType": self.mime_type,
            "originalSize": len(self.content),
            "originalSha256Hash": hashlib.sha256(self.content).hexdigest(),
            "createdAt": self.created_at,
            "updatedAt": self.created_at,
            "documentDate": None,
            "isDeleted": self.deleted_at is not None,
            "deletedAt": self.deleted_at,
            "tags": [],
        }


class PapraServer:
    """The server's state and its WSGI app; one per test."""

    def __init__(self):
        self.api_key = API_KEY
        self.organizations = [
            {"id": new_id("org"), "name": "Family health"},
            {"id": new_id("org"), "name": "Paperwork"},
        ]
        self.documents: dict[str, StoredDocument] = {}
        self.delay = 0.0  # seconds to wait before answering (the slow-server tests)
        # Papra refuses a file whose content the organization already holds (409).
        self.refuse_duplicates = True
        self.requests: list[dict] = []
        self.url = ""

    @property
    def organization_id(self) -> str:
        return self.organizations[0]["id"]

    def add_document(self, name: str, content: bytes, *, mime_type="application/pdf", org=None):
        document = StoredDocument(
            id=new_id("doc"),
            organization_id=org or self.organization_id,
            name=name,
            mime_type=mime_type,
            content=content,
        )
        self.documents[document.id] = document
        return document

    def trash(self, document_id: str) -> None:
        """Moves a document to Papra's trash (it still answers, marked deleted)."""
        self.documents[document_id].deleted_at = _now()

    def remove(self, document_id: str) -> None:
        """Deletes a document for good (emptied from Papra's trash)."""
        del self.documents[document_id]

    # --- the WSGI app ---------------------------------------------------------------------

    def __call__(self, environ, start_response):
        request = Request(environ)
        self.requests.append(
            {
                "method": request.method,
                "path": request.path,
                "query": request.query_string.decode(),
                "authorization": request.headers.get("Authorization", ""),
            }
        )
        if self.delay:
            time.sleep(self.delay)
        return self._answer(request)(environ, start_response)

    def _answer(self, request: Request) -> Response:
        if request.path == "/api/config" and request.method == "GET":
            return _json({"config": {"version": VERSION, "documents": {}}})
        if request.headers.get("Authorization", "") != f"Bearer {self.api_key}":
            return _error(401, "Unauthorized", "auth.unauthorized")
        if request.path == "/api/organizations" and request.method == "GET":
            return _json(
                {"organizations": [{**o, "createdAt": _now()} for o in self.organizations]}
            )
        match = _DOCUMENTS.match(request.path)
        if match is None:
            return _error(404, "Route not found", "api.not-found")
        org, doc, file = match["org"], match["doc"], match["file"]
        if not org.startswith("org_") or not _ID_PART.match(org[4:]):
            return _error(400, "Invalid organization id.", "server.invalid_request.params")
        if org not in {o["id"] for o in self.organizations}:
            return _error(403, "You are not part of this organization.", "user.not_in_organization")
        if doc is None:
            if request.method == "GET":
                return self._list(request, org)
            if request.method == "POST":
                return self._create(request, org)
            return _error(405, "Method not allowed", "api.method_not_allowed")
        if not doc.startswith("doc_") or not _ID_PART.match(doc[4:]):
            return _error(400, "Invalid document id.", "server.invalid_request.params")
        document = self.documents.get(doc)
        if document is None or document.organization_id != org:
            return _error(404, "Document not found.", "document.not_found")
        if file:
            return Response(
                document.content,
                content_type="application/octet-stream",
                headers={
                    "Content-Disposition": f"attachment; filename*=UTF-8''{document.name}",
                    "Content-Length": str(len(document.content)),
                    "X-Content-Type-Options": "nosniff",
                },
            )
        return _json({"document": document.as_api()})

    def _list(self, request: Request, org: str) -> Response:
        unknown = set(request.args) - _LIST_KEYS
        if unknown:
            return _error(400, f"Unknown query keys: {sorted(unknown)}", "server.invalid_request")
        try:
            page_index = int(request.args.get("pageIndex", 0))
            page_size = int(request.args.get("pageSize", 100))
        except ValueError:
            return _error(400, "Invalid pagination.", "server.invalid_request.query")
        if page_index < 0 or not 1 <= page_size <= 100:
            return _error(400, "Invalid pagination.", "server.invalid_request.query")
        query = request.args.get("searchQuery", "").strip().lower()
        found = [
            d
            for d in self.documents.values()
            if d.organization_id == org and d.deleted_at is None and query in d.name.lower()
        ]
        page = found[page_index * page_size : (page_index + 1) * page_size]
        return _json({"documents": [d.as_api() for d in page], "documentsCount": len(found)})

    def _create(self, request: Request, org: str) -> Response:
        upload = request.files.get("file")
        if upload is None:
            return _error(
                400,
                'No file provided, please upload a file using the "file" key.',
                "document.no_file",
            )
        content = upload.read()
        if self.refuse_duplicates and any(
            d.organization_id == org and d.content == content for d in self.documents.values()
        ):
            return _error(409, "Document already exists.", "document.already_exists")
        document = self.add_document(
            upload.filename or "document",
            content,
            mime_type=upload.mimetype or "application/octet-stream",
            org=org,
        )
        return _json({"document": document.as_api()})


@pytest.fixture
def papra_server():
    """A running Papra-compatible server on a free loopback port."""
    app = PapraServer()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    app.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app
    finally:
        server.shutdown()
        thread.join(timeout=5)
