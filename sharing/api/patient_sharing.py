"""/patient-sharing: invite (two body styles), bulk invite, cancel, revoke, leave, lists, stats
and the expired-share cleanup. Who may do what is decided in patients/access.py; the flows
are sharing/services/invitations.py."""

from __future__ import annotations

from collections.abc import Mapping

from django.db.models import Q
from django.http import Http404
from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from medikeep.api.permissions import IsAdmin
from medikeep.api.views import ApiView
from patients.access import Level, require_patient_access
from patients.models import Patient, PatientShare
from sharing.api import serializers as s
from sharing.models import Invitation
from sharing.services import invitations as service

TAGS = ["patient-sharing"]


def _send(user, data: dict, *, patient_ids: list[int], bulk: bool, recipient=None):
    return service.invite_patients(
        sender=user,
        patient_ids=patient_ids,
        recipient=recipient or service.find_recipient(data["shared_with_user_identifier"]),
        permission_level=data["permission_level"],
        share_expires_at=data.get("expires_at"),
        custom_permissions=data.get("custom_permissions"),
        message=data.get("message") or "",
        expires_hours=data.get("expires_hours"),
        bulk=bulk,
    )


def _sent(invitation: Invitation, **extra) -> dict:
    return {
        "message": "Patient share invitation sent successfully",
        "invitation_id": invitation.pk,
        "expires_at": invitation.expires_at,
        "title": invitation.title,
        **extra,
    }


def _invitation_data(invitation_id: int) -> dict:
    invitation = (
        Invitation.objects.select_related(*s.INVITATION_JOINS)
        .prefetch_related(*s.INVITATION_PREFETCH)
        .get(pk=invitation_id)
    )
    return s.InvitationSerializer(invitation).data


class InviteView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {
        409: "Already shared with this recipient, or an invitation to them is pending."
    }
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        request=s.InviteSerializer,
        responses={200: s.InviteSentSerializer},
        examples=[
            OpenApiExample(
                "Invite a relative to read one patient for a year",
                value={
                    "patient_id": 12,
                    "shared_with_user_identifier": "sam@example.org",
                    "permission_level": "view",
                    "expires_at": "2027-06-30T00:00:00Z",
                    "message": "Mum's records, for the appointments.",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request):
        """Invites one user (by username or email) to one patient."""
        data = s.validated(s.InviteSerializer, request.data)
        invitation = _send(request.user, data, patient_ids=[data["patient_id"]], bulk=False)
        return Response(s.InviteSentSerializer(_sent(invitation)).data)


class PatientSharingView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {
        409: "Already shared with this recipient, or an invitation to them is pending."
    }
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, request=s.InviteSerializer, responses={201: s.InvitationSerializer})
    def post(self, request):
        """Invites one user to one patient (recipient_email, access_level, expiration_date);
        answers the invitation."""
        data = s.validated(s.InviteSerializer, request.data)
        invitation = _send(request.user, data, patient_ids=[data["patient_id"]], bulk=False)
        return Response(_invitation_data(invitation.pk), status=status.HTTP_201_CREATED)

    @extend_schema(
        tags=TAGS,
        parameters=[s.ShareTargetSerializer],
        request=s.ShareUpdateSerializer,
        responses=s.ShareSerializer,
        operation_id="patient_sharing_update",
    )
    def put(self, request):
        """The owner changes a share's level, expiry or custom permissions (the web app's
        ?patient_id=&shared_with_user_id=); keys not sent stay as they are."""
        target = s.validated(s.ShareTargetSerializer, request.query_params.dict())
        changes = s.validated(s.ShareUpdateSerializer, request.data)
        share = service.owned_share(
            user=request.user,
            patient_id=target["patient_id"],
            grantee_id=target["shared_with_user_id"],
        )
        share = service.update_share(share=share, user=request.user, **changes)
        return Response(_share_data(share.pk))


class BulkInviteView(ApiView):
    # The conflict the API docs list for this view's writes (medikeep/api/schema.py).
    documented_errors = {
        409: "Already shared with this recipient, or an invitation to them is pending."
    }
    permission_classes = [IsAuthenticated]

    @extend_schema(
        tags=TAGS,
        request=s.BulkInviteSerializer,
        responses={200: s.InviteSentSerializer, 207: s.BulkResultSerializer},
        description="With patient_ids (1–50, all yours): one invitation carrying every "
        "patient, all-or-nothing. With patient_id and recipient_emails: an invitation per "
        "recipient, answered as {successful_invites, failed_invites, results} (status 200).",
    )
    def post(self, request):
        if isinstance(request.data, Mapping) and "recipient_emails" in request.data:
            return self._per_recipient(request)
        data = s.validated(s.BulkInviteSerializer, request.data)
        invitation = _send(request.user, data, patient_ids=data["patient_ids"], bulk=True)
        body = _sent(invitation, patient_count=len(data["patient_ids"]))
        return Response(s.InviteSentSerializer(body).data)

    def _per_recipient(self, request):
        data = s.validated(s.MultiRecipientInviteSerializer, request.data)
        body = service.invite_each(
            data["recipient_emails"],
            lambda recipient: _send(
                request.user,
                data,
                patient_ids=[data["patient_id"]],
                bulk=False,
                recipient=recipient,
            ),
        )
        return Response(body)


class CancelInvitationView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, request=s.InvitationIdSerializer, responses=s.MessageSerializer)
    def post(self, request):
        """The sender withdraws a pending invitation."""
        data = s.validated(s.InvitationIdSerializer, request.data)
        service.cancel(invitation_id=data["invitation_id"], user=request.user)
        return Response({"message": "Invitation cancelled successfully"})


