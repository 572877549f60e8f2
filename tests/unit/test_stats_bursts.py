"""Bursts of holds (app/domain/anomalies.py): which orders of one source make a burst, and the
statistics' rates."""

from datetime import datetime, timedelta
from decimal import Decimal

from app.domain.anomalies import BurstRule, bursts, percent

START = datetime(2026, 12, 1, 7, 0)
RULE = BurstRule(holds=3, minutes=10)


def _at(*minutes):
    return [START + timedelta(minutes=m) for m in minutes]


def test_enough_orders_within_the_window_are_a_burst():
    assert bursts(_at(0, 4, 9), RULE) == [range(0, 3)]


def test_too_few_or_too_spread_out_are_none():
    assert bursts(_at(0, 4), RULE) == []
    assert bursts(_at(0, 6, 12, 18), RULE) == []  # never three within ten minutes


def test_the_orders_around_a_burst_that_fall_outside_every_window_stay_out():
    assert bursts(_at(0, 30, 31, 32, 60), RULE) == [range(1, 4)]


def test_a_long_run_is_one_burst_and_two_runs_far_apart_are_two():
    assert bursts(_at(0, 5, 10, 15, 20, 25), RULE) == [range(0, 6)]
    assert bursts(_at(0, 1, 2, 120, 121, 122), RULE) == [range(0, 3), range(3, 6)]


def test_the_window_includes_its_end():
    assert bursts(_at(0, 5, 10), RULE) == [range(0, 3)]
    assert bursts(_at(0, 5, 10.5), RULE) == []


def test_percent_rounds_half_up_and_is_zero_of_nothing():
    assert percent(1, 8) == Decimal("12.5")
    assert percent(2, 3) == Decimal("66.7")
    assert percent(5, 0) == Decimal("0.0")
