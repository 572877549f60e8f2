"""Anomalies the statistics look for: bursts of holds (突发挂号) from one account or one IP
address, and the rates the statistics show (in per cent, one decimal)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum


class BurstKind(StrEnum):
    """Whose holds came in a burst."""

    ACCOUNT = "account"
    IP = "ip"

    @property
    def label(self):
        return "账号" if self is BurstKind.ACCOUNT else "IP 地址"


@dataclass(frozen=True)
class BurstRule:
    """At least ``holds`` orders within ``minutes`` from one source make a burst."""

    holds: int
    minutes: int

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.minutes)


def bursts(moments: Sequence[datetime], rule: BurstRule) -> list[range]:
    """The bursts among one source's orders made at ``moments`` (ascending): each a range of
    indexes. An order is in a burst when some ``rule.window`` holding it holds at least
    ``rule.holds`` orders; orders so marked that follow each other within the window are one
    burst (a long run of holds is one burst, not many)."""
    if rule.holds < 1 or len(moments) < rule.holds:
        return []
    window = rule.window
    marked = [False] * len(moments)
    first = 0
    for last, moment in enumerate(moments):
        while moment - moments[first] > window:
            first += 1
        if last - first + 1 >= rule.holds:
            for index in range(first, last + 1):
                marked[index] = True
    found, start = [], None
    for index, is_marked in enumerate(marked):
        joins = start is not None and is_marked and moments[index] - moments[index - 1] <= window
        if joins:
            continue
        if start is not None:
            found.append(range(start, index))
            start = None
        if is_marked:
            start = index
    if start is not None:
        found.append(range(start, len(moments)))
    return found


def percent(part: int, whole: int) -> Decimal:
    """``part`` of ``whole`` in per cent, one decimal (0.0 of nothing)."""
    if not whole:
        return Decimal("0.0")
    return (Decimal(100 * part) / Decimal(whole)).quantize(Decimal("0.1"), ROUND_HALF_UP)
