"""The hold rules of app.domain.booking: schedule, eligibility, account limits and sold out."""

import dataclasses
import re
from datetime import UTC, date, datetime, time, timedelta

import pytest

from app.domain.booking import (
    BookingRefused,
    Limits,
    check_account,
    check_eligibility,
    check_schedule,
    sold_out,
)
from app.domain.clock import CHINA_TZ
from app.domain.enums import ScheduleStatus, SexRule
from app.domain.identity import FEMALE, MALE, age_on
from app.domain.schedule import release_at as schedule_release_at

CJK = re.compile(r"[\u4e00-\u9fff]")

NOW = datetime(2026, 11, 22, 9, 30, tzinfo=CHINA_TZ)
TODAY = NOW.date()
WINDOW = 7


def at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=CHINA_TZ)


def schedule_facts(**overrides):
    """Facts of an open, released schedule three days ahead, booked at NOW."""
    visit_date = overrides.get("visit_date", TODAY + timedelta(days=3))
    facts = {
        "now": NOW,
        "today": TODAY,
        "status": ScheduleStatus.OPEN,
        "release_at": NOW - timedelta(days=1),
        "visit_date": visit_date,
        "visit_end": at(visit_date, time(12, 0)),
        "window_days": WINDOW,
    }
    facts.update(overrides)
    return facts


def eligibility_facts(**overrides):
    facts = {
        "sex_rule": SexRule.ANY,
        "min_age": None,
        "max_age": None,
        "patient_sex": FEMALE,
        "birth_date": date(1990, 3, 7),
        "visit_date": TODAY,
    }
    facts.update(overrides)
    return facts


def account_facts(**overrides):
    facts = {
        "now": NOW,
        "blocked_until": None,
        "duplicate": False,
        "holds_today": 0,
        "departments_that_day": frozenset(),
        "department_id": 1,
        "limits": Limits(),
    }
    facts.update(overrides)
    return facts


def refusal(check, facts) -> BookingRefused:
    with pytest.raises(BookingRefused) as info:
        check(**facts)
    return info.value


class TestBookingRefused:
    def test_carries_code_message_and_extra(self):
        error = BookingRefused("booking_limit", "每天最多预约 3 次", limit="holds_per_day")
        assert isinstance(error, Exception)
        assert error.code == "booking_limit"
        assert error.message == "每天最多预约 3 次"
        assert str(error) == "每天最多预约 3 次"
        assert error.extra == {"limit": "holds_per_day"}

    def test_extra_defaults_to_empty(self):
        assert BookingRefused("x", "消息").extra == {}


