"""Cron schedules: parsing, the next tick, time zones (runs.services.crons)."""

from datetime import UTC, datetime

import pytest

from runs.services.crons import check_schedule, check_timezone, next_run_date
from runs.services.errors import InvalidRequest


def at(*parts) -> datetime:
    return datetime(*parts, tzinfo=UTC)


@pytest.mark.parametrize(
    "schedule", ["* * * * *", "*/5 * * * *", "0 9 * * 1-5", "@hourly", "* * * * * */10"]
)
def test_valid_schedules_pass(schedule):
    assert check_schedule(schedule) == schedule


@pytest.mark.parametrize("schedule", ["", "not a cron", "61 * * * *", "* * *", 5, None])
def test_bad_schedules_are_refused_naming_the_field(schedule):
    with pytest.raises(InvalidRequest) as error:
        check_schedule(schedule)
    assert error.value.field == "schedule"


def test_the_next_tick_is_strictly_after():
    assert next_run_date("*/5 * * * *", "", at(2026, 3, 1, 10, 2)) == at(2026, 3, 1, 10, 5)
    # On a tick: the following one, so a fired tick is never due again.
    assert next_run_date("*/5 * * * *", "", at(2026, 3, 1, 10, 5)) == at(2026, 3, 1, 10, 10)


def test_seconds_are_the_sixth_field():
    assert next_run_date("* * * * * */10", "", at(2026, 3, 1, 10, 0, 3)) == at(
        2026, 3, 1, 10, 0, 10
    )


def test_a_schedule_is_read_in_its_time_zone_across_daylight_saving():
    # 9:00 in Paris is 8:00 UTC in winter, 7:00 UTC in summer.
    assert next_run_date("0 9 * * *", "Europe/Paris", at(2026, 1, 10, 12)) == at(2026, 1, 11, 8)
    assert next_run_date("0 9 * * *", "Europe/Paris", at(2026, 7, 10, 12)) == at(2026, 7, 11, 7)
    # Without one: UTC.
    assert next_run_date("0 9 * * *", "", at(2026, 7, 10, 12)) == at(2026, 7, 11, 9)
    assert next_run_date("0 9 * * *", "UTC", at(2026, 7, 10, 12)) == at(2026, 7, 11, 9)


def test_a_schedule_that_never_ticks_has_no_next_date():
    assert next_run_date("0 0 30 2 *", "", at(2026, 1, 1)) is None


def test_time_zones_are_iana_names():
    assert check_timezone(None) == "" and check_timezone("America/New_York") == "America/New_York"
    for bad in ("Mars/Olympus", "../etc/passwd", "EST5EDT!"):
        with pytest.raises(InvalidRequest) as error:
            check_timezone(bad)
        assert error.value.field == "timezone"
