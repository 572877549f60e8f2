"""Rules about schedules and their numbered slots: release time, suggested arrival, availability."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from app.domain.enums import Availability, ScheduleStatus

# A schedule is for a day at most this many days after today, and its release is at most this
# many days before its clinic ends; a calendar starts no later than this after today.
MAX_DAYS_AHEAD = 366


def minutes_per_patient(start: time, end: time, capacity: int) -> int:
    """The minutes between numbers when ``capacity`` of them share start..end (one at least)."""
    span = end.hour * 60 + end.minute - start.hour * 60 - start.minute
    return max(1, span // capacity)


def suggested_time(start: time, minutes_per_patient: int, seq: int) -> time:
    """The suggested arrival for number ``seq``: start + (seq − 1) × minutes per patient."""
    if seq < 1:
        raise ValueError("seq starts at 1")
    if minutes_per_patient < 1:
        raise ValueError("minutes_per_patient must be positive")
    moment = datetime.combine(date.min, start) + timedelta(minutes=(seq - 1) * minutes_per_patient)
    if moment.date() != date.min:
        raise ValueError("suggested time runs past midnight")
    return moment.time()


def slot_times(start: time, end: time, minutes_per_patient: int, capacity: int) -> list[time]:
    """The suggested times of numbers 1..capacity; numbers past ``end`` keep being spaced out."""
    if end <= start:
        raise ValueError("end must be after start")
    return [suggested_time(start, minutes_per_patient, seq) for seq in range(1, capacity + 1)]


def release_at(visit_date: date, release_clock: time, window_days: int, tz) -> datetime:
    """When numbers for ``visit_date`` are released: ``window_days`` before, at the release time."""
    return datetime.combine(visit_date - timedelta(days=window_days), release_clock, tzinfo=tz)


def release_refusal(release: datetime, visit_date: date, end: time, tz) -> str | None:
    """Why a release moment typed for a clinic cannot be (None when it can): numbers released
    after the clinic's end could never be booked."""
    clinic_end = datetime.combine(visit_date, end, tzinfo=tz)
    if release > clinic_end:
        return "放号时间须早于出诊结束时间"
    if release < clinic_end - timedelta(days=MAX_DAYS_AHEAD):
        return f"放号时间须在出诊前 {MAX_DAYS_AHEAD} 天之内"
    return None


@dataclass(frozen=True)
class ScheduleLoad:
    """What availability needs to know of one schedule."""

    status: ScheduleStatus
    release_at: datetime
    capacity: int
    remaining: int


def schedule_availability(load: ScheduleLoad, now: datetime) -> Availability:
    """Whether a patient can book this schedule now, and if not, why."""
    if load.status == ScheduleStatus.STOPPED:
        return Availability.STOPPED
    if now < load.release_at:
        return Availability.NOT_RELEASED
    if load.remaining <= 0:
        return Availability.FULL
    return Availability.AVAILABLE


@dataclass(frozen=True)
class DaySummary:
    """One day of a department's calendar."""

    status: Availability
    total: int
    remaining: int


def day_summary(loads: list[ScheduleLoad], now: datetime) -> DaySummary:
    """Fold a day's schedules into one calendar cell.

    Stopped schedules count for nothing. A day is available when any schedule can be booked now;
    otherwise not_released when numbers are still to come; otherwise full. Total and remaining
    count the open schedules, released or not, so that a patient sees what a day offers.
    """
    if not loads:
        return DaySummary(Availability.NONE, 0, 0)
    open_loads = [load for load in loads if load.status != ScheduleStatus.STOPPED]
    if not open_loads:
        return DaySummary(Availability.STOPPED, 0, 0)
    states = {schedule_availability(load, now) for load in open_loads}
    total = sum(load.capacity for load in open_loads)
    remaining = sum(load.remaining for load in open_loads)
    for status in (Availability.AVAILABLE, Availability.NOT_RELEASED):
        if status in states:
            return DaySummary(status, total, remaining)
    return DaySummary(Availability.FULL, total, remaining)


def next_change(loads: list[ScheduleLoad], now: datetime) -> datetime | None:
    """The next moment at which time alone changes the availability of these schedules."""
    pending = [load.release_at for load in loads if load.release_at > now]
    return min(pending, default=None)