class TestCheckSchedule:
    def test_open_released_inside_window_passes(self):
        assert check_schedule(**schedule_facts()) is None

    def test_stopped_is_refused(self):
        error = refusal(check_schedule, schedule_facts(status=ScheduleStatus.STOPPED))
        assert error.code == "schedule_stopped"
        assert "停诊" in error.message
        assert error.extra == {}

    def test_stopped_is_checked_before_release_and_window(self):
        facts = schedule_facts(
            status=ScheduleStatus.STOPPED,
            release_at=NOW + timedelta(days=1),
            visit_date=TODAY + timedelta(days=30),
        )
        assert refusal(check_schedule, facts).code == "schedule_stopped"

    def test_stopped_is_checked_before_a_past_visit(self):
        facts = schedule_facts(status=ScheduleStatus.STOPPED, visit_date=TODAY - timedelta(days=1))
        assert refusal(check_schedule, facts).code == "schedule_stopped"

    @pytest.mark.parametrize("early", [timedelta(microseconds=1), timedelta(hours=2)])
    def test_before_release_is_refused_with_release_time(self, early):
        release = NOW + early
        error = refusal(check_schedule, schedule_facts(release_at=release))
        assert error.code == "not_released"
        assert "尚未开放" in error.message
        assert error.extra == {"release_at": release}

    def test_release_moment_itself_is_released(self):
        assert check_schedule(**schedule_facts(release_at=NOW)) is None

    def test_release_compares_moments_not_wall_clocks(self):
        # 10:00 in Shanghai is 02:00 UTC: an earlier wall clock, yet half an hour after NOW.
        release = at(TODAY, time(10, 0)).astimezone(UTC)
        assert release.hour == 2
        assert refusal(check_schedule, schedule_facts(release_at=release)).code == "not_released"

    def test_unreleased_is_checked_before_the_window(self):
        facts = schedule_facts(
            release_at=NOW + timedelta(minutes=1), visit_date=TODAY + timedelta(days=30)
        )
        assert refusal(check_schedule, facts).code == "not_released"

    @pytest.mark.parametrize("days_ahead", [0, 1, WINDOW - 1, WINDOW])
    def test_inside_window_passes(self, days_ahead):
        visit_date = TODAY + timedelta(days=days_ahead)
        facts = schedule_facts(visit_date=visit_date, visit_end=at(visit_date, time(17, 0)))
        assert check_schedule(**facts) is None

    @pytest.mark.parametrize("days_ahead", [WINDOW + 1, WINDOW + 2, 60])
    def test_past_window_is_refused(self, days_ahead):
        visit_date = TODAY + timedelta(days=days_ahead)
        error = refusal(check_schedule, schedule_facts(visit_date=visit_date))
        assert error.code == "outside_booking_window"
        assert f"{WINDOW} 天" in error.message
        assert error.extra == {}

    @pytest.mark.parametrize("window_days", [1, 14])
    def test_window_length_comes_from_the_hospital(self, window_days):
        last = TODAY + timedelta(days=window_days)
        assert check_schedule(**schedule_facts(visit_date=last, window_days=window_days)) is None
        beyond = TODAY + timedelta(days=window_days + 1)
        error = refusal(check_schedule, schedule_facts(visit_date=beyond, window_days=window_days))
        assert error.code == "outside_booking_window"
        assert f"{window_days} 天" in error.message

    def test_past_date_is_refused(self):
        yesterday = TODAY - timedelta(days=1)
        error = refusal(check_schedule, schedule_facts(visit_date=yesterday))
        assert error.code == "outside_booking_window"

    def test_past_date_is_refused_on_its_date_alone(self):
        # An end still ahead must not let a date before today through.
        facts = schedule_facts(
            visit_date=TODAY - timedelta(days=1), visit_end=NOW + timedelta(days=1)
        )
        assert refusal(check_schedule, facts).code == "outside_booking_window"

    @pytest.mark.parametrize("after", [timedelta(0), timedelta(microseconds=1), timedelta(hours=3)])
    def test_today_after_the_period_ended_is_refused(self, after):
        facts = schedule_facts(visit_date=TODAY, visit_end=NOW - after)
        assert refusal(check_schedule, facts).code == "outside_booking_window"

    @pytest.mark.parametrize("left", [timedelta(microseconds=1), timedelta(minutes=1)])
    def test_today_just_before_the_period_ends_passes(self, left):
        assert check_schedule(**schedule_facts(visit_date=TODAY, visit_end=NOW + left)) is None

    def test_numbers_are_bookable_from_their_release_time(self):
        visit_date = TODAY + timedelta(days=WINDOW)
        release = schedule_release_at(visit_date, time(7, 0), WINDOW, CHINA_TZ)
        now = release + timedelta(minutes=1)
        facts = schedule_facts(
            now=now,
            today=now.date(),
            release_at=release,
            visit_date=visit_date,
            visit_end=at(visit_date, time(12, 0)),
        )
        assert check_schedule(**facts) is None
        before = release - timedelta(minutes=1)
        early = {**facts, "now": before, "today": before.date()}
        assert refusal(check_schedule, early).code == "not_released"


