"""Sharing factories."""

import factory

from records.tests.factories import FamilyMemberFactory
from sharing.models import FamilyHistoryShare


class FamilyHistoryShareFactory(factory.django.DjangoModelFactory):
    """An active share made directly (no invitation) by the member's owner."""

    class Meta:
        model = FamilyHistoryShare

    family_member = factory.SubFactory(FamilyMemberFactory)
    shared_by = factory.LazyAttribute(lambda share: share.family_member.patient.owner)
    shared_with = factory.SubFactory("medikeep.accounts.tests.factories.UserFactory")
    permission_level = "view"
