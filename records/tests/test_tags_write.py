"""/tags/rename, /tags/replace and /tags/delete: every record the caller may edit, every
tagged type, one transaction; records the caller may only view are left alone."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection
from django.test.utils import CaptureQueriesContext

from patients.models import MAX_TAGS
from patients.tests.factories import PatientFactory
from records.models import SearchEntry, UserTag
from records.services import tags as tag_services
from records.tests.test_tags import BASE, FACTORY_OF, TAGGED, model_named, record, tags_of

pytestmark = pytest.mark.django_db


def rename(api, old, new, verb="rename"):
    return api.put(f"{BASE}/{verb}?old_tag={old}&new_tag={new}")


@pytest.fixture
def every_type(shared_patient):
    """One record of each tagged type of Alice's patient, tagged cardio (+ another tag)."""
    return [
        FACTORY_OF[model](patient=shared_patient, tags=["cardio", model.kind.name])
        for model in TAGGED
    ]


class TestRename:
    @pytest.mark.parametrize("verb", ["rename", "replace"])
    def test_every_tagged_type_changes(self, alice_api, every_type, verb):
        untouched = record("medication", every_type[0].patient, ["other"])
        before = {(type(obj), obj.pk): obj.updated_at for obj in [*every_type, untouched]}
        response = rename(alice_api, "cardio", "Cardiology", verb)
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["records_updated"] == len(TAGGED)
        assert "'cardio'" in body["message"] and "'cardiology'" in body["message"]
        for obj in every_type:
            assert tags_of(obj) == ["cardiology", obj.kind.name]
            assert obj.tag_index == f",cardiology,{obj.kind.name},"
            assert obj.updated_at > before[(type(obj), obj.pk)]
        assert tags_of(untouched) == ["other"]
        assert untouched.updated_at == before[(type(untouched), untouched.pk)]

    def test_filters_and_search_see_the_new_name(self, alice_api, every_type):
        rename(alice_api, "cardio", "heart")
        listed = alice_api.get("/api/v1/medications/", {"tags": "heart"}).json()
        assert [row["id"] for row in listed] == [
            every_type[TAGGED.index(model_named("medication"))].pk
        ]
        assert alice_api.get("/api/v1/medications/", {"tags": "cardio"}).json() == []

    def test_the_search_index_follows(self, alice_api, every_type):
        rename(alice_api, "cardio", "heart")
        entries = {
            (entry.record_type, entry.record_id): entry.tags for entry in SearchEntry.objects.all()
        }
        for obj in every_type:
            assert entries[(obj.kind.name, obj.pk)] == f",heart,{obj.kind.name},"

    def test_merges_into_an_existing_tag(self, alice_api, patient):
        both = record("condition", patient, ["a", "cardio", "b", "cardiology"])
        response = rename(alice_api, "cardio", "cardiology")
        assert response.json()["records_updated"] == 1
        assert tags_of(both) == ["a", "cardiology", "b"]

    def test_edit_share_changes_view_share_does_not(self, client_for, bob, carol, every_type):
        viewer = rename(client_for(bob), "cardio", "by-bob")
        assert viewer.status_code == 200 and viewer.json()["records_updated"] == 0
        assert all("cardio" in tags_of(obj) for obj in every_type)
        editor = rename(client_for(carol), "cardio", "by-carol")
        assert editor.json()["records_updated"] == len(every_type)
        assert all(tags_of(obj)[0] == "by-carol" for obj in every_type)

    def test_only_editable_records_of_a_mixed_caller(self, client_for, bob, shared_patient):
        own = record("medication", PatientFactory(owner=bob), ["cardio"])
        viewed = record("medication", shared_patient, ["cardio"])
        response = rename(client_for(bob), "cardio", "heart")
        assert response.json()["records_updated"] == 1
        assert tags_of(own) == ["heart"]
        assert tags_of(viewed) == ["cardio"]

    def test_strangers_records_are_untouched(self, client_for, mallory, every_type):
        response = rename(client_for(mallory), "cardio", "x")
        assert response.json()["records_updated"] == 0
        assert all(tags_of(obj)[0] == "cardio" for obj in every_type)

    def test_a_tag_that_only_contains_the_name_is_left(self, alice_api, patient):
        near = record("medication", patient, ["cardio-2", "pre-cardio"])
        assert rename(alice_api, "cardio", "heart").json()["records_updated"] == 0
        assert tags_of(near) == ["cardio-2", "pre-cardio"]

    def test_registry_follows(self, alice, alice_api, patient):
        record("medication", patient, ["cardio"])
        UserTag.objects.create(user=alice, tag="cardio", color="#111111")
        rename(alice_api, "cardio", "heart")
        assert list(UserTag.objects.filter(user=alice).values_list("tag", "color")) == [
            ("heart", "#111111")
        ]

    def test_registry_merge_keeps_the_existing_colour(self, alice, alice_api):
        UserTag.objects.create(user=alice, tag="cardio", color="#111111")
        UserTag.objects.create(user=alice, tag="heart", color="#222222")
        UserTag.objects.create(user=alice, tag="vein", color="")
        UserTag.objects.create(user=alice, tag="vessel", color="#333333")
        rename(alice_api, "cardio", "heart")
        rename(alice_api, "vessel", "vein")
        assert list(UserTag.objects.filter(user=alice).values_list("tag", "color")) == [
            ("heart", "#222222"),
            ("vein", "#333333"),
        ]

    def test_other_users_registries_are_theirs(self, alice, client_for, carol, patient):
        UserTag.objects.create(user=alice, tag="cardio")
        rename(client_for(carol), "cardio", "heart")
        assert UserTag.objects.filter(user=alice, tag="cardio").exists()

    @pytest.mark.parametrize(
        "query",
        [
            "",
            "?old_tag=a",
            "?new_tag=b",
            "?old_tag=&new_tag=b",
            "?old_tag=a&new_tag=%20",
            "?old_tag=a&new_tag=A",
            "?old_tag=a&new_tag=" + "x" * 51,
        ],
    )
    @pytest.mark.parametrize("verb", ["rename", "replace"])
    def test_bad_input(self, alice_api, patient, query, verb):
        kept = record("medication", patient, ["a"])
        response = alice_api.put(f"{BASE}/{verb}{query}")
        assert response.status_code == 422, response.content
        assert response.json()["status"] == "error"
        assert tags_of(kept) == ["a"]

    def test_all_or_nothing(self, alice_api, patient):
        """A record that cannot take the change (it holds more tags than allowed, written
        around the model) fails the whole call: the records of the other types, changed
        before it in the same transaction, are back as they were."""
        first, last = TAGGED[0], TAGGED[-1]
        before = FACTORY_OF[first](patient=patient, tags=["cardio"])
        broken = FACTORY_OF[last](patient=patient, tags=["cardio"])
        too_many = ["cardio", *(f"t{n}" for n in range(MAX_TAGS))]
        last.objects.filter(pk=broken.pk).update(tags=too_many, tag_index=f",{','.join(too_many)},")
        response = rename(alice_api, "cardio", "heart")
        assert response.status_code == 422, response.content
        assert last.kind.name in response.json()["error"]
        assert tags_of(before) == ["cardio"]
        before.refresh_from_db()
        assert before.tag_index == ",cardio,"
        assert tags_of(broken) == too_many

    def test_a_failure_after_writes_undoes_them(self, monkeypatch, alice, every_type):
        """The last type's search update fails after every type's records were written:
        nothing stays written."""
        real = tag_services._reindex

        def fail_on_the_last_type(model, ids):
            if model is TAGGED[-1]:
                raise DatabaseError("the search index is unavailable")
            real(model, ids)

        monkeypatch.setattr(tag_services, "_reindex", fail_on_the_last_type)
        with pytest.raises(DatabaseError):
            tag_services.change_tag(alice, old="cardio", new="heart")
        assert all(tags_of(obj)[0] == "cardio" for obj in every_type)
        assert not SearchEntry.objects.filter(tags__contains=",heart,").exists()

    def test_query_count_does_not_grow_with_records(self, alice_api, patient):
        medication = model_named("medication")
        FACTORY_OF[medication](patient=patient, tags=["cardio"])
        with CaptureQueriesContext(connection) as few:
            assert rename(alice_api, "cardio", "heart").json()["records_updated"] == 1
        FACTORY_OF[medication].create_batch(30, patient=patient, tags=["heart"])
        with CaptureQueriesContext(connection) as many:
            assert rename(alice_api, "heart", "cardio").json()["records_updated"] == 31
        assert len(many) == len(few), [q["sql"] for q in many.captured_queries]


