"""The visit day: check-in (签到), the queue (候诊队列), the wait estimate and no-shows (爽约).

Everything here is pure: the services gather the facts (times, the ranks of those waiting, today's
observed consultations) and store what these rules decide. A patient's place in the queue is an
integer ``rank`` kept with the order; the queue is the checked-in orders by ascending rank.
"""

import math
from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from enum import StrEnum

from app.domain.clock import business_date, to_china

ON_TIME_STEP = 1000
MAX_SKIPS = 2
ESTIMATE_WINDOW = 8
FULL_TRUST_OBSERVATIONS = 4


class CheckInRefusal(StrEnum):
    """Why a patient may not check in now."""

    NOT_VISIT_DAY = "not_visit_day"
    CHECK_IN_CLOSED = "check_in_closed"


class SkipOutcome(StrEnum):
    """What becomes of a patient who was called and did not come."""

    REQUEUE = "requeue"
    NO_SHOW = "no_show"


def check_in_opens_at(period_start: datetime, opens_minutes: int) -> datetime:
    """When check-in opens for a period: ``opens_minutes`` before it starts, in China time."""
    return to_china(period_start) - timedelta(minutes=opens_minutes)


def check_in_refusal(
    *,
    now: datetime,
    visit_date: date,
    period_start: datetime,
    period_end: datetime,
    opens_minutes: int,
) -> CheckInRefusal | None:
    """Why the patient may not check in now, or None when they may.

    Check-in is open on the visit day (its date in China) from ``opens_minutes`` before the
    period starts until the period ends: the opening minute is in, the ending minute is out.
    """
    _require_aware(now, period_start, period_end)
    if business_date(now) != visit_date:
        return CheckInRefusal.NOT_VISIT_DAY
    moment = to_china(now)
    if moment < check_in_opens_at(period_start, opens_minutes) or moment >= to_china(period_end):
        return CheckInRefusal.CHECK_IN_CLOSED
    return None


def is_late(*, suggested_at: datetime, checked_in_at: datetime, grace_minutes: int) -> bool:
    """Whether a check-in came after the suggested time plus the grace; that minute is on time."""
    return checked_in_at > suggested_at + timedelta(minutes=grace_minutes)


def check_in_rank(
    *,
    seq: int,
    suggested_at: datetime,
    checked_in_at: datetime,
    grace_minutes: int,
    waiting_ranks: Iterable[int],
) -> int:
    """Where a patient checking in joins the queue: at their number if on time, else at the back.

    On time (by the suggested time plus ``grace_minutes``), number ``seq`` takes rank
    ``seq × ON_TIME_STEP``, so punctual patients are seen in number order whatever order they
    arrive in. Late, the patient takes one more than the largest rank waiting, but never less
    than their own number's rank:

    - one more than the largest waiting rank: a late patient overtakes nobody already waiting;
    - at least ``seq × ON_TIME_STEP``: lateness never earns a better place than punctuality.
      When nobody waits, or only lower numbers do, the late patient takes their own number's
      place and not the head of the line, which a punctual lower number may still claim.

    The late patient is thus slotted in just behind the last one waiting, as if holding the
    number after theirs, and keeps that rank. A punctual patient who checks in afterwards goes
    by number against it: ahead of the late one when their number is below that last one's, so
    no punctual patient loses the place their number gives among those numbers; behind it only
    when their number is above everyone who was waiting, the late one having come first. The
    late one is not also sent behind everyone yet to come: the rule is behind those already
    waiting, and a rank past the last number would make the penalty grow with the size of the
    clinic instead of with the queue they found.

    ON_TIME_STEP leaves 999 ranks between two numbers for late check-ins and skips placed
    behind the same patient, far more than a clinic day has. Two check-ins reckoned against the
    same waiting ranks would share a rank: the service places one patient at a time per schedule.
    """
    if seq < 1:
        raise ValueError("seq starts at 1")
    own = seq * ON_TIME_STEP
    if not is_late(
        suggested_at=suggested_at, checked_in_at=checked_in_at, grace_minutes=grace_minutes
    ):
        return own
    return max(own, max(waiting_ranks, default=0) + 1)


def skip_rank(*, waiting_ranks: Iterable[int]) -> int:
    """The rank of a patient skipped after a call: behind everyone now waiting."""
    # With nobody waiting, rank 1 keeps the skipped patient next: whoever checks in afterwards
    # (rank ON_TIME_STEP or more) comes after them, as after anyone already in line.
    return max(waiting_ranks, default=0) + 1


def skip_outcome(skips_so_far: int, max_skips: int = MAX_SKIPS) -> SkipOutcome:
    """What a skip does, given the skips before it: requeue, or no-show at the max_skips-th skip."""
    if skips_so_far < 0:
        raise ValueError("skips_so_far cannot be negative")
    if max_skips < 1:
        raise ValueError("max_skips must be at least 1")
    if skips_so_far + 1 >= max_skips:
        return SkipOutcome.NO_SHOW
    return SkipOutcome.REQUEUE