class TestCheckEligibility:
    @pytest.mark.parametrize(
        ("sex_rule", "patient_sex"),
        [
            (SexRule.ANY, FEMALE),
            (SexRule.ANY, MALE),
            (SexRule.FEMALE, FEMALE),
            (SexRule.MALE, MALE),
            ("female", "female"),
        ],
    )
    def test_matching_sex_passes(self, sex_rule, patient_sex):
        facts = eligibility_facts(sex_rule=sex_rule, patient_sex=patient_sex)
        assert check_eligibility(**facts) is None

    @pytest.mark.parametrize(
        ("sex_rule", "patient_sex", "who", "not_who"),
        [(SexRule.FEMALE, MALE, "女性", "男性"), (SexRule.MALE, FEMALE, "男性", "女性")],
    )
    def test_other_sex_is_refused(self, sex_rule, patient_sex, who, not_who):
        error = refusal(
            check_eligibility, eligibility_facts(sex_rule=sex_rule, patient_sex=patient_sex)
        )
        assert error.code == "not_eligible"
        assert error.extra == {"reason": "sex_restricted"}
        assert who in error.message
        assert not_who not in error.message

    def test_sex_is_checked_before_age(self):
        facts = eligibility_facts(
            sex_rule=SexRule.FEMALE, min_age=18, patient_sex=MALE, birth_date=date(2020, 1, 1)
        )
        assert refusal(check_eligibility, facts).extra == {"reason": "sex_restricted"}

    def test_a_birth_date_after_the_visit_is_refused_with_its_own_reason(self):
        facts = eligibility_facts(birth_date=TODAY + timedelta(days=1), visit_date=TODAY)
        error = refusal(check_eligibility, facts)
        assert error.code == "not_eligible"
        assert error.extra == {"reason": "birth_date_invalid"}
        assert "出生日期有误" in error.message

    @pytest.mark.parametrize("birth_date", [TODAY, date(1920, 1, 1)])
    def test_no_age_limits_lets_anyone_through(self, birth_date):
        assert check_eligibility(**eligibility_facts(birth_date=birth_date)) is None

    # 儿科: max_age 14; the visit is on 2026-11-22.
    @pytest.mark.parametrize(
        "birth_date",
        [
            date(2011, 11, 23),  # turns 15 the day after the visit
            date(2026, 11, 22),  # born on the visit day
            date(2012, 11, 22),  # turns 14 on the visit day
        ],
    )
    def test_child_up_to_max_age_passes(self, birth_date):
        facts = eligibility_facts(max_age=14, birth_date=birth_date, visit_date=date(2026, 11, 22))
        assert check_eligibility(**facts) is None

    @pytest.mark.parametrize(
        "birth_date",
        [
            date(2011, 11, 21),  # turned 15 the day before the visit
            date(2011, 11, 22),  # turns 15 on the visit day
            date(1990, 3, 7),
        ],
    )
    def test_over_max_age_is_refused(self, birth_date):
        facts = eligibility_facts(max_age=14, birth_date=birth_date, visit_date=date(2026, 11, 22))
        error = refusal(check_eligibility, facts)
        assert error.code == "not_eligible"
        assert error.extra == {"reason": "age_restricted"}
        assert "14 岁及以下" in error.message

    def test_age_is_taken_on_the_visit_date_not_today(self):
        # 14 today, 15 on the visit day a week later: refused by 儿科.
        birth = date(2011, 11, 25)
        assert age_on(birth, TODAY) == 14
        visit = TODAY + timedelta(days=6)
        facts = eligibility_facts(max_age=14, birth_date=birth, visit_date=visit)
        assert refusal(check_eligibility, facts).extra == {"reason": "age_restricted"}
        facts = eligibility_facts(max_age=14, birth_date=birth, visit_date=TODAY)
        assert check_eligibility(**facts) is None

    @pytest.mark.parametrize(
        "birth_date",
        [
            date(2013, 1, 1),  # 13
            date(2012, 11, 23),  # turns 14 the day after the visit
        ],
    )
    def test_under_min_age_is_refused(self, birth_date):
        facts = eligibility_facts(min_age=14, birth_date=birth_date, visit_date=date(2026, 11, 22))
        error = refusal(check_eligibility, facts)
        assert error.code == "not_eligible"
        assert error.extra == {"reason": "age_restricted"}
        assert "14 岁及以上" in error.message

    @pytest.mark.parametrize("birth_date", [date(2012, 11, 22), date(1950, 6, 1)])
    def test_from_min_age_passes(self, birth_date):
        facts = eligibility_facts(min_age=14, birth_date=birth_date, visit_date=date(2026, 11, 22))
        assert check_eligibility(**facts) is None

    def test_zero_max_age_is_a_limit_not_none(self):
        visit = date(2026, 11, 22)
        infant = eligibility_facts(max_age=0, birth_date=date(2026, 1, 1), visit_date=visit)
        assert check_eligibility(**infant) is None
        toddler = eligibility_facts(max_age=0, birth_date=date(2025, 11, 22), visit_date=visit)
        assert refusal(check_eligibility, toddler).extra == {"reason": "age_restricted"}

    def test_range_with_both_limits(self):
        visit = date(2026, 11, 22)
        rule = {"min_age": 14, "max_age": 14, "visit_date": visit}
        assert check_eligibility(**eligibility_facts(birth_date=date(2012, 5, 1), **rule)) is None
        young = refusal(check_eligibility, eligibility_facts(birth_date=date(2013, 5, 1), **rule))
        old = refusal(check_eligibility, eligibility_facts(birth_date=date(2011, 5, 1), **rule))
        assert "岁及以上" in young.message
        assert "岁及以下" in old.message

    @pytest.mark.parametrize(
        ("visit_date", "age", "allowed_by_max_13"),
        [
            (date(2026, 2, 28), 13, True),  # no 29 February in 2026: not yet 14
            (date(2026, 3, 1), 14, False),  # ages on 1 March
            (date(2028, 2, 28), 15, False),
            (date(2028, 2, 29), 16, False),  # leap year: ages on the day
            (date(2025, 2, 28), 12, True),
        ],
    )
    def test_born_on_29_february(self, visit_date, age, allowed_by_max_13):
        birth = date(2012, 2, 29)
        assert age_on(birth, visit_date) == age
        facts = eligibility_facts(max_age=13, birth_date=birth, visit_date=visit_date)
        if allowed_by_max_13:
            assert check_eligibility(**facts) is None
        else:
            assert refusal(check_eligibility, facts).extra == {"reason": "age_restricted"}

    def test_29_february_birthday_against_min_age(self):
        birth = date(2012, 2, 29)
        facts = eligibility_facts(min_age=14, birth_date=birth, visit_date=date(2026, 2, 28))
        assert refusal(check_eligibility, facts).extra == {"reason": "age_restricted"}
        facts = eligibility_facts(min_age=14, birth_date=birth, visit_date=date(2026, 3, 1))
        assert check_eligibility(**facts) is None


