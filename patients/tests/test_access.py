"""patients/access.py: the one answer to "may this user do that on this patient?"."""

from datetime import timedelta

import pytest
from django.http import Http404
from django.utils import timezone
from rest_framework.exceptions import PermissionDenied

from patients.access import (
    Level,
    accessible_patient_ids,
    can_access,
    forget,
    level_on,
    max_grantable_level,
    require_patient_access,
)
from patients.models import Patient, PatientShare

pytestmark = pytest.mark.django_db

EXPECTED = {
    # persona: level held on alice's shared patient
    "alice": Level.FULL,
    "bob": Level.VIEW,
    "carol": Level.EDIT,
    "dave": Level.FULL,
    "mallory": None,
    "admin_user": None,
}


@pytest.mark.parametrize("persona", EXPECTED)
def test_levels_of_every_persona(request, shared_patient, persona):
    user = request.getfixturevalue(persona)
    expected = EXPECTED[persona]
    assert level_on(user, shared_patient.pk) == expected
    for level in Level:
        allowed = expected is not None and expected >= level
        assert can_access(user, shared_patient.pk, level) is allowed
        ids = set(
            Patient.objects.filter(id__in=accessible_patient_ids(user, level)).values_list(
                "id", flat=True
            )
        )
        assert (shared_patient.pk in ids) is allowed


def test_expiry_is_enforced_at_query_time(bob, shared_patient):
    PatientShare.objects.filter(grantee=bob).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert level_on(bob, shared_patient.pk) is None
    assert not Patient.objects.filter(id__in=accessible_patient_ids(bob)).exists()


def test_revoked_share_gives_nothing(bob, shared_patient):
    PatientShare.objects.filter(grantee=bob).update(is_active=False)
    assert not can_access(bob, shared_patient.pk)


def test_memo_lasts_until_forgotten(bob, shared_patient):
    assert can_access(bob, shared_patient.pk)
    PatientShare.objects.filter(grantee=bob).update(is_active=False)
    assert can_access(bob, shared_patient.pk)  # same request: memoised
    forget(bob)
    assert not can_access(bob, shared_patient.pk)


def test_anonymous_has_no_access(shared_patient):
    from django.contrib.auth.models import AnonymousUser

    assert not can_access(AnonymousUser(), shared_patient.pk)
    assert not Patient.objects.filter(id__in=accessible_patient_ids(AnonymousUser())).exists()


def test_require_patient_access_codes(bob, mallory, shared_patient):
    assert require_patient_access(bob, str(shared_patient.pk)) == shared_patient.pk
    with pytest.raises(PermissionDenied):
        require_patient_access(bob, shared_patient.pk, Level.EDIT)
    with pytest.raises(PermissionDenied):
        require_patient_access(mallory, shared_patient.pk)
    with pytest.raises(Http404):
        require_patient_access(mallory, 987654)
    with pytest.raises(Http404):
        require_patient_access(mallory, "not-a-number")


def test_grantable_levels(alice, bob, carol, dave, shared_patient):
    assert max_grantable_level(alice, shared_patient.pk) == Level.FULL
    assert max_grantable_level(dave, shared_patient.pk) == Level.EDIT
    assert max_grantable_level(carol, shared_patient.pk) is None
    assert max_grantable_level(bob, shared_patient.pk) is None


def test_the_compiled_subquery_takes_each_requests_user_and_moment(alice, bob, shared_patient):
    from patients import access
    from patients.tests.factories import PatientFactory

    PatientShare.objects.filter(grantee=bob).update(
        expires_at=timezone.now() + timedelta(minutes=1)
    )

    def visible(user):
        return set(
            Patient.objects.filter(id__in=accessible_patient_ids(user)).values_list("id", flat=True)
        )

    access._accessible_sql.cache_clear()
    assert visible(bob) == {shared_patient.pk}  # not expired yet
    other = PatientFactory(owner=bob)
    assert visible(bob) == {shared_patient.pk, other.pk}
    assert visible(alice) == {shared_patient.pk}
    assert access._accessible_sql.cache_info().misses == 1  # compiled once, reused
