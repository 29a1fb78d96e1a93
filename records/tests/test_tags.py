"""/tags reads and the registry: popular, suggestions, autocomplete, search, create, colour
(spec "Tags", web-client-api.md §12). Rename, replace and delete: test_tags_write.py."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from patients.models import TaggedMixin, record_models
from patients.tests.factories import PatientFactory, PatientOwnedFactory
from records.models import UserTag
from records.tests import factories  # noqa: F401  (defines the record factories)

pytestmark = pytest.mark.django_db

BASE = "/api/v1/tags"


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


FACTORY_OF = {
    f._meta.model: f for f in _subclasses(PatientOwnedFactory) if f._meta.model is not None
}
TAGGED = [m for m in record_models() if issubclass(m, TaggedMixin) and m.kind is not None]


def model_named(name):
    return next(model for model in TAGGED if model.kind.name == name)


def record(name, patient, tags, **fields):
    """A record of the tagged type `name` (kind.name) for `patient`."""
    return FACTORY_OF[model_named(name)](patient=patient, tags=tags, **fields)


def tags_of(obj):
    obj.refresh_from_db()
    return obj.tags


@pytest.fixture
def household(shared_patient, make_user):
    """Alice's tagged records (shared with bob VIEW, carol EDIT) and a stranger's."""
    record("medication", shared_patient, ["cardio", "daily"])
    record("medication", shared_patient, ["cardio"])
    record("condition", shared_patient, ["cardio", "chronic"])
    record("lab_result", shared_patient, ["routine"])
    stranger = PatientFactory(owner=make_user(username="eve"))
    record("medication", stranger, ["secret-of-eve", "cardio"])
    UserTag.objects.create(user=stranger.owner, tag="eve-registry")
    return shared_patient


class TestTaggedTypes:
    def test_the_tagged_types_are_found_through_the_registry(self):
        names = {model.kind.name for model in TAGGED}
        assert {"medication", "lab_result", "condition", "allergy"} <= names
        assert all(model in FACTORY_OF for model in TAGGED)


class TestPopular:
    def test_counts_across_types_and_registry(self, alice, alice_api, household):
        UserTag.objects.create(user=alice, tag="unused", color="#112233")
        response = alice_api.get(f"{BASE}/popular")
        assert response.status_code == 200, response.content
        items = response.json()
        assert [item["tag"] for item in items] == [
            "cardio",
            "chronic",
            "daily",
            "routine",
            "unused",
        ]
        cardio = items[0]
        assert cardio["count"] == cardio["usage_count"] == 3
        assert cardio["entity_types"] == ["condition", "medication"]
        assert cardio["color"] is None
        assert items[-1]["count"] == 0 and items[-1]["entity_types"] == []
        assert items[-1]["color"] == "#112233"
        registry = dict(UserTag.objects.filter(user=alice).values_list("tag", "id"))
        assert {item["tag"]: item["id"] for item in items} == registry

    def test_entity_types_filter(self, alice_api, household):
        only = alice_api.get(f"{BASE}/popular", {"entity_types": "lab_result,condition"})
        assert [(i["tag"], i["count"]) for i in only.json()] == [
            ("cardio", 1),
            ("chronic", 1),
            ("routine", 1),
        ]
        repeated = alice_api.get(f"{BASE}/popular?entity_types=lab_result&entity_types[]=condition")
        assert repeated.json() == only.json()

    def test_registered_tags_follow_after_used_ones_even_when_filtered(self, alice_api, household):
        alice_api.get(f"{BASE}/popular")  # registers cardio, chronic, daily, routine
        items = alice_api.get(f"{BASE}/popular", {"entity_types": "lab_result"}).json()
        # Unused tags: newest registered first (registered in the first call's order).
        assert [(i["tag"], i["count"]) for i in items] == [
            ("routine", 1),
            ("daily", 0),
            ("chronic", 0),
            ("cardio", 0),
        ]

    def test_a_new_tag_can_be_found_and_coloured_as_the_web_app_does(
        self, alice, alice_api, household
    ):
        for n in range(60):
            UserTag.objects.create(user=alice, tag=f"old-{n:02}")
        alice_api.post(f"{BASE}/create", {"tag": "Fresh"}, format="json")
        items = alice_api.get(f"{BASE}/popular", {"limit": 50}).json()
        fresh = next(item for item in items if item["tag"] == "fresh")
        response = alice_api.patch(
            f"{BASE}/{fresh['id']}/color", {"color": "#00ff00"}, format="json"
        )
        assert response.status_code == 200
        assert UserTag.objects.get(user=alice, tag="fresh").color == "#00ff00"

    def test_limit(self, alice_api, household):
        assert [i["tag"] for i in alice_api.get(f"{BASE}/popular", {"limit": 2}).json()] == [
            "cardio",
            "chronic",
        ]
        for patient_tag in range(60):
            UserTag.objects.create(user=alice_api.user, tag=f"t{patient_tag:02}")
        assert len(alice_api.get(f"{BASE}/popular", {"limit": 500}).json()) == 50
        assert len(alice_api.get(f"{BASE}/popular").json()) == 20

    @pytest.mark.parametrize(
        "query", [{"limit": "x"}, {"limit": 0}, {"entity_types": "practice,medication"}]
    )
    def test_bad_input(self, alice_api, household, query):
        response = alice_api.get(f"{BASE}/popular", query)
        assert response.status_code == 422, response.content
        assert response.json()["status"] == "error"

    def test_shared_records_count_for_the_grantee_only_what_they_see(
        self, client_for, bob, mallory, household
    ):
        bob_items = client_for(bob).get(f"{BASE}/popular").json()
        assert {i["tag"]: i["count"] for i in bob_items} == {
            "cardio": 3,
            "chronic": 1,
            "daily": 1,
            "routine": 1,
        }
        assert client_for(mallory).get(f"{BASE}/popular").json() == []

    def test_query_count_does_not_grow(self, alice, alice_api, patient):
        record("medication", patient, ["a"])
        record("condition", patient, ["b"])
        alice_api.get(f"{BASE}/popular")  # registers the answered tags
        with CaptureQueriesContext(connection) as few:
            assert len(alice_api.get(f"{BASE}/popular").json()) == 2
        for model in TAGGED:
            for n in range(3):
                FACTORY_OF[model](patient=patient, tags=["a", f"{model.kind.name}-{n}"])
        UserTag.objects.bulk_create(
            [UserTag(user=alice, tag=f"{m.kind.name}-{n}") for m in TAGGED for n in range(3)]
            + [UserTag(user=alice, tag=f"spare-{n}") for n in range(10)]
        )
        with CaptureQueriesContext(connection) as many:
            answered = len(alice_api.get(f"{BASE}/popular", {"limit": 50}).json())
        assert answered == min(50, 2 + 3 * len(TAGGED) + 10)
        # The user, the counts of every type in one statement, the registry's unused tags,
        # the registry rows of the answered tags.
        assert len(many) == len(few) == 4, [q["sql"] for q in many.captured_queries]


class TestSuggestions:
    def test_by_use_then_registry(self, alice, alice_api, household):
        UserTag.objects.create(user=alice, tag="aaa-registered")
        UserTag.objects.create(user=alice, tag="zzz-registered-later")
        response = alice_api.get(f"{BASE}/suggestions")
        assert response.status_code == 200
        assert response.json() == [
            "cardio",
            "chronic",
            "daily",
            "routine",
            "zzz-registered-later",
            "aaa-registered",
        ]
        assert alice_api.get(f"{BASE}/suggestions", {"limit": 2}).json() == ["cardio", "chronic"]

    def test_for_one_type(self, alice_api, household):
        answer = alice_api.get(f"{BASE}/suggestions", {"entity_type": "medication"}).json()
        assert answer == ["cardio", "daily"]

    def test_bad_input(self, alice_api):
        unknown = alice_api.get(f"{BASE}/suggestions", {"entity_type": "nope"})
        assert unknown.status_code == 422 and "entity_type" in unknown.json()["errors"]
        assert alice_api.get(f"{BASE}/suggestions", {"limit": "-1"}).status_code == 422


class TestAutocomplete:
    def test_prefix_first_then_substring(self, alice, alice_api, household):
        UserTag.objects.create(user=alice, tag="echocardiogram")
        UserTag.objects.create(user=alice, tag="cardiology")
        response = alice_api.get(f"{BASE}/autocomplete", {"q": "CARD"})
        assert response.status_code == 200
        assert response.json() == ["cardio", "cardiology", "echocardiogram"]
        assert alice_api.get(f"{BASE}/autocomplete", {"q": "card", "limit": 1}).json() == ["cardio"]

    def test_typed_spaces_read_as_dashes(self, alice, alice_api):
        UserTag.objects.create(user=alice, tag="follow-up")
        assert alice_api.get(f"{BASE}/autocomplete", {"q": "follow u"}).json() == ["follow-up"]

    def test_wildcards_are_plain_characters(self, alice, alice_api, patient):
        record("medication", patient, ["50%-off", "a_b"])
        UserTag.objects.create(user=alice, tag="axb")
        UserTag.objects.create(user=alice, tag="5000")
        assert alice_api.get(f"{BASE}/autocomplete", {"q": "_"}).json() == ["a_b"]
        assert alice_api.get(f"{BASE}/autocomplete", {"q": "0%"}).json() == ["50%-off"]

    @pytest.mark.parametrize("query", [{}, {"q": ""}, {"q": "x" * 51}, {"q": "a", "limit": "z"}])
    def test_bad_input(self, alice_api, query):
        response = alice_api.get(f"{BASE}/autocomplete", query)
        assert response.status_code == 422, response.content


class TestNoOtherUsersTags:
    def test_reads_never_show_tags_only_other_users_have(self, client_for, bob, household):
        UserTag.objects.create(user=household.owner, tag="alice-private-idea")
        api = client_for(bob)
        seen = set()
        for item in api.get(f"{BASE}/popular", {"limit": 50}).json():
            seen.add(item["tag"])
        seen |= set(api.get(f"{BASE}/suggestions", {"limit": 50}).json())
        for q in ("e", "a", "i", "s", "o"):
            seen |= set(api.get(f"{BASE}/autocomplete", {"q": q, "limit": 20}).json())
        assert seen == {"cardio", "chronic", "daily", "routine"}
        assert not UserTag.objects.filter(user=bob, tag__in=["eve-registry"]).exists()


class TestCreate:
    def test_creates_normalised_and_is_idempotent(self, alice, alice_api):
        response = alice_api.post(f"{BASE}/create", {"tag": "  Follow Up "}, format="json")
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["tag"] == "follow-up"
        assert body["message"] == "Successfully created tag 'follow-up'"
        again = alice_api.post(f"{BASE}/create", {"tag": "follow-up"}, format="json")
        assert again.status_code == 200 and again.json()["id"] == body["id"]
        assert list(UserTag.objects.filter(user=alice).values_list("tag", flat=True)) == [
            "follow-up"
        ]

    @pytest.mark.parametrize("body", [{}, {"tag": ""}, {"tag": "   "}, {"tag": "x" * 51}])
    def test_bad_input(self, alice_api, body):
        response = alice_api.post(f"{BASE}/create", body, format="json")
        assert response.status_code == 422, response.content
        assert not UserTag.objects.exists()


class TestColor:
    def test_set_and_clear(self, alice, alice_api):
        row = UserTag.objects.create(user=alice, tag="cardio")
        response = alice_api.patch(f"{BASE}/{row.pk}/color", {"color": "#A1B2C3"}, format="json")
        assert response.status_code == 200, response.content
        assert response.json()["color"] == "#a1b2c3" and response.json()["tag"] == "cardio"
        assert alice_api.get(f"{BASE}/popular").json()[0]["color"] == "#a1b2c3"
        cleared = alice_api.patch(f"{BASE}/{row.pk}/color", {"color": None}, format="json")
        assert cleared.status_code == 200 and cleared.json()["color"] is None
        row.refresh_from_db()
        assert row.color == ""

    def test_another_users_tag_is_not_found(self, alice, client_for, mallory):
        row = UserTag.objects.create(user=alice, tag="cardio")
        response = client_for(mallory).patch(
            f"{BASE}/{row.pk}/color", {"color": "#000000"}, format="json"
        )
        assert response.status_code == 404
        row.refresh_from_db()
        assert row.color == ""

    @pytest.mark.parametrize("color", ["red", "#12345", "#1234567", "#ggg000", 12, ""])
    def test_bad_colour(self, alice, alice_api, color):
        row = UserTag.objects.create(user=alice, tag="cardio")
        response = alice_api.patch(f"{BASE}/{row.pk}/color", {"color": color}, format="json")
        assert response.status_code == 422, response.content

    def test_missing_colour(self, alice, alice_api):
        row = UserTag.objects.create(user=alice, tag="cardio")
        assert alice_api.patch(f"{BASE}/{row.pk}/color", {}, format="json").status_code == 422


@pytest.mark.parametrize(
    "method, path",
    [
        ("get", "popular"),
        ("get", "suggestions"),
        ("get", "autocomplete?q=a"),
        ("get", "search?tags=a"),
        ("post", "create"),
        ("patch", "1/color"),
        ("put", "rename?old_tag=a&new_tag=b"),
        ("put", "replace?old_tag=a&new_tag=b"),
        ("delete", "delete?tag=a"),
    ],
)
def test_anonymous_is_refused(anon, method, path):
    response = getattr(anon, method)(f"{BASE}/{path}")
    assert response.status_code == 401
    assert response.json()["status"] == "error"


def test_a_huge_tag_id_is_not_found(alice_api):
    response = alice_api.patch(f"{BASE}/{10**30}/color", {"color": None}, format="json")
    assert response.status_code == 404