class TestAgeOn:
    @pytest.mark.parametrize(
        ("birth", "on", "age"),
        [
            (date(2000, 5, 10), date(2000, 5, 10), 0),
            (date(2000, 5, 10), date(2001, 5, 9), 0),
            (date(2000, 5, 10), date(2001, 5, 10), 1),
            (date(2000, 5, 10), date(2026, 4, 30), 25),
            (date(2000, 12, 31), date(2026, 1, 1), 25),
        ],
    )
    def test_whole_years(self, birth, on, age):
        assert age_on(birth, on) == age

    def test_date_before_birth_is_an_error(self):
        with pytest.raises(ValueError):
            age_on(date(2020, 1, 2), date(2020, 1, 1))


class TestCheckAccount:
    def test_clean_account_passes(self):
        assert check_account(**account_facts()) is None

    def test_blocked_until_later_is_refused(self):
        until = NOW + timedelta(days=30)
        error = refusal(check_account, account_facts(blocked_until=until))
        assert error.code == "account_blocked"
        assert error.extra == {"until": until}
        assert "爽约" in error.message

    def test_block_lasts_to_its_last_instant(self):
        until = NOW + timedelta(microseconds=1)
        assert refusal(check_account, account_facts(blocked_until=until)).code == (
            "account_blocked"
        )

    @pytest.mark.parametrize(
        "blocked_until", [None, NOW, NOW - timedelta(seconds=1), NOW - timedelta(days=90)]
    )
    def test_no_block_or_expired_block_passes(self, blocked_until):
        assert check_account(**account_facts(blocked_until=blocked_until)) is None

    def test_duplicate_is_refused(self):
        error = refusal(check_account, account_facts(duplicate=True))
        assert error.code == "duplicate_booking"
        assert "重复" in error.message
        assert error.extra == {}

    def test_default_limits(self):
        assert Limits() == Limits(holds_per_day=3, departments_per_patient_per_day=3)

    def test_limits_are_frozen(self):
        with pytest.raises(dataclasses.FrozenInstanceError):
            Limits().holds_per_day = 10

    @pytest.mark.parametrize("holds_today", [3, 4, 10])
    def test_holds_per_day_reached_is_refused(self, holds_today):
        error = refusal(check_account, account_facts(holds_today=holds_today))
        assert error.code == "booking_limit"
        assert error.extra == {"limit": "holds_per_day"}
        assert "3 次" in error.message

    @pytest.mark.parametrize("holds_today", [0, 2])
    def test_under_holds_per_day_passes(self, holds_today):
        assert check_account(**account_facts(holds_today=holds_today)) is None

    @pytest.mark.parametrize("other", [frozenset({2, 3, 4}), frozenset({2, 3, 4, 5})])
    def test_a_new_department_past_the_limit_is_refused(self, other):
        facts = account_facts(departments_that_day=other, department_id=1)
        error = refusal(check_account, facts)
        assert error.code == "booking_limit"
        assert error.extra == {"limit": "departments_per_patient_per_day"}
        assert "3 个科室" in error.message

    @pytest.mark.parametrize(
        "departments", [frozenset(), frozenset({2}), frozenset({2, 3}), frozenset({1, 2, 3})]
    )
    def test_under_the_department_limit_or_same_department_passes(self, departments):
        facts = account_facts(departments_that_day=departments, department_id=1)
        assert check_account(**facts) is None

    def test_custom_limits_of_one(self):
        one = Limits(holds_per_day=1, departments_per_patient_per_day=1)
        assert check_account(**account_facts(limits=one)) is None
        held = refusal(check_account, account_facts(limits=one, holds_today=1))
        assert held.extra == {"limit": "holds_per_day"}
        assert "1 次" in held.message
        other = account_facts(limits=one, departments_that_day=frozenset({2}), department_id=1)
        refused = refusal(check_account, other)
        assert refused.extra == {"limit": "departments_per_patient_per_day"}
        assert "1 个科室" in refused.message
        same = account_facts(limits=one, departments_that_day=frozenset({1}), department_id=1)
        assert check_account(**same) is None

    def test_custom_higher_limits(self):
        five = Limits(holds_per_day=5, departments_per_patient_per_day=5)
        facts = account_facts(
            limits=five, holds_today=4, departments_that_day=frozenset({2, 3, 4, 5})
        )
        assert check_account(**facts) is None

    def test_blocked_is_checked_before_duplicate_and_limits(self):
        facts = account_facts(
            blocked_until=NOW + timedelta(days=1),
            duplicate=True,
            holds_today=3,
            departments_that_day=frozenset({2, 3, 4}),
        )
        assert refusal(check_account, facts).code == "account_blocked"

    def test_duplicate_is_checked_before_limits(self):
        facts = account_facts(
            duplicate=True, holds_today=3, departments_that_day=frozenset({2, 3, 4})
        )
        assert refusal(check_account, facts).code == "duplicate_booking"

    def test_holds_per_day_is_checked_before_departments(self):
        facts = account_facts(holds_today=3, departments_that_day=frozenset({2, 3, 4}))
        assert refusal(check_account, facts).extra == {"limit": "holds_per_day"}