class TestDelete:
    def test_removes_from_editable_records_and_registry(
        self, alice, alice_api, client_for, bob, every_type
    ):
        UserTag.objects.create(user=alice, tag="cardio")
        bobs = record("allergy", PatientFactory(owner=bob), ["cardio"])
        response = alice_api.delete(f"{BASE}/delete?tag=Cardio")
        assert response.status_code == 200, response.content
        assert response.json() == {
            "message": "Successfully deleted tag 'cardio'",
            "records_updated": len(every_type),
        }
        for obj in every_type:
            assert tags_of(obj) == [obj.kind.name]
        assert tags_of(bobs) == ["cardio"]
        assert not UserTag.objects.filter(user=alice, tag="cardio").exists()

    def test_last_tag_leaves_an_empty_list(self, alice_api, patient):
        only = record("procedure", patient, ["cardio"])
        alice_api.delete(f"{BASE}/delete?tag=cardio")
        assert tags_of(only) == []
        only.refresh_from_db()
        assert only.tag_index == ""

    def test_view_share_deletes_nothing(self, client_for, bob, every_type):
        response = client_for(bob).delete(f"{BASE}/delete?tag=cardio")
        assert response.json()["records_updated"] == 0
        assert all("cardio" in tags_of(obj) for obj in every_type)

    @pytest.mark.parametrize("query", ["", "?tag=", "?tag=%20", "?tag=" + "y" * 51])
    def test_bad_input(self, alice_api, query):
        response = alice_api.delete(f"{BASE}/delete{query}")
        assert response.status_code == 422, response.content
