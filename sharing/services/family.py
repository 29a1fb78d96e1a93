"""Family-history sharing: an owner offers family members (with their conditions) to another
user by invitation; accepting creates one FamilyHistoryShare per member.

Only the owner of a member's patient (patients.access.is_owner) shares, lists or revokes its
shares; for anyone else the member does not exist (404). Recipients only read: a share gives
no access to the patient, so the /family-members endpoints keep refusing them.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Prefetch, QuerySet
from django.http import Http404
from django.utils import timezone

from medikeep.api.exceptions import BusinessRuleError, ConflictError
from patients.access import is_owner
from records.models import FamilyMember
from sharing.choices import InvitationStatus, InvitationType
from sharing.models import FamilyHistoryShare, Invitation
from sharing.models.family import FamilyShareLevel
from sharing.services.invitations import (
    ACCEPT_HANDLERS,
    REVOKE_HANDLERS,
    chosen_items,
    create_invitation,
    invitation_expiry,
)

NOT_FOUND = "Family member not found or you don't have permission to share it"


# --- reads --------------------------------------------------------------------------------


def owned_member(user, member_id: int) -> FamilyMember:
    """A family member of one of the user's own patients; 404 otherwise (not revealed)."""
    member = FamilyMember.objects.select_related("patient").filter(pk=member_id).first()
    if member is None or not is_owner(user, member.patient):
        raise Http404(NOT_FOUND)
    return member


def readable_member(user, member_id: int) -> FamilyMember:
    """The member with its conditions, for its owner or a user it is shared with; 404 else."""
    member = (
        FamilyMember.objects.select_related("patient")
        .prefetch_related("family_conditions")
        .filter(pk=member_id)
        .first()
    )
    if member is None or not (
        is_owner(user, member.patient)
        or FamilyHistoryShare.objects.in_force()
        .filter(family_member=member, shared_with_id=user.pk)
        .exists()
    ):
        raise Http404("Family member not found or access denied")
    return member


def owned_members(user) -> QuerySet[FamilyMember]:
    """Family members of every patient the user owns, with their conditions."""
    return (
        FamilyMember.objects.filter(patient__owner_id=user.pk)
        .prefetch_related("family_conditions")
        .order_by("patient_id", "name", "id")
    )


def shares_with(user) -> QuerySet[FamilyHistoryShare]:
    """Shares in force with the user, each with its member, conditions and sharer."""
    return (
        FamilyHistoryShare.objects.in_force()
        .filter(shared_with_id=user.pk)
        .select_related("family_member", "shared_by")
        .prefetch_related("family_member__family_conditions")
        .order_by("family_member__name", "id")
    )


def members_shared_by(user) -> QuerySet[FamilyMember]:
    """The user's family members that have shares in force, each with `active_shares`."""
    shares = FamilyHistoryShare.objects.in_force().filter(shared_by_id=user.pk)
    return (
        FamilyMember.objects.filter(pk__in=shares.values("family_member_id"))
        .prefetch_related(
            Prefetch(
                "history_shares",
                queryset=shares.select_related("shared_with").order_by("id"),
                to_attr="active_shares",
            )
        )
        .order_by("name", "id")
    )


def member_shares(user, member_id: int) -> QuerySet[FamilyHistoryShare]:
    """Who the member is shared with (its owner's view)."""
    member = owned_member(user, member_id)
    return (
        FamilyHistoryShare.objects.in_force()
        .filter(family_member=member)
        .select_related("shared_with", "invitation")
        .order_by("id")
    )


# --- inviting -----------------------------------------------------------------------------


def find_user_by_id(user_id: int):
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        raise Http404(f"User {user_id} not found")
    return user


def family_title(members: list[FamilyMember]) -> str:
    names = [m.name for m in members]
    shown = ", ".join(names[:3])
    more = f" and {len(names) - 3} more" if len(names) > 3 else ""
    return f"Family History Share: {shown}{more}"


def owned_members_by_id(user, member_ids: list[int]) -> list[FamilyMember]:
    """All-or-nothing: every id must be a member of one of the user's patients (404 lists
    the others)."""
    found = FamilyMember.objects.select_related("patient").in_bulk(member_ids)
    refused = [i for i in member_ids if i not in found or not is_owner(user, found[i].patient)]
    if refused:
        raise Http404(
            "Family members not found or not yours to share: " + ", ".join(map(str, refused))
        )
    return [found[i] for i in member_ids]


