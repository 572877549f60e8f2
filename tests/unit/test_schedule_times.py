"""Moving a clinic's times: the numbers' new suggested times, and the taken number a move would
bring forward."""

from datetime import time

import pytest

from app.domain.schedule_times import Brought, brought_forward, retimed


class TestRetimed:
    def test_the_numbers_share_the_new_span_as_a_new_schedules_do(self):
        moved = retimed(time(9, 0), time(12, 0), 10)
        assert moved.minutes_per_patient == 18
        assert moved.times[:3] == [time(9, 0), time(9, 18), time(9, 36)]
        assert moved.times[-1] == time(11, 42) and len(moved.times) == 10

    def test_more_numbers_than_minutes_are_a_minute_apart_past_the_end(self):
        moved = retimed(time(9, 0), time(9, 5), 8)
        assert moved.minutes_per_patient == 1 and moved.times[-1] == time(9, 7)

    @pytest.mark.parametrize(
        ("start", "end", "capacity"),
        [
            (time(12, 0), time(9, 0), 10),  # the end before the start
            (time(9, 0), time(9, 0), 10),  # no span at all
            (time(23, 50), time(23, 55), 999),  # the last numbers on the next day
        ],
    )
    def test_times_that_cannot_hold_the_numbers_are_a_value_error(self, start, end, capacity):
        with pytest.raises(ValueError):
            retimed(start, end, capacity)


class TestBroughtForward:
    def test_later_or_the_same_times_bring_nobody_forward(self):
        taken = {1: time(8, 0), 2: time(8, 10)}
        assert brought_forward(taken, [time(8, 0), time(8, 12), time(8, 24)]) is None
        assert brought_forward(taken, [time(9, 0), time(9, 18)]) is None
        assert brought_forward({}, [time(6, 0)]) is None

    def test_the_first_taken_number_that_would_come_earlier_is_named(self):
        taken = {2: time(8, 10), 5: time(8, 40), 7: time(9, 0)}
        new = [time(8, 0), time(8, 10), time(8, 20), time(8, 30), time(8, 38), time(8, 46)]
        new.append(time(8, 54))
        assert brought_forward(taken, new) == Brought(5, time(8, 40), time(8, 38))

    def test_a_free_number_may_come_earlier(self):
        assert brought_forward({3: time(8, 20)}, [time(7, 0), time(7, 10), time(8, 20)]) is None
