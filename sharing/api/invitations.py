"""/invitations: what you received and sent, answering (two body styles), revoking,
cancelling, a summary and the expiry cleanup."""

from __future__ import annotations

from django.db.models import Count, Q
from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from medikeep.api.permissions import IsAdmin
from medikeep.api.views import ApiView
from sharing.api import serializers as s
from sharing.choices import InvitationStatus
from sharing.models import Invitation
from sharing.services import invitations as service

TAGS = ["invitations"]


def _listed(queryset):
    queryset = queryset.select_related(*s.INVITATION_JOINS).prefetch_related(*s.INVITATION_PREFETCH)
    return Response(s.InvitationSerializer(queryset.order_by("-created_at", "-id"), many=True).data)


def _answer(request, invitation_id: int, data: dict, *, full: bool) -> Response:
    """Answers the invitation. `full`: the updated invitation (with the share ids);
    otherwise the reference's short form {message, invitation_id, status, share ids}."""
    invitation, result = service.respond(
        invitation_id=invitation_id,
        user=request.user,
        accept=data["accept"],
        response_note=data.get("response_note") or "",
        item_ids=data.get("patient_ids"),
    )
    if full:
        body = dict(_listed(Invitation.objects.filter(pk=invitation.pk)).data[0])
        return Response({**body, **result})
    verb = "accepted" if data["accept"] else "rejected"
    return Response(
        {
            "message": f"Invitation {verb} successfully",
            "invitation_id": invitation.pk,
            "status": invitation.status,
            **result,
        }
    )


def _of_type(request, queryset):
    """Keeps the `invitation_type` asked for (the web app's sharing dialog asks for
    patient_share); none, or an empty query string, keeps every type."""
    query = s.validated(s.InvitationListQuerySerializer, request.query_params.dict())
    if query.get("invitation_type"):
        queryset = queryset.filter(invitation_type=query["invitation_type"])
    return queryset


class PendingView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        parameters=[s.InvitationListQuerySerializer],
        responses=s.InvitationSerializer(many=True),
    )
    def get(self, request):
        """Invitations waiting for your answer, newest first."""
        return _listed(_of_type(request, Invitation.objects.open().filter(sent_to=request.user)))


class SentView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        parameters=[s.InvitationListQuerySerializer],
        responses=s.InvitationSerializer(many=True),
    )
    def get(self, request):
        """Every invitation you sent, whatever became of it."""
        return _listed(_of_type(request, Invitation.objects.filter(sent_by=request.user)))


class InvitationSummarySerializer(s.FastSerializer):
    pending_received = s.serializers.IntegerField()
    pending_sent = s.serializers.IntegerField()
    accepted = s.serializers.IntegerField()
    rejected = s.serializers.IntegerField()
    expired = s.serializers.IntegerField()
    total_received = s.serializers.IntegerField()
    total_sent = s.serializers.IntegerField()


class SummaryView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=InvitationSummarySerializer)
    def get(self, request):
        """Counts of the invitations you sent or received, by status; lapsed pending ones
        count as expired."""
        user = request.user
        lapsed = Q(status=InvitationStatus.PENDING) & Q(
            pk__in=Invitation.objects.lapsed().values("pk")
        )
        pending = Q(status=InvitationStatus.PENDING) & ~lapsed
        counts = Invitation.objects.filter(Q(sent_to=user) | Q(sent_by=user)).aggregate(
            pending_received=Count("pk", filter=pending & Q(sent_to=user)),
            pending_sent=Count("pk", filter=pending & Q(sent_by=user)),
            accepted=Count("pk", filter=Q(status=InvitationStatus.ACCEPTED)),
            rejected=Count("pk", filter=Q(status=InvitationStatus.REJECTED)),
            expired=Count("pk", filter=Q(status=InvitationStatus.EXPIRED) | lapsed),
            total_received=Count("pk", filter=Q(sent_to=user)),
            total_sent=Count("pk", filter=Q(sent_by=user)),
        )
        return Response(counts)


class RespondView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, request=s.RespondSerializer, responses=s.RespondShortSerializer)
    def post(self, request):
        """Accepts or rejects an invitation sent to you ({invitation_id, response}); a bulk
        invitation may be accepted for some of its patients (patient_ids)."""
        data = s.validated(s.RespondSerializer, request.data)
        if not data.get("invitation_id"):
            raise s.RequestValidationError({"invitation_id": ["This field is required."]})
        return _answer(request, data["invitation_id"], data, full=False)


class RespondByIdView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        request=s.RespondSerializer,
        responses=s.RespondResultSerializer,
        operation_id="invitations_respond_by_id",
    )
    def post(self, request, invitation_id: int):
        """Accepts or rejects an invitation sent to you ({action: accept|reject})."""
        data = s.validated(s.RespondSerializer, request.data)
        return _answer(request, invitation_id, data, full=True)


class InvitationDetailView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=s.InvitationSerializer)
    def get(self, request, invitation_id: int):
        """One invitation you sent or received (the link in the invitation email)."""
        mine = Invitation.objects.filter(Q(sent_to=request.user) | Q(sent_by=request.user))
        rows = _listed(mine.filter(pk=invitation_id)).data
        if not rows:
            raise Http404("Invitation not found")
        return Response(rows[0])

    @extend_schema(tags=TAGS, responses=s.MessageSerializer)
    def delete(self, request, invitation_id: int):
        """The sender cancels a pending invitation."""
        service.cancel(invitation_id=invitation_id, user=request.user)
        return Response({"message": "Invitation cancelled successfully"})


class RevokeView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, request=None, responses=s.MessageSerializer)
    def post(self, request, invitation_id: int):
        """The sender takes an invitation back before it is answered (or, for family
        history, ends what it granted)."""
        service.revoke_invitation(invitation_id=invitation_id, user=request.user)
        return Response({"message": "Invitation revoked successfully"})


class InvitationCleanupSerializer(s.FastSerializer):
    message = s.serializers.CharField()
    expired_count = s.serializers.IntegerField()


class CleanupView(ApiView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(tags=TAGS, request=None, responses=InvitationCleanupSerializer)
    def post(self, request):
        """Marks pending invitations past their expiry as expired (admins; the worker does
        it hourly)."""
        count = service.expire_invitations()
        return Response({"message": f"Expired {count} old invitations", "expired_count": count})
