"""Moving the caller's local files to a document back-end, and refreshing uploads in progress.

- POST /paperless/migrate (body {target_backend: "paperless"|"papra"}, default paperless; also
  POST /papra/migrate for Papra) starts a job: 202 with the job; 409 while one runs; 400 when
  the back-end is not set up.
- GET /paperless/migrate/{job_id} (and .../status, the path the web app's helper names) the
  job's progress; POST /paperless/migrate/{job_id}/cancel stops it between files.
- POST /entity-files/processing/update polls, once, the back-end of each of the caller's files
  still on their way there, and answers {file_id: sync_status}.

Jobs and files are the caller's own: another user's job id is a 404.
"""

from __future__ import annotations

import logging

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response

from files.backends import BackendError, BackendTimeout, BackendUnavailable, remote
from files.models import EntityFile, StorageBackend, SyncStatus
from files.relocation import services
from files.relocation.models import FileMigrationJob
from medikeep.api.representation import FastSerializer
from medikeep.api.views import ApiView

TAGS = ["document-backends"]
logger = logging.getLogger("files")


class MigrationStartSerializer(FastSerializer):
    target_backend = serializers.ChoiceField(choices=list(services.TARGETS), required=False)


class MigrationFailureSerializer(FastSerializer):
    file_id = serializers.IntegerField()
    file_name = serializers.CharField()
    reason = serializers.CharField()


class MigrationJobSerializer(FastSerializer):
    id = serializers.IntegerField()
    job_id = serializers.IntegerField(help_text="Same as id.")
    target_backend = serializers.CharField()
    status = serializers.ChoiceField(choices=["pending", "running", "cancelled", "done", "failed"])
    total_files = serializers.IntegerField()
    moved_files = serializers.IntegerField()
    failed_files = serializers.IntegerField()
    deferred_files = serializers.IntegerField(
        help_text="Sent, still processed by the back-end; the upload task finishes them."
    )
    processed_files = serializers.IntegerField()
    progress_percent = serializers.IntegerField()
    partial = serializers.BooleanField(help_text="Some files were left in local storage.")
    current_file_id = serializers.IntegerField(allow_null=True)
    current_file_name = serializers.CharField(allow_null=True)
    cancel_requested = serializers.BooleanField()
    error = serializers.CharField(allow_null=True)
    failures = MigrationFailureSerializer(many=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def job_answer(job: FileMigrationJob) -> dict:
    handled = job.handled_files
    total = job.total_files
    ended = not job.is_active
    return {
        "id": job.pk,
        "job_id": job.pk,
        "target_backend": job.target_backend,
        "status": job.status,
        "total_files": total,
        "moved_files": job.moved_files,
        "failed_files": job.failed_files,
        "deferred_files": job.deferred_files,
        "processed_files": handled,
        "progress_percent": 100
        if total == 0 and ended
        else int(100 * handled / total)
        if total
        else 0,
        "partial": ended and job.moved_files + job.deferred_files < total,
        "current_file_id": job.current_file_id,
        "current_file_name": job.current_file_name or None,
        "cancel_requested": job.cancel_requested_at is not None,
        "error": job.error or None,
        "failures": job.failures,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
    }


def _job_of(user, job_id) -> FileMigrationJob:
    job = services.jobs_of(user).filter(pk=int(job_id)).first()
    if job is None:
        raise NotFound("Migration job not found.")
    return job


class MigrationStartView(ApiView):
    default_target = StorageBackend.PAPERLESS

    @extend_schema(
        request=MigrationStartSerializer, responses={202: MigrationJobSerializer}, tags=TAGS
    )
    def post(self, request):
        """Starts moving the caller's local files (uploaded by them) to the back-end, in the
        background; the local copy of each goes only once the back-end confirmed it."""
        form = MigrationStartSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        target = form.validated_data.get("target_backend") or self.default_target
        job = services.start_migration(user=request.user, target=target)
        job.refresh_from_db()  # an eager task (tests, no worker) may have run it already
        return Response(job_answer(job), status=status.HTTP_202_ACCEPTED)


class MigrationStatusView(ApiView):
    @extend_schema(responses=MigrationJobSerializer, tags=TAGS)
    def get(self, request, job_id):
        """A migration job's progress."""
        return Response(job_answer(_job_of(request.user, job_id)))


class MigrationCancelView(ApiView):
    @extend_schema(request=None, responses=MigrationJobSerializer, tags=TAGS)
    def post(self, request, job_id):
        """Stops the job after the file it is moving (that file finishes or stays local);
        409 when it has already ended."""
        job = services.cancel_migration(job=_job_of(request.user, job_id))
        return Response(job_answer(job))


class ProcessingUpdateView(ApiView):
    @extend_schema(
        request=None,
        responses={
            200: OpenApiResponse(
                OpenApiTypes.OBJECT, description='{"<file_id>": "<sync_status>", …}'
            )
        },
        tags=["entity-files"],
    )
    def post(self, request):
        """Polls, once each, the back-end of the caller's files still being sent or processed
        there; answers {file_id: sync_status} (synced, processing, pending, failed). A
        back-end that does not answer leaves its files as they were (not failed)."""
        files = (
            EntityFile.objects.live()
            .filter(
                uploaded_by=request.user,
                sync_status__in=[SyncStatus.PENDING, SyncStatus.PROCESSING],
            )
            .exclude(storage_backend=StorageBackend.LOCAL)
            .exclude(stored_name__startswith=remote.REMOTE_PREFIX)
            .order_by("pk")
            .values_list("pk", "storage_backend", "sync_status")
        )
        answer: dict[str, str] = {}
        unreachable: set[str] = set()
        for file_id, backend, current in files:
            if backend not in unreachable:
                try:
                    remote.advance(file_id)
                except (BackendUnavailable, BackendTimeout):
                    unreachable.add(backend)  # one wait per back-end, not one per file
                except BackendError:
                    pass  # the row says what happened (advance marks failures)
                except Exception:
                    # One file's trouble (its bytes unreadable …) must not fail the refresh.
                    logger.exception("processing update: file %s", file_id)
            row = EntityFile.objects.filter(pk=file_id).values_list("sync_status", flat=True)
            answer[str(file_id)] = row.first() or current
        return Response(answer)
