from django.urls import path

from sharing.api import family, portal
from sharing.api import invitations as inv
from sharing.api import patient_sharing as ps

urlpatterns = (
    [
        path("patient-sharing", ps.PatientSharingView.as_view()),
        path("patient-sharing/invite", ps.InviteView.as_view()),
        path("patient-sharing/bulk-invite", ps.BulkInviteView.as_view()),
        path("patient-sharing/cancel-invitation", ps.CancelInvitationView.as_view()),
        path("patient-sharing/revoke", ps.RevokeView.as_view()),
        path("patient-sharing/shared-with-me", ps.SharedWithMeView.as_view()),
        path("patient-sharing/shared-by-me", ps.SharedByMeView.as_view()),
        path("patient-sharing/stats/user", ps.SharingStatsView.as_view()),
        path("patient-sharing/cleanup-expired", ps.CleanupExpiredView.as_view()),
        path("patient-sharing/remove-my-access/<int:patient_id>", ps.RemoveMyAccessView.as_view()),
        path("patient-sharing/<int:pk>", ps.ShareDetailView.as_view()),
        path("invitations/pending", inv.PendingView.as_view()),
        path("invitations/sent", inv.SentView.as_view()),
        path("invitations/summary", inv.SummaryView.as_view()),
        path("invitations/respond", inv.RespondView.as_view()),
        path("invitations/cleanup", inv.CleanupView.as_view()),
        path("invitations/<int:invitation_id>", inv.InvitationDetailView.as_view()),
        path("invitations/<int:invitation_id>/respond", inv.RespondByIdView.as_view()),
        path("invitations/<int:invitation_id>/revoke", inv.RevokeView.as_view()),
    ]
    + family.urlpatterns
    + portal.urlpatterns
)