def position(rank: int, waiting_ranks: Iterable[int]) -> int:
    """The 1-based place in line of ``rank``: how many waiting ranks are at or before it."""
    return sum(1 for other in waiting_ranks if other <= rank)


def ahead(rank: int, waiting_ranks: Iterable[int]) -> int:
    """How many of those waiting will be called before ``rank``."""
    return sum(1 for other in waiting_ranks if other < rank)


def consultation_minutes(called_at: datetime, completed_at: datetime) -> float:
    """How long a consultation took, from the call to its completion, in minutes."""
    if completed_at < called_at:
        raise ValueError("completed before it was called")
    return (completed_at - called_at).total_seconds() / 60


def minutes_per_patient(
    *, observed_minutes: Sequence[float], default_minutes: float, window: int = ESTIMATE_WINDOW
) -> float:
    """The expected minutes per patient: today's recent consultations, blended with the default.

    ``observed_minutes`` are today's consultations of the schedule, oldest first. The observed
    figure is the mean of the last ``window`` of them (a moving average, so a doctor who speeds
    up or slows down during the period is followed). Until FULL_TRUST_OBSERVATIONS have been
    made it is blended linearly with ``default_minutes``, the schedule's minutes per patient:
    after n observations the default still weighs (FULL_TRUST_OBSERVATIONS − n) / that, so each
    consultation moves the estimate an equal step of the way, without the jump that switching
    from the default to one noisy observation would cause.
    """
    if default_minutes <= 0:
        raise ValueError("default_minutes must be positive")
    if window < 1:
        raise ValueError("window must be at least 1")
    observed_today = list(observed_minutes)
    if not observed_today:
        return float(default_minutes)
    recent = observed_today[-window:]
    observed = sum(recent) / len(recent)
    # Trust grows with all of today's observations, so a window narrower than the hand-over
    # still comes to be trusted fully.
    trust = min(len(observed_today), FULL_TRUST_OBSERVATIONS) / FULL_TRUST_OBSERVATIONS
    return trust * observed + (1 - trust) * default_minutes


def estimate_wait_minutes(
    *,
    ahead: int,
    observed_minutes: Sequence[float],
    default_minutes: float,
    window: int = ESTIMATE_WINDOW,
) -> int:
    """The estimated wait in minutes, rounded up: ``ahead`` consultations at the expected pace.

    ``ahead`` counts the consultations to sit through before being called: those waiting in front,
    plus the one in the room if a patient is with the doctor. Nobody ahead, no wait.
    """
    pace = minutes_per_patient(
        observed_minutes=observed_minutes, default_minutes=default_minutes, window=window
    )
    return wait_at_pace(ahead=ahead, pace=pace)


def wait_at_pace(*, ahead: int, pace: float) -> int:
    """The wait in whole minutes, rounded up, for ``ahead`` consultations of ``pace`` minutes
    (minutes_per_patient's figure, as the queue's read model keeps it)."""
    if ahead < 0:
        raise ValueError("ahead cannot be negative")
    if ahead == 0:
        return 0
    # Rounded first, so float dust (3 × 7.000000001) does not add a whole minute.
    return math.ceil(round(ahead * pace, 6))


def no_show_due(*, period_end: datetime, now: datetime, grace_minutes: int) -> bool:
    """Whether a booked order not checked in is a no-show: its period ended grace_minutes ago."""
    return now >= period_end + timedelta(minutes=grace_minutes)


def strikes_in_window(no_show_times: Iterable[datetime], *, now: datetime, window_days: int) -> int:
    """How many no-shows count against an account: those in the last ``window_days`` days.

    A no-show exactly ``window_days`` old has aged out; one stamped a moment after ``now``
    (another worker's clock) still counts.
    """
    since = now - timedelta(days=window_days)
    return sum(1 for moment in no_show_times if moment > since)


def blocked_until(
    *, strikes: int, threshold: int, now: datetime, block_days: int
) -> datetime | None:
    """Until when an account may not book: ``block_days`` from now once strikes reach the threshold.

    Call it when a no-show is recorded; the booking check (app.domain.booking.check_account)
    refuses with ``account_blocked`` while ``now`` is before the returned moment.
    """
    if threshold < 1:
        raise ValueError("threshold must be at least 1")
    if strikes < threshold:
        return None
    return to_china(now) + timedelta(days=block_days)


def should_notify_called(*, ahead: int, threshold: int) -> bool:
    """Whether to tell a waiting patient their turn is near: ``threshold`` or fewer ahead."""
    return ahead <= threshold


def _require_aware(*moments: datetime) -> None:
    # A naive datetime would be read as the server's local time, which is not China's everywhere.
    if any(moment.tzinfo is None or moment.utcoffset() is None for moment in moments):
        raise ValueError("visit-day times must be aware datetimes")
