"""GET /api/v1/utils/timezone-info: the facility timezone from settings.TIME_ZONE."""

from datetime import UTC, datetime

import pytest

from adminops import selectors

URL = "/api/v1/utils/timezone-info"


@pytest.mark.parametrize(
    ("zone", "moment", "offset", "hours", "dst", "local"),
    [
        ("America/New_York", datetime(2026, 1, 15, 17, 0, tzinfo=UTC), "-05:00", -5.0, False,
         "2026-01-15T12:00:00-05:00"),
        ("America/New_York", datetime(2026, 7, 15, 17, 0, tzinfo=UTC), "-04:00", -4.0, True,
         "2026-07-15T13:00:00-04:00"),
        ("Asia/Kolkata", datetime(2026, 7, 15, 17, 0, tzinfo=UTC), "+05:30", 5.5, False,
         "2026-07-15T22:30:00+05:30"),
        ("UTC", datetime(2026, 7, 15, 17, 0, tzinfo=UTC), "+00:00", 0.0, False,
         "2026-07-15T17:00:00+00:00"),
    ],
)  # fmt: skip
def test_timezone_info_at_a_known_moment(settings, zone, moment, offset, hours, dst, local):
    settings.TIME_ZONE = zone

    info = selectors.timezone_info(moment)

    assert info["timezone"] == info["facility_timezone"] == zone
    assert info["utc_offset"] == offset
    assert info["timezone_offset_hours"] == hours
    assert info["is_dst"] is dst
    assert info["current_time"] == info["current_facility_time"] == local
    assert info["current_utc_time"] == moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_timezone_info_endpoint_uses_the_facility_zone(anon, settings):
    settings.TIME_ZONE = "America/New_York"

    response = anon.get(URL)

    assert response.status_code == 200
    body = response.json()
    assert body["timezone"] == body["facility_timezone"] == "America/New_York"
    assert body["utc_offset"] in {"-05:00", "-04:00"}
    assert body["is_dst"] is (body["utc_offset"] == "-04:00")
    assert body["timezone_offset_hours"] == int(body["utc_offset"][:3])
    assert body["current_time"].endswith(body["utc_offset"])
    local = datetime.fromisoformat(body["current_time"])
    utc = datetime.fromisoformat(body["current_utc_time"].replace("Z", "+00:00"))
    assert local == utc  # the same instant, written in two zones
