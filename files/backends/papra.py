"""The Papra client: organizations, document search, upload, metadata and streamed downloads.

Papra's REST API (papra-hq/papra, apps/papra-server) authenticates an API key sent as
`Authorization: Bearer ppapi_…`; documents live inside an organization:

- `GET /api/config` (public): {config: {version, …}} — the server's version;
- `GET /api/organizations`: {organizations: [{id, name, …}]};
- `GET /api/organizations/{org}/documents?searchQuery=&pageIndex=&pageSize=`: {documents,
  documentsCount} (pageIndex is 0-based, pageSize 1–100; unknown query keys are refused, so
  only these are sent; documents in Papra's trash are not listed);
- `POST /api/organizations/{org}/documents` (multipart `file`): {document} — stored at once,
  no task to poll; a file whose content the organization already holds is refused (409);
- `GET /api/organizations/{org}/documents/{doc}`: {document: {id, name, mimeType,
  originalName, originalSize, originalSha256Hash, createdAt, isDeleted, …}}; a document moved
  to Papra's trash still answers with isDeleted true, one emptied from it answers 404;
- `GET /api/organizations/{org}/documents/{doc}/file`: the bytes (always octet-stream).

Ids are Papra's strings (`org_` / `doc_` + 24 lowercase letters or digits). The API has no
title to set on upload (the name is the file's name) and no task status.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import requests

from files.backends import (
    BackendDocumentNotFound,
    BackendNotConfigured,
    BackendRejected,
    RemoteContent,
    RemoteUpload,
    raise_for_status,
    request_timeout,
    saved_secrets,
    translate_errors,
)

NAME = "papra"
CHUNK_SIZE = 256 * 1024
MAX_PAGE_SIZE = 100  # Papra refuses larger pages
ORGANIZATION_ID = re.compile(r"^org_[a-z0-9]{24}$")
DOCUMENT_ID = re.compile(r"^doc_[a-z0-9]{24}$")


def is_document_id(value: str) -> bool:
    return bool(DOCUMENT_ID.match(value or ""))


def is_organization_id(value: str) -> bool:
    return bool(ORGANIZATION_ID.match(value or ""))


class PapraClient:
    """One user's Papra: base URL, API key and the organization their documents go to.

    The key lives only in the session's headers; messages and logs never carry it."""

    name = NAME

    def __init__(self, base_url: str, api_token: str, organization_id: str | None = None):
        if not base_url:
            raise BackendNotConfigured("Papra's URL is not set in your settings.", backend=NAME)
        if not api_token:
            raise BackendNotConfigured("No Papra API key is saved in your settings.", backend=NAME)
        self.base_url = base_url.rstrip("/")
        self.organization_id = organization_id or None
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {api_token}"
        self.session.headers["Accept"] = "application/json"
        # Never send the key to another host on a redirect (requests strips Authorization on
        # a host change; refusing redirects altogether also keeps POST bodies from replaying).
        self.session.max_redirects = 0

    def __repr__(self) -> str:  # no token in tracebacks or debug output
        return f"PapraClient({self.base_url!r}, organization={self.organization_id!r})"

    def for_organization(self, organization_id: str | None) -> PapraClient:
        """The same connection, aimed at another organization (a file remembers the
        organization it was stored in, which may differ from the user's current one)."""
        if organization_id and organization_id != self.organization_id:
            other = object.__new__(PapraClient)
            other.base_url, other.session = self.base_url, self.session
            other.organization_id = organization_id
            return other
        return self

    # --- HTTP ---------------------------------------------------------------------------

    def _get(self, path: str, *, what: str, params=None, stream=False, auth=True):
        with translate_errors(NAME):
            getter = self.session.get if auth else requests.get
            response = getter(
                f"{self.base_url}{path}",
                params=params,
                timeout=request_timeout(),
                stream=stream,
                allow_redirects=False,
            )
        self._check(response, what)
        return response

    def _check(self, response: requests.Response, what: str) -> None:
        if 300 <= response.status_code < 400:
            response.close()
            raise BackendRejected(
                f"Papra answered a redirect (HTTP {response.status_code}) for {what}: "
                "check the URL in your settings (https, no path).",
                backend=NAME,
            )
        if response.status_code == 403 and _error_code(response) == "user.not_in_organization":
            raise BackendNotConfigured(
                "The Papra API key's account is not a member of the chosen organization; "
                "choose another in your settings.",
                backend=NAME,
            )
        if response.status_code >= 400:
            response.close()
        raise_for_status(response, NAME, what=what)

    def _json(self, response: requests.Response, what: str) -> dict:
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise BackendRejected(
                f"Papra's answer to {what} is not the expected JSON.", backend=NAME
            )
        return body

    def _organization(self) -> str:
        """The organization documents go to: the saved one, else the only one the key sees."""
        if self.organization_id:
            return self.organization_id
        organizations = self.organizations()
        if len(organizations) == 1:
            self.organization_id = organizations[0]["id"]
            return self.organization_id
        raise BackendNotConfigured(
            "Choose the Papra organization for your documents in your settings.", backend=NAME
        )

    def _document_path(self, document_id: str) -> str:
        if not is_document_id(document_id):
            raise BackendDocumentNotFound(
                f"{document_id!r} is not a Papra document id.", backend=NAME
            )
        return f"/api/organizations/{self._organization()}/documents/{document_id}"

    # --- the back-end interface ---------------------------------------------------------

    def version(self) -> str | None:
        """The server's version from its public config (None when it does not say)."""
        response = self._get("/api/config", what="the server's configuration", auth=False)
        config = self._json(response, "the configuration").get("config")
        version = config.get("version") if isinstance(config, dict) else None
        return str(version) if version else None

    def organizations(self) -> list[dict[str, str]]:
        """[{id, name}] of the organizations the key's account belongs to."""
        response = self._get("/api/organizations", what="the organizations")
        found = self._json(response, "the organizations").get("organizations")
        if not isinstance(found, list):
            raise BackendRejected("Papra's organizations list is not readable.", backend=NAME)
        return [
            {"id": str(o["id"]), "name": str(o.get("name") or o["id"])}
            for o in found
            if isinstance(o, dict) and o.get("id")
        ]

    def test(self) -> dict[str, Any]:
        """Checks URL and key: {status: "success", authenticated, organizations, version}.
        A refused key raises BackendAuthFailed, an unreachable server BackendUnavailable."""
        organizations = self.organizations()  # needs the key: proves it works
        try:
            version = self.version()
        except BackendRejected:
            version = None  # an older server without /api/config: the key still works
        return {
            "status": "success",
            "authenticated": True,
            "organizations": organizations,
            "version": version,
        }

    def upload(
        self,
        fileobj,
        *,
        file_name: str,
        content_type: str,
        title: str = "",
        tags: list[str] = (),
        correspondent: str = "",
    ) -> RemoteUpload:
        """Sends the file (streamed from `fileobj`); Papra stores it at once, so the answer
        carries the document id. Papra takes no title (the document is named after the file);
        tags and correspondent are not applied."""
        path = f"/api/organizations/{self._organization()}/documents"
        boundary = f"medikeep-{secrets.token_hex(16)}"
        with translate_errors(NAME):
            response = self.session.post(
                f"{self.base_url}{path}",
                # A generator body goes out in chunks: requests' own `files=` would build the
                # whole multipart body in memory first.
                data=_multipart_body(fileobj, file_name, content_type, boundary),
                headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
                timeout=request_timeout(),
                allow_redirects=False,
            )
        if response.status_code == 409:
            raise BackendRejected(
                "Papra already holds a document with the same content in this organization.",
                backend=NAME,
            )
        self._check(response, "the upload")
        document = self._json(response, "the upload").get("document")
        if not isinstance(document, dict) or not is_document_id(str(document.get("id", ""))):
            raise BackendRejected("Papra's answer to the upload names no document.", backend=NAME)
        return RemoteUpload(document_id=str(document["id"]))

    def task_status(self, task_id: str) -> dict[str, Any]:
        raise NotImplementedError("Papra stores uploads at once; there is no task to poll.")

    def document(self, document_id: str) -> dict[str, Any]:
        """Papra's own document object (deleted ones included, with isDeleted true)."""
        response = self._get(self._document_path(document_id), what="the document")
        document = self._json(response, "the document").get("document")
        if not isinstance(document, dict):
            raise BackendRejected("Papra's document answer is not readable.", backend=NAME)
        return document

    def describe(self, document_id: str) -> dict[str, Any]:
        """The document's metadata in the interface's terms; BackendDocumentNotFound when it
        is gone or in Papra's trash."""
        document = self.document(document_id)
        if document.get("isDeleted"):
            raise BackendDocumentNotFound("The document is in Papra's trash.", backend=NAME)
        return normalized(document)

    def exists(self, document_id: str) -> bool:
        """False when the document was deleted in Papra (its trash counts as deleted)."""
        return self.title_of(document_id) is not None

    def title_of(self, document_id: str) -> str | None:
        try:
            document = self.document(document_id)
        except BackendDocumentNotFound:
            return None
        return None if document.get("isDeleted") else str(document.get("name") or "")

    def open(self, document_id: str) -> RemoteContent:
        """The bytes, streamed; the connection is freed when the iterator ends or closes."""
        response = self._get(
            f"{self._document_path(document_id)}/file", what="the file", stream=True
        )
        length = response.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
        content_type = response.headers.get("Content-Type") or "application/octet-stream"
        return RemoteContent(_chunks(response), size, content_type.split(";")[0].strip())

    def confirm(self, document_id: str, *, size: int, md5: str = "", sha256: str = "") -> bool:
        """Papra reports each document's SHA-256 and size: both must match what we sent."""
        try:
            document = self.document(document_id)
        except BackendDocumentNotFound:
            return False
        if document.get("isDeleted"):
            return False
        if document.get("originalSize") != size:
            return False
        remote_hash = str(document.get("originalSha256Hash") or "").lower()
        return not (sha256 and remote_hash) or remote_hash == sha256.lower()

    def search(self, query: str, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        """One page (0-based, as Papra counts) of the organization's documents matching
        `query` (all of them when empty): (results, total count)."""
        params = {
            "searchQuery": (query or "").strip(),
            "pageIndex": max(0, int(page)),
            "pageSize": min(max(1, int(page_size)), MAX_PAGE_SIZE),
        }
        path = f"/api/organizations/{self._organization()}/documents"
        body = self._json(self._get(path, what="the document search", params=params), "the search")
        documents = body.get("documents")
        if not isinstance(documents, list):
            raise BackendRejected("Papra's document list is not readable.", backend=NAME)
        count = body.get("documentsCount")
        total = count if isinstance(count, int) else len(documents)
        return [normalized(d) for d in documents if isinstance(d, dict)], total


def normalized(document: dict) -> dict[str, Any]:
    """A Papra document in the shape our answers use (the web app reads id, name, created,
    mime; the interface's describe() keys are filled too)."""
    name = str(document.get("name") or document.get("originalName") or "")
    size = document.get("originalSize")
    return {
        "id": str(document.get("id", "")),
        "name": name,
        "title": name,
        "original_file_name": str(document.get("originalName") or name),
        "created": document.get("documentDate") or document.get("createdAt"),
        "modified": document.get("updatedAt"),
        "mime": document.get("mimeType"),
        "content_type": document.get("mimeType"),
        "size": size if isinstance(size, int) else None,
        "sha256": document.get("originalSha256Hash"),
        "organization_id": document.get("organizationId"),
        "tags": [
            {"id": t.get("id"), "name": t.get("name")}
            for t in document.get("tags") or []
            if isinstance(t, dict)
        ],
    }


def _multipart_body(fileobj, file_name: str, content_type: str, boundary: str) -> Iterator[bytes]:
    """multipart/form-data with the one field Papra reads, `file`, streamed from `fileobj`.
    The name goes as plain ASCII and as RFC 2231 UTF-8 (filename*) for other characters."""
    ascii_name = file_name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="file"; filename="{ascii_name}"; '
        f"filename*=UTF-8''{quote(file_name, safe='')}\r\n"
        f"Content-Type: {content_type or 'application/octet-stream'}\r\n\r\n"
    )
    yield head.encode()
    while chunk := fileobj.read(CHUNK_SIZE):
        yield chunk
    yield f"\r\n--{boundary}--\r\n".encode()


def _error_code(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return ""
    error = body.get("error") if isinstance(body, dict) else None
    return str(error.get("code", "")) if isinstance(error, dict) else ""


def _chunks(response: requests.Response) -> Iterator[bytes]:
    try:
        with translate_errors(NAME):
            yield from response.iter_content(CHUNK_SIZE)
    finally:
        response.close()


def client_from_preference(preference) -> PapraClient:
    """The registry's factory: the user's saved URL, API key and organization."""
    saved = saved_secrets(preference, NAME)
    return PapraClient(
        preference.papra_url,
        str(saved.get("api_token") or ""),
        preference.papra_organization_id or None,
    )
