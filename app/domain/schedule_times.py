"""Moving a clinic's start and end times: its numbers' new suggested times, and which taken number
a move would bring forward (a patient cannot be counted on to learn of an earlier time)."""

from dataclasses import dataclass
from datetime import time

from app.domain.schedule import minutes_per_patient, slot_times


@dataclass(frozen=True)
class Retimed:
    """A clinic's pace and its numbers' suggested times (number 1 first) over new times."""

    minutes_per_patient: int
    times: list[time]


def retimed(start: time, end: time, capacity: int) -> Retimed:
    """The suggested times of numbers 1..capacity sharing start..end, as a new schedule's are
    made. ValueError when end is not after start or the last number would fall on the next day."""
    minutes = minutes_per_patient(start, end, capacity)
    return Retimed(minutes, slot_times(start, end, minutes, capacity))


@dataclass(frozen=True)
class Brought:
    """A taken number whose suggested time a move would bring forward."""

    seq: int
    was: time
    would_be: time


def brought_forward(taken: dict[int, time], new_times: list[time]) -> Brought | None:
    """The first taken number (``taken``: number → its suggested time now) whose new time would
    come earlier than its present one; None when every taken number keeps or moves later."""
    for seq in sorted(taken):
        if seq <= len(new_times) and new_times[seq - 1] < taken[seq]:
            return Brought(seq, taken[seq], new_times[seq - 1])
    return None
