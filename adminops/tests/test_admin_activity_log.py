"""/admin/activity-log: the operators' audit list, its filter values and the CSV export."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from adminops.tests.factories import ActivityLogFactory
from patients.tests.factories import PatientFactory

pytestmark = pytest.mark.django_db

BASE = "/api/v1/admin/activity-log"


@pytest.fixture
def admin_api(client_for, admin_user):
    return client_for(admin_user)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.fixture
def log(alice, bob):
    """Five rows: alice's medication work, bob's lab result, a backup and a login."""
    patient = PatientFactory(owner=alice, first_name="Alice", last_name="Owner")
    return {
        "created": ActivityLogFactory(
            user=alice,
            patient=patient,
            action="created",
            entity_type="medication",
            entity_id=7,
            description="Created Medication: Aspirin 100mg",
            timestamp=at("2025-10-01T08:00:00"),
        ),
        "updated": ActivityLogFactory(
            user=alice,
            patient=patient,
            action="updated",
            entity_type="medication",
            entity_id=7,
            description="Updated Medication: Aspirin 200mg",
            timestamp=at("2025-10-02T08:00:00"),
        ),
        "lab": ActivityLogFactory(
            user=bob,
            action="deleted",
            entity_type="lab_result",
            entity_id=3333,
            description="Deleted Lab Result: CBC",
            timestamp=at("2025-10-03T08:00:00"),
        ),
        "backup": ActivityLogFactory(
            user=None,
            patient=None,
            action="backup_created",
            entity_type="backup",
            entity_id=1,
            description='=HYPERLINK("x")',
            timestamp=at("2025-10-04T08:00:00"),
        ),
        "login": ActivityLogFactory(
            user=bob,
            patient=None,
            action="login",
            entity_type="user",
            entity_id=bob.pk,
            description="Signed in",
            timestamp=at("2025-10-05T08:00:00"),
            ip_address="192.0.2.7",
        ),
    }


def ids(response) -> list[int]:
    return [item["id"] for item in response.json()["items"]]


@pytest.mark.parametrize("suffix", ["", "/filters", "/export"])
def test_admin_only(suffix, admin_api, alice_api, anon):
    assert admin_api.get(f"{BASE}{suffix}").status_code == 200
    assert alice_api.get(f"{BASE}{suffix}").status_code == 403
    assert anon.get(f"{BASE}{suffix}").status_code == 401


def test_list_without_a_query_is_everything_newest_first(admin_api, log, alice):
    response = admin_api.get(BASE)
    body = response.json()
    assert (body["total"], body["page"], body["per_page"], body["total_pages"]) == (5, 1, 50, 1)
    names = ["login", "backup", "lab", "updated", "created"]
    assert ids(response) == [log[name].pk for name in names]
    row = body["items"][-1]
    assert row["username"] == "alice" and row["user_id"] == alice.pk
    assert (row["entity_type"], row["entity_type_display"], row["entity_id"]) == (
        "medication",
        "Medication",
        7,
    )
    assert row["action"] == "created" and row["action_display"] == "Created"
    assert row["description"] == "Created Medication: Aspirin 100mg"
    assert row["timestamp"] == "2025-10-01T08:00:00Z"
    assert row["patient_label"] == "Alice Owner"
    assert row["metadata"]["changed"] == []
    system = body["items"][1]
    assert (system["username"], system["entity_type_display"]) == (None, "Backup")
    assert body["items"][2]["entity_type_display"] == "Lab Result"


def test_filters(admin_api, log, bob):
    def fetch(**query):
        return ids(admin_api.get(BASE, query))

    assert fetch(action="updated") == [log["updated"].pk]
    assert fetch(entity_type="medication") == [log["updated"].pk, log["created"].pk]
    assert fetch(entity_type="LabResult") == [log["lab"].pk]
    assert fetch(user_id=bob.pk) == [log["login"].pk, log["lab"].pk]
    assert fetch(search="aspirin 200") == [log["updated"].pk]
    assert fetch(search="bob") == [log["login"].pk, log["lab"].pk]  # the username
    assert fetch(search="owner") == [log["updated"].pk, log["created"].pk]  # the patient
    assert fetch(search="3333") == [log["lab"].pk]  # the entity id
    assert fetch(start_date="2025-10-02", end_date="2025-10-03") == [
        log["lab"].pk,
        log["updated"].pk,
    ]
    # Datetimes as the web app sends them; the end instant is included.
    assert fetch(start_date="2025-10-03T08:00:00Z", end_date="2025-10-04T08:00:00.000Z") == [
        log["backup"].pk,
        log["lab"].pk,
    ]
    # Unset filters come as empty strings: not filtered.
    assert len(fetch(search="", action="", entity_type="", user_id="", start_date="")) == 5


def test_naive_datetimes_are_facility_time(admin_api, log, settings):
    settings.TIME_ZONE = "Europe/Paris"  # UTC+2 in October
    assert ids(admin_api.get(BASE, {"start_date": "2025-10-05T10:00:00"})) == [log["login"].pk]
    assert ids(admin_api.get(BASE, {"start_date": "2025-10-05T10:00:01"})) == []


def test_pages(admin_api, alice):
    now = timezone.now()
    rows = [ActivityLogFactory(user=alice, timestamp=now - timedelta(minutes=i)) for i in range(7)]
    first = admin_api.get(BASE, {"per_page": 3}).json()
    assert (first["total"], first["total_pages"], first["per_page"]) == (7, 3, 3)
    third = admin_api.get(BASE, {"per_page": 3, "page": 3})
    assert ids(third) == [rows[6].pk]
    beyond = admin_api.get(BASE, {"per_page": 3, "page": 9}).json()
    assert beyond["items"] == [] and beyond["total"] == 7
    capped = admin_api.get(BASE, {"per_page": 1000}).json()
    assert capped["per_page"] == 100


def test_the_list_costs_a_fixed_number_of_queries(
    admin_api, alice, bob, django_assert_max_num_queries
):
    for user in (alice, bob, alice):
        ActivityLogFactory(user=user)
    # Authentication (1), the count and the page with its users joined.
    with django_assert_max_num_queries(3):
        assert admin_api.get(BASE).json()["total"] == 3


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"page": 0}, "page"),
        ({"per_page": "many"}, "per_page"),
        ({"user_id": "bob"}, "user_id"),
        ({"user_id": str(2**70)}, "user_id"),
        ({"start_date": "last week"}, "start_date"),
        ({"end_date": "2025-13-45"}, "end_date"),
        ({"action": "x" * 51}, "action"),
    ],
)
def test_bad_filters_are_refused(admin_api, query, field):
    for suffix in ("", "/export"):
        if suffix and field in {"page", "per_page"}:
            continue
        response = admin_api.get(f"{BASE}{suffix}", query)
        assert response.status_code == 422, (suffix, response.content[:200])
        assert field in response.json()["errors"]


def test_filter_values(admin_api, log, alice, bob):
    bob.first_name, bob.last_name = "Bob", "Viewer"
    bob.save()
    body = admin_api.get(f"{BASE}/filters").json()
    actions = {item["value"]: item["label"] for item in body["actions"]}
    assert actions["backup_created"] == "Backup created"
    assert {"created", "updated", "deleted", "login"} <= set(actions)
    assert {item["value"]: item["label"] for item in body["entity_types"]} == {
        "backup": "Backup",
        "lab_result": "Lab Result",
        "medication": "Medication",
        "user": "User",
    }
    assert body["users"] == [
        {"value": alice.pk, "label": "Alice Owner (alice)"},
        {"value": bob.pk, "label": "Bob Viewer (bob)"},
    ]


def test_filter_values_of_an_empty_log(admin_api):
    body = admin_api.get(f"{BASE}/filters").json()
    assert [item["value"] for item in body["actions"]] == ["created", "deleted", "updated"]
    assert body["entity_types"] == [] and body["users"] == []


def read_csv(response) -> list[dict]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="activity-log-')
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_export_streams_the_filtered_rows_as_csv(admin_api, log, bob):
    rows = read_csv(admin_api.get(f"{BASE}/export", HTTP_ACCEPT="text/csv"))
    assert [int(row["id"]) for row in rows] == [
        log[name].pk for name in ("login", "backup", "lab", "updated", "created")
    ]
    login = rows[0]
    assert login["timestamp"] == "2025-10-05T08:00:00Z"
    assert (login["username"], login["action"], login["ip_address"]) == (
        "bob",
        "login",
        "192.0.2.7",
    )
    assert rows[-1]["patient"] == "Alice Owner"
    # A cell a spreadsheet would run as a formula is defused.
    assert rows[1]["description"] == '\'=HYPERLINK("x")'

    only_bob = read_csv(admin_api.get(f"{BASE}/export", {"user_id": bob.pk}))
    assert [row["username"] for row in only_bob] == ["bob", "bob"]


def test_export_of_an_empty_log_is_the_header(admin_api):
    response = admin_api.get(f"{BASE}/export")
    text = b"".join(response.streaming_content).decode()
    assert text.strip() == (
        "id,timestamp,user_id,username,action,entity_type,entity_id,description,"
        "patient_id,patient,ip_address"
    )
