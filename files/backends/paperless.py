"""The Paperless-ngx client: the few REST calls we use, over `requests` with timeouts.

Paperless-ngx's API (https://docs.paperless-ngx.com/api/): token auth (`Authorization: Token
<t>`) or HTTP basic auth with a username and password; `POST /api/documents/post_document/`
answers the consumer task's UUID (a JSON string); `GET /api/tasks/?task_id=` the task objects
(status PENDING/STARTED/SUCCESS/FAILURE, `related_document` once consumed, `result` text);
`GET /api/documents/` lists and searches (`query` is full-text); `/api/documents/{id}/`,
`.../metadata/` (original_checksum is the MD5 of the original file, original_size) and
`.../download/?original=true` (the bytes). Downloads are streamed, never held in memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests

from files.backends import (
    BackendDocumentNotFound,
    BackendNotConfigured,
    BackendRejected,
    BackendUnavailable,
    RemoteContent,
    RemoteUpload,
    raise_for_status,
    request_timeout,
    saved_secrets,
    translate_errors,
)

NAME = "paperless"
CHUNK_SIZE = 256 * 1024
# Paperless' own task states, and ours for the web app (it knows these four).
_TASK_STATES = {
    "PENDING": "PENDING",
    "RECEIVED": "PENDING",
    "STARTED": "STARTED",
    "RETRY": "STARTED",
    "SUCCESS": "SUCCESS",
    "FAILURE": "FAILURE",
    "REVOKED": "FAILURE",
}
# Words in Paperless' failure text -> the error_type values the web app shows specially.
_ERROR_TYPES = (
    ("duplicate", "duplicate"),
    ("corrupt", "corrupted_file"),
    ("permission", "permission_error"),
    ("too large", "file_too_large"),
    ("no space", "storage_full"),
    ("ocr", "ocr_failed"),
)


def error_type_of(message: str | None) -> str | None:
    text = (message or "").lower()
    for word, kind in _ERROR_TYPES:
        if word in text:
            return kind
    return "processing_failed" if text else None


class PaperlessClient:
    """One user's Paperless-ngx: the base URL and a session carrying their credentials."""

    name = NAME

    def __init__(
        self,
        base_url: str,
        *,
        api_token: str = "",
        username: str = "",
        password: str = "",
    ):
        if not base_url:
            raise BackendNotConfigured("Paperless-ngx has no URL in your settings.", backend=NAME)
        if not api_token and not (username and password):
            raise BackendNotConfigured(
                "Paperless-ngx has no API token or username and password in your settings.",
                backend=NAME,
            )
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Accept"] = "application/json; version=5"
        if api_token:
            self.session.headers["Authorization"] = f"Token {api_token}"
        else:
            self.session.auth = (username, password)

    def __repr__(self) -> str:  # never the credentials
        return f"<PaperlessClient {self.base_url}>"

    # --- plumbing ---

    def _get(self, path: str, *, what: str, params=None, stream: bool = False):
        with translate_errors(NAME):
            response = self.session.get(
                f"{self.base_url}{path}",
                params=params,
                timeout=request_timeout(),
                stream=stream,
                allow_redirects=False,
            )
        if 300 <= response.status_code < 400:
            # A redirect usually means a login page in front of the API (wrong URL).
            response.close()
            raise BackendRejected(
                f"Paperless-ngx redirected the call ({what}); check the URL in your settings.",
                backend=NAME,
            )
        if response.status_code >= 400:
            response.close()
        raise_for_status(response, NAME, what=what)
        return response

    def _json(self, path: str, *, what: str, params=None) -> Any:
        response = self._get(path, what=what, params=params)
        try:
            return response.json()
        except ValueError as exc:
            raise BackendUnavailable(
                f"Paperless-ngx answered something that is not JSON ({what}).", backend=NAME
            ) from exc

    # --- the protocol ---

    def test(self) -> dict[str, Any]:
        response = self._get("/api/", what="API root")
        version = response.headers.get("X-Version") or None
        api_version = response.headers.get("X-Api-Version") or None
        # The root answers without auth on some versions: a call that needs it proves the token.
        self._json("/api/documents/", what="document list", params={"page_size": 1})
        return {"version": version, "api_version": api_version, "authenticated": True}

    def upload(
        self,
        fileobj,
        *,
        file_name: str,
        content_type: str,
        title: str,
        tags: list[str] = (),
        correspondent: str = "",
    ) -> RemoteUpload:
        # Paperless takes ids: names are looked up, and made when missing, before the upload.
        form: dict[str, Any] = {"title": title} if title else {}
        if tags:
            unique = {name.lower(): name for name in reversed(tags)}  # first spelling wins
            form["tags"] = sorted({self._label_id("tags", name) for name in unique.values()})
        if correspondent:
            form["correspondent"] = self._label_id("correspondents", correspondent)
        with translate_errors(NAME):
            response = self.session.post(
                f"{self.base_url}/api/documents/post_document/",
                files={"document": (file_name, fileobj, content_type)},
                data=form,
                timeout=request_timeout(),
                allow_redirects=False,
            )
        raise_for_status(response, NAME, what="upload")
        try:
            task_id = response.json()
        except ValueError:
            task_id = response.text.strip().strip('"')
        if isinstance(task_id, dict):  # some proxies or versions wrap it
            task_id = task_id.get("task_id") or task_id.get("id")
        if not isinstance(task_id, str) or not task_id:
            raise BackendUnavailable(
                "Paperless-ngx accepted the upload but answered no task id.", backend=NAME
            )
        return RemoteUpload(task_id=task_id)

    def _label_id(self, kind: str, name: str) -> int:
        """The id of the tag or correspondent called `name` (any case), made if missing."""
        what = f"{kind} lookup"
        found = self._json(f"/api/{kind}/", what=what, params={"name__iexact": name})
        results = found.get("results") if isinstance(found, dict) else found
        for label in results or []:
            if isinstance(label, dict) and str(label.get("name", "")).lower() == name.lower():
                return int(label["id"])
        with translate_errors(NAME):
            response = self.session.post(
                f"{self.base_url}/api/{kind}/",
                json={"name": name},
                timeout=request_timeout(),
                allow_redirects=False,
            )
        raise_for_status(response, NAME, what=f"creating one of its {kind}")
        try:
            return int(response.json()["id"])
        except (ValueError, KeyError, TypeError) as exc:
            raise BackendUnavailable(
                f"Paperless-ngx answered no id for a new entry in {kind}.", backend=NAME
            ) from exc

    def task_status(self, task_id: str) -> dict[str, Any]:
        tasks = self._json("/api/tasks/", what="task status", params={"task_id": task_id})
        if isinstance(tasks, dict):  # paginated answers on some versions
            tasks = tasks.get("results") or []
        task = next(
            (t for t in tasks if isinstance(t, dict) and t.get("task_id") == task_id),
            None,
        )
        if task is None:
            # Paperless writes the task row when its worker picks the file up.
            return {"status": "PENDING", "document_id": None, "error": None, "error_type": None}
        state = _TASK_STATES.get(str(task.get("status", "")).upper(), "PENDING")
        document = task.get("related_document")
        document_id = str(document) if document not in (None, "") else None
        if state == "SUCCESS" and document_id is None:
            state = "STARTED"  # finished but the document id is not written yet
        error = str(task.get("result") or "") if state == "FAILURE" else None
        return {
            "status": state,
            "document_id": document_id,
            "error": error or (None if state != "FAILURE" else "Paperless-ngx gave no reason."),
            "error_type": error_type_of(error) if state == "FAILURE" else None,
        }

    def _metadata(self, document_id: str) -> dict[str, Any]:
        return self._json(
            f"/api/documents/{_document_path(document_id)}/metadata/", what="document metadata"
        )

    def describe(self, document_id: str) -> dict[str, Any]:
        document = self._json(
            f"/api/documents/{_document_path(document_id)}/", what="document details"
        )
        metadata = self._metadata(document_id)
        return {
            "id": str(document.get("id", document_id)),
            "title": document.get("title") or "",
            "original_file_name": document.get("original_file_name")
            or metadata.get("original_filename")
            or "",
            "created": document.get("created"),
            "content_type": metadata.get("original_mime_type") or None,
            "size": metadata.get("original_size"),
            "md5": metadata.get("original_checksum"),
        }

    def exists(self, document_id: str) -> bool:
        return self.title_of(document_id) is not None

    def title_of(self, document_id: str) -> str | None:
        try:
            document = self._json(
                f"/api/documents/{_document_path(document_id)}/", what="document details"
            )
        except BackendDocumentNotFound:
            return None
        return str(document.get("title") or "")

    def confirm(self, document_id: str, *, size: int, md5: str, sha256: str) -> bool:
        metadata = self._metadata(document_id)
        checksum = metadata.get("original_checksum")
        if checksum:
            return str(checksum).lower() == md5.lower()
        remote_size = metadata.get("original_size")
        return remote_size is not None and int(remote_size) == size

    def open(self, document_id: str) -> RemoteContent:
        response = self._get(
            f"/api/documents/{_document_path(document_id)}/download/",
            what="download",
            params={"original": "true"},
            stream=True,
        )
        length = response.headers.get("Content-Length")
        size = int(length) if length and length.isdigit() else None
        content_type = response.headers.get("Content-Type") or "application/octet-stream"
        return RemoteContent(_chunks(response), size, content_type.split(";")[0].strip())

    def search(self, query: str, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        params: dict[str, Any] = {"page": page, "page_size": page_size, "ordering": "-created"}
        if query:
            params["query"] = query
        body = self._json("/api/documents/", what="document search", params=params)
        results = [d for d in body.get("results") or [] if isinstance(d, dict)]
        names = {
            "correspondent": self._names(
                "correspondents", {d.get("correspondent") for d in results}
            ),
            "document_type": self._names(
                "document_types", {d.get("document_type") for d in results}
            ),
            "tags": self._names("tags", {t for d in results for t in d.get("tags") or []}),
        }
        found = []
        for document in results:
            tags = [t for t in document.get("tags") or [] if isinstance(t, int)]
            found.append(
                {
                    "id": document.get("id"),
                    "title": document.get("title") or "",
                    "created": document.get("created"),
                    "original_file_name": document.get("original_file_name") or "",
                    "correspondent": document.get("correspondent"),
                    "correspondent_name": names["correspondent"].get(document.get("correspondent")),
                    "document_type": document.get("document_type"),
                    "document_type_name": names["document_type"].get(document.get("document_type")),
                    "tags": tags,
                    "tag_names": [names["tags"][t] for t in tags if t in names["tags"]],
                }
            )
        return found, int(body.get("count") or 0)

    def _names(self, kind: str, ids: set) -> dict[int, str]:
        """{id: name} of correspondents / document types / tags, one call per kind."""
        wanted = sorted(i for i in ids if isinstance(i, int))
        if not wanted:
            return {}
        body = self._json(
            f"/api/{kind}/",
            what=kind.replace("_", " "),
            params={"id__in": ",".join(map(str, wanted)), "page_size": len(wanted)},
        )
        return {
            item["id"]: item.get("name") or ""
            for item in body.get("results") or []
            if isinstance(item, dict) and "id" in item
        }


def _document_path(document_id) -> int:
    """Document ids are integers in Paperless; anything else would change the path."""
    try:
        value = int(str(document_id))
    except ValueError as exc:
        raise BackendDocumentNotFound(
            "Paperless-ngx document ids are numbers.", backend=NAME
        ) from exc
    if value < 1:
        raise BackendDocumentNotFound("Paperless-ngx document ids are positive.", backend=NAME)
    return value


def _chunks(response: requests.Response) -> Iterator[bytes]:
    try:
        with translate_errors(NAME):
            yield from response.iter_content(CHUNK_SIZE)
    finally:
        response.close()


def client_from_preference(preference) -> PaperlessClient:
    """The registry's factory (files.backends.backend_for)."""
    secrets = saved_secrets(preference, NAME)
    return PaperlessClient(
        preference.paperless_url,
        api_token=secrets.get("api_token") or "",
        username=secrets.get("username") or "",
        password=secrets.get("password") or "",
    )