def invite_family_members(
    *,
    sender,
    members: list[FamilyMember],
    recipient,
    permission_level: str = FamilyShareLevel.VIEW,
    message: str = "",
    expires_hours: int | None = None,
    bulk: bool = False,
) -> Invitation:
    """One invitation offering `recipient` read access to the sender's family members.
    Refused when sharing with oneself (400), or when any member is already shared with the
    recipient or offered to them by a pending invitation (409)."""
    if recipient.pk == sender.pk:
        raise BusinessRuleError("You cannot share family history with yourself.")
    for member in members:
        if not is_owner(sender, member.patient):
            raise Http404(NOT_FOUND)
    shared = FamilyHistoryShare.objects.in_force().filter(
        shared_with=recipient, family_member__in=members
    )
    if shared.exists():
        names = ", ".join(s.family_member.name for s in shared.select_related("family_member"))
        raise ConflictError(f"Already shared with {recipient.username}: {names}.")
    pending = Invitation.objects.open().filter(
        sent_by=sender,
        sent_to=recipient,
        invitation_type=InvitationType.FAMILY_HISTORY_SHARE,
        family_members__in=members,
    )
    if pending.exists():
        raise ConflictError(
            "A pending invitation for this family member and recipient already exists."
        )
    return create_invitation(
        offered=("family_members", members),
        sent_by=sender,
        sent_to=recipient,
        invitation_type=InvitationType.FAMILY_HISTORY_SHARE,
        title=family_title(members),
        message=message or "",
        permission_level=permission_level,
        is_bulk=bulk,
        expires_at=invitation_expiry(expires_hours),
    )


# --- accepting and ending -----------------------------------------------------------------


def accept_family_share(invitation: Invitation, member_ids: list[int] | None) -> dict:
    """Accept handler: one active share per member of the invitation (a bulk invitation may
    be accepted for some of its members). Members deleted since, or no longer the sender's,
    are skipped; an active share of the same pair is reused."""
    members = list(invitation.family_members.select_related("patient"))
    offered = chosen_items(invitation, members, member_ids, "family members")
    sender, recipient = invitation.sent_by, invitation.sent_to
    members = [m for m in offered if is_owner(sender, m.patient)]
    if not members:
        raise BusinessRuleError("None of the invitation's family members can be shared any more.")
    active = {
        share.family_member_id: share
        for share in FamilyHistoryShare.objects.filter(
            is_active=True, shared_with=recipient, family_member__in=members
        )
    }
    shares = []
    for member in members:
        share = active.get(member.pk)
        if share is not None and share.shared_by_id != sender.pk:
            # Left by the member's former owner: no longer in force, make way for this one.
            end_shares([share])
            share = None
        shares.append(share or _create_share(invitation, member))
    return {"share_ids": [s.pk for s in shares], "share_count": len(shares)}


def _create_share(invitation: Invitation, member: FamilyMember) -> FamilyHistoryShare:
    try:
        with transaction.atomic():  # a savepoint: a concurrent accept may have won the race
            return FamilyHistoryShare.objects.create(
                invitation=invitation,
                family_member=member,
                shared_by=invitation.sent_by,
                shared_with=invitation.sent_to,
                permission_level=invitation.permission_level,
                sharing_note=invitation.message,
            )
    except IntegrityError:
        return FamilyHistoryShare.objects.get(
            family_member=member, shared_with=invitation.sent_to, is_active=True
        )


def end_invitation_shares(invitation: Invitation) -> int:
    """Revoke handler: ends the active shares an accepted invitation made; returns how many."""
    return FamilyHistoryShare.objects.filter(invitation=invitation, is_active=True).update(
        is_active=False, updated_at=timezone.now()
    )


ACCEPT_HANDLERS[InvitationType.FAMILY_HISTORY_SHARE] = accept_family_share
REVOKE_HANDLERS[InvitationType.FAMILY_HISTORY_SHARE] = end_invitation_shares


def end_shares(shares: list[FamilyHistoryShare]) -> int:
    """Deactivates the shares. An accepted invitation none of whose shares stays active is
    revoked, so a bulk invitation stays accepted while some of its members remain shared."""
    now = timezone.now()
    with transaction.atomic():
        ended = FamilyHistoryShare.objects.filter(
            pk__in=[s.pk for s in shares], is_active=True
        ).update(is_active=False, updated_at=now)
        invitation_ids = {s.invitation_id for s in shares if s.invitation_id}
        still_granting = FamilyHistoryShare.objects.filter(
            invitation_id__in=invitation_ids, is_active=True
        ).values("invitation_id")
        Invitation.objects.filter(pk__in=invitation_ids, status=InvitationStatus.ACCEPTED).exclude(
            pk__in=still_granting
        ).update(status=InvitationStatus.REVOKED, updated_at=now)
    for share in shares:
        share.is_active = False
    return ended


def revoke_family_share(*, owner, member_id: int, user_id: int) -> None:
    """The owner ends `user_id`'s access to the member (404 when there is none)."""
    member = owned_member(owner, member_id)
    share = FamilyHistoryShare.objects.filter(
        family_member=member, shared_with_id=user_id, is_active=True
    ).first()
    if share is None:
        raise Http404("This family member is not shared with that user")
    end_shares([share])


def leave_family_share(*, user, member_id: int) -> None:
    """A recipient gives up their own access to a shared family member."""
    share = FamilyHistoryShare.objects.filter(
        family_member_id=member_id, shared_with_id=user.pk, is_active=True
    ).first()
    if share is None:
        raise Http404("No active share of this family member with you")
    end_shares([share])
