from rest_framework.permissions import SAFE_METHODS, BasePermission

from patients.access import can_access


class PatientRecordPermission(BasePermission):
    """Reads pass (the queryset already holds only visible records); writes need the view's
    `write_level` on the record's patient (EDIT by default)."""

    message = "Your access to this patient does not allow changes."

    def has_object_permission(self, request, view, obj):
        if request.method in SAFE_METHODS:
            return True
        return can_access(request.user, obj.patient_id, view.write_level)