def _share_data(share_id: int) -> dict:
    return s.ShareSerializer(
        PatientShare.objects.select_related(*s.SHARE_JOINS).get(pk=share_id)
    ).data


class ShareDetailView(ApiView):
    """GET /patient-sharing/{patient_id}: the patient's active shares (owner only);
    DELETE /patient-sharing/{share_id}: the owner revokes a share."""

    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=s.ShareListSerializer)
    def get(self, request, pk: int):
        """Who the patient is shared with (the owner's view), as {shares: [...]}."""
        patient_id = require_patient_access(request.user, pk, Level.VIEW)
        if not Patient.objects.filter(pk=patient_id, owner_id=request.user.pk).exists():
            raise PermissionDenied("Only the patient's owner sees whom it is shared with.")
        shares = PatientShare.objects.in_force().filter(patient_id=patient_id)
        shares = shares.select_related(*s.SHARE_JOINS).order_by("id")
        # An object, not a bare list: the web app reads `shares` (no spec shape to keep).
        return Response({"shares": s.ShareSerializer(shares, many=True).data})

    @extend_schema(tags=TAGS, responses=s.MessageSerializer)
    def delete(self, request, pk: int):
        """Revokes the share: the grantee's access ends at once."""
        share = (
            PatientShare.objects.select_related("patient")
            .filter(pk=pk, is_active=True)
            .filter(Q(patient__owner=request.user) | Q(grantee=request.user))
            .first()
        )
        if share is None:
            raise Http404("Share not found")
        service.revoke_share(share=share, user=request.user)
        return Response({"message": "Access revoked successfully"})


class RevokeView(ApiView):
    """DELETE /patient-sharing/revoke: the web app's revoke, naming the share by patient and
    grantee in a JSON body (the query string works too); the same service as
    DELETE /patient-sharing/{share_id}."""

    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, request=s.ShareTargetSerializer, responses=s.MessageSerializer)
    def delete(self, request):
        """Revokes the share: the grantee's access ends at once (owner only)."""
        target = s.validated(s.ShareTargetSerializer, request.data or request.query_params.dict())
        share = service.owned_share(
            user=request.user,
            patient_id=target["patient_id"],
            grantee_id=target["shared_with_user_id"],
        )
        service.revoke_share(share=share, user=request.user)
        return Response({"message": "Access revoked successfully"})


class RemoveMyAccessView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=s.MessageSerializer)
    def delete(self, request, patient_id: int):
        """Gives up your own access to a patient shared with you."""
        service.leave(patient_id=patient_id, user=request.user)
        return Response({"message": "Access removed successfully"})


def shares_with(user):
    return PatientShare.objects.in_force().filter(grantee=user)


def shares_by(user):
    return PatientShare.objects.in_force().filter(Q(patient__owner=user) | Q(granted_by=user))


class SharedWithMeView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=s.ShareSerializer(many=True))
    def get(self, request):
        """Patients others share with you, with who shared them."""
        shares = shares_with(request.user).select_related(*s.SHARE_JOINS).order_by("-id")
        return Response(s.ShareSerializer(shares, many=True).data)


class SharedByMeView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=s.ShareSerializer(many=True))
    def get(self, request):
        """Shares of your patients (and those you granted), with their recipients."""
        shares = shares_by(request.user).select_related(*s.SHARE_JOINS).order_by("-id")
        return Response(s.ShareSerializer(shares, many=True).data)


class SharingStatsSerializer(s.FastSerializer):
    total_shared_with_me = s.serializers.IntegerField()
    total_shared_by_me = s.serializers.IntegerField()
    active_shares = s.serializers.IntegerField()
    pending_invitations = s.serializers.IntegerField()
    pending_sent_invitations = s.serializers.IntegerField()


class SharingStatsView(ApiView):
    permission_classes = [IsAuthenticated]

    @extend_schema(tags=TAGS, responses=SharingStatsSerializer)
    def get(self, request):
        """Counts of your shares and pending invitations."""
        user = request.user
        with_me, by_me = shares_with(user).count(), shares_by(user).count()
        body = {
            "total_shared_with_me": with_me,
            "total_shared_by_me": by_me,
            "active_shares": with_me + by_me,
            "pending_invitations": Invitation.objects.open().filter(sent_to=user).count(),
            "pending_sent_invitations": Invitation.objects.open().filter(sent_by=user).count(),
        }
        return Response(body)


class CleanupResultSerializer(s.FastSerializer):
    expired_shares_removed = s.serializers.IntegerField()
    cleanup_date = s.serializers.DateTimeField()


class CleanupExpiredView(ApiView):
    permission_classes = [IsAuthenticated, IsAdmin]

    @extend_schema(tags=TAGS, request=None, responses=CleanupResultSerializer)
    def post(self, request):
        """Marks shares past their expiry inactive (admins; the worker does it hourly).
        Access already ended at the expiry."""
        removed = service.deactivate_expired_shares()
        return Response({"expired_shares_removed": removed, "cleanup_date": timezone.now()})
