"""Calendar status rules, suggested arrival times and release times."""

from datetime import date, datetime, time, timedelta

import pytest

from app.domain.clock import CHINA_TZ
from app.domain.enums import Availability, ScheduleStatus
from app.domain.schedule import (
    ScheduleLoad,
    day_summary,
    next_change,
    release_at,
    release_refusal,
    schedule_availability,
    slot_times,
    suggested_time,
)

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=CHINA_TZ)
PAST = NOW - timedelta(days=1)
FUTURE = NOW + timedelta(hours=2)


def load(status=ScheduleStatus.OPEN, released=PAST, capacity=10, remaining=5):
    return ScheduleLoad(status, released, capacity, remaining)


class TestSuggestedTime:
    def test_first_number_arrives_at_start(self):
        assert suggested_time(time(8, 0), 10, 1) == time(8, 0)

    def test_each_number_later_by_minutes_per_patient(self):
        assert suggested_time(time(8, 0), 10, 2) == time(8, 10)
        assert suggested_time(time(8, 0), 15, 5) == time(9, 0)
        assert suggested_time(time(13, 30), 7, 10) == time(14, 33)

    @pytest.mark.parametrize("seq", [0, -1])
    def test_seq_starts_at_one(self, seq):
        with pytest.raises(ValueError):
            suggested_time(time(8, 0), 10, seq)

    def test_minutes_must_be_positive(self):
        with pytest.raises(ValueError):
            suggested_time(time(8, 0), 0, 1)

    def test_past_midnight_is_refused(self):
        with pytest.raises(ValueError):
            suggested_time(time(23, 0), 30, 5)

    def test_slot_times_cover_capacity(self):
        times = slot_times(time(8, 0), time(12, 0), 20, 12)
        assert len(times) == 12
        assert times[0] == time(8, 0) and times[-1] == time(11, 40)

    def test_slot_times_need_end_after_start(self):
        with pytest.raises(ValueError):
            slot_times(time(12, 0), time(8, 0), 10, 3)


class TestReleaseAt:
    def test_window_days_before_at_release_time(self):
        at = release_at(date(2026, 11, 29), time(7, 0), 7, CHINA_TZ)
        assert at == datetime(2026, 11, 22, 7, 0, tzinfo=CHINA_TZ)

    def test_shorter_window_releases_later(self):
        assert release_at(date(2026, 11, 29), time(7, 0), 5, CHINA_TZ) > release_at(
            date(2026, 11, 29), time(7, 0), 7, CHINA_TZ
        )


class TestReleaseRefusal:
    VISIT, END = date(2026, 11, 29), time(12, 0)
    CLINIC_END = datetime(2026, 11, 29, 12, 0, tzinfo=CHINA_TZ)

    @pytest.mark.parametrize(
        "release",
        [CLINIC_END, CLINIC_END - timedelta(days=7), CLINIC_END - timedelta(days=366)],
    )
    def test_up_to_the_clinics_end_and_back_366_days_is_fine(self, release):
        assert release_refusal(release, self.VISIT, self.END, CHINA_TZ) is None

    def test_after_the_clinics_end_no_one_could_book(self):
        late = self.CLINIC_END + timedelta(minutes=1)
        assert "早于出诊结束" in release_refusal(late, self.VISIT, self.END, CHINA_TZ)

    def test_more_than_366_days_before_is_refused(self):
        early = self.CLINIC_END - timedelta(days=366, minutes=1)
        assert "366 天之内" in release_refusal(early, self.VISIT, self.END, CHINA_TZ)


class TestScheduleAvailability:
    def test_open_released_with_numbers_is_available(self):
        assert schedule_availability(load(), NOW) == Availability.AVAILABLE

    def test_stopped_wins_over_everything(self):
        stopped = load(status=ScheduleStatus.STOPPED, released=FUTURE, remaining=0)
        assert schedule_availability(stopped, NOW) == Availability.STOPPED

    def test_before_release_is_not_released_even_with_numbers(self):
        assert schedule_availability(load(released=FUTURE), NOW) == Availability.NOT_RELEASED

    def test_release_moment_itself_is_released(self):
        assert schedule_availability(load(released=NOW), NOW) == Availability.AVAILABLE

    def test_no_numbers_left_is_full(self):
        assert schedule_availability(load(remaining=0), NOW) == Availability.FULL


class TestDaySummary:
    def test_no_schedule_is_none(self):
        assert day_summary([], NOW).status == Availability.NONE

    def test_all_stopped_is_stopped_with_nothing_to_offer(self):
        summary = day_summary([load(status=ScheduleStatus.STOPPED)] * 2, NOW)
        assert (summary.status, summary.total, summary.remaining) == (Availability.STOPPED, 0, 0)

    def test_any_bookable_schedule_makes_the_day_available(self):
        summary = day_summary([load(remaining=0), load(remaining=3, capacity=20)], NOW)
        assert summary.status == Availability.AVAILABLE
        assert (summary.total, summary.remaining) == (30, 3)

    def test_stopped_schedules_do_not_count(self):
        summary = day_summary([load(status=ScheduleStatus.STOPPED, remaining=9), load()], NOW)
        assert (summary.total, summary.remaining) == (10, 5)

    def test_full_day_with_more_to_come_is_not_released(self):
        summary = day_summary([load(remaining=0), load(released=FUTURE, remaining=10)], NOW)
        assert summary.status == Availability.NOT_RELEASED
        assert summary.remaining == 10

    def test_everything_taken_is_full(self):
        summary = day_summary([load(remaining=0), load(remaining=0)], NOW)
        assert (summary.status, summary.remaining) == (Availability.FULL, 0)

    def test_full_and_stopped_is_full(self):
        loads = [load(remaining=0), load(status=ScheduleStatus.STOPPED)]
        assert day_summary(loads, NOW).status == Availability.FULL


class TestNextChange:
    def test_next_release_in_the_future(self):
        later = FUTURE + timedelta(hours=1)
        assert next_change([load(), load(released=later), load(released=FUTURE)], NOW) == FUTURE

    def test_nothing_pending(self):
        assert next_change([load()], NOW) is None