def test_sold_out():
    error = sold_out()
    assert isinstance(error, BookingRefused)
    assert error.code == "slot_sold_out"
    assert "约满" in error.message
    assert error.extra == {}


REFUSALS = {
    "stopped": (check_schedule, schedule_facts(status=ScheduleStatus.STOPPED)),
    "not_released": (check_schedule, schedule_facts(release_at=NOW + timedelta(hours=1))),
    "past_window": (check_schedule, schedule_facts(visit_date=TODAY + timedelta(days=WINDOW + 1))),
    "ended": (check_schedule, schedule_facts(visit_date=TODAY, visit_end=NOW)),
    "female_only": (
        check_eligibility,
        eligibility_facts(sex_rule=SexRule.FEMALE, patient_sex=MALE),
    ),
    "male_only": (check_eligibility, eligibility_facts(sex_rule=SexRule.MALE, patient_sex=FEMALE)),
    "too_young": (check_eligibility, eligibility_facts(min_age=18, birth_date=date(2020, 1, 1))),
    "too_old": (check_eligibility, eligibility_facts(max_age=14, birth_date=date(2000, 1, 1))),
    "blocked": (check_account, account_facts(blocked_until=NOW + timedelta(days=1))),
    "duplicate": (check_account, account_facts(duplicate=True)),
    "holds": (check_account, account_facts(holds_today=3)),
    "departments": (check_account, account_facts(departments_that_day=frozenset({2, 3, 4}))),
}


def _assert_coded_and_chinese(error: BookingRefused):
    assert re.fullmatch(r"[a-z_]+", error.code)
    assert error.message
    assert CJK.search(error.message)
    assert str(error) == error.message


@pytest.mark.parametrize("case", list(REFUSALS))
def test_every_refusal_has_a_code_and_a_chinese_message(case):
    check, facts = REFUSALS[case]
    _assert_coded_and_chinese(refusal(check, facts))


def test_sold_out_message_is_chinese():
    _assert_coded_and_chinese(sold_out())
